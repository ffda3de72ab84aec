"""Issue 9 experiment behind ``em_steps=10`` (run by hand, about 40 min a detector).

Protocol U, both regimes, seeds 0-2, eight ADBench tables: each run trains one
network with ``em_steps=0`` and scores it after 0, 10 and 50 EM steps of its
mixture, so the variants differ only by the EM steps. One JSON line per score::

    python -m benchmarks.experiments.gmm_em_steps AEGMM > aegmm_em.jsonl
"""
import json
import sys

from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEGMMOutlierDetector, VAEGMMOutlierDetector

from .. import data

DETECTORS = {"AEGMM": AEGMMOutlierDetector, "VAEGMM": VAEGMMOutlierDetector}


def scores_after_em_steps(det, X_train, X_test, step_counts):
    """``(steps, outlier scores of X_test)`` after each total number of EM
    steps in ``step_counts`` (increasing), the steps run as ``fit`` runs them
    on a detector fitted with ``em_steps=0``."""
    features, shapes = det._training_features(X_train)
    done = 0
    for steps in step_counts:
        det._em_steps(features, shapes[0], steps - done)
        done = steps
        det._compile_scorer()
        yield steps, -det.score_samples(X_test)


def main(name):
    for ds in data.ADBENCH:
        X, y = data.adbench(ds)
        for seed in [0, 1, 2]:
            Xtr, Xte, ytr, yte = train_test_split(
                X, y, test_size=0.3, stratify=y, random_state=seed
            )
            for regime in ["U", "C"]:
                Xf = Xtr if regime == "U" else Xtr[ytr == 0]
                sc = StandardScaler().fit(Xf)
                A, B = sc.transform(Xf), sc.transform(Xte)
                det = DETECTORS[name](em_steps=0, random_state=seed).fit(A)
                for steps, s in scores_after_em_steps(det, A, B, [0, 10, 50]):
                    rec = dict(name=f"{name}_em{steps}", ds=ds, seed=seed, regime=regime,
                               auc=roc_auc_score(yte, s), ap=average_precision_score(yte, s))
                    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Issue 10 experiment (run by hand): which window scores of a fitted Seq2Seq
rank NAB's labelled steps best?

Fits ``Seq2SeqOutlierDetector(level_weight=0, random_state=seed, **params)``
on the windows of ``benchmarks.series`` (the same windows), reads several
window scores from each fitted model and prints the point-wise ROC-AUC
(mean ± std over the seeds) of each score and of standardized sums::

    python -m benchmarks.experiments.series_scores 0,1,2 epochs=100
    python -m benchmarks.experiments.series_scores 0 epochs=20

Scores: ``default`` is alibi-detect's (the reconstruction score), ``err``
the mean squared error of the autoregressive reconstruction, ``latent`` the
Ledoit-Wolf Mahalanobis distance of the encoder's final states ``[h, c]``,
``level`` the distance of the window's mean from the training windows'
mean (in standard deviations; no model), ``lt`` the Mahalanobis distance
of the window's mean and least-squares slope. ``a+b`` is the sum of the
scores standardized over the windows (the detector's ``level_weight=1`` is
``default+level``).
"""

import ast
import sys

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.preprocessing import StandardScaler

from sklearn_daml import Seq2SeqOutlierDetector
from sklearn_daml.timeseries import sliding_windows

from ..series import SEQ_LEN, SERIES, STEP, load_nab, window_scores_auc

COMBINATIONS = [
    ("default",), ("err",), ("latent",), ("level",), ("lt",),
    ("default", "level"), ("default", "lt"), ("err", "lt"), ("default", "latent"),
    ("latent", "lt"), ("default", "latent", "lt"),
]


def _standardized(values):
    return (values - values.mean()) / values.std()


def _mahalanobis(features):
    centred = features - features.mean(axis=0)
    precision = np.linalg.inv(np.atleast_2d(np.cov(features, rowvar=False)))
    return np.sqrt(np.einsum("ni,ij,nj->n", centred, precision, centred))


def window_scores(windows, seed, params):
    """Every score of one fitted model, one value per window."""
    det = Seq2SeqOutlierDetector(level_weight=0, random_state=seed, **params).fit(windows)
    _, (h, c) = det.model_.encoder_net(windows)
    states = np.hstack([np.asarray(h), np.asarray(c)])
    x_recon, _ = det.model_.decode_seq(windows)
    level = windows.mean(axis=1)[:, 0]
    t = np.arange(SEQ_LEN) - (SEQ_LEN - 1) / 2
    slope = (windows[..., 0] - level[:, None]) @ t / (t @ t)
    return {
        "default": -det.score_samples(windows),
        "err": np.mean((windows - np.asarray(x_recon)) ** 2, axis=(1, 2)),
        "latent": np.sqrt(LedoitWolf().fit(states).mahalanobis(states)),
        "level": _mahalanobis(level[:, None]),
        "lt": _mahalanobis(np.column_stack([level, slope])),
    }


def main(argv):
    seeds = [int(s) for s in argv[0].split(",")]
    params = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in argv[1:])}
    aucs = {}
    for name, file_name in SERIES.items():
        values, labels = load_nab(file_name)
        windows = sliding_windows(StandardScaler().fit_transform(values[:, None]), SEQ_LEN, STEP)
        for seed in seeds:
            scores = window_scores(windows, seed, params)
            for combo in COMBINATIONS:
                combined = sum(_standardized(scores[k]) for k in combo)
                aucs.setdefault("+".join(combo), {}).setdefault(name, []).append(
                    window_scores_auc(combined, labels)
                )
            print(f"{name}, seed {seed}: done", flush=True)
    print(f"\npoint-wise ROC-AUC, seeds {seeds}, {params or 'defaults'}\n")
    print("| score | " + " | ".join(SERIES) + " | mean |")
    print("|---|" + "---:|" * (len(SERIES) + 1))
    for label, row in aucs.items():
        cells = [f"{np.mean(row[n]):.3f} ± {np.std(row[n]):.3f}" for n in SERIES]
        mean = np.mean([np.mean(row[n]) for n in SERIES])
        print(f"| {label} | " + " | ".join(cells) + f" | {mean:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])

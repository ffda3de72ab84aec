"""Issue 9 experiment: Protocol D F1 of AEGMM and VAEGMM, seeds 0-2, scored
after 0 and 10 EM steps of the same fit (run by hand; KDDCUP takes most of it)::

    python -m benchmarks.experiments.gmm_em_steps_d thyroid,arrhythmia,kddcup > d_em.jsonl
"""
import json
import sys

import numpy as np
from sklearn.preprocessing import MinMaxScaler

from .. import quality
from .gmm_em_steps import DETECTORS, scores_after_em_steps


def main(datasets):
    for ds in datasets:
        X, y = quality._load(ds, False)
        for name, cls in DETECTORS.items():
            for seed in [0, 1, 2]:
                inliers = np.random.RandomState(seed).permutation(np.flatnonzero(y == 0))
                half = len(inliers) // 2
                test = np.concatenate([inliers[half:], np.flatnonzero(y == 1)])
                sc = MinMaxScaler().fit(X[inliers[:half]])
                A, B = sc.transform(X[inliers[:half]]), sc.transform(X[test])
                det = cls(em_steps=0, random_state=seed).fit(A)
                y_test = y[test]
                k = int(y_test.sum())
                for steps, s in scores_after_em_steps(det, A, B, [0, 10]):
                    f1 = y_test[np.argsort(-s, kind="stable")[:k]].sum() / k
                    rec = dict(name=f"{name}_em{steps}", ds=ds, seed=seed, f1=float(f1))
                    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","))

"""Issue 9 experiment (run by hand): would an ensemble help the GMM detectors?

Fits ``n`` independently seeded GMM detectors (defaults, ``random_state``
``10 * seed + m``) on Protocol U's splits (both regimes, as ``variants.py``),
standardizes each member's energy by its mean and standard deviation on the
training rows and averages the first ``k`` members, as RandNet averages its
members' scores::

    python -m benchmarks.experiments.gmm_members AEGMM 0 5

One JSON line per table, seed and regime: ``[ROC-AUC, AP]`` of member 0 alone
(``k1``) and of the averages of the first ``k`` members (``k2`` ... ``kn``),
and the members' mean fit time.
"""

import json
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from .variants import DETECTORS, splits


def main(argv):
    name = argv[0]
    seeds = [int(s) for s in argv[1].split(",")] if len(argv) > 1 else [0]
    n = int(argv[2]) if len(argv) > 2 else 5
    regimes = argv[3].split(",") if len(argv) > 3 else ("U", "C")
    for ds, seed, regime, A, B, yte in splits(seeds, regimes):
        standardized, times = [], []
        for m in range(n):
            det = DETECTORS[name](random_state=10 * seed + m)
            start = time.perf_counter()
            det.fit(A)
            times.append(time.perf_counter() - start)
            train, test = -det.score_samples(A), -det.score_samples(B)
            standardized.append((test - train.mean()) / train.std())
        out = {"name": name, "ds": ds, "seed": seed, "regime": regime,
               "t": round(float(np.mean(times)), 1)}
        for k in range(1, n + 1):
            s = np.mean(standardized[:k], axis=0)
            out[f"k{k}"] = [roc_auc_score(yte, s), average_precision_score(yte, s)]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Issue 9 experiment: Protocol D F1 of AEGMM and VAEGMM, seeds 0-2, scored
after 0 and 10 EM steps of the same fit (run by hand; KDDCUP takes most of it)::

    python -m benchmarks.experiments.gmm_em_steps_d thyroid,arrhythmia,kddcup > d_em.jsonl
"""
import json
import sys
import numpy as np
from sklearn.preprocessing import MinMaxScaler
from sklearn_daml import AEGMMOutlierDetector, VAEGMMOutlierDetector
from sklearn_daml._base import tf
from sklearn_daml.models import gmm_responsibilities
from .. import quality

for ds in sys.argv[1].split(","):
    X, y = quality._load(ds, False)
    for name, cls in [("AEGMM", AEGMMOutlierDetector), ("VAEGMM", VAEGMMOutlierDetector)]:
        for seed in [0, 1, 2]:
            inliers = np.random.RandomState(seed).permutation(np.flatnonzero(y == 0))
            half = len(inliers) // 2
            test = np.concatenate([inliers[half:], np.flatnonzero(y == 1)])
            sc = MinMaxScaler().fit(X[inliers[:half]])
            A, B = sc.transform(X[inliers[:half]]), sc.transform(X[test])
            det = cls(em_steps=0, random_state=seed).fit(A)
            done = 0
            for steps in [0, 10]:
                for _ in range(steps - done):
                    params = [tf.constant(p) for p in (det.phi_, det.mu_, det.L_, det.log_det_cov_)]
                    det._set_gmm(det._gmm_from_statistics(A, lambda z, g: gmm_responsibilities(z, *params)))
                done = steps
                det._compile_scorer()
                s = -det.score_samples(B)
                yt = y[test]; k = int(yt.sum())
                f1 = yt[np.argsort(-s, kind="stable")[:k]].sum() / k
                rec = dict(name=f"{name}_em{steps}", ds=ds, seed=seed, f1=float(f1))
                print(json.dumps(rec), flush=True)

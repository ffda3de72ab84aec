"""One-off experiment for issue 9 (run by hand): does refitting AEGMM's mixture
on the learned training ``z`` help? For seed 0 on the eight ADBench tables it
prints the default detector's ROC-AUC/AP, then a GaussianMixture started from
the network's parameters and run 10 or 100 EM steps, then fresh mixtures of 1
and 4 components, in the contaminated (U) and clean (C) regimes::

    python -m benchmarks.experiments.gmm_refit AEGMM
"""
import json
import sys

import numpy as np
import sklearn_daml, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1); tf.config.threading.set_inter_op_parallelism_threads(1)
from sklearn_daml import AEGMMOutlierDetector, VAEGMMOutlierDetector
from sklearn.mixture import GaussianMixture
from sklearn.metrics import roc_auc_score, average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from benchmarks import data
cls = {"AEGMM": AEGMMOutlierDetector, "VAEGMM": VAEGMMOutlierDetector}[sys.argv[1]]
for ds in data.ADBENCH:
    X, y = data.adbench(ds)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    for regime in ["U", "C"]:
        Xf = Xtr if regime == "U" else Xtr[ytr == 0]
        sc = StandardScaler().fit(Xf); A, B = sc.transform(Xf), sc.transform(Xte)
        det = cls(random_state=0).fit(A)
        base = -det.score_samples(B)
        def zs(M):
            f = tf.function(lambda x: det._gmm_pass(x)[0])
            return np.concatenate([f(tf.constant(M[i:i+4096])).numpy() for i in range(0, len(M), 4096)])
        if sys.argv[1] == "VAEGMM":
            # z averaged draws stacked: take all draws
            pass
        Ztr, Zte = zs(A), zs(B)
        out = dict(name=sys.argv[1], ds=ds, regime=regime, auc=roc_auc_score(yte, base), ap=average_precision_score(yte, base))
        print(json.dumps(out), flush=True)
        if sys.argv[1] == "AEGMM":
            for steps in [10, 100]:
                gm = GaussianMixture(det.n_gmm, covariance_type="full", reg_covar=1e-6, max_iter=steps,
                                     weights_init=det.phi_ / det.phi_.sum(), means_init=det.mu_,
                                     precisions_init=np.linalg.inv(det.cov_ + 1e-6 * np.eye(det.cov_.shape[-1])), random_state=0).fit(Ztr)
                s = -gm.score_samples(Zte)
                print(json.dumps(dict(name=f"AEGMM_em{steps}", ds=ds, regime=regime, auc=roc_auc_score(yte, s), ap=average_precision_score(yte, s))), flush=True)
            for k in [1, 4]:
                gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-6, random_state=0, n_init=1).fit(Ztr)
                s = -gm.score_samples(Zte)
                print(json.dumps(dict(name=f"AEGMM_k{k}", ds=ds, regime=regime, auc=roc_auc_score(yte, s), ap=average_precision_score(yte, s))), flush=True)

"""The VAE's KL term as a second score (issue 9, stop 32; run by hand).

The VAE detector scores a row by its reconstruction error only, as
alibi-detect does; the negative ELBO, the bound on the row's likelihood that
the VAE is trained on, adds the KL divergence of the row's posterior
``q(z|x)`` from the prior ``N(0, I)``, which grows when a row encodes far out
in the latent space even if it reconstructs well (a row on the learned
manifold but where few training rows lie). Fits the VAE with its defaults on
Protocol U's splits (as ``variants``) and scores the test rows with, per
member, the library's standardized reconstruction score plus ``w`` times the
member's KL divergence standardized on the training rows, averaged over the
members (``w=0`` is the library's score, checked against ``score_samples``).
One JSON line per table, seed, regime and weight, in ``variants``' format::

    python -m benchmarks.experiments.vae_kl seeds=0,1,2 weights=0,0.25,0.5,1
"""
import json
import sys
import time

import numpy as np
import tensorflow as tf
from sklearn.metrics import average_precision_score, roc_auc_score

from sklearn_daml import VAEOutlierDetector
from sklearn_daml._base import _compile

from .variants import split_args, splits


def _kl(det):
    def kl(x):
        z_mean, z_log_var, _ = det.model_.encoder(x)
        return 0.5 * tf.reduce_sum(
            tf.square(z_mean) + tf.exp(z_log_var) - z_log_var - 1.0, axis=-1
        )

    return kl


def _z(s_train, s_test):
    return (s_test - s_train.mean(0)) / s_train.std(0)


def main(argv):
    seeds, regimes, tables, rest = split_args(argv)
    weights = [float(w) for w in rest.get("weights", "0,0.25,0.5,1").split(",")]
    for ds, seed, regime, A, B, yte in splits(seeds, regimes, tables):
        det = VAEOutlierDetector(random_state=seed)
        start = time.perf_counter()
        det.fit(A)
        t = round(time.perf_counter() - start, 1)
        recon = _compile(lambda x: det._member_scores(x, det.feature_scale_), A.shape[1])
        kl = _compile(_kl(det), A.shape[1])
        r = _z(det._map_batches(recon, A), det._map_batches(recon, B))
        k = _z(det._map_batches(kl, A), det._map_batches(kl, B))
        check = float(np.max(np.abs(-det.score_samples(B) - r.mean(1))))
        scored = {f"VAE_kl{w:g}": (r + w * k).mean(1) for w in weights}
        scored["VAE_klonly"] = k.mean(1)
        for label, s in scored.items():
            print(json.dumps(dict(
                name=label, ds=ds, seed=seed, regime=regime, t=t,
                auc=roc_auc_score(yte, s), ap=average_precision_score(yte, s), check=check,
            )), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

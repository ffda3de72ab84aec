"""Issue 9 experiment (run by hand): the trimmed loss of the AE/VAE ensembles
applied to AEGMM's DAGMM loss.

Each batch's rows are ranked by their own loss, ``mse_i + w_energy * E_i``
(``E_i`` the sample energy under the batch's mixture); the ``trim`` share with
the largest loss leave the batch: its mixture is re-estimated from the kept
rows and the loss is the DAGMM loss of the kept rows under it. Prints JSON
lines like ``variants.py``::

    python -m benchmarks.experiments.gmm_trim t10 trim=0.1 seeds=0
"""
import sys

import tensorflow as tf

from sklearn_daml import AEGMMOutlierDetector
from sklearn_daml.models import gmm_cov_penalty, gmm_energy, gmm_params

from .variants import run


class TrimmedAEGMM(AEGMMOutlierDetector):
    trim = 0.1

    def _loss(self, x, outputs):
        x_recon, z, gamma = outputs
        mse = tf.reduce_mean(tf.square(x - x_recon), axis=-1)
        params = gmm_params(z, gamma, self.cov_jitter)
        row = mse + self.w_energy * gmm_energy(z, *params)
        n = tf.shape(row)[0]
        n_drop = tf.cast(tf.math.floor(self.trim * tf.cast(n, tf.float64)), tf.int32)
        kth = tf.sort(row)[tf.maximum(n - n_drop, 1) - 1]
        keep = tf.stop_gradient(row) <= tf.stop_gradient(kth)
        zk, gk = tf.boolean_mask(z, keep), tf.boolean_mask(gamma, keep)
        phi, mu, cov, L, log_det = gmm_params(zk, gk, self.cov_jitter)
        energy = tf.reduce_mean(gmm_energy(zk, phi, mu, cov, L, log_det))
        recon = tf.reduce_mean(tf.boolean_mask(mse, keep))
        return recon + self.w_energy * energy + self.w_cov_diag * gmm_cov_penalty(cov)


def main(argv):
    label, trim, seeds, regimes = argv[0], 0.1, [0], ["U", "C"]
    for arg in argv[1:]:
        key, value = arg.split("=")
        if key == "trim":
            trim = float(value)
        elif key == "seeds":
            seeds = [int(s) for s in value.split(",")]
        elif key == "regimes":
            regimes = value.split(",")

    def make(seed, A):
        det = TrimmedAEGMM(random_state=seed)
        det.trim = trim
        return det

    run(make, label, seeds, regimes)


if __name__ == "__main__":
    main(sys.argv[1:])

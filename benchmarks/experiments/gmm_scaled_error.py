"""Issue 9 experiment (run by hand): the AE's per-feature-scaled error as a
reconstruction feature of the GMM detectors' fitted mixture.

The AE and VAE ensembles divide each squared error by the member's typical
squared error in that feature on the training rows (trimmed mean, 10%),
which took the AE from 0.649 to 0.866 on annthyroid (seed 0). The GMM
detectors' distance weighs every feature alike (AEGMM 0.644, VAEGMM 0.556
there). Here the training is unchanged; after it, each member's feature
scales are fitted on the training rows as the AE's are, and the mixture that
scores (estimation network's memberships, then ``em_steps`` EM steps) sees

* ``add``: the features plus ``log(mean_j e_j**2 / s_j)``;
* ``replace``: the features with the relative distance replaced by
  ``sqrt(mean_j e_j**2 / s_j)``.

Prints ``variants.py``'s JSON lines::

    python -m benchmarks.experiments.gmm_scaled_error AEGMM add aegmm_add seeds=0
"""

import sys

import numpy as np
import tensorflow as tf

from sklearn_daml import AEGMMOutlierDetector, VAEGMMOutlierDetector
from sklearn_daml._base import _compile
from sklearn_daml._ensemble import _floored
from sklearn_daml._gmm import BaseGMMDetector
from sklearn_daml._weights import weighted_trimmed_mean

from .variants import run, split_args

_TRIM = 0.1


def scaled_detector(base, mode):
    class Scaled(base):
        def _recon_pass(self, x):
            """``(x_rows, x_recon, z, gamma)``; a VAE's rows are its copies."""
            if hasattr(self, "_noisy_pass"):
                _, x_rep, (x_recon, z, gamma) = self._noisy_pass(x)
                return x_rep, x_recon, z, gamma
            x_recon, z, gamma = self.model_(x, training=False)
            return x, x_recon, z, gamma

        def _member_errors(self, x):
            rows, x_recon, _, _ = self._recon_pass(x)
            errors = tf.square(rows[:, None] - x_recon)
            n = tf.shape(x)[0]
            return tf.reduce_mean(tf.reshape(errors, [-1, n, *errors.shape[1:]]), axis=0)

        def _scaled_z(self, x):
            rows, x_recon, z, gamma = self._recon_pass(x)
            err = tf.reduce_mean(tf.square(rows[:, None] - x_recon) / self._scale, axis=-1)
            if mode == "add":
                z = tf.concat([z, tf.math.log(err + 1e-12)[..., None]], axis=-1)
            else:
                z = tf.concat([z[..., :-1], tf.sqrt(err)[..., None]], axis=-1)
            return z, gamma

        def _fit_extra(self, X, rng):
            if hasattr(self, "_draw_noise"):
                self._draw_noise(rng)
            self._scale = 1.0
            errors = self._map_batches(_compile(self._member_errors, X.shape[1]), X)
            scale = weighted_trimmed_mean(errors, _TRIM, None)
            self._scale = tf.constant(_floored(scale, np.mean(scale, axis=1, keepdims=True)))
            BaseGMMDetector._fit_extra(self, X, rng)

        def _gmm_pass(self, x):
            return self._scaled_z(x)

        def _energies(self, x):
            z, _ = self._scaled_z(x)
            energies = self._energy(z)
            n = tf.shape(x)[0]
            return tf.reduce_mean(tf.reshape(energies, [-1, n, energies.shape[-1]]), axis=0)

    return Scaled


def main(argv):
    name, mode, label = argv[:3]
    seeds, regimes, tables, _ = split_args(argv[3:])
    base = {"AEGMM": AEGMMOutlierDetector, "VAEGMM": VAEGMMOutlierDetector}[name]
    cls = scaled_detector(base, mode)
    run(lambda seed, A: cls(random_state=seed), label, seeds, regimes, tables)


if __name__ == "__main__":
    main(sys.argv[1:])

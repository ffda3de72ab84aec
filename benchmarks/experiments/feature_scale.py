"""Issue 9 experiment (run by hand): the AE/VAE ensembles' per-feature error
scale as the mean, the median or a trimmed mean of the training rows'
squared errors, on Protocol U's splits (both regimes, as ``variants.py``)::

    python -m benchmarks.experiments.feature_scale AE mean ae_mean
    python -m benchmarks.experiments.feature_scale VAE median vae_median 0,1,2
    python -m benchmarks.experiments.feature_scale AE trim0.1 ae_trim10

``mean`` is the scale before stop 19, ``median`` the column median,
``trimQ`` the mean of the values up to each column's ``1 - Q`` quantile
(the library's since stop 19 is ``trim_fraction``'s trimmed mean, here
over every training row). Prints ``variants.py``'s JSON lines.
"""

import sys

import numpy as np
import tensorflow as tf
from sklearn.utils import gen_batches

from sklearn_daml import AEOutlierDetector, VAEOutlierDetector
from sklearn_daml._ensemble import _floored

from .variants import run


def scaled_detector(base, mode):
    """``base`` with its ``feature_scale_`` computed as ``mode`` says."""

    class Scaled(base):
        def _fit_member_scaling(self, X, rng):
            errors = np.concatenate([
                np.asarray(self._feature_errors(tf.constant(X[sl])))
                for sl in gen_batches(X.shape[0], 2048)
            ])  # (n, members, features)
            if mode == "median":
                scale = np.median(errors, axis=0)
            elif mode.startswith("trim"):
                kept = errors <= np.quantile(errors, 1 - float(mode[4:]), axis=0)
                scale = np.where(kept, errors, 0).sum(axis=0) / np.maximum(kept.sum(axis=0), 1)
            else:
                scale = errors.mean(axis=0)
            self.feature_scale_ = _floored(scale, np.mean(scale, axis=1, keepdims=True))
            normalised = (errors / self.feature_scale_).mean(axis=-1)
            self.member_mean_ = normalised.mean(axis=0)
            tiny = np.maximum(self.member_mean_, np.finfo(np.float64).tiny)
            self.member_std_ = _floored(normalised.std(axis=0), tiny)

    return Scaled


def main(argv):
    name, mode, label = argv[:3]
    seeds = [int(s) for s in argv[3].split(",")] if len(argv) > 3 else [0]
    detector = scaled_detector({"AE": AEOutlierDetector, "VAE": VAEOutlierDetector}[name], mode)
    run(lambda seed, A: detector(random_state=seed), label, seeds)


if __name__ == "__main__":
    main(sys.argv[1:])

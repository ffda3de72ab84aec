"""Features of a row and its reconstruction, fed to the GMM of AEGMM/VAEGMM."""

import keras
from keras import ops

__all__ = ["EuclCosimFeatures", "eucl_cosim_features"]


@keras.saving.register_keras_serializable(package="sklearn_daml")
def eucl_cosim_features(x, y, max_eucl=100.0, eps=1e-8, scale=0.0):
    """Cosine similarity term and relative Euclidean distance of two tensors.

    Rows are flattened first. As in DAML and alibi-detect, column 0 is the
    cosine similarity term in the sign of Keras' ``cosine_similarity`` loss,
    ``-<x, y> / (||x|| ||y||)`` (-1 for identical directions, 0 for
    orthogonal rows), and column 1 is the relative distance
    ``||x - y|| / (sqrt(min(||x||, ||y||)**2 + scale**2) + eps)`` clipped to
    ``[0, max_eucl]`` (with ``scale=0``, DAGMM's
    ``||x - y|| / min(||x||, ||y||)``). ``eps`` is a small positive number,
    so a row of zeros gives finite values and gradients (alibi-detect passes
    -1 there, which zeroes the distance of every row with a norm below 1).
    The GMM energy of AEGMM/VAEGMM does not depend on the order or the sign
    of the columns.

    Parameters
    ----------
    x, y : tensors of shape (n_samples, ...)
        An input batch and its reconstruction.
    max_eucl : float, default=100.0
        Upper clip of the relative Euclidean distance.
    eps : float, default=1e-8
        Added to denominators.
    scale : float, default=0.0
        Reference norm. DAGMM's relative distance assumes rows far from the
        origin (min-max scaled data); on centred data the most typical rows
        lie near the origin, where ``min(||x||, ||y||)`` vanishes and the
        distance explodes. A ``scale`` of the order of a typical row norm
        makes the distance relative for rows far out and absolute (in units
        of ``scale``) near the origin (the estimators' default,
        ``recon_scale='auto'``).

    Returns
    -------
    features : tensor of shape (n_samples, 2)
        Column 0: negative cosine similarity; column 1: relative Euclidean
        distance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import eucl_cosim_features
    >>> x = np.array([[3.0, 4.0], [1.0, 0.0]])
    >>> y = np.array([[3.0, 4.5], [0.0, 1.0]])
    >>> np.round(np.asarray(eucl_cosim_features(x, y)), 3) + 0.0  # + 0.0: no "-0."
    array([[-0.998,  0.1  ],
           [ 0.   ,  1.414]])
    """
    n = ops.shape(x)[0]
    x = ops.reshape(x, (n, -1))
    y = ops.reshape(y, (n, -1))
    norm_x = _safe_norm(x)
    norm_y = _safe_norm(y)
    norm_min = ops.minimum(norm_x, norm_y)
    if scale:
        # a product, not scale**2, which raises OverflowError for huge scales
        norm_min = ops.sqrt(ops.square(norm_min) + float(scale) * float(scale))
    eucl = _safe_norm(x - y) / (norm_min + eps)
    eucl = ops.clip(eucl, 0.0, max_eucl)
    cosim = ops.sum(x * y, axis=-1) / (norm_x * norm_y + eps)
    return ops.stack([-cosim, eucl], axis=-1)


@keras.saving.register_keras_serializable(package="sklearn_daml")
class EuclCosimFeatures:
    """:func:`eucl_cosim_features` with fixed arguments, as a serializable
    callable (pass it as ``recon_features`` of ``AEGMM``/``VAEGMM``).

    Parameters
    ----------
    scale : float, default=0.0
        Reference norm of the relative distance (see
        :func:`eucl_cosim_features`).
    max_eucl : float, default=100.0
        Upper clip of the relative distance.
    eps : float, default=1e-8
        Added to denominators.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import EuclCosimFeatures
    >>> x = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> y = np.array([[0.0, 0.1], [3.0, 4.1]])
    >>> np.round(np.asarray(EuclCosimFeatures(scale=1.0)(x, y)), 3) + 0.0  # + 0.0: no "-0."
    array([[ 0.  ,  0.1 ],
           [-1.  ,  0.02]])
    """

    def __init__(self, scale=0.0, max_eucl=100.0, eps=1e-8):
        self.scale = float(scale)
        self.max_eucl = float(max_eucl)
        self.eps = float(eps)

    def __call__(self, x, y):
        return eucl_cosim_features(x, y, max_eucl=self.max_eucl, eps=self.eps, scale=self.scale)

    def get_config(self):
        return {"scale": self.scale, "max_eucl": self.max_eucl, "eps": self.eps}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"EuclCosimFeatures(scale={self.scale!r}, max_eucl={self.max_eucl!r}, eps={self.eps!r})"


def _safe_norm(t):
    """Row norms whose gradient is finite at zero (plain ``norm`` gives NaN)."""
    squared = ops.sum(ops.square(t), axis=-1)
    positive = squared > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, squared, 1.0)), 0.0)

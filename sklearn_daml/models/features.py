"""Features of a row and its reconstruction, fed to the GMM of AEGMM/VAEGMM."""

import keras
from keras import ops

__all__ = ["eucl_cosim_features"]


@keras.saving.register_keras_serializable(package="sklearn_daml")
def eucl_cosim_features(x, y, max_eucl=100.0, eps=1e-8):
    """Relative Euclidean distance and cosine similarity of two tensors.

    Rows are flattened first. The relative distance is
    ``||x - y|| / (min(||x||, ||y||) + eps)`` clipped to ``[0, max_eucl]``;
    the cosine similarity is the positive one, ``<x, y> / (||x|| ||y||)``
    (1 for identical directions; Keras' ``cosine_similarity`` loss is its
    negative). ``eps`` is a small positive number, so a row of zeros gives a
    finite distance.

    Parameters
    ----------
    x, y : tensors of shape (n_samples, ...)
        An input batch and its reconstruction.
    max_eucl : float, default=100.0
        Upper clip of the relative Euclidean distance.
    eps : float, default=1e-8
        Added to denominators.

    Returns
    -------
    features : tensor of shape (n_samples, 2)
        Column 0: relative Euclidean distance; column 1: cosine similarity.
    """
    n = ops.shape(x)[0]
    x = ops.reshape(x, (n, -1))
    y = ops.reshape(y, (n, -1))
    norm_x = _safe_norm(x)
    norm_y = _safe_norm(y)
    eucl = _safe_norm(x - y) / (ops.minimum(norm_x, norm_y) + eps)
    eucl = ops.clip(eucl, 0.0, max_eucl)
    cosim = ops.sum(x * y, axis=-1) / (norm_x * norm_y + eps)
    return ops.stack([eucl, cosim], axis=-1)


def _safe_norm(t):
    """Row norms whose gradient is finite at zero (plain ``norm`` gives NaN)."""
    squared = ops.sum(ops.square(t), axis=-1)
    positive = squared > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, squared, 1.0)), 0.0)

"""A frozen Keras classifier inside a detector (adversarial and distillation).

The classifier is only ever called in inference mode inside the detector's
compiled steps; gradients are taken with respect to the detector's own
network, so the classifier is never trained or modified.
"""

import math
import numbers

import keras
import numpy as np
from sklearn.utils._param_validation import Interval

from ._compiled import tf
from ._rows import dense_rows

__all__ = ["FrozenClassifierMixin"]


def _declared_input(model):
    """The single declared input (a KerasTensor) of a Sequential or
    functional model, or None (a subclassed model declares none)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return inputs[0] if inputs and len(inputs) == 1 else None


def _known_input(model):
    """``(shape, dtype)`` of a model's declared input, ``None`` where unknown."""
    declared = _declared_input(model)
    if declared is None:
        return None, None
    shape = tuple(declared.shape[1:])
    return (None if any(d is None for d in shape) else shape), declared.dtype


class FrozenClassifierMixin:
    """Resolves ``model`` at fit and calls it on validated rows (dense
    batches of them: a sparse ``X`` reaches the classifier densified).

    ``model`` is a trained Keras classifier returning class probabilities,
    or a callable ``model(n_features)`` returning one (called at fit).
    """

    _classifier_constraints: dict = {
        "model": [keras.Model, callable],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def _fit_classifier(self, X):
        """Set ``classifier_``, its input shape and ``n_classes_``."""
        model = self.model
        if not isinstance(model, keras.Model):
            model = model(X.shape[1])
            if not isinstance(model, keras.Model):
                raise TypeError(
                    "model must be a Keras classifier or a callable returning one; "
                    f"model({X.shape[1]}) returned {type(model).__name__}."
                )
        shape, dtype = _known_input(model)
        if shape is not None and math.prod(shape) != X.shape[1]:
            raise ValueError(
                f"The classifier takes inputs of shape {shape} ({math.prod(shape)} values) "
                f"but X has {X.shape[1]} features per row."
            )
        self.classifier_ = model
        self._classifier_input = (shape, dtype or model.compute_dtype)
        probs = np.asarray(self._classify(tf.constant(dense_rows(X, slice(0, 16)))))
        if probs.ndim != 2 or probs.shape[1] < 2:
            raise ValueError(
                "The classifier must return class probabilities of shape "
                f"(n_samples, n_classes) with n_classes >= 2; got shape {probs.shape}."
            )
        if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(
                "The classifier must return class probabilities (rows of non-negative "
                "values summing to 1); end it with a softmax (for example "
                "keras.layers.Softmax() after a logits layer)."
            )
        self.n_classes_ = int(probs.shape[1])

    def _classify(self, x, model=None):
        """Probabilities of ``model`` (default ``classifier_``) for float64
        rows, in inference mode, as float64."""
        shape, dtype = self._classifier_input
        x = tf.cast(x, dtype)
        if shape is not None:
            x = tf.reshape(x, [-1, *shape])
        model = self.classifier_ if model is None else model
        return tf.cast(model(x, training=False), tf.float64)

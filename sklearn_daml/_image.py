"""Shared part of the likelihood detectors on images (PixelCNN, LLR)."""

import math
import numbers
import warnings

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import _DTYPE, BaseDeepDetector, _compile, _input_ndim, tf
from .models.pixelcnn import PixelCNN


class BaseImageDetector(BaseDeepDetector):
    """Image input, the integer pixel grid and PixelCNN construction.

    Input is a 4-D array ``(n, height, width, channels)`` or a 2-D array of
    flattened images (``image_shape`` says how to unflatten; ``None`` treats
    a row as a ``1 x n_features x 1`` image, so plain tables go through).
    Pixel values live on the integer grid ``[low, high]``: any other real
    value is rounded to the nearest integer and clipped to ``[low, high]``,
    with a warning when rounding or clipping changed a value. NaN and inf
    are errors.
    """

    _parameter_constraints: dict = {
        **BaseDeepDetector._parameter_constraints,
        "image_shape": ["array-like", None],
        "low": [Interval(numbers.Integral, None, None, closed="neither")],
        "high": [Interval(numbers.Integral, None, None, closed="neither")],
        "num_resnet": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_hierarchies": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_filters": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_logistic_mix": [Interval(numbers.Integral, 1, None, closed="left")],
        "receptive_field_dims": ["array-like"],
        "dropout_p": [Interval(numbers.Real, 0, 1, closed="left")],
        "resnet_activation": [StrOptions({"concat_elu", "elu", "relu"})],
        "l2_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "use_weight_norm": ["boolean"],
        "use_data_init": ["boolean"],
    }

    # ------------------------------------------------------------- input
    def _check_params(self):
        if self.high <= self.low:
            raise ValueError(f"high must be greater than low; got low={self.low}, high={self.high}.")

    def _validate_input(self, X, reset):
        """Flatten 4-D images, validate, then map values onto the pixel grid."""
        shape = None
        if _input_ndim(X) == 4:
            X = np.asarray(X)
            shape = tuple(X.shape[1:])
            if not reset and shape != self.image_shape_:
                raise ValueError(
                    f"X has images of shape {shape}, but {type(self).__name__} was "
                    f"fitted on images of shape {self.image_shape_}."
                )
            X = X.reshape(X.shape[0], -1)
        X = super()._validate_input(X, reset)
        if reset:
            self.image_shape_ = self._resolve_image_shape(shape, X.shape[1])
        return self._to_pixel_grid(X)

    def _resolve_image_shape(self, data_shape, n_features):
        shape = data_shape
        if self.image_shape is not None:
            declared = tuple(int(d) for d in self.image_shape)
            if len(declared) != 3 or min(declared) < 1:
                raise ValueError(
                    f"image_shape must be (height, width, channels); got {self.image_shape!r}."
                )
            if shape is not None and shape != declared:
                raise ValueError(f"X has images of shape {shape} but image_shape={declared}.")
            shape = declared
        if shape is None:
            shape = (1, n_features, 1)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={shape} holds {math.prod(shape)} values but X has "
                f"{n_features} features per row."
            )
        return shape

    def _to_pixel_grid(self, X):
        """Round to integers and clip to ``[low, high]``, warning when
        either changed a value."""
        rounded = np.rint(X)
        if not np.array_equal(rounded, X):
            warnings.warn(
                "X has non-integer values; they were rounded to the nearest integer. "
                "Pixel values are expected as integers in [low, high] = "
                f"[{self.low}, {self.high}] (for example 0..255, not scaled to [0, 1]).",
                UserWarning,
                stacklevel=3,
            )
        X = rounded
        if X.size and (X.min() < self.low or X.max() > self.high):
            warnings.warn(
                f"X has values outside [low, high] = [{self.low}, {self.high}]; "
                "they were clipped. Pixel values are expected as integers in that range.",
                UserWarning,
                stacklevel=3,
            )
            X = np.clip(X, self.low, self.high)
        return X

    def _as_images(self, x):
        return tf.reshape(x, [-1, *self.image_shape_])

    # ----------------------------------------------------------- network
    def _pixelcnn(self, X, l2_weight):
        """A PixelCNN with this estimator's architecture, data-initialised on ``X``."""
        model = PixelCNN(
            self.image_shape_,
            num_resnet=self.num_resnet,
            num_hierarchies=self.num_hierarchies,
            num_filters=self.num_filters,
            num_logistic_mix=self.num_logistic_mix,
            receptive_field_dims=tuple(int(d) for d in self.receptive_field_dims),
            dropout_p=self.dropout_p,
            resnet_activation=self.resnet_activation,
            l2_weight=l2_weight,
            use_weight_norm=self.use_weight_norm,
            use_data_init=self.use_data_init,
            high=self.high,
            low=self.low,
            dtype=_DTYPE,
        )
        model.data_init(self._as_images(tf.constant(X[: self.batch_size])))
        return model

    def _forward(self, model, x, training):
        return model.log_prob(self._as_images(x), training=training)

    def _loss(self, x, log_prob):
        """Negative log-likelihood per dimension (nats), so the scale of the
        loss, and of the learning rate, does not depend on the image size."""
        return -tf.reduce_mean(log_prob) / self.n_features_in_

    # ----------------------------------------------------------- scoring
    def _pixel_scores(self, x):
        """Per-pixel normality score, shape (n, height, width)."""
        raise NotImplementedError

    def _compile_scorer(self):
        super()._compile_scorer()
        self._compiled["pixel"] = _compile(self._pixel_scores, self.n_features_in_)

    def _scoring_row_width(self):
        depth = 6 * self.num_resnet * self.num_hierarchies + 10
        return self.n_features_in_ * (self.num_filters * depth + 4 * self.num_logistic_mix)

    def feature_score_samples(self, X):
        """Per-pixel normality scores (higher = more normal).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels) or (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, height, width), float64
            Channels are summed.
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._map_batches(self._compiled["pixel"], X)

"""Shared part of the likelihood detectors on images (PixelCNN, LLR)."""

import ctypes
import ctypes.util
import functools
import math
import numbers
import warnings

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseDeepDetector, input_ndim
from ._compiled import DTYPE, compiled, tf
from .models.pixelcnn import PixelCNN


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None


def release_freed_memory():
    """Return the heap memory that is free but still held to the system.

    A PixelCNN step allocates and frees tensors of many megabytes. glibc
    raises its mmap threshold to the size of the largest block freed, so
    such tensors come to live on the heap, where freed blocks are reused
    only in part: with DAML's configuration on 8 x 8 digits the resident
    memory grows by most of a gigabyte an epoch while the live tensors stay
    the same.
    ``malloc_trim(0)`` hands the free pages back (a few milliseconds); a
    no-op where the C library is not glibc.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class BaseImageDetector(BaseDeepDetector):
    """Image input, the integer pixel grid and PixelCNN construction.

    Input is a 4-D array ``(n, height, width, channels)`` or a 2-D array of
    flattened images (``image_shape`` says how to unflatten; ``None`` treats
    a row as a ``1 x n_features x 1`` image, so plain tables go through).
    Pixel values live on the integer grid ``[low_, high_]``: any other real
    value is rounded to the nearest integer and clipped to it, with a warning
    when rounding or clipping changed a value. NaN and inf are errors.

    The architecture parameters default to ``'auto'``, resolved at fit from
    the data (:meth:`_resolve_architecture`): a small PixelCNN for a few
    hundred small images, growing to DAML's configuration (the defaults of
    :class:`~sklearn_daml.models.PixelCNN`) for 25,000 images or more.

    A PixelCNN fits its training images far more closely than new images of
    the same kind, so ``offset_`` comes from images held out of training
    (``calibration_size``, :class:`~sklearn_daml._thresholds.ThresholdMixin`).
    """

    _parameter_constraints: dict = {
        **BaseDeepDetector._parameter_constraints,
        "image_shape": ["array-like", None],
        "low": [Interval(numbers.Integral, None, None, closed="neither"), StrOptions({"auto"})],
        "high": [Interval(numbers.Integral, None, None, closed="neither"), StrOptions({"auto"})],
        "num_resnet": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "num_hierarchies": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "num_filters": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "num_logistic_mix": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "receptive_field_dims": ["array-like"],
        "dropout_p": [Interval(numbers.Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "resnet_activation": [StrOptions({"concat_elu", "elu", "relu"})],
        "l2_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "use_weight_norm": ["boolean", StrOptions({"auto"})],
        "use_data_init": ["boolean"],
    }

    # ------------------------------------------------------------- input
    def _check_params(self):
        if self.low != "auto" and self.high != "auto" and self.high <= self.low:
            raise ValueError(f"high must be greater than low; got low={self.low}, high={self.high}.")

    def _validate_input(self, X, reset):
        """Flatten 4-D images, validate, then map values onto the pixel grid."""
        shape = None
        if input_ndim(X) == 4:
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
            self.low_, self.high_ = self._resolve_grid(X)
        return self._to_pixel_grid(X)

    def _resolve_grid(self, X):
        """``(low_, high_)``: ``'auto'`` takes the integer range of the
        training values (rounded), at least one step wide."""
        low = int(np.rint(X.min())) if self.low == "auto" else int(self.low)
        if self.high != "auto":
            high = int(self.high)
        else:
            high = max(int(np.rint(X.max())), low + 1)
        if high <= low:
            raise ValueError(
                f"high must be greater than low; got low={low}, high={high} "
                f"(from low={self.low!r}, high={self.high!r})."
            )
        return low, high

    def _resolve_architecture(self, n_images):
        """The PixelCNN configuration, each ``'auto'`` resolved from the data.

        ``num_hierarchies='auto'`` halves the image until its coarsest level
        is at least 4 pixels high and wide, at most 3 times:
        ``clip(1 + floor(log2(min(height, width) / 4)), 1, 3)`` (2 for 8 x 8
        digits, 3 for 28 x 28 or 32 x 32 images, 1 for a row of a table).
        The capacity follows the number of training images ``n``: with
        ``t = clip((sqrt(n / 1000) - 1) / 4, 0, 1)`` (0 up to 1,000 images,
        1 from 25,000), ``num_filters``, ``num_resnet``, ``num_logistic_mix``
        and ``dropout_p`` go linearly from the small configuration (32, 1,
        5, 0.0) at ``t = 0`` to DAML's (160, 5, 10, 0.5) at ``t = 1``, and
        ``use_weight_norm`` is on when ``t > 0``. A few hundred images cannot
        fit DAML's 4.6 million weights (it overfits them and costs hours on a
        CPU); 25,000 images of 32 x 32 are the scale DAML's configuration was
        made for.
        """
        t = float(np.clip((np.sqrt(n_images / 1000) - 1) / 4, 0, 1))
        height, width = self.image_shape_[:2]
        auto = {
            "num_resnet": round(1 + 4 * t),
            "num_hierarchies": int(np.clip(1 + np.floor(np.log2(min(height, width) / 4)), 1, 3)),
            "num_filters": round(32 + 128 * t),
            "num_logistic_mix": round(5 + 5 * t),
            "dropout_p": round(0.5 * t, 6),
            "use_weight_norm": bool(t > 0),
        }
        return {
            name: value if getattr(self, name) == "auto" else getattr(self, name)
            for name, value in auto.items()
        }

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
            side = math.isqrt(n_features)
            if n_features >= 16 and side * side == n_features:
                warnings.warn(
                    f"X has 2-D rows of {n_features} values and image_shape is None, so "
                    f"{type(self).__name__} models each row as a 1 x {n_features} image "
                    f"(pixels depend on the pixels to their left only). For square "
                    f"images pass them as 4-D (n_images, height, width, channels), e.g. "
                    f"X.reshape(-1, {side}, {side}, 1), or set image_shape=({side}, "
                    f"{side}, 1); set image_shape=(1, {n_features}, 1) to keep rows.",
                    UserWarning,
                    stacklevel=4,
                )
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
                f"[{self.low_}, {self.high_}] (for example 0..255, not scaled to [0, 1]).",
                UserWarning,
                stacklevel=3,
            )
        X = rounded
        if X.size and (X.min() < self.low_ or X.max() > self.high_):
            warnings.warn(
                f"X has values outside [low, high] = [{self.low_}, {self.high_}]; "
                "they were clipped. Pixel values are expected as integers in that range.",
                UserWarning,
                stacklevel=3,
            )
            X = np.clip(X, self.low_, self.high_)
        return X

    def _as_images(self, x):
        return tf.reshape(x, [-1, *self.image_shape_])

    # ----------------------------------------------------------- network
    def _build_model(self, X):
        """The architecture, resolved from the number of training images (a
        weighted image counts as often as its weight), then the network,
        data-initialised on the first training batch."""
        self.pixelcnn_params_ = self._resolve_architecture(len(self._draws))
        return self._network(X[self._draws[: self.batch_size]])

    def _pixelcnn(self, X, l2_weight):
        """A PixelCNN with this estimator's architecture, data-initialised on
        the first ``batch_size`` rows of ``X``."""
        model = PixelCNN(
            self.image_shape_,
            **self.pixelcnn_params_,
            receptive_field_dims=tuple(int(d) for d in self.receptive_field_dims),
            resnet_activation=self.resnet_activation,
            l2_weight=l2_weight,
            use_data_init=self.use_data_init,
            high=self.high_,
            low=self.low_,
            dtype=DTYPE,
        )
        model.data_init(self._as_images(tf.constant(X[: self.batch_size])))
        return model

    def _forward(self, model, x, training):
        return model.log_prob(self._as_images(x), training=training)

    def _epoch_loss(self, *args, **kwargs):
        """The base class's epoch, then the freed memory back to the system,
        so that resident memory stays flat across epochs."""
        loss = super()._epoch_loss(*args, **kwargs)
        release_freed_memory()
        return loss

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
        self._compiled["pixel"] = compiled(self._pixel_scores, self.n_features_in_)

    def _scoring_row_width(self):
        params = self.pixelcnn_params_
        depth = 6 * params["num_resnet"] * params["num_hierarchies"] + 10
        return self.n_features_in_ * (
            params["num_filters"] * depth + 4 * params["num_logistic_mix"]
        )

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

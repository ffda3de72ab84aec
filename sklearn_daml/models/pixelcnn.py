"""Keras 3 PixelCNN++ (Salimans et al., 2017), ported from TensorFlow Probability.

The network follows ``tfp.distributions.PixelCNN`` (``_PixelCNNNetwork``):
vertical and horizontal stacks with causal kernel masks, gated ResNet blocks,
``num_hierarchies`` levels with stride-2 down- and up-sampling and skip
connections, and a mixture of discretised logistics per pixel with linear
autoregressive coefficients between the channels of a pixel.

Differences to TFP, all deliberate:

- kernel masks are applied in the forward pass (TFP uses Keras kernel
  constraints, which only act after an optimizer step, so an untrained TFP
  network is not causal);
- up-sampled tensors are cropped to the spatial shape of their skip
  connection, so odd and tiny image shapes (down to 1 x 1) work;
- the likelihood is computed directly and stably by
  :func:`discretized_logistic_mixture_log_prob` (the same distribution as
  TFP's quantised, shifted logistic mixture);
- sampling quantises every pixel before it is fed back to the network.
"""

import math

import keras
import numpy as np
from keras import layers, ops

__all__ = [
    "PixelCNN",
    "WeightNormConv2D",
    "WeightNormConv2DTranspose",
    "WeightNormDense",
    "discretized_logistic_mixture_log_prob",
]

_serializable = keras.saving.register_keras_serializable(package="sklearn_daml")


def discretized_logistic_mixture_log_prob(x, logits, locs, scales, coeffs=None, low=0, high=255):
    """Per-pixel log-likelihood of a mixture of discretised logistics.

    Each pixel value is an integer in ``[low, high]``. Component ``k`` models
    channel ``c`` by a logistic with location ``locs[..., k, c]`` (plus, for
    ``c > 0``, ``sum_j<c coeffs[..., k, .] * x_j`` with ``x_j`` rescaled to
    [-1, 1]) and scale ``scales[..., k, c]``, both on the [-1, 1] scale of the
    rescaled values. The probability of a value is the logistic mass of its
    bin ``x +- 0.5`` (raw units); the edge bins ``low`` and ``high`` absorb the
    tails. The channels of a pixel are independent given the component (and
    the previous channels); the mixture is over the joint of the channels.

    Parameters
    ----------
    x : tensor of shape (..., c)
        Raw values (integers in ``[low, high]``, as floats).
    logits : tensor of shape (..., m)
        Unnormalised log-weights of the ``m`` mixture components.
    locs, scales : tensors of shape (..., m, c)
        Locations and (positive) scales on the [-1, 1] scale.
    coeffs : tensor of shape (..., m, c * (c - 1) // 2), optional
        Linear coefficients of the previous channels in the locations, in the
        order (1, 0), (2, 0), (2, 1), ... (as TFP). Ignored when ``c == 1``.
    low, high : int
        Range of the values.

    Returns
    -------
    tensor of shape (...)
        Log-probability of each pixel (all its channels jointly).

    Examples
    --------
    The probabilities of the four values of a grid ``0..3`` sum to one:

    >>> import numpy as np
    >>> from sklearn_daml.models import discretized_logistic_mixture_log_prob
    >>> x = np.arange(4.0).reshape(4, 1)  # 4 one-channel pixels
    >>> log_p = discretized_logistic_mixture_log_prob(
    ...     x, np.zeros((4, 1)), np.zeros((4, 1, 1)), np.full((4, 1, 1), 0.5), high=3)
    >>> round(float(np.exp(log_p).sum()), 6)
    1.0
    """
    dtype = keras.backend.standardize_dtype(locs.dtype)
    x = ops.cast(x, dtype)
    low = float(low)
    high = float(high)
    if not high > low:
        raise ValueError(f"high ({high}) must be greater than low ({low}).")
    n_channels = x.shape[-1]
    half_bin = 1.0 / (high - low)  # half of a raw bin (0.5) on the [-1, 1] scale
    xs = 2.0 * (x - low) / (high - low) - 1.0
    xs_e = ops.expand_dims(xs, -2)  # (..., 1, c)
    if n_channels > 1 and coeffs is not None:
        loc_list = [locs[..., 0]]
        count = 0
        for i in range(1, n_channels):
            loc = locs[..., i]
            for j in range(i):
                loc = loc + coeffs[..., count] * xs_e[..., j]
                count += 1
            loc_list.append(loc)
        locs = ops.stack(loc_list, axis=-1)
    centered = xs_e - locs
    inv_scale = 1.0 / scales
    plus = inv_scale * (centered + half_bin)
    minus = inv_scale * (centered - half_bin)
    log_cdf_plus = ops.log_sigmoid(plus)  # lowest bin: log F(x + 0.5)
    log_sf_minus = ops.log_sigmoid(-minus)  # highest bin: log(1 - F(x - 0.5))
    # F(b) - F(a) = s(b) * s(-a) * (1 - exp(a - b)), stable for all a < b
    log_mid = log_cdf_plus + log_sf_minus + ops.log(-ops.expm1(minus - plus))
    x_e = ops.expand_dims(x, -2)
    lp = ops.where(
        x_e < low + 0.5, log_cdf_plus, ops.where(x_e > high - 0.5, log_sf_minus, log_mid)
    )
    lp = ops.sum(lp, axis=-1) + ops.log_softmax(logits, axis=-1)
    return ops.logsumexp(lp, axis=-1)


def _mask_array(kernel_size, valid_rows, valid_cols):
    mask = np.zeros(tuple(kernel_size))
    mask[valid_rows[0] : valid_rows[1], valid_cols[0] : valid_cols[1]] = 1.0
    return mask


class _WeightNormBase(layers.Layer):
    """Shared weight-normalisation logic: ``kernel = g * (mask * v) / ||mask * v||``.

    With ``use_weight_norm=False`` the kernel is a plain (masked) variable.
    ``data_init`` mode (set by :meth:`PixelCNN.data_init`) rescales ``g`` and
    sets the bias so that the layer's output on the current batch has zero
    mean and unit variance per output unit (Salimans and Kingma, 2016).
    """

    # index of the output axis in the kernel (as stored) and norm axes
    _rank = 4

    def __init__(
        self,
        use_weight_norm=True,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.use_weight_norm = bool(use_weight_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self._data_init_mode = False

    def _kernel_shape(self, input_shape):
        raise NotImplementedError

    def _mask(self):
        return None

    def build(self, input_shape):
        shape = self._kernel_shape(input_shape)
        n_out = shape[-1]
        self._norm_axes = tuple(range(len(shape) - 1))
        mask = self._mask()
        self._mask_tensor = None if mask is None else mask.reshape(mask.shape + (1, 1))
        self.v = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_weight_norm:
            self.g = self.add_weight(name="g", shape=(n_out,), initializer="ones")
            v = self._masked_v()
            self.g.assign(ops.sqrt(ops.sum(ops.square(v), axis=self._norm_axes)))
        self.bias = self.add_weight(name="bias", shape=(n_out,), initializer="zeros")

    def _masked_v(self):
        v = ops.convert_to_tensor(self.v)
        if self._mask_tensor is not None:
            v = v * ops.cast(self._mask_tensor, v.dtype)
        return v

    def kernel(self):
        """The effective (masked, normalised) kernel."""
        v = self._masked_v()
        if not self.use_weight_norm:
            return v
        norm = ops.sqrt(ops.sum(ops.square(v), axis=self._norm_axes, keepdims=True))
        return v / norm * self.g

    def _apply(self, inputs, kernel):
        raise NotImplementedError

    def call(self, inputs):
        y = self._apply(inputs, self.kernel())
        if self._data_init_mode and self.use_weight_norm:
            axes = tuple(range(len(y.shape) - 1))
            mean, var = ops.moments(y, axes=axes)
            # a unit that sees no variation (e.g. the vertical stack of a
            # one-row image, whose input is all padding) keeps its scale:
            # 1 / sqrt(0 + eps) would blow the first training step up
            informative = var > 1e-6
            scale = ops.where(informative, 1.0 / ops.sqrt(ops.where(informative, var, 1.0)), 1.0)
            self.g.assign(self.g * scale)
            self.bias.assign(-mean * scale)
            return (y - mean) * scale
        return y + self.bias

    def get_config(self):
        config = super().get_config()
        config.update(
            use_weight_norm=self.use_weight_norm,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer)
            if self.kernel_regularizer is not None
            else None,
        )
        return config


@_serializable
class WeightNormDense(_WeightNormBase):
    """Dense layer (on the last axis) with optional weight normalisation.

    Parameters
    ----------
    units : int
        Number of output units.
    use_weight_norm : bool, default=True
        Parametrise the kernel as ``g * v / ||v||`` (norm over inputs).
    kernel_initializer, kernel_regularizer
        As for ``keras.layers.Dense`` (the regulariser acts on ``v``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import WeightNormDense
    >>> tuple(WeightNormDense(3)(np.zeros((2, 5), dtype="float32")).shape)
    (2, 3)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def _kernel_shape(self, input_shape):
        return (input_shape[-1], self.units)

    def _apply(self, inputs, kernel):
        return ops.tensordot(inputs, kernel, axes=[[len(inputs.shape) - 1], [0]])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


@_serializable
class WeightNormConv2D(_WeightNormBase):
    """2-D convolution ('same' padding) with optional kernel mask and weight norm.

    Parameters
    ----------
    filters : int
        Number of output channels.
    kernel_size : tuple of 2 int
        Kernel height and width.
    strides : tuple of 2 int, default=(1, 1)
        Strides.
    kernel_mask : ((int, int), (int, int)), optional
        Valid (unmasked) kernel rows ``[r0, r1)`` and columns ``[c0, c1)``;
        all other kernel entries are zeroed in the forward pass.
    use_weight_norm : bool, default=True
        Parametrise the kernel as ``g * v / ||v||`` (norm over all axes but
        the output one, after masking).
    kernel_initializer, kernel_regularizer
        As for ``keras.layers.Conv2D`` (the regulariser acts on ``v``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import WeightNormConv2D
    >>> tuple(WeightNormConv2D(8, (3, 3))(np.zeros((2, 6, 6, 1), dtype="float32")).shape)
    (2, 6, 6, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), kernel_mask=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.strides = tuple(int(s) for s in strides)
        self.kernel_mask = (
            None if kernel_mask is None else tuple(tuple(int(i) for i in r) for r in kernel_mask)
        )

    def _mask(self):
        if self.kernel_mask is None:
            return None
        return _mask_array(self.kernel_size, *self.kernel_mask)

    def _kernel_shape(self, input_shape):
        return self.kernel_size + (input_shape[-1], self.filters)

    def _apply(self, inputs, kernel):
        return ops.conv(inputs, kernel, strides=self.strides, padding="same")

    def compute_output_shape(self, input_shape):
        n, h, w = input_shape[:3]
        sh, sw = self.strides
        out_h = None if h is None else -(-h // sh)
        out_w = None if w is None else -(-w // sw)
        return (n, out_h, out_w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=list(self.kernel_size),
            strides=list(self.strides),
            kernel_mask=None if self.kernel_mask is None else [list(r) for r in self.kernel_mask],
        )
        return config


@_serializable
class WeightNormConv2DTranspose(WeightNormConv2D):
    """Transposed 2-D convolution ('same' padding) with optional mask and weight norm.

    Same parameters as :class:`WeightNormConv2D`; ``v`` is stored as
    (kh, kw, in, out) and the mask indexes the kernel as for the forward
    convolution whose gradient this layer computes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import WeightNormConv2DTranspose
    >>> layer = WeightNormConv2DTranspose(8, (3, 3), strides=(2, 2))
    >>> tuple(layer(np.zeros((2, 3, 3, 1), dtype="float32")).shape)
    (2, 6, 6, 8)
    """

    def _apply(self, inputs, kernel):
        return ops.conv_transpose(
            inputs, ops.transpose(kernel, (0, 1, 3, 2)), strides=self.strides, padding="same"
        )

    def compute_output_shape(self, input_shape):
        n, h, w = input_shape[:3]
        sh, sw = self.strides
        return (n, None if h is None else h * sh, None if w is None else w * sw, self.filters)


_ACTIVATIONS = ("concat_elu", "elu", "relu")


@_serializable
class PixelCNN(keras.Model):
    """PixelCNN++ density model of images with values in ``[low, high]``.

    A port of ``tfp.distributions.PixelCNN`` to Keras 3. ``call`` returns the
    parameters of the per-pixel mixture of discretised logistics;
    :meth:`log_prob` the log-likelihood and :meth:`sample` draws images
    pixel by pixel.

    Parameters
    ----------
    image_shape : tuple of 3 int
        (height, width, channels) of the images.
    conditional_shape : tuple of int, optional
        Shape of one conditional input (e.g. a one-hot label); it is
        flattened, projected by a dense layer and added inside every gated
        ResNet block.
    num_resnet : int, default=5
        Gated ResNet layers per block.
    num_hierarchies : int, default=3
        Number of blocks (resolutions), separated by stride-2 down- and
        up-sampling.
    num_filters : int, default=160
        Convolutional filters.
    num_logistic_mix : int, default=10
        Mixture components per pixel.
    receptive_field_dims : tuple of 2 int, default=(3, 3)
        Height and (odd) width of the receptive field of the stride-1 layers.
    dropout_p : float, default=0.5
        Dropout rate in the gated ResNet layers.
    resnet_activation : {"concat_elu", "elu", "relu"}, default="concat_elu"
        Activation in the gated ResNet layers.
    l2_weight : float, default=0.0
        L2 penalty on the conv/dense kernels (added to ``model.losses``).
    use_weight_norm : bool, default=True
        Weight-normalised conv and dense layers.
    use_data_init : bool, default=True
        Whether :meth:`data_init` performs data-dependent initialisation.
    high, low : int, default=255, 0
        Range of the integer values.
    dtype : str, default="float32"
        Dtype of every layer and of the log-likelihood.
    name : str, default="PixelCNN"
        Model name.

    Examples
    --------
    A tiny model of 4 x 4 images with values 0..3:

    >>> import numpy as np
    >>> from sklearn_daml.models import PixelCNN
    >>> model = PixelCNN((4, 4, 1), num_resnet=1, num_hierarchies=1, num_filters=8,
    ...                  num_logistic_mix=2, dropout_p=0.0, high=3)
    >>> tuple(model.log_prob(np.zeros((2, 4, 4, 1))).shape)
    (2,)
    """

    def __init__(
        self,
        image_shape,
        conditional_shape=None,
        num_resnet=5,
        num_hierarchies=3,
        num_filters=160,
        num_logistic_mix=10,
        receptive_field_dims=(3, 3),
        dropout_p=0.5,
        resnet_activation="concat_elu",
        l2_weight=0.0,
        use_weight_norm=True,
        use_data_init=True,
        high=255,
        low=0,
        dtype="float32",
        name="PixelCNN",
        **kwargs,
    ):
        if isinstance(dtype, dict) or not isinstance(dtype, str):
            dtype = keras.dtype_policies.get(dtype).name
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError("image_shape must be (height, width, channels).")
        self.conditional_shape = (
            None if conditional_shape is None else tuple(int(s) for s in conditional_shape)
        )
        self.num_resnet = int(num_resnet)
        self.num_hierarchies = int(num_hierarchies)
        self.num_filters = int(num_filters)
        self.num_logistic_mix = int(num_logistic_mix)
        self.receptive_field_dims = tuple(int(s) for s in receptive_field_dims)
        self.dropout_p = float(dropout_p)
        if resnet_activation not in _ACTIVATIONS:
            raise ValueError(f"resnet_activation must be one of {_ACTIVATIONS}.")
        self.resnet_activation = resnet_activation
        self.l2_weight = float(l2_weight)
        self.use_weight_norm = bool(use_weight_norm)
        self.use_data_init = bool(use_data_init)
        self.high = int(high)
        self.low = int(low)
        if not self.high > self.low:
            raise ValueError("high must be greater than low.")
        rows, cols = self.receptive_field_dims
        if rows < 3 or cols % 2 != 1:
            raise ValueError("receptive_field_dims must have height >= 3 and an odd width.")
        self._build_layers()
        self._build_now()

    # ------------------------------------------------------------------ layers
    def _build_layers(self):
        dtype = self.dtype_policy.name
        reg = keras.regularizers.L2(self.l2_weight) if self.l2_weight > 0 else None
        common = dict(use_weight_norm=self.use_weight_norm, kernel_regularizer=reg, dtype=dtype)
        nf = self.num_filters
        rows, cols = self.receptive_field_dims
        valid = {"vertical": (rows - 1, cols), "horizontal": (2, cols // 2 + 1)}
        ksize = {"vertical": (2 * rows - 3, cols), "horizontal": (3, cols)}
        kmask = {k: ((0, v[0]), (0, v[1])) for k, v in valid.items()}

        def conv(filters, kernel_size, kernel_mask, strides=(1, 1)):
            return WeightNormConv2D(
                filters, kernel_size, strides=strides, kernel_mask=kernel_mask, **common
            )

        def gated_block(stack, skip):
            block = {
                "conv1": conv(nf, ksize[stack], kmask[stack]),
                "dropout": layers.Dropout(self.dropout_p, dtype=dtype),
                "conv2": conv(2 * nf, ksize[stack], kmask[stack]),
            }
            if skip:
                block["dense"] = WeightNormDense(nf, **common)
            if self.conditional_shape is not None:
                block["cond"] = layers.Dense(
                    2 * nf, kernel_initializer="random_normal", dtype=dtype
                )
            return block

        self.v_init = conv(nf, (2 * rows - 1, cols), ((0, rows - 1), (0, cols)))
        self.h_init_up = conv(nf, (3, cols), ((0, 1), (0, cols)))
        self.h_init_left = conv(nf, (3, cols), ((0, 2), (0, cols // 2)))

        self.down_blocks = []  # [level][resnet] -> {"vertical": block, "horizontal": block}
        self.down_convs = []
        for i in range(self.num_hierarchies):
            self.down_blocks.append(
                [
                    {
                        "vertical": gated_block("vertical", False),
                        "horizontal": gated_block("horizontal", True),
                    }
                    for _ in range(self.num_resnet)
                ]
            )
            if i < self.num_hierarchies - 1:
                convs = {}
                for stack in ("vertical", "horizontal"):
                    h, w = valid[stack]
                    ks = (2 * h, w + 1 if stack == "vertical" else 2 * w)
                    convs[stack] = conv(nf, ks, ((0, h), (0, w)), strides=(2, 2))
                self.down_convs.append(convs)

        self.up_blocks = []
        self.up_convs = []
        for i in range(self.num_hierarchies):
            n_res = self.num_resnet if i == 0 else self.num_resnet + 1
            self.up_blocks.append(
                [
                    {
                        "vertical": gated_block("vertical", True),
                        "horizontal": gated_block("horizontal", True),
                    }
                    for _ in range(n_res)
                ]
            )
            if i < self.num_hierarchies - 1:
                convs = {}
                for stack in ("vertical", "horizontal"):
                    h, w = valid[stack]
                    kh = 2 * h - 2
                    if stack == "vertical":
                        ks, mask = (kh, w + 1), ((h - 2, kh), (0, w))
                    else:
                        ks, mask = (kh, 2 * w - 2), ((h - 2, kh), (w - 2, 2 * w - 2))
                    convs[stack] = WeightNormConv2DTranspose(
                        nf, ks, strides=(2, 2), kernel_mask=mask, **common
                    )
                self.up_convs.append(convs)

        c = self.image_shape[-1]
        self._num_coeffs = c * (c - 1) // 2
        self._num_out = 2 * c + self._num_coeffs + 1
        self.out_dense = WeightNormDense(self._num_out * self.num_logistic_mix, **common)

    def _build_now(self):
        dtype = self.dtype_policy.compute_dtype
        x = ops.full((1,) + self.image_shape, float(self.low), dtype=dtype)
        cond = None
        if self.conditional_shape is not None:
            cond = ops.zeros((1,) + self.conditional_shape, dtype=self.dtype_policy.compute_dtype)
        self(x, conditional_input=cond, training=False)

    # ------------------------------------------------------------------ network
    def _activation(self, x):
        if self.resnet_activation == "concat_elu":
            return ops.elu(ops.concatenate([x, -x], axis=-1))
        if self.resnet_activation == "elu":
            return ops.elu(x)
        return ops.relu(x)

    def _gated(self, block, input_x, skip, cond, training):
        x = block["conv1"](self._activation(input_x))
        if skip is not None:
            x = x + block["dense"](self._activation(skip))
        x = self._activation(x)
        x = block["dropout"](x, training=training)
        x = block["conv2"](x)
        if cond is not None:
            proj = block["cond"](cond)
            x = x + proj[:, None, None, :]
        a, b = ops.split(x, 2, axis=-1)
        return input_x + a * ops.sigmoid(b)

    def call(self, x, conditional_input=None, training=None):
        """Mixture parameters for a batch of raw images.

        Parameters
        ----------
        x : tensor of shape (n, h, w, c)
            Raw values in ``[low, high]``.
        conditional_input : tensor of shape (n, *conditional_shape), optional
            Required when the model has a ``conditional_shape``.
        training : bool, optional
            Enables dropout.

        Returns
        -------
        list of tensors
            ``[logits (n, h, w, m), locs (n, h, w, m, c), scales (n, h, w, m, c)]``
            and, when ``c > 1``, ``coeffs (n, h, w, m, c(c-1)/2)``; locations
            and scales are on the [-1, 1] scale.
        """
        dtype = self.dtype_policy.compute_dtype
        x = ops.cast(x, dtype)
        x = 2.0 * (x - self.low) / (self.high - self.low) - 1.0
        cond = None
        if self.conditional_shape is not None:
            if conditional_input is None:
                raise ValueError("This PixelCNN needs a conditional_input.")
            cond = ops.cast(conditional_input, dtype)
            cond = ops.reshape(cond, (ops.shape(cond)[0], -1))
        elif conditional_input is not None:
            raise ValueError("This PixelCNN has no conditional_shape.")

        stacks = {
            "vertical": [self.v_init(x)],
            "horizontal": [self.h_init_up(x) + self.h_init_left(x)],
        }
        for i in range(self.num_hierarchies):
            for blocks in self.down_blocks[i]:
                v = self._gated(blocks["vertical"], stacks["vertical"][-1], None, cond, training)
                stacks["vertical"].append(v)
                h = self._gated(blocks["horizontal"], stacks["horizontal"][-1], v, cond, training)
                stacks["horizontal"].append(h)
            if i < self.num_hierarchies - 1:
                for stack in ("vertical", "horizontal"):
                    stacks[stack].append(self.down_convs[i][stack](stacks[stack][-1]))

        up = {k: s.pop() for k, s in stacks.items()}
        for i in range(self.num_hierarchies):
            for blocks in self.up_blocks[i]:
                skip_v = stacks["vertical"].pop()
                up["vertical"] = self._gated(
                    blocks["vertical"], up["vertical"], skip_v, cond, training
                )
                skip_h = ops.concatenate([up["vertical"], stacks["horizontal"].pop()], axis=-1)
                up["horizontal"] = self._gated(
                    blocks["horizontal"], up["horizontal"], skip_h, cond, training
                )
            if i < self.num_hierarchies - 1:
                for stack in ("vertical", "horizontal"):
                    y = self.up_convs[i][stack](up[stack])
                    # crop to the skip connection's shape (odd sizes round up)
                    target = stacks[stack][-1].shape
                    up[stack] = y[:, : target[1], : target[2], :]

        out = self.out_dense(ops.elu(up["horizontal"]))
        h, w, c = self.image_shape
        m = self.num_logistic_mix
        params = ops.reshape(out, (-1, h, w, m, self._num_out))
        logits = params[..., 0]
        locs = params[..., 1 : 1 + c]
        scales = ops.softplus(params[..., 1 + c : 1 + 2 * c]) + math.exp(-7.0)
        if c == 1:
            return [logits, locs, scales]
        coeffs = params[..., 1 + 2 * c :]
        return [logits, locs, scales, coeffs]

    # ------------------------------------------------------------------ API
    def log_prob(self, x, conditional_input=None, training=None, per_pixel=False):
        """Log-likelihood of raw images.

        Parameters
        ----------
        x : array of shape (n, h, w, c)
            Integer values in ``[low, high]`` (any numeric dtype).
        conditional_input : array of shape (n, *conditional_shape), optional
            Conditional input.
        training : bool, optional
            Enables dropout.
        per_pixel : bool, default=False
            Return the per-pixel log-likelihood (channels joint) instead of
            the per-image sum.

        Returns
        -------
        tensor of shape (n,) or (n, h, w)
            In the model's dtype.
        """
        x = ops.cast(x, self.dtype_policy.compute_dtype)
        params = self(x, conditional_input=conditional_input, training=training)
        lp = discretized_logistic_mixture_log_prob(x, *params, low=self.low, high=self.high)
        if per_pixel:
            return lp
        return ops.sum(lp, axis=(1, 2))

    def sample(self, n, conditional_input=None, seed=None):
        """Draw images autoregressively, pixel by pixel in raster order.

        Parameters
        ----------
        n : int
            Number of images.
        conditional_input : array, optional
            Of shape ``(n, *conditional_shape)``, or one ``conditional_shape`` input
            used for all images.
        seed : int or keras.random.SeedGenerator, optional
            Seed of the draws (None: from Keras' global seed).

        Returns
        -------
        ndarray of shape (n, h, w, c)
            Integer values in ``[low, high]`` in the model's dtype.
        """
        dtype = self.dtype_policy.compute_dtype
        if isinstance(seed, keras.random.SeedGenerator):
            gen = seed
        else:
            gen = keras.random.SeedGenerator(seed)
        if conditional_input is not None:
            conditional_input = np.asarray(conditional_input, dtype=dtype)
            if self.conditional_shape is not None and conditional_input.ndim == len(
                self.conditional_shape
            ):
                conditional_input = np.broadcast_to(
                    conditional_input, (n,) + self.conditional_shape
                )
        h, w, c = self.image_shape
        low, high = float(self.low), float(self.high)
        samples = np.full((n, h, w, c), low, dtype=dtype)
        for i in range(h):
            for j in range(w):
                params = self(samples, conditional_input=conditional_input, training=False)
                logits = params[0][:, i, j]
                locs = params[1][:, i, j]
                scales = params[2][:, i, j]
                comp = keras.random.categorical(logits, 1, seed=gen)[:, 0]
                onehot = ops.one_hot(comp, self.num_logistic_mix, dtype=dtype)[..., None]
                locs = ops.sum(locs * onehot, axis=1)
                scales = ops.sum(scales * onehot, axis=1)
                if c > 1:
                    coeffs = ops.sum(params[3][:, i, j] * onehot, axis=1)
                rescaled = []
                count = 0
                for ch in range(c):
                    loc = locs[:, ch]
                    for prev in rescaled:
                        loc = loc + coeffs[:, count] * prev
                        count += 1
                    u = keras.random.uniform(
                        (n,), minval=1e-5, maxval=1.0 - 1e-5, dtype=dtype, seed=gen
                    )
                    y = loc + scales[:, ch] * (ops.log(u) - ops.log1p(-u))
                    raw = ops.clip(ops.round(low + 0.5 * (high - low) * (y + 1.0)), low, high)
                    samples[:, i, j, ch] = ops.convert_to_numpy(raw)
                    rescaled.append(2.0 * (raw - low) / (high - low) - 1.0)
        return samples

    def _wn_layers(self):
        return [
            layer
            for layer in self._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, _WeightNormBase)
        ]

    def data_init(self, x, conditional_input=None):
        """Data-dependent initialisation of the weight-normalised layers.

        Sets ``g`` and the bias of every weight-normalised layer, in order
        through the network, so that its outputs on ``x`` have zero mean and
        unit variance per unit (dropout off). A no-op unless both
        ``use_weight_norm`` and ``use_data_init`` are true.

        Parameters
        ----------
        x : array of shape (n, h, w, c)
            A batch of raw images.
        conditional_input : array, optional
            Their conditional input.
        """
        if not (self.use_weight_norm and self.use_data_init):
            return
        wn = self._wn_layers()
        for layer in wn:
            layer._data_init_mode = True
        try:
            x = ops.cast(x, self.dtype_policy.compute_dtype)
            self(x, conditional_input=conditional_input, training=False)
        finally:
            for layer in wn:
                layer._data_init_mode = False

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            conditional_shape=(
                None if self.conditional_shape is None else list(self.conditional_shape)
            ),
            num_resnet=self.num_resnet,
            num_hierarchies=self.num_hierarchies,
            num_filters=self.num_filters,
            num_logistic_mix=self.num_logistic_mix,
            receptive_field_dims=list(self.receptive_field_dims),
            dropout_p=self.dropout_p,
            resnet_activation=self.resnet_activation,
            l2_weight=self.l2_weight,
            use_weight_norm=self.use_weight_norm,
            use_data_init=self.use_data_init,
            high=self.high,
            low=self.low,
            dtype=self.dtype_policy.name,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        return cls(**config)

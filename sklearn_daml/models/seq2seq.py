"""Keras 3 sequence-to-sequence LSTM model for time-series outlier detection.

Names and signatures follow alibi-detect's ``EncoderLSTM``, ``DecoderLSTM``
and ``Seq2Seq``. A bidirectional LSTM encodes the sequence; its final states
initialise an LSTM decoder, trained with teacher forcing and run
autoregressively (:meth:`Seq2Seq.decode_seq`) for inference. A threshold
network regresses, from the decoder's hidden states, the reconstruction
error expected on normal data; its loss is added with ``Seq2Seq.add_loss``.

Every class is registered and serializable (``get_config``/``from_config``,
``.keras`` files, pickle). Outputs are cast to the input's dtype, so a
float64 input works with float32 or float64 layers.
"""

import keras
from keras import layers, ops

from ._nets import NetsMixin as _NetsMixin
from ._nets import serializable as _serializable

__all__ = ["EncoderLSTM", "DecoderLSTM", "Seq2Seq", "default_threshold_net", "squared_difference"]


@_serializable
def squared_difference(x, y):
    """Element-wise squared difference ``(x - y) ** 2``.

    Parameters
    ----------
    x, y : tensor
        Tensors of the same shape.

    Returns
    -------
    tensor
        ``(x - y) ** 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import squared_difference
    >>> np.asarray(squared_difference(np.array([1.0, 2.0]), np.array([0.0, 4.0])))
    array([1., 4.])
    """
    return ops.square(x - y)


def _cast_to(t, layer):
    """Cast a floating tensor to ``layer``'s compute dtype."""
    return ops.cast(t, layer.compute_dtype)


def default_threshold_net(dtype=None):
    """Default threshold-estimation network of :class:`Seq2Seq` (alibi-detect's).

    Dense 64 (relu) -> Dense 64 (relu), applied to every step of the
    decoder's hidden sequence; :class:`Seq2Seq` adds its own output layer of
    ``n_features`` units after it.

    Parameters
    ----------
    dtype : str or keras.DTypePolicy, default=None
        Dtype policy of the layers (``None``: Keras' global policy).

    Returns
    -------
    keras.Sequential
        The unbuilt network.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import default_threshold_net
    >>> net = default_threshold_net()
    >>> tuple(net(np.zeros((2, 5, 8), dtype="float32")).shape)
    (2, 5, 64)
    """
    return keras.Sequential(
        [
            layers.Dense(64, activation="relu", dtype=dtype),
            layers.Dense(64, activation="relu", dtype=dtype),
        ],
        name="threshold_net",
    )


@_serializable
class EncoderLSTM(layers.Layer):
    """Bidirectional LSTM encoder.

    Each direction has ``latent_dim // 2`` units; the final forward and
    backward states are concatenated into states of width ``latent_dim``,
    which initialise a :class:`DecoderLSTM` with ``latent_dim`` units.

    Parameters
    ----------
    latent_dim : int
        Latent dimension; must be even.
    name : str, default="encoder_lstm"
        Name of the layer.

    Returns from ``call(x)``: ``(sequence, [h, c])`` with ``sequence`` of
    shape ``(n, seq_len, latent_dim)`` and ``h``, ``c`` of shape
    ``(n, latent_dim)``.

    Raises
    ------
    ValueError
        If ``latent_dim`` is not a positive even integer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import EncoderLSTM
    >>> sequence, (h, c) = EncoderLSTM(latent_dim=4)(np.zeros((2, 5, 1), dtype="float32"))
    >>> tuple(sequence.shape), tuple(h.shape)
    ((2, 5, 4), (2, 4))
    """

    def __init__(self, latent_dim, name="encoder_lstm", **kwargs):
        if int(latent_dim) != latent_dim or latent_dim <= 0 or latent_dim % 2:
            raise ValueError(
                f"latent_dim must be even (and positive) for the bidirectional encoder, "
                f"got {latent_dim!r}."
            )
        super().__init__(name=name, **kwargs)
        self.latent_dim = int(latent_dim)
        self.lstm = layers.Bidirectional(
            layers.LSTM(
                self.latent_dim // 2,
                return_sequences=True,
                return_state=True,
                dtype=self.dtype_policy,
            ),
            dtype=self.dtype_policy,
            name="bidirectional_lstm",
        )

    def build(self, x_shape):
        self.lstm.build(tuple(x_shape))
        self.built = True

    def call(self, x):
        dtype = x.dtype
        seq, fh, fc, bh, bc = self.lstm(_cast_to(x, self))
        h = ops.concatenate([fh, bh], axis=-1)
        c = ops.concatenate([fc, bc], axis=-1)
        return ops.cast(seq, dtype), [ops.cast(h, dtype), ops.cast(c, dtype)]

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@_serializable
class DecoderLSTM(layers.Layer):
    """LSTM decoder with a per-step dense output layer.

    Parameters
    ----------
    latent_dim : int
        Number of LSTM units (the width of the initial state).
    output_dim : int
        Number of outputs per step.
    output_activation : str, default=None
        Activation of the dense output layer.
    name : str, default="decoder_lstm"
        Name of the layer.

    Returns from ``call(x, init_state)``: ``(output, hidden_sequence,
    [h, c])`` with shapes ``(n, seq_len, output_dim)``, ``(n, seq_len,
    latent_dim)`` and ``(n, latent_dim)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import DecoderLSTM
    >>> state = [np.zeros((2, 4), dtype="float32")] * 2
    >>> decoder = DecoderLSTM(latent_dim=4, output_dim=1)
    >>> output, hidden, (h, c) = decoder(np.zeros((2, 5, 1), dtype="float32"), state)
    >>> tuple(output.shape), tuple(hidden.shape)
    ((2, 5, 1), (2, 5, 4))
    """

    def __init__(self, latent_dim, output_dim, output_activation=None, name="decoder_lstm", **kwargs):
        super().__init__(name=name, **kwargs)
        self.latent_dim = latent_dim
        self.output_dim = output_dim
        self.output_activation = output_activation
        self.lstm = layers.LSTM(
            latent_dim, return_sequences=True, return_state=True, dtype=self.dtype_policy, name="lstm"
        )
        self.dense = layers.Dense(
            output_dim, activation=output_activation, dtype=self.dtype_policy, name="output"
        )

    def build(self, x_shape, init_state_shape=None):
        x_shape = tuple(x_shape)
        self.lstm.build(x_shape)
        self.dense.build(x_shape[:-1] + (self.latent_dim,))
        self.built = True

    def call(self, x, init_state):
        dtype = x.dtype
        init_state = [_cast_to(s, self) for s in init_state]
        seq, h, c = self.lstm(_cast_to(x, self), initial_state=init_state)
        out = self.dense(seq)
        return ops.cast(out, dtype), ops.cast(seq, dtype), [ops.cast(h, dtype), ops.cast(c, dtype)]

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "output_dim": self.output_dim,
            "output_activation": self.output_activation,
        }


@_serializable
class Seq2Seq(_NetsMixin, keras.Model):
    """Sequence-to-sequence LSTM autoencoder with threshold estimation.

    ``call(x)`` is the teacher-forced training pass: the decoder, initialised
    with the encoder's final states, reads ``x`` shifted right by one step
    (its first step repeated) and returns the reconstruction of shape
    ``(n, seq_len, n_features)``. It also adds
    ``beta * mean((stop_gradient(score_fn(x, x_recon)) - threshold_est) ** 2)``
    to ``self.losses``, where ``threshold_est = Dense(n_features)(threshold_net(hidden))``
    is computed from the decoder's hidden sequence, so the threshold network
    learns the reconstruction error expected on normal data. As in
    alibi-detect, the model's own dense layer of ``n_features`` units
    (``threshold_est``) follows ``threshold_net``, so ``threshold_net`` is
    the hidden layers only (see :func:`default_threshold_net`).

    :meth:`decode_seq` decodes autoregressively for inference.

    Parameters
    ----------
    encoder_net : EncoderLSTM
        Encoder.
    decoder_net : DecoderLSTM
        Decoder with ``output_dim == n_features``.
    threshold_net : keras.Model
        Hidden layers of the regression network, applied to every step of
        the decoder's hidden sequence (see :func:`default_threshold_net`);
        the model's output layer ``threshold_est`` maps them to
        ``n_features`` values per step.
    n_features : int
        Number of features of the time series.
    score_fn : callable, default=squared_difference
        ``f(x, x_recon)`` giving element-wise outlier scores (alibi-detect's
        default, ``tf.math.squared_difference``, computes the same); ``None``
        also means :func:`squared_difference`. Register custom functions
        with Keras to keep the model serializable.
    beta : float, default=1.0
        Weight of the threshold-estimation loss.
    name : str, default="seq2seq"
        Name of the model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import (
    ...     DecoderLSTM, EncoderLSTM, Seq2Seq, default_threshold_net)
    >>> model = Seq2Seq(EncoderLSTM(8), DecoderLSTM(8, 2), default_threshold_net(), 2)
    >>> x = np.zeros((4, 6, 2), dtype="float32")
    >>> tuple(model(x).shape)
    (4, 6, 2)
    >>> x_recon, threshold_est = model.decode_seq(x)
    >>> tuple(x_recon.shape), tuple(threshold_est.shape)
    ((4, 6, 2), (4, 6, 2))
    """

    _net_args = ("encoder_net", "decoder_net", "threshold_net")
    _fn_args = ("score_fn",)

    def __init__(
        self,
        encoder_net,
        decoder_net,
        threshold_net,
        n_features,
        score_fn=squared_difference,
        beta=1.0,
        name="seq2seq",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.threshold_net = threshold_net
        self.n_features = n_features
        self.score_fn = squared_difference if score_fn is None else score_fn
        self.beta = beta
        self.threshold_est = layers.Dense(n_features, dtype=self.dtype_policy, name="threshold_est")

    def _threshold(self, hidden, dtype):
        hidden = ops.cast(self.threshold_net(hidden), self.threshold_est.compute_dtype)
        return ops.cast(self.threshold_est(hidden), dtype)

    def call(self, x, training=None):
        """Teacher-forced reconstruction of ``x``; adds the threshold loss."""
        x = ops.convert_to_tensor(x)
        dtype = x.dtype
        _, state = self.encoder_net(x, training=training)
        x_decoder = ops.concatenate([x[:, :1], x[:, :-1]], axis=1)
        x_recon, hidden, _ = self.decoder_net(x_decoder, state, training=training)
        x_recon = ops.cast(x_recon, dtype)
        threshold_est = self._threshold(ops.cast(hidden, dtype), dtype)
        score = ops.stop_gradient(ops.cast(self.score_fn(x, x_recon), dtype))
        self.add_loss(self.beta * ops.mean(ops.square(score - threshold_est)))
        return x_recon

    def decode_seq(self, x):
        """Autoregressive decoding and threshold estimation for inference.

        The encoder reads all of ``x``; the decoder starts from the encoder's
        states with ``x``'s first step as input and then feeds back its
        previous output, one step at a time.

        Parameters
        ----------
        x : array-like of shape (n, seq_len, n_features)
            Input sequences; ``seq_len`` must be known (static).

        Returns
        -------
        x_recon : tensor of shape (n, seq_len, n_features)
            Reconstruction.
        threshold_est : tensor of shape (n, seq_len, n_features)
            Estimated reconstruction error of normal data, per step.
        """
        x = ops.convert_to_tensor(x)
        dtype = x.dtype
        seq_len = x.shape[1]
        if seq_len is None:
            raise ValueError("decode_seq needs a static sequence length (x.shape[1]).")
        _, state = self.encoder_net(x)
        decoder_input = x[:, :1]
        outputs, hiddens = [], []
        for _ in range(seq_len):
            out, hidden, state = self.decoder_net(decoder_input, state)
            outputs.append(ops.cast(out, dtype))
            hiddens.append(ops.cast(hidden, dtype))
            decoder_input = outputs[-1]
        x_recon = ops.concatenate(outputs, axis=1)
        threshold_est = self._threshold(ops.concatenate(hiddens, axis=1), dtype)
        return x_recon, threshold_est

    def _plain_config(self):
        return {"n_features": self.n_features, "beta": self.beta}

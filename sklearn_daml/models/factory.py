"""Default networks and ``create_model`` (as in DAML).

Tables (1-D input shape) get dense encoder/decoder stacks; images (3-D input
shape, height x width x channels) get a convolutional encoder with stride-2
convolutions and a transposed-convolution decoder.
"""

import math

import keras
from keras import layers, ops

from .autoencoder import AE, AEGMM, VAE, VAEGMM
from .ensemble import EnsembleDense
from .pixelcnn import PixelCNN


@keras.saving.register_keras_serializable(package="sklearn_daml")
def single_membership(logits):
    """Memberships of a mixture of one component: ones, as a softmax over a
    single logit gives, without Keras' warning about such a softmax."""
    return ops.exp(logits - logits)  # exactly 1, with a (zero) gradient

__all__ = ["create_model", "dense_encoder", "dense_decoder", "gmm_density_net"]


def dense_encoder(input_dim, hidden_layer_sizes, output_dim, activation="tanh", dtype=None):
    """Dense stack ``input_dim -> hidden_layer_sizes -> output_dim`` (linear output).

    With ``output_dim=None`` the stack ends at the last hidden layer (a VAE
    encoder, whose mean and log-variance heads follow).

    Examples
    --------
    >>> from sklearn_daml.models import dense_encoder
    >>> [layer.units for layer in dense_encoder(10, (16, 8), 2).layers]
    [16, 8, 2]
    """
    stack = [keras.Input((input_dim,), dtype=dtype)]
    stack += [layers.Dense(w, activation=activation, dtype=dtype) for w in hidden_layer_sizes]
    if output_dim is not None:
        stack.append(layers.Dense(output_dim, dtype=dtype))
    return keras.Sequential(stack, name="encoder_net")


def dense_decoder(
    latent_dim, hidden_layer_sizes, output_dim, activation="tanh", output_activation=None, dtype=None
):
    """Dense stack ``latent_dim -> reversed(hidden_layer_sizes) -> output_dim``.

    ``hidden_layer_sizes`` are given in encoder order; the decoder mirrors
    them. The output is unbounded unless ``output_activation`` says otherwise.

    Examples
    --------
    >>> from sklearn_daml.models import dense_decoder
    >>> [layer.units for layer in dense_decoder(2, (16, 8), 10).layers]
    [8, 16, 10]
    """
    stack = [keras.Input((latent_dim,), dtype=dtype)]
    stack += [
        layers.Dense(w, activation=activation, dtype=dtype) for w in reversed(hidden_layer_sizes)
    ]
    stack.append(layers.Dense(output_dim, activation=output_activation, dtype=dtype))
    return keras.Sequential(stack, name="decoder_net")


def gmm_density_net(
    input_dim, hidden_size, n_gmm, activation="tanh", dropout=0.5, dtype=None, n_members=None
):
    """Estimation network ``input_dim -> hidden_size -> dropout -> softmax(n_gmm)``.

    With ``n_members``, the estimation networks of a vectorized ensemble
    (:class:`EnsembleDense`): ``(n_samples, n_members, input_dim)`` to
    ``(n_samples, n_members, n_gmm)``, member ``m`` reading slice ``m``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import gmm_density_net
    >>> gamma = np.asarray(gmm_density_net(3, 10, n_gmm=4)(np.zeros((2, 3), dtype="float32")))
    >>> gamma.shape, bool(np.allclose(gamma.sum(axis=1), 1.0))
    ((2, 4), True)
    >>> net = gmm_density_net(3, 10, n_gmm=4, n_members=5)
    >>> tuple(net(np.zeros((2, 5, 3), dtype="float32")).shape)
    (2, 5, 4)
    """
    if n_members is None:
        shape, dense = (input_dim,), layers.Dense
    else:
        shape = (n_members, input_dim)

        def dense(units, **kwargs):
            return EnsembleDense(units, n_members, **kwargs)

    stack = [keras.Input(shape, dtype=dtype), dense(hidden_size, activation=activation, dtype=dtype)]
    if dropout > 0:
        stack.append(layers.Dropout(dropout, dtype=dtype))
    membership = "softmax" if n_gmm > 1 else single_membership
    stack.append(dense(n_gmm, activation=membership, dtype=dtype))
    return keras.Sequential(stack, name="gmm_density_net")


def _conv_encoder(input_shape, output_dim):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(64, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2D(128, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2D(512, 4, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(output_dim),
        ],
        name="encoder_net",
    )


def _conv_decoder(latent_dim, output_shape):
    height, width, channels = output_shape
    h0, w0 = max(1, math.ceil(height / 4)), max(1, math.ceil(width / 4))
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(h0 * w0 * 128, activation="relu"),
            layers.Reshape((h0, w0, 128)),
            layers.Conv2DTranspose(256, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(64, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(channels, 4, padding="same"),
            layers.Cropping2D(((0, 4 * h0 - height), (0, 4 * w0 - width))),
        ],
        name="decoder_net",
    )


def default_encoding_dim(input_shape):
    """DAML's rule: ``2 ** floor(0.8 * bit_length(prod(input_shape)))``."""
    return 2 ** int(0.8 * math.prod(input_shape).bit_length())


_MODEL_TYPES = {"AE": AE, "VAE": VAE, "AEGMM": AEGMM, "VAEGMM": VAEGMM, "PixelCNN": PixelCNN}


def _resolve_model_type(model_type):
    """``(name, class)`` of a model type given by name or by class (a
    subclass of one of the five is built as itself)."""
    if isinstance(model_type, type):
        for name, cls in _MODEL_TYPES.items():
            if issubclass(model_type, cls):
                return name, model_type
    elif model_type in _MODEL_TYPES:
        return model_type, _MODEL_TYPES[model_type]
    raise ValueError(
        "model_type must be one of 'AE', 'VAE', 'AEGMM', 'VAEGMM', 'PixelCNN' or "
        f"the class of that name; got {model_type!r}."
    )


def create_model(model_type, input_shape, encoding_dim=None, n_gmm=None, gmm_latent_dim=None):
    """Build a default model of the autoencoder family, or a PixelCNN, for an input shape.

    As DAML's ``create_model``, which takes the model type by name or as the
    class (``create_model(AE, (28, 28, 1))``).

    Parameters
    ----------
    model_type : {"AE", "VAE", "AEGMM", "VAEGMM", "PixelCNN"} or class
        Which model: its name, or the class itself (:class:`AE`,
        :class:`VAE`, :class:`AEGMM`, :class:`VAEGMM`, :class:`PixelCNN`
        or a subclass, which is built as itself).
    input_shape : tuple of int
        Shape of one row: ``(n_features,)`` for a table (dense networks) or
        ``(height, width, channels)`` for images (convolutional networks;
        the only shape a PixelCNN takes).
    encoding_dim : int, default=None
        Encoding size of AE/VAE; by default
        ``2 ** floor(0.8 * bit_length(prod(input_shape)))`` as in DAML.
    n_gmm : int, default=None
        Mixture components of AEGMM/VAEGMM (default 2, as DAML).
    gmm_latent_dim : int, default=None
        Encoding size of AEGMM/VAEGMM; default 1 for AEGMM and 2 for VAEGMM,
        as DAML. The GMM sees it plus the two reconstruction features.

    Returns
    -------
    model : keras.Model
        For ``"PixelCNN"``, DAML's small configuration: 5 ResNet blocks, 2
        hierarchies, 32 filters, 1 logistic, dropout 0.3.

    Examples
    --------
    >>> from sklearn_daml.models import AE, VAEGMM, create_model
    >>> create_model("AEGMM", (10,)).n_gmm
    2
    >>> create_model(VAEGMM, (10,)).latent_dim
    2
    >>> type(create_model(AE, (8, 8, 1))).__name__
    'AE'
    """
    name, cls = _resolve_model_type(model_type)
    input_shape = tuple(int(d) for d in input_shape)
    allowed = (3,) if name == "PixelCNN" else (1, 3)
    if len(input_shape) not in allowed:
        raise ValueError(
            f"input_shape must be {'' if name == 'PixelCNN' else '(n_features,) or '}"
            f"(height, width, channels) for {name}; got {input_shape!r}."
        )
    if name == "PixelCNN":
        return cls(
            image_shape=input_shape,
            num_resnet=5,
            num_hierarchies=2,
            num_filters=32,
            num_logistic_mix=1,
            receptive_field_dims=(3, 3),
            dropout_p=0.3,
            l2_weight=0.0,
        )
    gmm = name.endswith("GMM")
    if gmm:
        latent_dim = gmm_latent_dim or (2 if name == "VAEGMM" else 1)
        n_gmm = n_gmm or 2
    else:
        latent_dim = encoding_dim or default_encoding_dim(input_shape)
    variational = name.startswith("VAE")
    n_features = math.prod(input_shape)
    if len(input_shape) == 1:
        hidden = default_hidden_sizes(n_features)
        encoder = dense_encoder(n_features, hidden, None if variational else latent_dim)
        decoder = dense_decoder(latent_dim, hidden, n_features)
    else:
        enc_out = 4 * latent_dim if variational else latent_dim
        encoder = _conv_encoder(input_shape, enc_out)
        decoder = _conv_decoder(latent_dim, input_shape)
    if not gmm:
        if variational:
            return cls(encoder, decoder, latent_dim)
        return cls(encoder, decoder)
    density = gmm_density_net(latent_dim + 2, 10, n_gmm)
    if variational:
        return cls(encoder, decoder, density, n_gmm, latent_dim)
    return cls(encoder, decoder, density, n_gmm)


def default_hidden_sizes(n_features):
    """Two hidden layers, ``(h, h // 2)`` with ``h = clip(2 n_features, 16, 128)``."""
    width = min(128, max(16, 2 * n_features))
    return (width, width // 2)

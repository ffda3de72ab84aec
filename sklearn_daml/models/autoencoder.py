"""Keras 3 autoencoder family: AE, VAE, AEGMM and VAEGMM.

Names and signatures follow DAML and alibi-detect. Every class is registered
and has a ``get_config`` returning its constructor arguments, so models save
to ``.keras`` files and pickle. Outputs of user networks are cast to the
input's dtype, so a float32 network can sit inside a float64 model.
"""

import functools

import keras
from keras import layers, ops

from ._nets import NetsMixin as _NetsMixin
from ._nets import serializable as _serializable
from .ensemble import EnsembleDense, member_pairs
from .features import eucl_cosim_features
# alibi-detect keeps its sequence models in its autoencoder module: importable here too
from .seq2seq import DecoderLSTM, EncoderLSTM, Seq2Seq

__all__ = [
    "EncoderAE", "EncoderVAE", "Decoder", "Sampling", "AE", "VAE", "AEGMM", "VAEGMM",
    "EncoderLSTM", "DecoderLSTM", "Seq2Seq", "eucl_cosim_features",
]


def _flatten(t):
    return ops.reshape(t, (ops.shape(t)[0], -1))


def _kl_divergence(z_mean, z_log_var):
    """``-0.5 * mean(1 + log var - mean**2 - var)`` over batch and latent dims."""
    return -0.5 * ops.mean(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


def _flatten_draws(z_mean, z):
    """``(n_draws, z)``: a ``z`` with a leading axis of draws (``epsilon``
    given with one, see :class:`Sampling`) as one batch, draw-major,
    ``(n_draws * n_samples, ...)``; ``n_draws`` is ``None`` for a ``z``
    without one, returned as it is."""
    if len(z.shape) == len(z_mean.shape):
        return None, z
    return ops.shape(z)[0], ops.reshape(z, (-1, *z.shape[2:]))


@_serializable
class EncoderAE(_NetsMixin, layers.Layer):
    """Encoder of an autoencoder: applies ``encoder_net``.

    Parameters
    ----------
    encoder_net : keras.Model
        Network mapping an input batch to its encoding.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml.models import EncoderAE
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> tuple(EncoderAE(net)(np.zeros((3, 4), dtype="float32")).shape)
    (3, 2)
    """

    _net_args = ("encoder_net",)

    def __init__(self, encoder_net, name="encoder_ae", **kwargs):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net

    def call(self, x):
        return ops.cast(self.encoder_net(x), x.dtype)


@_serializable
class Sampling(layers.Layer):
    """Reparametrization trick: ``z = mean + exp(log_var / 2) * epsilon``.

    ``epsilon`` is standard normal noise from the layer's own seed generator,
    unless given to ``call`` (which makes ``z`` a deterministic function of
    its inputs, as scoring needs). A given ``epsilon`` broadcasts against
    the mean: with a leading axis of draws, shape ``(n_draws, 1, ...,
    latent_dim)``, ``z`` holds every draw for every row, ``(n_draws,
    n_samples, ..., latent_dim)``, from one encoding.

    Parameters
    ----------
    seed : int, default=None
        Seed of the noise.

    Examples
    --------
    With ``epsilon`` given, ``z = mean + exp(log_var / 2) * epsilon`` exactly:

    >>> import numpy as np
    >>> from sklearn_daml.models import Sampling
    >>> mean, log_var = np.zeros((2, 3)), np.zeros((2, 3))
    >>> np.asarray(Sampling(seed=0)((mean, log_var), epsilon=np.ones((2, 3)))).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    >>> tuple(Sampling(seed=0)((mean, log_var), epsilon=np.ones((4, 1, 3))).shape)
    (4, 2, 3)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, epsilon=None):
        z_mean, z_log_var = inputs
        if epsilon is None:
            epsilon = keras.random.normal(
                ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
            )
        return z_mean + ops.exp(0.5 * z_log_var) * ops.cast(epsilon, z_mean.dtype)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@_serializable
class EncoderVAE(_NetsMixin, layers.Layer):
    """Encoder of a VAE: ``encoder_net`` then dense mean and log-variance heads.

    Parameters
    ----------
    encoder_net : keras.Model
        Network mapping an input batch to hidden features.
    latent_dim : int
        Dimensionality of the latent space.
    n_members : int, default=None
        For a vectorized ensemble (:class:`EnsembleDense`) whose
        ``encoder_net`` returns ``(n_samples, n_members, width)``: each member
        gets its own mean and log-variance heads, and the outputs are
        ``(n_samples, n_members, latent_dim)``. ``None``: one network, whose
        output is flattened per row.

    Returns from ``call``: ``(z_mean, z_log_var, z)``.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml.models import EncoderVAE
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> z_mean, z_log_var, z = EncoderVAE(net, latent_dim=2)(np.zeros((3, 4), dtype="float32"))
    >>> tuple(z.shape)
    (3, 2)
    """

    _net_args = ("encoder_net",)

    def __init__(self, encoder_net, latent_dim, n_members=None, name="encoder_vae", **kwargs):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net
        self.latent_dim = latent_dim
        self.n_members = n_members
        if n_members is None:
            head = functools.partial(layers.Dense, latent_dim, dtype=self.dtype_policy)
        else:
            head = functools.partial(EnsembleDense, latent_dim, n_members, dtype=self.dtype_policy)
        self.fc_mean = head(name="z_mean")
        self.fc_log_var = head(name="z_log_var")
        self.sampling = Sampling(dtype=self.dtype_policy, name="sampling")

    def call(self, x, epsilon=None):
        h = ops.cast(self.encoder_net(x), x.dtype)
        if self.n_members is None:
            h = _flatten(h)
        z_mean = self.fc_mean(h)
        z_log_var = self.fc_log_var(h)
        return z_mean, z_log_var, self.sampling((z_mean, z_log_var), epsilon=epsilon)

    def _plain_config(self):
        return {"latent_dim": self.latent_dim, "n_members": self.n_members}


@_serializable
class Decoder(_NetsMixin, layers.Layer):
    """Decoder: applies ``decoder_net`` to a latent batch.

    Parameters
    ----------
    decoder_net : keras.Model
        Network mapping an encoding to a reconstruction.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml.models import Decoder
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> tuple(Decoder(net)(np.zeros((3, 2), dtype="float32")).shape)
    (3, 4)
    """

    _net_args = ("decoder_net",)

    def __init__(self, decoder_net, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.decoder_net = decoder_net

    def call(self, x):
        return ops.cast(self.decoder_net(x), x.dtype)


@_serializable
class AE(_NetsMixin, keras.Model):
    """Autoencoder: ``decoder_net(encoder_net(x))``.

    Parameters
    ----------
    encoder_net, decoder_net : keras.Model
        Encoder and decoder networks.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml.models import AE
    >>> enc = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> AE(enc, dec)(np.zeros((3, 4), dtype="float32")).shape
    TensorShape([3, 4])
    """

    _net_args = ("encoder_net", "decoder_net")

    def __init__(self, encoder_net, decoder_net, name="ae", **kwargs):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.encoder = EncoderAE(encoder_net, dtype=self.dtype_policy)
        self.decoder = Decoder(decoder_net, dtype=self.dtype_policy)

    def call(self, x):
        return ops.cast(self.decoder(self.encoder(x)), x.dtype)


@_serializable
class VAE(_NetsMixin, keras.Model):
    """Variational autoencoder with the KL term added as a model loss.

    ``call(x)`` returns the reconstruction of a sampled encoding and adds
    ``beta * KL(q(z|x) || N(0, I))`` (mean over batch and latent dims) to
    ``self.losses``. Pass ``epsilon`` to ``call`` for a deterministic pass.
    An ``epsilon`` with a leading axis of draws, ``(n_draws, 1, latent_dim)``
    (``(n_draws, 1, 1, latent_dim)`` for an ensemble), encodes the rows once
    and returns the reconstructions of every draw, stacked draw-major:
    ``(n_draws * n_samples, ...)``, as for ``n_draws`` copies of ``x`` in one
    batch, each copy with its draw's noise.

    Parameters
    ----------
    encoder_net, decoder_net : keras.Model
        Encoder (to hidden features) and decoder (from ``latent_dim``).
    latent_dim : int
        Dimensionality of the latent space.
    beta : float, default=1.0
        Weight of the KL term (beta-VAE).
    n_members : int, default=None
        Number of members of a vectorized ensemble (see
        :class:`EncoderVAE`); the decoder then maps
        ``(n_samples, n_members, latent_dim)`` member by member.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml.models import VAE
    >>> enc = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
    >>> dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> vae = VAE(enc, dec, latent_dim=2)
    >>> tuple(vae(np.zeros((3, 4), dtype="float32")).shape)
    (3, 4)
    >>> len(vae.losses)  # the KL term
    1
    >>> tuple(vae(np.zeros((3, 4)), epsilon=np.ones((5, 1, 2))).shape)  # 5 draws per row
    (15, 4)
    """

    _net_args = ("encoder_net", "decoder_net")

    def __init__(
        self, encoder_net, decoder_net, latent_dim, beta=1.0, n_members=None, name="vae", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.latent_dim = latent_dim
        self.beta = beta
        self.n_members = n_members
        self.encoder = EncoderVAE(encoder_net, latent_dim, n_members, dtype=self.dtype_policy)
        self.decoder = Decoder(decoder_net, dtype=self.dtype_policy)

    def call(self, x, epsilon=None):
        z_mean, z_log_var, z = self.encoder(x, epsilon=epsilon)
        self.add_loss(self.beta * _kl_divergence(z_mean, z_log_var))
        _, z = _flatten_draws(z_mean, z)
        return ops.cast(self.decoder(z), x.dtype)

    def _plain_config(self):
        return {"latent_dim": self.latent_dim, "beta": self.beta, "n_members": self.n_members}


class _GMMModelMixin:
    def _gmm_outputs(self, x, encoding, x_recon):
        x_recon = ops.cast(x_recon, x.dtype)
        encoding = ops.cast(encoding, x.dtype)
        if self.n_members is None:
            features = self.recon_features(x, x_recon)
            encoding = _flatten(encoding)
        else:
            # member by member: recon_features sees (rows, n_features) pairs
            features = self.recon_features(*member_pairs(x, x_recon))
            features = ops.reshape(features, (ops.shape(x)[0], self.n_members, -1))
        z = ops.concatenate([encoding, ops.cast(features, x.dtype)], axis=-1)
        gamma = ops.cast(self.gmm_density_net(z), x.dtype)
        return x_recon, z, gamma


@_serializable
class AEGMM(_GMMModelMixin, _NetsMixin, keras.Model):
    """Autoencoder plus GMM estimation network (DAGMM).

    ``call(x)`` returns ``(x_recon, z, gamma)``: the reconstruction, the GMM
    input ``z = [encoding, recon_features(x, x_recon)]`` and the soft
    memberships from ``gmm_density_net(z)`` (rows sum to one).

    Parameters
    ----------
    encoder_net, decoder_net : keras.Model
        Autoencoder networks.
    gmm_density_net : keras.Model
        Estimation network ending in a softmax over ``n_gmm`` components.
    n_gmm : int
        Number of mixture components.
    recon_features : callable, default=eucl_cosim_features
        ``f(x, x_recon) -> (n_samples, n_recon_features)``; register custom
        functions with Keras to keep the model serializable.
    n_members : int, default=None
        Number of members of a vectorized ensemble (:class:`EnsembleDense`
        networks, see :func:`ensemble_dense_stack`): every network maps
        ``(n_samples, n_members, width)`` member by member (the encoder
        reads the shared ``(n_samples, n_features)`` input), and the outputs
        carry the member axis second: ``x_recon`` of shape
        ``(n_samples, n_members, n_features)``, ``z`` and ``gamma`` of shape
        ``(n_samples, n_members, ...)``, one mixture per member
        (:func:`gmm_params` and :func:`gmm_energy` take such batches).
        ``None``: one network.

    Examples
    --------
    The estimation network sees the encoding (1 value) and the two
    reconstruction features:

    >>> import numpy as np
    >>> from sklearn_daml.models import AEGMM, dense_decoder, dense_encoder, gmm_density_net
    >>> model = AEGMM(dense_encoder(4, (8,), 1), dense_decoder(1, (8,), 4),
    ...               gmm_density_net(3, 10, n_gmm=2), n_gmm=2)
    >>> x_recon, z, gamma = model(np.zeros((5, 4), dtype="float32"))
    >>> tuple(z.shape), tuple(gamma.shape)
    ((5, 3), (5, 2))
    """

    _net_args = ("encoder_net", "decoder_net", "gmm_density_net")
    _fn_args = ("recon_features",)

    def __init__(
        self,
        encoder_net,
        decoder_net,
        gmm_density_net,
        n_gmm,
        recon_features=eucl_cosim_features,
        n_members=None,
        name="aegmm",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.gmm_density_net = gmm_density_net
        self.n_gmm = n_gmm
        self.recon_features = recon_features
        self.n_members = n_members

    def call(self, x, training=None):
        encoding = self.encoder_net(x, training=training)
        x_recon = self.decoder_net(encoding, training=training)
        return self._gmm_outputs(x, encoding, x_recon)

    def _plain_config(self):
        return {"n_gmm": self.n_gmm, "n_members": self.n_members}


@_serializable
class VAEGMM(_GMMModelMixin, _NetsMixin, keras.Model):
    """VAE plus GMM estimation network; the KL term is a model loss.

    ``call(x)`` returns ``(x_recon, z, gamma)`` as :class:`AEGMM`, with the
    sampled encoding in ``z``. Pass ``epsilon`` for a deterministic pass; with
    a leading axis of draws, the outputs of every draw, stacked draw-major, as
    :class:`VAE` does.

    Parameters
    ----------
    encoder_net, decoder_net, gmm_density_net, n_gmm, recon_features
        As in :class:`AEGMM`; ``encoder_net`` maps to hidden features, which
        dense heads turn into the latent mean and log-variance.
    latent_dim : int
        Dimensionality of the latent space.
    beta : float, default=1.0
        Weight of the KL term.
    n_members : int, default=None
        Number of members of a vectorized ensemble, as in :class:`AEGMM`
        (each member has its own mean and log-variance heads, see
        :class:`EncoderVAE`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import VAEGMM, dense_decoder, dense_encoder, gmm_density_net
    >>> model = VAEGMM(dense_encoder(4, (8,), None), dense_decoder(1, (8,), 4),
    ...                gmm_density_net(3, 10, n_gmm=2), n_gmm=2, latent_dim=1)
    >>> x_recon, z, gamma = model(np.zeros((5, 4), dtype="float32"))
    >>> tuple(z.shape), tuple(gamma.shape), len(model.losses)
    ((5, 3), (5, 2), 1)
    """

    _net_args = ("encoder_net", "decoder_net", "gmm_density_net")
    _fn_args = ("recon_features",)

    def __init__(
        self,
        encoder_net,
        decoder_net,
        gmm_density_net,
        n_gmm,
        latent_dim,
        recon_features=eucl_cosim_features,
        beta=1.0,
        n_members=None,
        name="vaegmm",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.gmm_density_net = gmm_density_net
        self.n_gmm = n_gmm
        self.latent_dim = latent_dim
        self.recon_features = recon_features
        self.beta = beta
        self.n_members = n_members
        self.encoder = EncoderVAE(encoder_net, latent_dim, n_members, dtype=self.dtype_policy)

    def call(self, x, training=None, epsilon=None):
        z_mean, z_log_var, encoding = self.encoder(x, epsilon=epsilon, training=training)
        self.add_loss(self.beta * _kl_divergence(z_mean, z_log_var))
        n_draws, encoding = _flatten_draws(z_mean, encoding)
        if n_draws is not None:  # every draw of a row is compared with the row
            x = ops.tile(x, [n_draws] + [1] * (len(x.shape) - 1))
        x_recon = self.decoder_net(encoding, training=training)
        return self._gmm_outputs(x, encoding, x_recon)

    def _plain_config(self):
        return {
            "n_gmm": self.n_gmm,
            "latent_dim": self.latent_dim,
            "beta": self.beta,
            "n_members": self.n_members,
        }

"""What the autoencoder-family detectors share: architecture parameters,
their networks and the variational parts.

:class:`BaseAutoencoderDetector` validates and resolves
``hidden_layer_sizes`` and ``latent_dim`` and builds the encoder and
decoder (the user's, checked, or the default dense stacks);
:class:`VariationalMixin` adds the VAE detectors' reconstruction loss and
their fixed scoring noise.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import BaseDeepDetector
from ._compiled import DTYPE, tf
from ._networks import check_net, instantiate_net
from ._rows import dense_rows

import keras  # noqa: E402  (after TensorFlow, imported quietly)

from .models.ensemble import member_pairs  # noqa: E402
from .models.factory import default_hidden_sizes, dense_decoder, dense_encoder  # noqa: E402
from .models.losses import Elbo, gaussian_nll_rows  # noqa: E402


class HiddenLayersMixin:
    """``hidden_layer_sizes``: validated, and resolved at fit from the width."""

    def _check_params(self):
        super()._check_params()
        if self.hidden_layer_sizes is None:
            return
        sizes = np.asarray(self.hidden_layer_sizes)
        if sizes.ndim != 1 or not np.all(sizes == np.round(sizes)) or np.any(sizes < 1):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers; "
                f"got {self.hidden_layer_sizes!r}."
            )

    def _resolved_hidden_sizes(self, n_features):
        """Hidden widths; default ``(h, h // 2)``, ``h = clip(2 n_features, 16, 128)``.

        Twice the input width gives a tiny table room to mix its features;
        the cap keeps wide tables cheap. A decoder mirrors the encoder.
        """
        if self.hidden_layer_sizes is not None:
            return tuple(int(w) for w in self.hidden_layer_sizes)
        return default_hidden_sizes(n_features)


class BaseAutoencoderDetector(HiddenLayersMixin, BaseDeepDetector):
    """Shared architecture parameters of the autoencoder-family detectors."""

    _accepts_sparse = True  # tabular rows: a sparse X is read a batch at a time

    _parameter_constraints: dict = {
        **BaseDeepDetector._parameter_constraints,
        "hidden_layer_sizes": ["array-like", None],
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "activation": [str, callable],
        "encoder_net": [keras.Model, callable, None],
        "decoder_net": [keras.Model, callable, None],
    }

    def _resolved_latent_dim(self, n_features):
        return self.latent_dim if self.latent_dim is not None else self._default_latent_dim(n_features)

    def _default_latent_dim(self, n_features):
        """``ceil(sqrt(n_features))``: a bottleneck that grows slowly with the
        width, so the network cannot learn the identity map."""
        return max(1, int(np.ceil(np.sqrt(n_features))))

    def _autoencoder_nets(self, n_features, variational=False):
        """Encoder and decoder: the user's (fresh copies) or the default stacks.

        Builder callables are called as ``encoder_net(n_features, latent_dim)``
        and ``decoder_net(latent_dim, n_features)``. A variational encoder
        ends at its last hidden layer; the mean and log-variance heads follow.
        """
        hidden = self._resolved_hidden_sizes(n_features)
        latent_dim = self._resolved_latent_dim(n_features)
        if self.encoder_net is not None:
            encoder = self._checked_encoder(
                instantiate_net(self.encoder_net, n_features, latent_dim), n_features, variational
            )
        else:
            encoder_out = None if variational else latent_dim
            encoder = dense_encoder(n_features, hidden, encoder_out, self.activation, DTYPE)
        if self.decoder_net is not None:
            decoder = self._checked_decoder(
                instantiate_net(self.decoder_net, latent_dim, n_features), n_features
            )
        else:
            decoder = dense_decoder(latent_dim, hidden, n_features, self.activation, dtype=DTYPE)
        return encoder, decoder

    def _checked_encoder(self, net, n_features, variational):
        """A user encoder must take the ``n_features`` columns of ``X`` and,
        unless variational (any width, the heads follow), return
        ``latent_dim`` columns: ``latent_dim`` is used, never ignored."""
        latent_dim = self._resolved_latent_dim(n_features)
        return check_net(
            net, "encoder_net", n_features, None if variational else latent_dim,
            f"latent_dim (resolved to {latent_dim})", DTYPE,
        )

    def _checked_decoder(self, net, n_features):
        """A user decoder must map ``latent_dim`` columns to ``n_features``."""
        latent_dim = self._resolved_latent_dim(n_features)
        return check_net(
            net, "decoder_net", latent_dim, n_features,
            f"latent_dim (resolved to {latent_dim}; X has {n_features} features)", DTYPE,
        )

    def _scoring_row_width(self):
        """Floats held per row while scoring (a generous estimate)."""
        hidden = self._resolved_hidden_sizes(self.n_features_in_)
        width = 4 * (2 * self.n_features_in_ + 2 * sum(hidden))
        return width * self._n_score_samples() * self._n_members()

    def _n_members(self):
        return 1


class VariationalMixin:
    """Reconstruction loss and fixed scoring noise of the VAE detectors.

    alibi-detect draws fresh noise at every call, so its VAE scores are
    random. Here ``samples`` noise vectors are drawn once at fit
    (``noise_``) and every row is scored with the same ones: the score is a
    deterministic function of the row, whatever else is in the batch.
    """

    def _fit_elbo(self, X):
        """Fix the ELBO covariance (``cov_elbo``) from the training data;
        ``'cov_full'`` and ``'cov_diag'`` read all the rows at once (a
        sparse ``X`` densified whole)."""
        if self.cov_elbo == "mse":
            self._elbo = None
        elif isinstance(self.cov_elbo, str):
            self._elbo = Elbo(self.cov_elbo, dense_rows(X, slice(None)))
        else:
            self._elbo = Elbo(self.cov_elbo)

    def _reconstruction_rows(self, x, x_recon):
        """Reconstruction loss of each row and member, ``(n, n_members)``,
        for ``x_recon`` of shape ``(n, n_members, n_features)``."""
        n, n_members = tf.shape(x_recon)[0], tf.shape(x_recon)[1]
        x, x_recon = member_pairs(x, x_recon)
        if self._elbo is None:
            rows = tf.reduce_mean(tf.square(x - x_recon), axis=-1)
        else:
            rows = gaussian_nll_rows(x, x_recon, **self._elbo.kwargs)
        return tf.reshape(rows, [n, n_members])

    def _draw_noise(self, rng):
        latent_dim = self._resolved_latent_dim(self.n_features_in_)
        self.noise_ = rng.standard_normal((self.samples, latent_dim))

    def _n_score_samples(self):
        return self.samples

    def _noisy_pass(self, x):
        """Model outputs for ``samples`` copies of ``x``, stacked copy-major;
        every row and every member of an ensemble sees the same noise. The
        encoder runs once per row: the noise carries a leading axis of draws
        (see :class:`~sklearn_daml.models.Sampling`)."""
        n = tf.shape(x)[0]
        x_rep = tf.tile(x, [self.samples, 1])
        eps = tf.constant(self.noise_, tf.float64)[:, None, :]
        if getattr(self.model_, "n_members", None):
            eps = eps[:, :, None, :]
        return n, x_rep, self.model_(x, epsilon=eps)

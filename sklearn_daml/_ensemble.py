"""Ensembles of autoencoder detectors: ``n_estimators`` members in one model.

A single autoencoder's scores move noticeably with its random initialisation
from seed to seed. Averaging the standardized scores of
independently initialised members removes most of that variance (RandNet,
Chen et al., SDM 2017). The members' weights are stacked
(:class:`~sklearn_daml.models.EnsembleDense`), so one compiled step trains
them all, and a row's score is computed for every member at once.

:class:`MembersMixin` builds the members' networks, trims their reconstruction
loss and standardizes and averages their scores (the AE, VAE, AEGMM and VAEGMM
detectors);
:class:`ReconstructionEnsembleMixin` adds what the reconstruction detectors
score. Two normalisations, both fitted on the training rows after training,
make the members' errors comparable and combinable:

* per feature: each member's squared error in feature ``j`` is divided by
  that member's typical squared error in feature ``j`` over the training
  rows, so a feature the network reconstructs poorly everywhere (a noisy
  column) does not drown a feature where a row departs from what the network
  reconstructs well. The typical error is the mean without the largest
  ``trim_fraction`` of the errors, the share the trimmed loss leaves out:
  with outliers among the training rows, their large errors would inflate
  the plain mean of exactly the features in which they stand out, and so
  shrink those features' weight in every score;
* per member: each member's mean normalised error is standardized by its mean
  and standard deviation over the training rows before the members are
  averaged, as RandNet does.
"""

import numbers

import keras
import numpy as np
from keras import ops
from sklearn.utils._param_validation import Interval

from ._compiled import DTYPE, compiled, tf
from ._networks import instantiate_net
from ._scoring import FeatureScoresMixin
from ._weights import weighted_trimmed_mean
from .models.ensemble import ensemble_dense_stack

# floors of the fitted scales, relative to their typical size: a feature (or a
# member) with a zero training error must not make a finite row's score infinite
_RELATIVE_FLOOR = 1e-6
# a trimmed mean needs the values, not running sums: the error scales come from at
# most this many training rows (drawn with the fit's random state), so the
# memory of a fit does not grow with the number of rows
_SCALE_ROWS = 20_000

ENSEMBLE_CONSTRAINTS = {
    "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
    "trim_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
}


def trimmed_mean(row_losses, fraction):
    """Mean of each column over the rows, leaving out its largest values.

    Of ``n`` rows, the ``floor(fraction * n)`` with the largest loss in a
    column do not count (ties with the largest kept value are kept), so the
    gradient of a batch never comes from the rows the network reconstructs
    worst: with outliers in the training data, those are mostly the
    outliers, which the network should not learn to reconstruct.

    Parameters
    ----------
    row_losses : tensor of shape (n_samples, n_members)
    fraction : float in [0, 1)

    Returns
    -------
    tensor of shape (n_members,)
    """
    if fraction == 0:
        return tf.reduce_mean(row_losses, axis=0)
    n = tf.shape(row_losses)[0]
    n_drop = tf.cast(tf.math.floor(fraction * tf.cast(n, tf.float64)), tf.int32)
    kth = tf.sort(row_losses, axis=0)[tf.maximum(n - n_drop, 1) - 1]
    keep = tf.cast(row_losses <= kth, row_losses.dtype)
    return tf.reduce_sum(row_losses * keep, axis=0) / tf.reduce_sum(keep, axis=0)


def _unique_names(nets):
    """Copies cloned from one model share its name, which a functional model
    refuses; number the copies."""
    if len({net.name for net in nets}) < len(nets):
        for m, net in enumerate(nets):
            net.name = f"{net.name}_member_{m}"
    return nets


def _member_encoder(nets, n_features, dtype):
    """User encoders as one ensemble: ``(n, n_features) -> (n, members, width)``."""
    nets = _unique_names(nets)
    inputs = keras.Input((n_features,), dtype=dtype)
    encoded = [keras.layers.Flatten(dtype=dtype)(net(inputs)) for net in nets]
    return keras.Model(inputs, ops.stack(encoded, axis=1), name="encoder_net")


def member_wise(nets, input_dim, dtype, name):
    """User networks as one ensemble: member ``m`` reads slice ``m`` of
    ``(n, members, input_dim)``."""
    nets = _unique_names(nets)
    inputs = keras.Input((len(nets), input_dim), dtype=dtype)
    outputs = [net(inputs[:, m]) for m, net in enumerate(nets)]
    return keras.Model(inputs, ops.stack(outputs, axis=1), name=name)


class MembersMixin:
    """``n_estimators`` vectorized members and the average of their scores.

    The members' networks are built by ``_autoencoder_nets`` and trained on
    the trimmed mean of their reconstruction losses (``_member_loss``, by
    ``trim_fraction``); a detector turns the members' ``(n, n_members)``
    outlier scores into one with ``_member_average`` after
    ``_fit_member_moments`` has fitted ``member_mean_`` and ``member_std_``
    on the training rows.
    """

    def _autoencoder_nets(self, n_features, variational=False):
        """Encoder and decoder of ``n_estimators`` members.

        The default stacks are vectorized. A user's network (``encoder_net``
        or ``decoder_net``) is instantiated once per member (fresh weights)
        and the copies run side by side in the same compiled step.
        """
        hidden = self._resolved_hidden_sizes(n_features)
        latent_dim = self._resolved_latent_dim(n_features)
        n_members = self.n_estimators
        if self.encoder_net is not None:
            nets = [
                self._checked_encoder(
                    instantiate_net(self.encoder_net, n_features, latent_dim), n_features,
                    variational,
                )
                for _ in range(n_members)
            ]
            encoder = _member_encoder(nets, n_features, DTYPE)
        else:
            widths = list(hidden) if variational else list(hidden) + [latent_dim]
            last_activation = self.activation if variational else None
            encoder = ensemble_dense_stack(
                n_features, widths, n_members, self.activation, last_activation, dtype=DTYPE,
                name="encoder_net",
            )
        if self.decoder_net is not None:
            nets = [
                self._checked_decoder(
                    instantiate_net(self.decoder_net, latent_dim, n_features), n_features
                )
                for _ in range(n_members)
            ]
            decoder = member_wise(nets, latent_dim, DTYPE, "decoder_net")
        else:
            decoder = ensemble_dense_stack(
                latent_dim, list(reversed(hidden)) + [n_features], n_members, self.activation,
                shared_input=False, dtype=DTYPE, name="decoder_net",
            )
        return encoder, decoder

    def _fit_member_moments(self, X, member_scores):
        """``member_mean_`` and ``member_std_``: weighted mean and standard
        deviation over the training rows (in batches) of each member's
        outlier score, ``member_scores(x)`` of shape ``(n, n_members)``."""
        total_weight = np.sum(self._fit_weights(X.shape[0]))

        def member_moments(x, w):
            s = member_scores(x)
            w = w[:, None]
            return tf.stack([tf.reduce_sum(w * s, axis=0), tf.reduce_sum(w * tf.square(s), axis=0)])

        (moments,) = self._sum_over_batches(member_moments, X)
        first, second = moments / total_weight
        self.member_mean_ = first
        std = np.sqrt(np.maximum(second - np.square(first), 0.0))
        self.member_std_ = _floored(std, np.maximum(np.abs(first), np.finfo(np.float64).tiny))

    def _fit_feature_scale(self, X, rng, member_errors, trim_fraction):
        """Each member's typical squared error in each feature over the
        training rows, ``(n_members, n_features)``: the trimmed mean (by
        ``trim_fraction``, weighted with ``sample_weight``) of
        ``member_errors(x)`` (``(n, n_members, n_features)``), from at most
        ``_SCALE_ROWS`` rows drawn with ``rng``, floored relative to each
        member's mean scale."""
        weights = self._sample_weight
        rows = slice(None)
        if X.shape[0] > _SCALE_ROWS:
            drawn = rng.choice(X.shape[0], _SCALE_ROWS, replace=False)
            rows = np.sort(self._order[drawn])
            weights = None if weights is None else weights[rows]
        # a sparse X stays sparse here: _map_batches densifies a batch at a time
        errors = self._map_batches(compiled(member_errors, X.shape[1]), X[rows])
        scale = weighted_trimmed_mean(errors, trim_fraction, weights)
        return _floored(scale, np.mean(scale, axis=1, keepdims=True))

    @staticmethod
    def _squared_error_rows(x, x_recon):
        """Each member's mean squared error of each row, ``(n, n_members)``,
        for ``x_recon`` of shape ``(n, n_members, n_features)``."""
        return tf.reduce_mean(tf.square(x[:, None, :] - x_recon), axis=-1)

    def _member_loss(self, row_losses):
        """Training loss from the ``(n, n_members)`` row losses of a batch:
        the trimmed mean of each member (``trim_fraction``), averaged over
        the members (so each member's gradient is its own loss's)."""
        return tf.reduce_mean(trimmed_mean(row_losses, self.trim_fraction))

    def _member_average(self, member_scores):
        """Mean over the members of their scores standardized by
        ``member_mean_`` and ``member_std_``, ``(n, n_members) -> (n,)``."""
        return tf.reduce_mean((member_scores - self.member_mean_) / self.member_std_, axis=-1)

    def _n_members(self):
        return self.n_estimators


class ReconstructionEnsembleMixin(MembersMixin, FeatureScoresMixin):
    """What the reconstruction ensembles (AE, VAE) score.

    A detector using it implements ``_feature_errors(x)``: the squared
    reconstruction error of every member and feature, ``(n, n_members,
    n_features)``. Its outlier score is then the mean over members of the
    standardized, per-feature-normalised errors (see the module docstring);
    the fitted attributes are ``feature_scale_``, ``member_mean_`` and
    ``member_std_``.
    """

    def _fit_member_scaling(self, X, rng):
        """``feature_scale_`` (by ``trim_fraction``), then ``member_mean_``
        and ``member_std_`` (weighted means over every row, in batches)."""
        self.feature_scale_ = self._fit_feature_scale(
            X, rng, self._feature_errors, self.trim_fraction
        )
        # a captured tensor, not a graph constant: Grappler would rewrite the
        # division by a constant (the moments' last bits, as fitted so far)
        scale_t = tf.constant(self.feature_scale_)
        self._fit_member_moments(X, lambda x: self._member_scores(x, scale_t))

    def _feature_outlier_scores(self, x):
        """Per-feature errors, each member's divided by its ``feature_scale_``,
        averaged over the members."""
        return tf.reduce_mean(self._feature_errors(x) / self.feature_scale_, axis=1)

    def _member_scores(self, x, scale):
        """Each member's mean error normalised by ``scale`` (the fitted
        ``feature_scale_``), ``(n, n_members)``."""
        return tf.reduce_mean(self._feature_errors(x) / scale, axis=-1)

    def _outlier_score(self, x):
        return self._member_average(self._member_scores(x, self.feature_scale_))


def _floored(values, typical):
    return np.maximum(values, _RELATIVE_FLOOR * typical)

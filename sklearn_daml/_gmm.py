"""What the AEGMM and VAEGMM detectors share: reconstruction features, the
estimation networks and the mixtures fitted after training, one per member."""

import math
import numbers

import keras
import numpy as np
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import BaseAutoencoderDetector
from ._compiled import DTYPE, compiled, summed, tf
from ._ensemble import ENSEMBLE_CONSTRAINTS, MembersMixin, member_wise
from ._networks import check_net, instantiate_net
from ._rows import dense_rows
from ._scoring import MAX_SCORING_ROWS, FeatureScoresMixin
from ._training import TrainingDivergedError, diverged_message
from .models.factory import gmm_density_net
from .models.features import EuclCosimFeatures
from .models.gmm import (
    gmm_energy,
    gmm_params_from_statistics,
    gmm_responsibilities,
    gmm_sufficient_statistics,
)
from .models.losses import gmm_loss_terms

# added to the mean scaled error (about 1 on a typical training row) before
# its log, so an exactly reconstructed row has a finite feature
_LOG_ERROR_FLOOR = 1e-12


def _weighted_statistics(z, memberships, w):
    """Row count and sufficient statistics of ``z`` under ``memberships``,
    each row weighted by ``w``."""
    _, sum_gamma, sum_gamma_z, sum_gamma_zz = gmm_sufficient_statistics(
        z, memberships * w[:, None, None]
    )
    return tf.reduce_sum(w), sum_gamma, sum_gamma_z, sum_gamma_zz


class BaseGMMDetector(MembersMixin, FeatureScoresMixin, BaseAutoencoderDetector):
    """Shared part of the AEGMM and VAEGMM detectors.

    ``n_estimators`` members (autoencoder, estimation network and mixture
    each) are trained at once. After training, each member's mixture is
    estimated once over the whole training set in batches (sufficient
    statistics accumulated in float64), with dropout off, refined by
    ``em_steps`` EM steps and then fixed; both at the posterior mode under
    the conjugate prior of ``gmm_params_from_statistics(prior=True)``. A row's outlier score is its
    sample energy under a single member's mixture; with several members, the
    mean of the members' energies, each standardized by its mean and
    standard deviation over the training rows.

    With ``scaled_error``, the fitted mixtures see one more feature than the
    model's ``z``: the log of the row's mean squared reconstruction error,
    each feature's divided by the member's typical error in it
    (``feature_scale_``, fitted on the training rows as the AE detector's).

    A detector implements ``_recon_pass(x)``: the rows its model saw for a
    batch and the model's outputs ``(x_recon, z, gamma)``, with the member
    axis second.
    """

    _parameter_constraints: dict = {
        **BaseAutoencoderDetector._parameter_constraints,
        **ENSEMBLE_CONSTRAINTS,
        "n_gmm": [Interval(numbers.Integral, 1, None, closed="left")],
        "gmm_hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "gmm_density_net": [keras.Model, callable, None],
        "recon_features": [callable, None],
        "w_energy": [Interval(numbers.Real, 0, None, closed="left")],
        "w_cov_diag": [Interval(numbers.Real, 0, None, closed="left")],
        "cov_jitter": [Interval(numbers.Real, 0, None, closed="neither")],
        "recon_scale": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "em_steps": [Interval(numbers.Integral, 0, None, closed="left")],
        "scaled_error": ["boolean"],
    }

    def _recon_features(self, X):
        """The ``recon_features`` callable; ``n_recon_features_`` is the
        number of columns it gives. The default is the relative distance and
        cosine term with the reference norm ``recon_scale_`` (``'auto'``:
        the root mean square row norm of the training data, weighted by
        ``sample_weight``)."""
        if self.recon_scale == "auto":
            self.recon_scale_ = self._rms_row_norm(X)
        else:
            self.recon_scale_ = float(self.recon_scale)
        if self.recon_features is None:
            self.n_recon_features_ = 2
            return EuclCosimFeatures(scale=self.recon_scale_)
        probe = tf.constant(dense_rows(X, slice(0, 2)))
        try:
            shape = tuple(self.recon_features(probe, 0.5 * probe).shape)
        except Exception as exc:
            raise ValueError(
                "recon_features must map (x, x_recon), two tensors of shape "
                f"(n_samples, n_features), to (n_samples, n_recon_features); it raised {exc!r}."
            ) from exc
        if len(shape) != 2 or shape[0] != 2 or shape[1] is None:
            raise ValueError(
                "recon_features must return a tensor of shape (n_samples, n_recon_features); "
                f"for 2 rows it returned shape {shape}."
            )
        self.n_recon_features_ = int(shape[1])
        return self.recon_features

    def _rms_row_norm(self, X):
        """Root mean square row norm of ``X`` (weighted by the fit's
        weights), read in row batches (no whole-array temporaries, for a
        memory-mapped or sparse ``X``): at most ``MAX_SCORING_ROWS`` rows,
        fewer where scikit-learn's ``working_memory`` would not hold a few
        dense copies of them (a row's sum does not depend on its batch)."""
        n_rows = get_chunk_n_rows(row_bytes=32 * X.shape[1], max_n_rows=MAX_SCORING_ROWS)
        batches = list(gen_batches(X.shape[0], max(1, n_rows)))
        weights = getattr(self, "_sample_weight", None)
        # the peak of the weighted rows: a row of weight zero (held out of
        # training) changes nothing, not even the rounding
        peak = max(
            np.max(np.abs(dense_rows(X, sl)[slice(None) if weights is None else weights[sl] > 0]),
                   initial=0.0)
            for sl in batches
        )
        if not peak > 0:
            return 0.0
        # divide first: squares of huge rows overflow
        squares = np.concatenate(
            [np.sum(np.square(dense_rows(X, sl) / peak), axis=1) for sl in batches]
        )
        # exactly rounded sums: the same value whatever the order of the rows
        if weights is None:
            return float(peak * np.sqrt(math.fsum(squares) / len(squares)))
        return float(peak * np.sqrt(math.fsum(squares * weights) / math.fsum(weights)))

    def _density_net(self, n_features):
        """The members' estimation networks: ``(n, n_members, input_dim)`` to
        ``(n, n_members, n_gmm)``; a user's network is instantiated once per
        member."""
        input_dim = self._resolved_latent_dim(n_features) + self.n_recon_features_
        if self.gmm_density_net is not None:
            nets = [
                check_net(
                    instantiate_net(self.gmm_density_net, input_dim, self.n_gmm),
                    "gmm_density_net", input_dim, self.n_gmm,
                    f"latent_dim or n_gmm (its input is latent_dim + {self.n_recon_features_} "
                    f"reconstruction features = {input_dim} columns, its output "
                    f"n_gmm={self.n_gmm})",
                    DTYPE,
                )
                for _ in range(self.n_estimators)
            ]
            return member_wise(nets, input_dim, DTYPE, "gmm_density_net")
        return gmm_density_net(
            input_dim, self.gmm_hidden_size, self.n_gmm, self.activation, self.dropout, DTYPE,
            n_members=self.n_estimators,
        )

    def _gmm_loss(self, recon_rows, z, gamma, w_recon=1.0):
        """DAGMM's training loss with a trimmed reconstruction term:
        ``w_recon`` times the members' trimmed mean (``trim_fraction``) of
        ``recon_rows``, the ``(n, n_members)`` reconstruction losses of a
        batch, plus ``w_energy`` times the mean sample energy and
        ``w_cov_diag`` times the covariance penalty, both over every row of
        the batch under its own mixture."""
        energy, penalty = gmm_loss_terms(z, gamma, self.cov_jitter)
        recon = self._member_loss(recon_rows)
        return w_recon * recon + self.w_energy * energy + self.w_cov_diag * penalty

    def _recon_pass(self, x):
        """``(rows, (x_recon, z, gamma))`` of a batch in inference mode: the
        rows the model saw (``x``, or a VAE's ``samples`` copies of it,
        copy-major) and its outputs, ``(rows, n_members, ...)``."""
        raise NotImplementedError

    def _gmm_pass(self, x):
        """``(z, gamma)``: the input of the fitted mixtures (the model's
        features, then the log scaled error with ``scaled_error``) and the
        estimation network's memberships, ``(rows, n_members, ...)``."""
        rows, (x_recon, z, gamma) = self._recon_pass(x)
        if self.scaled_error:
            errors = tf.square(rows[:, None] - x_recon) / self.feature_scale_
            log_error = tf.math.log(tf.reduce_mean(errors, axis=-1) + _LOG_ERROR_FLOOR)
            z = tf.concat([z, log_error[..., None]], axis=-1)
        return z, gamma

    def _copies_mean(self, values, x):
        """Mean over the copies of each row of ``x`` (copy-major rows)."""
        return tf.reduce_mean(tf.reshape(values, [-1, tf.shape(x)[0], *values.shape[1:]]), axis=0)

    def _member_errors(self, x):
        """Squared error of each member and feature, ``(n, n_members,
        n_features)`` (a VAE's averaged over its ``samples`` copies)."""
        rows, (x_recon, _, _) = self._recon_pass(x)
        return self._copies_mean(tf.square(rows[:, None] - x_recon), x)

    def _energies(self, x):
        """Sample energy of each row under each member's mixture, ``(n,
        n_members)`` (a VAE's averaged over its ``samples`` copies)."""
        z, _ = self._gmm_pass(x)
        return self._copies_mean(self._energy(z), x)

    def _feature_outlier_scores(self, x):
        """Squared error of each feature, averaged over the members."""
        return tf.reduce_mean(self._member_errors(x), axis=1)

    def _outlier_score(self, x):
        energies = self._energies(x)
        if self.n_estimators == 1:
            return energies[:, 0]
        return self._member_average(energies)

    def _fit_extra(self, X, rng):
        """With ``scaled_error``, the members' ``feature_scale_``; then each
        member's mixture from its estimation network's memberships (DAGMM),
        then ``em_steps`` EM steps on the same features, then the members'
        energy moments."""
        if self.scaled_error:
            self.feature_scale_ = self._fit_feature_scale(
                X, rng, self._member_errors, self.trim_fraction
            )
        features, shapes = self._training_features(X)
        dagmm = compiled(_weighted_statistics, *shapes, weighted=True)
        self._set_gmm(self._gmm_params(summed(dagmm(z, gamma, w) for z, gamma, w in features())))
        self._em_steps(features, shapes[0], self.em_steps)
        self._fit_member_moments(X, self._energies)

    def _em_steps(self, features, shape, n_steps):
        """``n_steps`` EM steps of every member's mixture, from the current
        one, on the training rows' ``features()`` (:meth:`_training_features`;
        ``shape``: that of a row of ``z``). The E-step reads the mixture from
        variables, so one compiled function serves every step (a trace costs
        several passes)."""
        if n_steps == 0:
            return
        names = ("phi_", "mu_", "L_", "log_det_cov_")
        mixture = [tf.Variable(getattr(self, name), trainable=False) for name in names]

        def e_step(z, w):
            gamma = gmm_responsibilities(z, *(v.value() for v in mixture))
            return _weighted_statistics(z, gamma, w)

        e_step = compiled(e_step, shape, weighted=True)
        for _ in range(n_steps):
            for variable, name in zip(mixture, names):
                variable.assign(getattr(self, name))
            self._set_gmm(self._gmm_params(summed(e_step(z, w) for z, _, w in features())))

    def _training_features(self, X):
        """``(features, shapes)``: ``features()`` gives, per row batch, the
        mixture's input ``z``, the estimation network's memberships
        ``gamma`` (every noise copy of a row, copy-major) and the rows'
        weights; ``shapes`` are those of a row of ``z`` and of ``gamma``.

        The batches are kept when they take at most scikit-learn's
        ``working_memory``, so the network runs once for the mixture and all
        its EM steps; otherwise ``features()`` computes them again (the same
        values)."""
        shapes = (
            (self._n_members(), self._resolved_latent_dim(X.shape[1]) + self.n_recon_features_
             + self.scaled_error),
            (self._n_members(), self.n_gmm),
        )

        def batch(x, w):
            z, gamma = self._gmm_pass(x)
            return z, gamma, tf.tile(w, [tf.shape(z)[0] // tf.shape(x)[0]])  # copy-major, as z

        batch_features = compiled(batch, X.shape[1], weighted=True)
        weights = self._fit_weights(X.shape[0])

        def features():
            return (
                batch_features(tf.constant(dense_rows(X, sl)), tf.constant(weights[sl]))
                for sl in self._batches(X.shape[0])
            )

        row_bytes = 8 * self._n_score_samples() * (1 + sum(math.prod(s) for s in shapes))
        if row_bytes * X.shape[0] > get_config()["working_memory"] * 2**20:
            return features, shapes
        kept = list(features())
        return (lambda: kept), shapes

    def _gmm_params(self, totals):
        """Mixture parameters from summed sufficient statistics."""
        try:
            params = gmm_params_from_statistics(*totals, cov_jitter=self.cov_jitter, prior=True)
        except tf.errors.InvalidArgumentError as exc:
            raise TrainingDivergedError(
                diverged_message("the fitted GMM covariance is not positive definite")
            ) from exc
        params = [np.asarray(p, dtype=np.float64) for p in params]
        if not all(np.all(np.isfinite(p)) for p in params):
            raise TrainingDivergedError(diverged_message("the fitted GMM parameters are not finite"))
        return params

    def _set_gmm(self, params):
        self.phi_, self.mu_, self.cov_, self.L_, self.log_det_cov_ = params

    def _energy(self, z):
        params = (tf.constant(p) for p in (self.phi_, self.mu_, self.cov_, self.L_, self.log_det_cov_))
        energy, _ = gmm_energy(z, *params, return_mean=False)
        return energy

    def _scoring_row_width(self):
        return super()._scoring_row_width() + 4 * self.n_gmm * self._n_score_samples() * (
            self._resolved_latent_dim(self.n_features_in_) + self.n_recon_features_
            + self.scaled_error
        ) * self._n_members()

"""Variational autoencoder outlier detector."""

import numbers

from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import BaseAutoencoderDetector, VariationalMixin
from ._compiled import DTYPE, tf
from ._ensemble import ENSEMBLE_CONSTRAINTS, ReconstructionEnsembleMixin
from .models.autoencoder import VAE


class VAEOutlierDetector(
    OutlierMixin, ReconstructionEnsembleMixin, VariationalMixin, BaseAutoencoderDetector
):
    """Variational autoencoder ensemble outlier detector.

    ``n_estimators`` VAEs, initialised independently, are trained at once
    (stacked weights, one compiled step) with the ELBO (a Gaussian
    reconstruction term plus ``beta`` times the KL divergence of the
    encoding from N(0, I)). A row's squared reconstruction error in each
    feature is averaged over ``samples`` latent draws, whose noise is fixed
    at fit (so a row's score does not depend on the rest of the batch), and
    the members' errors are normalised and combined as in
    :class:`AEOutlierDetector`. ``score_samples`` returns the negative of
    that outlier score.

    The high-energy-physics configuration (ML4Anomalies: LeakyReLU stacks,
    KL weight 1e-6 so reconstruction dominates, Adam at 5e-4, unbounded
    output) is ``VAEOutlierDetector(hidden_layer_sizes=(64, 32, 16),
    activation="leaky_relu", beta=1e-6, cov_elbo="mse",
    learning_rate=5e-4)``.

    Parameters
    ----------
    n_estimators : int, default=5
        Number of VAEs in the ensemble (see :class:`AEOutlierDetector`).
    trim_fraction : float in [0, 1), default=0.1
        Share of each training batch, the rows with the largest loss, left
        out of each member's ELBO reconstruction term (trimmed loss).
        Outliers among the training rows reconstruct worst, so the networks
        do not learn to reconstruct them; the held-out rows of early stopping
        are scored the same way. The same share of the largest errors is
        left out of each feature's error scale, as in
        :class:`AEOutlierDetector`. ``0`` is the plain mean, in the loss and
        in the scale.
    hidden_layer_sizes : array-like of int, default=None
        Encoder widths (the mean and log-variance heads follow the last
        one); the decoder mirrors them. ``None`` resolves at fit to
        ``(h, h // 2)`` with ``h = clip(2 * n_features, 16, 128)``.
    latent_dim : int or None, default=None
        Latent dimension; ``None`` resolves to ``ceil(sqrt(n_features))``.
    activation : str or callable, default="tanh"
        Activation of the hidden layers. Outputs are linear (unbounded).
    encoder_net, decoder_net : keras.Model or callable, default=None
        Custom networks, as in :class:`AEOutlierDetector`; the encoder maps
        to hidden features of any width.
    beta : float >= 0, default=1.0
        Weight of the KL term (beta-VAE). Smaller values favour
        reconstruction over a regular latent space (ML4Anomalies uses
        ``1e-6`` with ``cov_elbo="mse"``).
    cov_elbo : float, "cov_full", "cov_diag" or "mse", default=0.05
        Covariance of the ELBO reconstruction term: a float is a standard
        deviation shared by all features (alibi-detect's ``sim``, default
        0.05, which makes reconstruction dominate on scaled data);
        ``"cov_full"``/``"cov_diag"`` use the training data's covariance (or
        variances); ``"mse"`` uses the plain mean squared error.
    samples : int >= 1, default=10
        Latent draws averaged per row when scoring and when fitting the
        error scales, their noise fixed at fit (``noise_``). The encoder runs
        once per row and the decoder once per draw, so the scoring cost grows
        in proportion; more draws smooth the score.
    epochs : int, default=20
        Number of passes over the training data (the maximum, with
        ``early_stopping``), short for the reason given in
        :class:`AEOutlierDetector`; it matters most when outliers are among
        the training rows.
    early_stopping : bool, default=False
        As in :class:`AEOutlierDetector` (off by default for the same reason).
    batch_size, learning_rate, optimizer, contamination, calibration_size, validation_fraction, \
n_iter_no_change, tol, random_state, verbose
        As in :class:`AEOutlierDetector`.

    Attributes
    ----------
    model_ : VAE
        The trained Keras model (an ensemble of ``n_estimators`` members).
    noise_ : ndarray of shape (samples, latent_dim)
        Standard normal draws used for every scored row (and every member).
    feature_scale_, member_mean_, member_std_ : ndarray
        Normalisation of the members' errors, as in
        :class:`AEOutlierDetector`.
    loss_curve_, validation_loss_curve_, n_iter_, offset_, threshold_, calibration_scores_, \
calibration_weights_, n_features_in_, feature_names_in_
        As in :class:`AEOutlierDetector`.

    See Also
    --------
    AEOutlierDetector : Deterministic autoencoder.
    VAEGMMOutlierDetector : VAE plus Gaussian mixture.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import VAEOutlierDetector
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> det = VAEOutlierDetector(epochs=5, random_state=0).fit(X)
    >>> det.predict([[0.0, 0.0, 0.0, 0.0], [9.0, -9.0, 9.0, -9.0]])
    array([ 1, -1])
    """

    _parameter_constraints: dict = {
        **BaseAutoencoderDetector._parameter_constraints,
        **ENSEMBLE_CONSTRAINTS,
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "cov_elbo": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"cov_full", "cov_diag", "mse"}),
        ],
        "samples": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_estimators=5,
        trim_fraction=0.1,
        hidden_layer_sizes=None,
        latent_dim=None,
        activation="tanh",
        encoder_net=None,
        decoder_net=None,
        beta=1.0,
        cov_elbo=0.05,
        samples=10,
        epochs=20,
        batch_size=128,
        learning_rate=1e-3,
        optimizer="adam",
        contamination="auto",
        calibration_size=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        random_state=None,
        verbose=0,
    ):
        self.n_estimators = n_estimators
        self.trim_fraction = trim_fraction
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.beta = beta
        self.cov_elbo = cov_elbo
        self.samples = samples
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.contamination = contamination
        self.calibration_size = calibration_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _build_model(self, X):
        self._fit_elbo(X)
        encoder, decoder = self._autoencoder_nets(X.shape[1], variational=True)
        latent_dim = self._resolved_latent_dim(X.shape[1])
        return VAE(
            encoder, decoder, latent_dim, beta=self.beta, n_members=self.n_estimators,
            dtype=DTYPE,
        )

    def _loss(self, x, x_recon):
        return self._member_loss(self._reconstruction_rows(x, x_recon))

    def _fit_extra(self, X, rng):
        self._draw_noise(rng)
        self._fit_member_scaling(X, rng)

    def _feature_errors(self, x):
        n, x_rep, x_recon = self._noisy_pass(x)
        errors = tf.square(x_rep[:, None, :] - x_recon)
        return tf.reduce_mean(tf.reshape(errors, [self.samples, n, *errors.shape[1:]]), axis=0)

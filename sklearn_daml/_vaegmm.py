"""Variational autoencoder + Gaussian mixture outlier detector."""

import numbers

from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import VariationalMixin
from ._compiled import DTYPE
from ._gmm import BaseGMMDetector
from .models.autoencoder import VAEGMM


class VAEGMMOutlierDetector(OutlierMixin, VariationalMixin, BaseGMMDetector):
    """Variational autoencoder + Gaussian mixture outlier detector (VAEGMM).

    DAGMM with a VAE in place of the autoencoder (as alibi-detect's
    ``OutlierVAEGMM``): the loss is ``w_recon`` times the reconstruction
    term (by default AEGMM's mean squared error, trimmed by
    ``trim_fraction``) plus ``w_energy`` times the mean sample energy, the
    covariance penalty and ``beta`` times the KL term. ``n_estimators``
    such models are trained at once, as for :class:`AEGMMOutlierDetector`. After training
    each member's mixture parameters are estimated over the training set
    (posterior modes under a weak prior, as in
    :class:`AEGMMOutlierDetector`) and fixed; a member's outlier score of a row is its sample energy
    averaged over ``samples`` latent draws whose noise is fixed at fit (so
    the score is a deterministic function of the row), and the detector's is
    the mean of the members' scores standardized on the training rows (with
    one member, the energy itself). ``score_samples`` returns its negative.
    The fitted mixtures also see the scaled reconstruction error
    (``scaled_error``), as :class:`AEGMMOutlierDetector`'s do.

    Parameters
    ----------
    n_estimators : int, default=5
        Number of members, as in :class:`AEGMMOutlierDetector`. Averaging
        members makes the ranking steadier from seed to seed, and better on
        clean training rows (see the benchmark page); one compiled step
        trains them all, so a fit costs far less than ``n_estimators``
        separate fits. ``n_estimators=1`` is one network, scored by its energy.
    trim_fraction : float in [0, 1), default=0.1
        Share of each training batch, the rows with the largest
        reconstruction loss, left out of each member's reconstruction term
        (trimmed loss, as in :class:`AEOutlierDetector`); the energy and the
        covariance penalty keep every row. The outliers among the training
        rows reconstruct worst, so the networks do not learn them and their
        scaled error, one of the mixtures' features, stays high. The same
        share of the largest errors is left out of each feature's error
        scale (``scaled_error``). ``0`` is the plain mean, in the loss and in
        the scale; a share below that of the outliers in the training rows
        leaves some of them in the loss.
    n_gmm : int >= 1, default=2
        Number of mixture components, as in :class:`AEGMMOutlierDetector`.
        More components fit data with several distinct normal modes; each
        needs enough training rows to estimate its covariance.
    hidden_layer_sizes : array-like of int, default=None
        Encoder widths (the mean and log-variance heads follow); the decoder
        mirrors them. ``None`` resolves at fit to ``(h, h // 2)`` with
        ``h = clip(2 * n_features, 16, 128)``.
    latent_dim : int or None, default=2
        Latent dimension (alibi-detect's example uses 2); ``None`` resolves
        to ``ceil(sqrt(n_features))``. The estimation network sees
        ``latent_dim + n_recon_features_`` dimensions (``latent_dim + 2``
        with the default ``recon_features``), the fitted mixtures one more
        with ``scaled_error``; a small dimension keeps the mixture well
        estimated.
    activation : str or callable, default="tanh"
        Activation of the hidden layers of all networks.
    gmm_hidden_size : int, default=10
        Width of the estimation network's hidden layer.
    dropout : float, default=0.5
        Dropout rate of the estimation network during training.
    encoder_net, decoder_net, gmm_density_net : keras.Model or callable, default=None
        Custom networks, as in :class:`AEGMMOutlierDetector`.
    recon_features : callable, default=None
        Features of a row and its reconstruction appended to the encoding,
        as in :class:`AEGMMOutlierDetector`.
    w_recon : float >= 0, default=1.0
        Weight of the reconstruction term. With the default ``cov_elbo="mse"``
        the term is AEGMM's mean squared error, with AEGMM's weight 1.
        alibi-detect's ``w_recon=1e-7`` with its ELBO (``cov_elbo=0.05``,
        ``beta=1.0``) leaves the reconstruction practically untrained next to
        the energy and the KL term; the defaults rank better, most clearly on
        clean training rows (see the benchmark page).
    recon_scale : "auto" or float >= 0, default="auto"
        Reference norm of the relative reconstruction distance of the
        default ``recon_features``,
        ``||x - x_hat|| / sqrt(min(||x||, ||x_hat||)**2 + recon_scale**2)``.
        ``"auto"`` uses the root mean square norm of the training rows: the
        distance is relative far from the origin and absolute near it, where
        the typical rows of standardized data lie. ``0`` is DAGMM's distance,
        meant for rows far from the origin, as after min-max scaling.
    em_steps : int >= 0, default=10
        EM steps that refine the mixture on the learned features of the
        training rows (all ``samples`` draws) after training, as in
        :class:`AEGMMOutlierDetector`; ``em_steps=0`` keeps the estimation
        network's mixture. The steps cost little beside training.
    scaled_error : bool, default=True
        Whether the fitted mixtures also see the log of a row's mean scaled
        squared reconstruction error, as in :class:`AEGMMOutlierDetector`
        (each draw's error, with the members' typical errors in each feature
        averaged over the ``samples`` draws). It helps most on clean
        training rows and can lose on tables where many training rows are
        outliers (see the benchmark page); ``False`` gives the mixtures the
        model's features alone.
    w_energy : float >= 0, default=0.1
        Weight of the mean sample energy in the loss (DAGMM).
    w_cov_diag : float >= 0, default=0.005
        Weight of the inverse covariance diagonal penalty (DAGMM).
    cov_jitter : float > 0, default=1e-6
        Added to covariance diagonals before the Cholesky factorisation; raise
        it if training reports a non positive definite covariance.
    beta : float >= 0, default=1e-6
        Weight of the KL term: small, so that reconstruction is favoured over
        regularization, as in the ML4Anomalies VAE (``1e-6`` with the mean
        squared error). Moderately larger values (such as ``1e-3``) rank
        about the same.
    cov_elbo : float, "cov_full", "cov_diag" or "mse", default="mse"
        Covariance of the ELBO term, as in :class:`VAEOutlierDetector`;
        ``"mse"`` is the plain mean squared error (AEGMM's term).
    samples : int >= 1, default=5
        Latent draws averaged per row: in the score, and in what is fitted
        after training (error scales, mixture, EM steps, energy moments).
        Their noise is fixed at fit (``noise_``). The encoder runs once per
        row; each draw is one pass of the decoder and the estimation network,
        so the work after training and the scoring cost grow in proportion.
        More draws smooth the score; beyond 5 the ranking barely changes
        (see the benchmark page).
    epochs : int, default=20
        Number of passes over the training data (the maximum, with
        ``early_stopping``): short, so the outliers among the training rows
        are not yet reconstructed, for the reason given in
        :class:`AEOutlierDetector`. On the benchmark tables, 100 epochs with
        early stopping ranked no better, even on clean training rows, at a
        higher cost (see the benchmark page).
    batch_size : int, default=256
        Rows per training step; the batch GMM is estimated from them, so
        larger batches are more stable.
    early_stopping : bool, default=False
        Stop once the loss of a held-out ``validation_fraction`` of the rows
        stops improving (see :class:`AEOutlierDetector`); off by default for
        the reason given there.
    learning_rate, optimizer, contamination, calibration_size, validation_fraction, \
n_iter_no_change, tol, random_state, verbose
        As in :class:`AEOutlierDetector`.

    Attributes
    ----------
    model_ : VAEGMM
        The trained Keras model (``n_members=n_estimators``).
    noise_ : ndarray of shape (samples, latent_dim)
        Standard normal draws used for every scored row.
    phi_, mu_, cov_, L_, log_det_cov_, member_mean_, member_std_ : ndarray
        Fitted mixture parameters and energy moments of each member, as in
        :class:`AEGMMOutlierDetector`.
    feature_scale_ : ndarray of shape (n_estimators, n_features_in_)
        Each member's typical squared error in each feature on the training
        rows, as in :class:`AEGMMOutlierDetector`. Only with
        ``scaled_error``.
    recon_scale_ : float
        The reference norm used (``recon_scale`` resolved).
    n_recon_features_ : int
        Number of columns of ``recon_features`` (2 for the default).
    loss_curve_, validation_loss_curve_, n_iter_, offset_, threshold_, calibration_scores_, \
calibration_weights_, n_features_in_, feature_names_in_
        As in :class:`AEGMMOutlierDetector`.

    See Also
    --------
    AEGMMOutlierDetector : Deterministic autoencoder version (DAGMM).
    VAEOutlierDetector : Reconstruction error of a VAE alone.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import VAEGMMOutlierDetector
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> det = VAEGMMOutlierDetector(epochs=5, random_state=0).fit(X)
    >>> det.predict([[1.0, -1.0, 1.0, -1.0], [9.0, -9.0, 9.0, -9.0]])
    array([ 1, -1])
    """

    _parameter_constraints: dict = {
        **BaseGMMDetector._parameter_constraints,
        "w_recon": [Interval(numbers.Real, 0, None, closed="left")],
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
        n_gmm=2,
        hidden_layer_sizes=None,
        latent_dim=2,
        activation="tanh",
        gmm_hidden_size=10,
        dropout=0.5,
        encoder_net=None,
        decoder_net=None,
        gmm_density_net=None,
        recon_features=None,
        w_recon=1.0,
        w_energy=0.1,
        w_cov_diag=0.005,
        cov_jitter=1e-6,
        recon_scale="auto",
        em_steps=10,
        scaled_error=True,
        beta=1e-6,
        cov_elbo="mse",
        samples=5,
        epochs=20,
        batch_size=256,
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
        self.n_gmm = n_gmm
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.gmm_hidden_size = gmm_hidden_size
        self.dropout = dropout
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.gmm_density_net = gmm_density_net
        self.recon_features = recon_features
        self.w_recon = w_recon
        self.w_energy = w_energy
        self.w_cov_diag = w_cov_diag
        self.cov_jitter = cov_jitter
        self.recon_scale = recon_scale
        self.em_steps = em_steps
        self.scaled_error = scaled_error
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
        features = self._recon_features(X)
        density = self._density_net(X.shape[1])
        latent_dim = self._resolved_latent_dim(X.shape[1])
        return VAEGMM(
            encoder,
            decoder,
            density,
            self.n_gmm,
            latent_dim,
            beta=self.beta,
            recon_features=features,
            n_members=self.n_estimators,
            dtype=DTYPE,
        )

    def _loss(self, x, outputs):
        x_recon, z, gamma = outputs
        return self._gmm_loss(self._reconstruction_rows(x, x_recon), z, gamma, self.w_recon)

    def _fit_extra(self, X, rng):
        self._draw_noise(rng)
        super()._fit_extra(X, rng)

    def _recon_pass(self, x):
        _, rows, outputs = self._noisy_pass(x)
        return rows, outputs

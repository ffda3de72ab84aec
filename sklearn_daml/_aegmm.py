"""Autoencoder + Gaussian mixture outlier detector (DAGMM)."""

from sklearn.base import OutlierMixin

from ._compiled import DTYPE
from ._gmm import BaseGMMDetector
from .models.autoencoder import AEGMM


class AEGMMOutlierDetector(OutlierMixin, BaseGMMDetector):
    """Deep autoencoding Gaussian mixture model (DAGMM) outlier detector.

    An autoencoder compresses each row; its encoding and two reconstruction
    features (relative Euclidean distance and cosine similarity between the
    row and its reconstruction) form ``z``. An estimation network maps ``z``
    to soft memberships of ``n_gmm`` Gaussian components, and the whole
    model is trained end to end on reconstruction error (here trimmed:
    ``trim_fraction``), mean sample energy and a penalty on small covariance
    diagonals (Zong et al., 2018).

    ``n_estimators`` such models, initialised independently, are trained at
    once as one vectorized model (stacked weights, one compiled step). After
    training each member's mixture parameters are estimated once over the
    training set (in batches, float64), refined by ``em_steps`` EM steps and
    fixed. Both estimates are posterior modes under a weak conjugate prior
    centred on the pooled rows (mclust's default, Fraley and Raftery 2007):
    on many rows they are the maximum-likelihood ones, and a component that
    owns only a few rows keeps a full-rank covariance instead of collapsing
    onto them, which would give them the highest density of all. A member's outlier score of a row is its sample energy, the
    negative log-density under that member's mixture; the detector's is the
    mean over the members of their energies, each standardized by its mean
    and standard deviation over the training rows (with one member, the
    energy itself, DAGMM's score). ``score_samples`` returns its negative.

    The fitted mixtures see one feature more than the trained model's ``z``
    (``scaled_error``): the log of the row's mean squared reconstruction
    error, each feature's error divided by the member's typical error in that
    feature on the training rows, the measure the AE detector scores by.

    Parameters
    ----------
    n_estimators : int, default=5
        Number of members (autoencoder, estimation network and mixture each).
        A single DAGMM's scores move with its random initialisation;
        averaging members removes most of that (RandNet, Chen et al. 2017)
        and ranks better (see the benchmark page). The members share each
        batch but not their weights, so one compiled step trains them all and
        a fit costs far less than ``n_estimators`` separate fits.
        ``n_estimators=1`` is one DAGMM, scored by its energy.
    trim_fraction : float in [0, 1), default=0.1
        Share of each training batch, the rows with the largest
        reconstruction error, left out of each member's reconstruction term
        (trimmed loss, as in :class:`AEOutlierDetector`); the energy and the
        covariance penalty keep every row of the batch. The outliers among
        the training rows reconstruct worst, so the networks do not learn
        them and their scaled error (``scaled_error``), one of the mixtures'
        features, stays high. The same share of the largest errors is left
        out of each feature's error scale. The inliers that reconstruct worst
        are not learned either, which can cost average precision on tables
        with hard inliers (see the benchmark page). ``0`` is the plain mean,
        in the loss and in the scale.
    n_gmm : int >= 1, default=2
        Number of mixture components (DAGMM used 2 for its small tables and
        4 for KDDCUP). More components fit data with several distinct normal
        modes; each needs enough training rows to estimate its covariance.
    hidden_layer_sizes : array-like of int, default=None
        Encoder widths; the decoder mirrors them. ``None`` resolves at fit to
        ``(h, h // 2)`` with ``h = clip(2 * n_features, 16, 128)``.
    latent_dim : int or None, default=1
        Encoding size; ``None`` resolves to ``ceil(sqrt(n_features))``. The
        estimation network sees ``latent_dim + n_recon_features_`` dimensions
        (``latent_dim + 2`` with the default ``recon_features``), the fitted
        mixtures one more with ``scaled_error``. DAGMM used 1 or 2: the
        reconstruction features carry most of the signal and a small GMM
        dimension keeps the mixture well estimated.
    activation : str or callable, default="tanh"
        Activation of the hidden layers of all networks (tanh as in DAGMM).
    gmm_hidden_size : int, default=10
        Width of the estimation network's hidden layer (DAGMM: 10).
    dropout : float, default=0.5
        Dropout rate of the estimation network during training (DAGMM: 0.5).
    encoder_net, decoder_net, gmm_density_net : keras.Model or callable, default=None
        Custom networks. A model is cloned at fit; a callable is called as
        ``encoder_net(n_features, latent_dim)``,
        ``decoder_net(latent_dim, n_features)`` or
        ``gmm_density_net(latent_dim + n_recon_features_, n_gmm)`` and returns
        a model (the density net must end in a softmax over ``n_gmm``).
    recon_features : callable, default=None
        Features of a row and its reconstruction, ``f(x, x_recon)`` on two
        tensors of shape ``(n_samples, n_features)`` returning
        ``(n_samples, n_recon_features)``, appended to the encoding as the
        GMM's input (DAML's and alibi-detect's ``recon_features``; for
        example :func:`~sklearn_daml.models.eucl_cosim_features` for their
        exact default). ``None``: the cosine term and the relative distance
        with the reference norm ``recon_scale`` (below). To save the
        detector with ``save``, register a custom function with
        :func:`keras.saving.register_keras_serializable`.
    recon_scale : "auto" or float >= 0, default="auto"
        Reference norm of the relative reconstruction distance of the
        default ``recon_features``,
        ``||x - x_hat|| / sqrt(min(||x||, ||x_hat||)**2 + recon_scale**2)``.
        ``"auto"`` uses the root mean square norm of the training rows: the
        distance is relative far from the origin and absolute near it, where
        the typical rows of standardized data lie (see Notes). ``0`` is
        DAGMM's distance, meant for rows far from the origin, as after
        min-max scaling.
    em_steps : int >= 0, default=10
        EM steps that refine the mixture on the learned features of the
        training rows after training, started from the mixture that the
        estimation network's memberships give (DAGMM's estimate, which
        ``em_steps=0`` keeps). The network only approximates the memberships
        that maximise the posterior of the mixture given those features; EM
        finishes the job.
        The features are computed once and kept while they fit in
        scikit-learn's ``working_memory`` (else computed again for each
        step), so the steps cost little beside training; many more than 10
        gain nothing further.
    scaled_error : bool, default=True
        Whether the fitted mixtures also see, after the model's features
        ``z``, ``log(mean_j e_j / s_j)``: a row's squared reconstruction
        error ``e_j`` in each feature ``j``, divided by the member's typical
        squared error ``s_j`` in that feature on the training rows
        (``feature_scale_``, as :class:`AEOutlierDetector` scales its
        errors). DAGMM's distance weighs every feature's error alike, so a
        feature the network reconstructs poorly everywhere drowns one where a
        row departs from what it reconstructs well; the scaled error keeps
        both. Training is unchanged: only the mixtures fitted after it see
        the extra feature. It can lose where a large share of the training
        rows are outliers, which inflate the typical errors (see the
        benchmark page). ``False`` gives DAGMM's mixture input.
    w_energy : float >= 0, default=0.1
        Weight of the mean sample energy in the loss (DAGMM).
    w_cov_diag : float >= 0, default=0.005
        Weight of the inverse covariance diagonal penalty (DAGMM).
    cov_jitter : float > 0, default=1e-6
        Added to covariance diagonals before the Cholesky factorisation; raise
        it if training reports a non positive definite covariance.
    epochs : int, default=20
        Number of passes over the training data (the maximum, with
        ``early_stopping``): short, as for the AE, VAE and VAEGMM detectors,
        so the outliers among the training rows are not yet reconstructed
        (see :class:`AEOutlierDetector`). On the benchmark tables, 100
        epochs with early stopping ranked no better and took much longer
        (see the benchmark page).
    batch_size : int, default=256
        Rows per training step; the batch GMM is estimated from them, so
        larger batches are more stable (DAGMM used 1024 on KDDCUP).
    early_stopping : bool, default=False
        Stop once the loss of a held-out ``validation_fraction`` of the rows
        stops improving (see :class:`AEOutlierDetector`); off by default for
        the reason given there.
    learning_rate, optimizer, contamination, calibration_size, validation_fraction, \
n_iter_no_change, tol, random_state, verbose
        As in :class:`AEOutlierDetector`.

    Attributes
    ----------
    model_ : AEGMM
        The trained Keras model (``n_members=n_estimators``: its outputs
        carry the member axis second).
    phi_ : ndarray of shape (n_estimators, n_gmm)
        Each member's mixture weights.
    mu_ : ndarray of shape (n_estimators, n_gmm, d)
        Component means, over the ``d = latent_dim + n_recon_features_ +
        scaled_error`` features of the mixtures (``latent_dim + 3`` by
        default).
    cov_ : ndarray of shape (n_estimators, n_gmm, d, d)
        Component covariances.
    L_ : ndarray of shape (n_estimators, n_gmm, d, d)
        Cholesky factors of ``cov_ + cov_jitter * I``.
    log_det_cov_ : ndarray of shape (n_estimators, n_gmm)
        Log-determinants matching ``L_``.
    member_mean_, member_std_ : ndarray of shape (n_estimators,)
        Mean and standard deviation of each member's sample energy over the
        training rows (weighted by ``sample_weight``), which standardize the
        members' energies before they are averaged.
    feature_scale_ : ndarray of shape (n_estimators, n_features_in_)
        Each member's typical squared error in each feature on the training
        rows (weighted by ``sample_weight``; from at most 20,000 of them),
        which divides the errors of the scaled-error feature. Only with
        ``scaled_error``.
    recon_scale_ : float
        The reference norm used (``recon_scale`` resolved).
    n_recon_features_ : int
        Number of columns of ``recon_features`` (2 for the default).
    loss_curve_, validation_loss_curve_, n_iter_, offset_, calibration_scores_, \
calibration_weights_, n_features_in_, feature_names_in_
        As in :class:`AEOutlierDetector`.
    threshold_ : float
        ``-offset_``: the outlier score (with one member, the sample energy)
        above which a row is an outlier.

    See Also
    --------
    VAEGMMOutlierDetector : Variational version.
    AEOutlierDetector : Reconstruction error alone.

    Notes
    -----
    The relative Euclidean distance ``||x - x_hat|| / min(||x||, ||x_hat||)``
    of DAGMM assumes rows far from the origin (the paper min-max scales its
    data). After standardisation the origin is the most typical row, yet rows
    of near-zero norm get a large relative distance and so a high energy.
    ``recon_scale="auto"`` avoids this; ``recon_scale=0`` gives DAGMM's
    distance exactly.

    References
    ----------
    Zong, B., Song, Q., Min, M. R., Cheng, W., Lumezanu, C., Cho, D. and
    Chen, H. "Deep Autoencoding Gaussian Mixture Model for Unsupervised
    Anomaly Detection." ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import AEGMMOutlierDetector
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> det = AEGMMOutlierDetector(epochs=5, random_state=0).fit(X)
    >>> det.predict([[1.0, -1.0, 1.0, -1.0], [9.0, -9.0, 9.0, -9.0]])
    array([ 1, -1])
    """

    def __init__(
        self,
        *,
        n_estimators=5,
        trim_fraction=0.1,
        n_gmm=2,
        hidden_layer_sizes=None,
        latent_dim=1,
        activation="tanh",
        gmm_hidden_size=10,
        dropout=0.5,
        encoder_net=None,
        decoder_net=None,
        gmm_density_net=None,
        recon_features=None,
        w_energy=0.1,
        w_cov_diag=0.005,
        cov_jitter=1e-6,
        recon_scale="auto",
        em_steps=10,
        scaled_error=True,
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
        self.w_energy = w_energy
        self.w_cov_diag = w_cov_diag
        self.cov_jitter = cov_jitter
        self.recon_scale = recon_scale
        self.em_steps = em_steps
        self.scaled_error = scaled_error
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
        encoder, decoder = self._autoencoder_nets(X.shape[1])
        features = self._recon_features(X)
        density = self._density_net(X.shape[1])
        return AEGMM(
            encoder, decoder, density, self.n_gmm, recon_features=features,
            n_members=self.n_estimators, dtype=DTYPE,
        )

    def _loss(self, x, outputs):
        x_recon, z, gamma = outputs
        return self._gmm_loss(self._squared_error_rows(x, x_recon), z, gamma)

    def _recon_pass(self, x):
        return x, self.model_(x, training=False)

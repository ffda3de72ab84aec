"""Autoencoder outlier detector."""

from sklearn.base import OutlierMixin

from ._autoencoder import BaseAutoencoderDetector
from ._compiled import DTYPE, tf
from ._ensemble import ENSEMBLE_CONSTRAINTS, ReconstructionEnsembleMixin
from .models.autoencoder import AE


class AEOutlierDetector(OutlierMixin, ReconstructionEnsembleMixin, BaseAutoencoderDetector):
    """Autoencoder ensemble outlier detector: rows that reconstruct badly are outliers.

    ``n_estimators`` dense autoencoders, initialised independently, are
    trained at once (stacked weights, one compiled step) to reconstruct the
    training rows with the mean squared error. A row's squared error in each
    feature is divided by the member's typical squared error in that feature
    on the training rows (their trimmed mean, see ``trim_fraction``); the
    mean of these ratios is standardized per member (mean and standard
    deviation over the training rows) and averaged over
    the members. That average is the outlier score; ``score_samples``
    returns its negative, so that, as for
    :class:`~sklearn.ensemble.IsolationForest`, higher means more normal.

    Parameters
    ----------
    n_estimators : int, default=5
        Number of autoencoders in the ensemble. Averaging members removes
        most of the seed-to-seed variance of a single network (RandNet, Chen
        et al. 2017). ``n_estimators=1`` is a single autoencoder, still with
        the per-feature normalisation of its errors. Training and scoring
        cost grow linearly with it on large, wide tables (the step is
        compute bound there) and much less on small ones (overhead bound).
        See the benchmark page for its effect on ranking and fit time.
    trim_fraction : float in [0, 1), default=0.1
        Share of each training batch, the rows with the largest loss, left
        out of each member's loss (trimmed loss). Outliers among the training
        rows reconstruct worst, so the networks do not learn to reconstruct
        them; the held-out rows of early stopping are scored the same way.
        The same share of the largest errors is left out of each feature's
        error scale (``feature_scale_``), so the outliers' large errors do
        not inflate the scale of the features in which they stand out.
        ``0`` is the plain mean, in the loss and in the scale; a share below
        that of the outliers in the training rows leaves some of them in.
    hidden_layer_sizes : array-like of int, default=None
        Encoder widths; the decoder mirrors them. ``None`` resolves at fit to
        ``(h, h // 2)`` with ``h = clip(2 * n_features, 16, 128)``.
    latent_dim : int or None, default=None
        Size of the bottleneck; ``None`` resolves to ``ceil(sqrt(n_features))``,
        small enough that the network cannot copy its input.
    activation : str or callable, default="tanh"
        Activation of the hidden layers (any Keras activation, e.g.
        ``"relu"`` or ``"leaky_relu"``). Outputs are linear (unbounded).
    encoder_net, decoder_net : keras.Model or callable, default=None
        Custom networks, replacing the default stacks. A model is cloned at
        fit (fresh weights); a callable is called as
        ``encoder_net(n_features, latent_dim)`` /
        ``decoder_net(latent_dim, n_features)`` and returns a model. The
        encoder's output width must equal ``latent_dim`` (resolved as above),
        else fit raises a ``ValueError`` saying so: ``latent_dim`` is never
        silently ignored.
    epochs : int, default=20
        Number of passes over the training data (the maximum, with
        ``early_stopping``). Networks fit the structure shared by many rows
        first and memorise rare rows later (Arpit et al., "A closer look at
        memorization in deep networks", ICML 2017); the outliers among the
        training rows are such rare rows, so a short training reconstructs
        the inliers while the outliers still reconstruct badly, and it is
        much faster than training to convergence (see the benchmark page).
        On data known to be clean, more epochs (or ``early_stopping=True``
        with ``epochs=100``) reconstruct the inliers' tails a little better.
    batch_size : int, default=128
        Rows per training step.
    learning_rate : float, default=1e-3
        Learning rate of the optimizer named by ``optimizer``.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"} or keras.optimizers.Optimizer, default="adam"
        Optimizer; an instance is copied at fit (its own learning rate wins).
    contamination : "auto" or float in (0, 0.5], default="auto"
        Share of outliers expected in the training data, used to set
        ``offset_`` as that percentile of the training scores. ``"auto"``
        assumes no share: a row is flagged when its conformal p-value
        against the training scores is at most 0.05 (it scores below all
        but 5% of the training rows, the threshold of alibi-detect's default
        ``infer_threshold``), so that about 5% of new rows drawn like the
        training rows are flagged, whatever the detector; with fewer than
        19 training rows no row can be. Set a float when you
        know the share of outliers among the training rows.
    calibration_size : float in (0, 1), int or None, default=None
        Share (float) or number (int) of the training rows held out of
        training, drawn from ``random_state``, whose scores set ``offset_``
        and calibrate :meth:`predict_pvalues`: a new row drawn like the
        training rows is then flagged with probability at most
        ``contamination`` (``'auto'``: 0.05), the conformal guarantee, and
        its p-values are valid, however closely the networks fit their own
        rows. The networks train on the other rows only. ``None`` trains on
        every row and sets the threshold on their scores, which comes close
        to that rate for networks trained briefly but guarantees nothing.
        Set it on clean training rows when the false-alarm rate on new rows
        must hold; with outliers among the training rows, the held-out
        rows hold them too, and ``contamination`` is then the share flagged
        rather than a guaranteed level.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows and stop once
        their loss has not improved for ``n_iter_no_change`` epochs, keeping
        the weights of the best epoch. Off by default: a held-out loss keeps
        falling while the networks learn to reconstruct the outliers among
        the training rows, so it rewards exactly the memorising that
        ``epochs`` avoids, and it rarely ends training early. Useful on
        clean data with a large ``epochs``.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training rows held out for early stopping (at least
        one row).
    n_iter_no_change : int, default=10
        Epochs without an improvement of the validation loss by at least
        ``tol`` before stopping.
    tol : float, default=1e-3
        Smallest relative decrease of the validation loss that counts as an
        improvement: an epoch improves when its loss is below
        ``best - tol * |best|`` (``best * (1 - tol)`` for a positive loss),
        ``best`` being the lowest loss so far. Relative, unlike
        :class:`~sklearn.neural_network.MLPRegressor`'s absolute ``tol``,
        so that it means the same for a mean squared error near 0.1 and an
        ELBO in the hundreds. Raise it to stop sooner.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling and noise: the same value gives
        bit-identical scores on CPU.
    verbose : int, default=0
        ``1`` prints the loss after every epoch; ``2`` also shows a progress
        bar over the batches of each epoch (``keras.utils.Progbar``).

    Attributes
    ----------
    model_ : AE
        The trained Keras model; its networks map a batch to
        ``(n_samples, n_estimators, ...)``, one slice per member.
    feature_scale_ : ndarray of shape (n_estimators, n_features_in_)
        Typical squared error of each member in each feature on the training
        rows, the divisor of the errors: the mean without the largest
        ``trim_fraction`` of the errors (on 20,000 rows, drawn with
        ``random_state``, when there are more).
    member_mean_, member_std_ : ndarray of shape (n_estimators,)
        Mean and standard deviation of each member's normalised error on the
        training rows.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_loss_curve_ : list of float or None
        Loss of the held-out rows after each epoch (``None`` without early
        stopping).
    n_iter_ : int
        Number of epochs run.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    threshold_ : float
        ``-offset_``: the ensemble score (standardized error) above which a
        row is an outlier.
    calibration_scores_ : ndarray of shape (n_calibration,)
        Sorted scores that :meth:`predict_pvalues` compares against: those
        of the training rows (of positive ``sample_weight``), of the rows
        held out with ``calibration_size``, or of the reference batch of the
        last :meth:`infer_threshold`.
    calibration_weights_ : ndarray of shape (n_calibration,) or None
        The calibration rows' ``sample_weight`` aligned with
        ``calibration_scores_`` (each row counts as that many copies of
        itself); ``None`` when every row counts once.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    VAEOutlierDetector : Variational version.
    AEGMMOutlierDetector : Autoencoder plus Gaussian mixture (DAGMM).
    sklearn.ensemble.IsolationForest : Same interface, tree based.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import AEOutlierDetector
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> det = AEOutlierDetector(epochs=5, random_state=0).fit(X)
    >>> det.predict([[0.0, 0.0, 0.0, 0.0], [9.0, -9.0, 9.0, -9.0]])
    array([ 1, -1])
    """

    _parameter_constraints: dict = {
        **BaseAutoencoderDetector._parameter_constraints,
        **ENSEMBLE_CONSTRAINTS,
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
        return AE(encoder, decoder, dtype=DTYPE)

    def _loss(self, x, x_recon):
        return self._member_loss(self._squared_error_rows(x, x_recon))

    def _fit_extra(self, X, rng):
        self._fit_member_scaling(X, rng)

    def _feature_errors(self, x):
        return tf.square(x[:, None, :] - self.model_(x))

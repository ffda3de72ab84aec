"""Seq2Seq LSTM outlier detector for (multivariate) time-series windows."""

import math
import numbers

import keras
import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import BaseDeepDetector, input_ndim
from ._compiled import DTYPE, compiled, tf
from ._networks import instantiate_net
from .models.seq2seq import DecoderLSTM, EncoderLSTM, Seq2Seq, default_threshold_net

# relative floor of the levels' covariance (a ridge: a constant feature stays
# invertible) and of the scores' standard deviations
_LEVEL_RIDGE = 1e-6


class Seq2SeqOutlierDetector(OutlierMixin, BaseDeepDetector):
    """Sequence-to-sequence LSTM outlier detector (alibi-detect's Seq2Seq).

    Each row of ``X`` is one window of a time series. A bidirectional LSTM
    encodes the window; an LSTM decoder, initialised with the encoder's
    states, reconstructs it (teacher-forced while training, autoregressive
    when scoring), and a threshold network learns, per step and feature, the
    reconstruction error expected on normal data. The feature score of step
    ``t`` and feature ``f`` is the squared reconstruction error minus that
    threshold estimate; a window's reconstruction score is the mean of its
    top ``outlier_perc`` % feature scores (alibi-detect's outlier score).
    A reconstruction follows the level a window sits at, so the window's
    level is scored beside it (``level_weight``). ``score_samples`` returns
    the negative of the outlier score (higher = more normal), as
    :class:`~sklearn.ensemble.IsolationForest`.

    Input is a 3-D array ``(n_windows, seq_len, n_features)`` or a 2-D array
    ``(n_windows, seq_len * n_features)`` whose rows are the windows' steps
    laid end to end (step-major, as ``windows.reshape(n_windows, -1)``).
    :func:`sklearn_daml.timeseries.sliding_windows` makes windows from a
    series and :func:`sklearn_daml.timeseries.timestep_scores` maps window
    scores back to time steps.

    Parameters
    ----------
    seq_len : int or None, default=None
        Steps per window of a 2-D input; each row must split into
        ``seq_len`` steps of equal width. ``None`` treats a 2-D row as a
        univariate window (``seq_len = n_columns``, one feature per step),
        so a plain table goes through. For a 3-D input ``seq_len`` is read
        from the data (and must match when given).
    latent_dim : int, default=32
        Width of the decoder LSTM and of the concatenated encoder states;
        must be even (the bidirectional encoder has ``latent_dim // 2`` units
        per direction). Wider states reconstruct longer or more complex
        windows, at a higher cost per step.
    output_activation : str or None, default=None
        Activation of the decoder's output layer (``None``: linear, for
        scaled but unbounded series).
    threshold_net : keras.Model or callable, default=None
        Hidden layers of the threshold estimation network, applied to the
        decoder's hidden states; the model adds its own output layer of
        ``n_features`` units after them (as alibi-detect's ``Seq2Seq``).
        ``None`` is Dense 64 relu, Dense 64 relu (alibi-detect's default). A
        model is cloned at fit; a callable is called as
        ``threshold_net(latent_dim, n_features)``.
    beta : float, default=1.0
        Weight of the threshold network's loss.
    outlier_perc : float in (0, 100], default=100
        Share (percent) of the highest feature scores averaged into a
        window's reconstruction score; lower values focus on short, local
        anomalies.
    level_weight : float >= 0, default=1.0
        Weight of the window's level in its outlier score. The decoder
        reconstructs a window at the level it sits at, so a window normal in
        shape but wholly at an unusual level (a machine running hot for a
        day) reconstructs as well as any other. With ``level_weight > 0`` the
        score is the reconstruction score plus ``level_weight`` times the
        Mahalanobis distance of the window's level (each feature's mean over
        its steps) from the training windows' levels, both standardized on
        the training windows; ``1`` weighs them alike (see the benchmark
        page). ``0`` gives alibi-detect's score unchanged: use it when a
        window's level carries no information.
    epochs : int, default=100
        Passes over the training windows. alibi-detect trains 20; on a few
        hundred windows that is only a few hundred optimizer steps, and the
        LSTM's reconstruction is still far from converged. With many more
        windows, fewer epochs give as many steps.
    batch_size : int, default=64
        Windows per training step (alibi-detect's default).
    learning_rate : float, default=1e-3
        Learning rate of the optimizer named by ``optimizer``.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"} or keras.optimizers.Optimizer, default="adam"
        Optimizer; an instance is copied at fit.
    contamination : "auto" or float in (0, 0.5], default="auto"
        As in :class:`AEOutlierDetector` (``"auto"``: a window is flagged
        when its conformal p-value against the training windows' scores is
        at most 0.05).
    calibration_size : float in (0, 1), int or None, default=None
        Share (float) or number (int) of the windows held out of training,
        drawn from ``random_state``, whose scores set ``offset_`` and
        calibrate :meth:`predict_pvalues` (as in
        :class:`PixelCNNOutlierDetector`): a new window drawn like the
        training windows is then flagged with probability at most
        ``contamination`` (``'auto'``: 0.05), however closely the network
        fits the windows it trained on. Windows cut from one series overlap,
        so a held-out window shares most of its steps with training windows:
        the guarantee is for windows exchangeable with the training ones,
        not for a later stretch of the series, whose behaviour may drift.
        ``None`` trains on every window and sets the threshold on their
        scores.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the windows and stop once their
        loss has not improved for ``n_iter_no_change`` epochs, keeping the
        best weights. Off by default, as in alibi-detect (fixed epochs).
    validation_fraction, n_iter_no_change, tol
        As in :class:`AEOutlierDetector`.
    random_state : int, RandomState instance or None, default=None
        Seeds weights and shuffling: the same value gives bit-identical
        scores on CPU.
    verbose : int, default=0
        ``1`` prints the loss after every epoch; ``2`` also shows a progress
        bar over the batches of each epoch.

    Attributes
    ----------
    model_ : Seq2Seq
        The trained Keras model.
    n_steps_ : int
        Steps per window.
    n_channels_ : int
        Features per step.
    level_mean_ : ndarray of shape (n_channels_,)
        Mean level of the training windows (only when ``level_weight > 0``).
    level_precision_ : ndarray of shape (n_channels_, n_channels_)
        Inverse of the covariance of the training windows' levels, with a
        small ridge so that a constant feature stays invertible (only when
        ``level_weight > 0``).
    score_mean_, score_std_ : ndarray of shape (2,)
        Mean and standard deviation of the reconstruction score and of the
        level distance over the training windows (only when
        ``level_weight > 0``).
    loss_curve_, validation_loss_curve_, n_iter_, offset_, threshold_, calibration_scores_, \
calibration_weights_, n_features_in_, feature_names_in_
        As in :class:`AEOutlierDetector`; ``n_features_in_`` counts the
        flattened window (``n_steps_ * n_channels_``).

    See Also
    --------
    sklearn_daml.timeseries.sliding_windows : Windows from a series.
    sklearn_daml.timeseries.timestep_scores : Window scores to time steps.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import Seq2SeqOutlierDetector
    >>> t = np.arange(200)[:, None] + np.arange(16)[None, :]
    >>> windows = np.sin(0.3 * t)
    >>> det = Seq2SeqOutlierDetector(seq_len=16, latent_dim=8, epochs=5, random_state=0)
    >>> det = det.fit(windows)
    >>> det.feature_score_samples(windows[:3]).shape
    (3, 16, 1)
    """

    _parameter_constraints: dict = {
        **BaseDeepDetector._parameter_constraints,
        "seq_len": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "latent_dim": [Interval(numbers.Integral, 2, None, closed="left")],
        "output_activation": [str, None],
        "threshold_net": [keras.Model, callable, None],
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "outlier_perc": [Interval(numbers.Real, 0, 100, closed="right")],
        "level_weight": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        seq_len=None,
        latent_dim=32,
        output_activation=None,
        threshold_net=None,
        beta=1.0,
        outlier_perc=100.0,
        level_weight=1.0,
        epochs=100,
        batch_size=64,
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
        self.seq_len = seq_len
        self.latent_dim = latent_dim
        self.output_activation = output_activation
        self.threshold_net = threshold_net
        self.beta = beta
        self.outlier_perc = outlier_perc
        self.level_weight = level_weight
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

    # ------------------------------------------------------------- input
    def _validate_input(self, X, reset):
        """Flatten 3-D windows, validate, and fix ``n_steps_``/``n_channels_``."""
        steps = None
        ndim = input_ndim(X)
        if ndim == 1:
            raise ValueError(
                f"X is 1-D, a series of {np.shape(X)[0]} values; {type(self).__name__} "
                "scores windows of a series. Reshape your data into windows first: "
                "sklearn_daml.timeseries.sliding_windows(series, seq_len) gives "
                "(n_windows, seq_len, n_features), and timeseries.timestep_scores "
                "spreads the windows' scores back onto the time steps."
            )
        if ndim is not None and ndim > 3:
            raise ValueError(
                f"X has {ndim} dimensions; {type(self).__name__} takes 3-D windows "
                "(n_windows, seq_len, n_features), or 2-D rows (n_windows, seq_len * "
                "n_features) with seq_len set; sklearn_daml.timeseries.sliding_windows "
                "makes windows from a series."
            )
        if ndim == 3:
            X = np.asarray(X)
            steps = X.shape[1]
            if reset and self.seq_len is not None and steps != self.seq_len:
                raise ValueError(
                    f"X has windows of {steps} steps but seq_len={self.seq_len}."
                )
            if not reset and (steps, X.shape[2]) != (self.n_steps_, self.n_channels_):
                raise ValueError(
                    f"X has windows of shape {X.shape[1:]}, but {type(self).__name__} "
                    f"was fitted on windows of shape {(self.n_steps_, self.n_channels_)}."
                )
            X = X.reshape(X.shape[0], -1)
        X = super()._validate_input(X, reset)
        if reset:
            if steps is None:
                steps = self.seq_len if self.seq_len is not None else X.shape[1]
            if X.shape[1] % steps:
                raise ValueError(
                    f"Rows of {X.shape[1]} values do not split into seq_len={steps} "
                    "steps of equal width; pass 3-D windows or a seq_len that divides "
                    "the row length."
                )
            self.n_steps_, self.n_channels_ = steps, X.shape[1] // steps
        return X

    def _as_sequences(self, x):
        return tf.reshape(x, [-1, self.n_steps_, self.n_channels_])

    # ----------------------------------------------------------- network
    def _build_model(self, X):
        encoder = EncoderLSTM(self.latent_dim, dtype=DTYPE)
        decoder = DecoderLSTM(
            self.latent_dim, self.n_channels_, self.output_activation, dtype=DTYPE
        )
        if self.threshold_net is not None:
            threshold = instantiate_net(self.threshold_net, self.latent_dim, self.n_channels_)
        else:
            threshold = default_threshold_net(dtype=DTYPE)
        return Seq2Seq(encoder, decoder, threshold, self.n_channels_, beta=self.beta, dtype=DTYPE)

    def _forward(self, model, x, training):
        return model(self._as_sequences(x), training=training)

    def _loss(self, x, x_recon):
        return tf.reduce_mean(tf.square(self._as_sequences(x) - x_recon))

    # ----------------------------------------------------------- scoring
    def _feature_outlier_scores(self, x):
        """Per step and feature: score_fn(x, x_recon) - threshold estimate."""
        sequences = self._as_sequences(x)
        x_recon, threshold_est = self.model_.decode_seq(sequences)
        return self.model_.score_fn(sequences, x_recon) - threshold_est

    def _reconstruction_score(self, x):
        """alibi-detect's score: the mean of the top ``outlier_perc`` % feature scores."""
        scores = tf.reshape(self._feature_outlier_scores(x), [tf.shape(x)[0], -1])
        n_top = max(1, math.ceil(self.outlier_perc / 100 * self.n_features_in_))
        return tf.reduce_mean(tf.math.top_k(scores, k=n_top).values, axis=-1)

    def _level_distance(self, x):
        """Mahalanobis distance of each window's level from the training levels."""
        centred = tf.reduce_mean(self._as_sequences(x), axis=1) - self.level_mean_
        squared = tf.reduce_sum(tf.matmul(centred, self.level_precision_) * centred, axis=-1)
        return tf.sqrt(tf.maximum(squared, 0.0))

    def _fit_extra(self, X, rng):
        """Level statistics and the two scores' moments on the training windows."""
        for name in ("level_mean_", "level_precision_", "score_mean_", "score_std_"):
            self.__dict__.pop(name, None)  # from a previous fit with a level
        if self.level_weight == 0:
            return
        weights = self._fit_weights(X.shape[0])
        levels = np.asarray(X).reshape(X.shape[0], self.n_steps_, self.n_channels_).mean(axis=1)
        self.level_mean_ = np.average(levels, axis=0, weights=weights)
        covariance = np.atleast_2d(np.cov(levels, rowvar=False, aweights=weights, ddof=0))
        ridge = _LEVEL_RIDGE * max(np.trace(covariance) / self.n_channels_, np.finfo(np.float64).tiny)
        self.level_precision_ = np.linalg.inv(covariance + ridge * np.eye(self.n_channels_))
        both = compiled(self._both_scores, self.n_features_in_)
        scores = self._map_batches(both, X)
        self.score_mean_ = np.average(scores, axis=0, weights=weights)
        std = np.sqrt(np.average(np.square(scores - self.score_mean_), axis=0, weights=weights))
        self.score_std_ = np.maximum(std, _LEVEL_RIDGE * np.maximum(np.abs(self.score_mean_), 1.0))

    def _both_scores(self, x):
        return tf.stack([self._reconstruction_score(x), self._level_distance(x)], axis=-1)

    def _outlier_score(self, x):
        if self.level_weight == 0:
            return self._reconstruction_score(x)
        standardized = (self._both_scores(x) - self.score_mean_) / self.score_std_
        return standardized[:, 0] + self.level_weight * standardized[:, 1]

    def _compile_scorer(self):
        super()._compile_scorer()
        self._compiled["feature"] = compiled(self._feature_outlier_scores, self.n_features_in_)

    def _scoring_row_width(self):
        return self.n_steps_ * (16 * self.latent_dim + 8 * self.n_channels_ + 256)

    def feature_score_samples(self, X):
        """Normality score of every step and feature of each window.

        The negative of ``(x - x_recon) ** 2 - threshold_estimate``: higher is
        more normal, as for ``score_samples``; the lowest entries show where
        in a window, and in which feature, its shape departs from normal
        data. The window's level (``level_weight``) is a property of the
        whole window and is not in these scores.

        Parameters
        ----------
        X : array-like of shape (n_windows, seq_len, n_features) or (n_windows, seq_len * n_features)

        Returns
        -------
        scores : ndarray of shape (n_windows, seq_len, n_features), float64
        """
        check_is_fitted(self)
        return self._normality(self._compiled["feature"], self._validate_input(X, reset=False))

"""Conformal p-values for any outlier detector: :class:`ConformalOutlierDetector`.

A meta-estimator, as scikit-learn's ``CalibratedClassifierCV``: it fits
clones of the detector it wraps on part of the rows, scores the rows they
did not see, and turns those calibration scores into a threshold
(:func:`._thresholds.conformal_offset`), p-values and false-discovery
control (:class:`._thresholds.PValuesMixin`, as every detector of the
package).
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import KFold, check_cv, train_test_split
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from ._persistence import save
from ._thresholds import PValuesMixin, conformal_offset, conformal_rank


class ConformalOutlierDetector(PValuesMixin, OutlierMixin, BaseEstimator):
    """Conformal p-values, a guaranteed false-alarm rate and false-discovery
    control for any outlier detector.

    Wraps a detector with scikit-learn's outlier interface (``fit`` and
    ``score_samples``, higher = more normal): IsolationForest,
    LocalOutlierFactor with ``novelty=True``, a detector of sklearn-daml, or
    a pipeline ending in one. Clones of it are fitted on part of the rows and
    score the rows they did not see, the calibration rows. A new row's
    p-value is the share of calibration scores at or below its own score
    (``predict_pvalues``); ``predict`` flags the rows whose p-value is at
    most ``contamination``, and ``predict_fdr`` the rows that the
    Benjamini-Hochberg procedure rejects over a batch.

    If the training rows are inliers and a new inlier is drawn like them
    (exchangeable), its p-value is valid: ``P(p <= t) <= t``. So
    ``contamination`` is the false-alarm rate: a new inlier is flagged with
    probability at most ``contamination`` and at least
    ``contamination - 1 / (n_calibration + 1)``, whatever the detector and
    the data. The detector's quality decides the power, how often outliers
    are flagged.

    Read more in the user guide: :ref:`conformal`.

    Parameters
    ----------
    estimator : estimator instance, default=None
        The detector to calibrate; it must have ``score_samples``. It is
        cloned, never changed. ``None`` is an
        :class:`~sklearn.ensemble.IsolationForest` seeded from
        ``random_state``.
    method : {"split", "cv"}, default="split"
        ``"split"``: one clone, fitted on the rows that ``calibration_size``
        does not hold out; the held-out rows calibrate. Exact finite-sample
        guarantee, but the detector trains on fewer rows.
        ``"cv"``: cross-conformal. One clone per fold of ``cv``, fitted on
        the other folds and scoring its own, so that every row calibrates; a
        new row's score is the mean of the clones' scores. It costs ``cv``
        fits and ``cv`` scorings, and its guarantee is weaker (see Notes).
    calibration_size : float in (0, 1) or int, default=0.5
        With ``method="split"``, the share (float) or number (int) of rows
        held out for calibration, drawn at random. More calibration rows give
        finer p-values and a false-alarm rate closer to ``contamination`` on
        a given fit; fewer leave more rows to the detector. Half and half is
        the usual split (Lei et al., 2018).
    cv : int, cross-validation generator or iterable, default=5
        With ``method="cv"``, the folds: their number (shuffled
        :class:`~sklearn.model_selection.KFold`; ``None`` is 5), a splitter
        (called as ``cv.split(X)``) or an iterable of ``(train, test)`` index
        arrays. The test folds must hold every row exactly once, as KFold's
        do.
    contamination : float in (0, 0.5], default=0.1
        Level of the test of each row, the false-alarm rate on new inliers:
        ``predict`` flags the rows whose p-value is at most
        ``contamination``. Not a share of the training rows: on the rows the
        detector was fitted on, the share flagged has no guarantee. The same
        level as ``predict_fdr``'s default ``alpha``. A row can be flagged
        only with at least ``1 / contamination - 1`` calibration rows; fit
        warns with fewer.
    random_state : int, RandomState instance or None, default=None
        Draws the calibration rows (or the folds) and seeds the default
        IsolationForest. Pass an int for reproducible results. The random
        state of ``estimator`` itself is left as it is.

    Attributes
    ----------
    estimator_ : estimator instance
        With ``method="split"``, the fitted clone of ``estimator``.
    estimators_ : list of estimator instances
        With ``method="cv"``, the fitted clones, one per fold.
    calibration_scores_ : ndarray of shape (n_calibration,)
        Sorted scores of the calibration rows, each by a clone that did not
        see it: the held-out rows (``"split"``) or every training row
        (``"cv"``). The p-values of ``predict_pvalues`` compare against them.
    calibration_weights_ : None
        The calibration rows count once each (rows of zero
        ``sample_weight`` are left out).
    offset_ : float
        The score below which a row's p-value is at most ``contamination``
        (the ``k``-th smallest calibration score,
        ``k = floor(contamination * (n_calibration + 1))``); ``-inf`` when
        no p-value can be that small.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : The default detector.
    sklearn.calibration.CalibratedClassifierCV : The same construction for
        the probabilities of a classifier.

    Notes
    -----
    With ``method="split"`` the p-values of new rows are valid in finite
    samples, and the p-values of a batch are positively dependent (PRDS),
    so the Benjamini-Hochberg procedure of ``predict_fdr`` controls the
    false discovery rate (Bates et al., 2023). The price is that the detector
    trains on fewer rows.

    ``method="cv"`` trains every clone on ``(cv - 1) / cv`` of the rows,
    calibrates on every row, each scored by the clone that did not see it,
    and scores a new row by the mean of the clones' scores. Cross-conformal
    p-values are valid only up to a factor: in the worst case a new inlier
    is flagged with probability up to about twice the level (the
    ``1 - 2 * alpha`` coverage of Barber et al., 2021, proven for the
    per-fold comparison of Vovk, 2015; the mean of the clones is not covered
    by the proof). In practice the rate is close to nominal, and a mean of
    clones scores new inliers less extremely than a single clone does, which
    tends to err on the conservative side.

    Outliers among the training rows break exchangeability: their scores
    are among the calibration scores. As long as they score lower than the
    inliers, they only raise p-values: new inliers are flagged at most as
    often as ``contamination`` says, but new outliers are flagged less often
    (lower power). Fit on clean rows where you can.

    ``fit_predict`` is not available: the guarantee is for new rows, and
    the rows a clone was fitted on score as more normal than new ones.

    References
    ----------
    S. Bates, E. Candès, L. Lei, Y. Romano and M. Sesia, "Testing for
    outliers with conformal p-values", Annals of Statistics 51(1), 2023.

    V. Vovk, "Cross-conformal predictors", Annals of Mathematics and
    Artificial Intelligence 74, 2015.

    R. F. Barber, E. Candès, A. Ramdas and R. J. Tibshirani, "Predictive
    inference with the jackknife+", Annals of Statistics 49(1), 2021.

    J. Lei, M. G'Sell, A. Rinaldo, R. J. Tibshirani and L. Wasserman,
    "Distribution-free predictive inference for regression", Journal of the
    American Statistical Association 113(523), 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import ConformalOutlierDetector
    >>> X = np.random.RandomState(0).normal(size=(400, 2))
    >>> det = ConformalOutlierDetector(random_state=0).fit(X)
    >>> det.predict([[0, 0], [5, 5]])
    array([ 1, -1])
    >>> det.predict_pvalues([[0, 0], [5, 5]]).round(3)  # 200 calibration rows: 1/201
    array([0.97 , 0.005])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"]), None],
        "method": [StrOptions({"split", "cv"})],
        "calibration_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "cv": ["cv_object"],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="split",
        calibration_size=0.5,
        cv=5,
        contamination=0.1,
        random_state=None,
    ):
        self.estimator = estimator
        self.method = method
        self.calibration_size = calibration_size
        self.cv = cv
        self.contamination = contamination
        self.random_state = random_state

    def _get_estimator(self, random_state=None):
        """The detector to clone: ``estimator``, or the default one."""
        if self.estimator is None:
            return IsolationForest(random_state=random_state)
        return self.estimator

    def _check_input(self, X, reset):
        """``X`` for the wrapped detector, checked as rows of ``n_features_in_``
        features; its values are left to the detector, which may take NaN,
        strings or a sparse matrix. A pandas DataFrame is passed on as it is,
        so that a wrapped pipeline can select its columns by name."""
        checked = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite=False,
            ensure_min_samples=2 if reset else 1,
        )
        return X if hasattr(X, "iloc") and hasattr(X, "columns") else checked

    @_fit_context(
        # the wrapped estimator's parameters are validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, sample_weight=None):
        """Fit clones of the detector and score the calibration rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows, ideally inliers only (see Notes of the class).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, passed to the wrapped detector's
            ``fit`` for the rows it is fitted on (a ``ValueError`` if its
            ``fit`` takes none). Each calibration row counts once in the
            p-values, whatever its weight. A row of weight 0 is left out of
            the fits and of the calibration.

        Returns
        -------
        self : object
            Fitted estimator. A fit that fails leaves it as it was.
        """
        previous = dict(self.__dict__)
        try:
            return self._fit(X, sample_weight)
        except Exception:
            self.__dict__.clear()  # validation may have reset the feature names
            self.__dict__.update(previous)
            raise

    def _fit(self, X, sample_weight):
        X = self._check_input(X, reset=True)
        rng = check_random_state(self.random_state)
        estimator = self._get_estimator(rng.randint(np.iinfo(np.int32).max))
        if not hasattr(estimator, "score_samples"):
            raise TypeError(
                f"{type(self).__name__} needs a detector with score_samples (higher = more "
                "normal), such as IsolationForest, LocalOutlierFactor(novelty=True) or a "
                f"detector of sklearn-daml; {estimator!r} has none."
            )
        if sample_weight is not None:
            sample_weight = self._check_weights(sample_weight, X, estimator)
        fit = self._fit_split if self.method == "split" else self._fit_cv
        fitted, rows, scores = fit(estimator, X, sample_weight, rng)
        if sample_weight is not None:
            scores = scores[sample_weight[rows] > 0]
        if np.isnan(scores).any():
            raise ValueError(
                f"{estimator!r} gave NaN scores to {np.isnan(scores).sum()} calibration "
                "rows; p-values need a score for every row."
            )
        for name in ("estimator_", "estimators_"):  # those of a fit with the other method
            self.__dict__.pop(name, None)
        if self.method == "split":
            self.estimator_ = fitted
        else:
            self.estimators_ = fitted
        self._set_calibration(scores)
        self.offset_ = conformal_offset(self.calibration_scores_, self.contamination)
        self._warn_if_nothing_can_be_flagged()
        return self

    @staticmethod
    def _check_weights(sample_weight, X, estimator):
        """Validated weights; ``None`` for weights all one."""
        if not has_fit_parameter(estimator, "sample_weight"):
            raise ValueError(
                f"sample_weight was given, but the fit of {type(estimator).__name__} takes "
                "no sample_weight. Fit without it, or wrap a detector whose fit takes it."
            )
        sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        return None if np.all(sample_weight == 1) else sample_weight

    @staticmethod
    def _fit_clone(estimator, X, rows, sample_weight):
        """A clone of ``estimator`` fitted on ``rows`` of ``X`` (those of
        positive weight)."""
        fit_params = {}
        if sample_weight is not None:
            rows = rows[sample_weight[rows] > 0]
            fit_params["sample_weight"] = sample_weight[rows]
        return clone(estimator).fit(_safe_indexing(X, rows), **fit_params)

    @staticmethod
    def _scores(estimators, X):
        """Mean ``score_samples`` of ``estimators`` on ``X``, float64."""
        total = np.asarray(estimators[0].score_samples(X), dtype=np.float64)
        for est in estimators[1:]:
            total = total + est.score_samples(X)
        return total / len(estimators) if len(estimators) > 1 else total

    def _fit_split(self, estimator, X, sample_weight, rng):
        """``(fitted clone, calibration rows, their scores)``."""
        train, calibration = train_test_split(
            np.arange(_num_samples(X)), test_size=self.calibration_size, random_state=rng
        )
        fitted = self._fit_clone(estimator, X, np.sort(train), sample_weight)
        return fitted, calibration, self._scores([fitted], _safe_indexing(X, calibration))

    def _folds(self, X, rng):
        """The ``(train, test)`` folds of ``cv``; their test folds partition the rows."""
        if self.cv is None or isinstance(self.cv, Integral):
            cv = KFold(5 if self.cv is None else self.cv, shuffle=True, random_state=rng)
        else:
            cv = check_cv(self.cv)
        folds = list(cv.split(X))
        times_tested = np.zeros(_num_samples(X), dtype=int)
        for _, test in folds:
            np.add.at(times_tested, test, 1)
        if np.any(times_tested != 1):
            raise ValueError(
                "The test folds of cv must hold every row exactly once (cross-conformal "
                "calibration scores every row once); "
                f"{np.count_nonzero(times_tested == 0)} rows are in no test fold and "
                f"{np.count_nonzero(times_tested > 1)} in several. Use KFold-like folds."
            )
        return folds

    def _fit_cv(self, estimator, X, sample_weight, rng):
        """``(fitted clones, every row, its out-of-fold score)``."""
        scores = np.empty(_num_samples(X))
        fitted = []
        for train, fold in self._folds(X, rng):
            fitted.append(self._fit_clone(estimator, X, train, sample_weight))
            scores[fold] = self._scores(fitted[-1:], _safe_indexing(X, fold))
        return fitted, np.arange(_num_samples(X)), scores

    def _warn_if_nothing_can_be_flagged(self):
        """Warn when no p-value can be as small as ``contamination``."""
        n_calibration = self.calibration_scores_.size
        if conformal_rank(n_calibration, self.contamination) > 0:
            return
        needed = n_calibration + 1
        while conformal_rank(needed, self.contamination) == 0:
            needed += 1
        warnings.warn(
            f"{type(self).__name__} has {n_calibration} calibration rows, so its smallest "
            f"p-value, 1/{n_calibration + 1}, is above contamination={self.contamination} "
            f"and predict flags no row. At level {self.contamination}, at least {needed} "
            "calibration rows are needed: fit on more rows, or raise calibration_size "
            "(method='split') or contamination.",
            UserWarning,
            stacklevel=5,  # the caller of fit, past _fit, fit and _fit_context's wrapper
        )

    # ------------------------------------------------------------- scoring
    def score_samples(self, X):
        """Score of the wrapped detector (higher = more normal).

        With ``method="cv"``, the mean of the clones' scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        estimators = self.estimators_ if hasattr(self, "estimators_") else [self.estimator_]
        return self._scores(estimators, X)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative exactly where the p-value is
        at most ``contamination``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers and -1 for outliers, the rows whose p-value is at
        most ``contamination``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,), int
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier

    def _fit_predict_unavailable(self):
        raise AttributeError(
            "fit_predict is not available: the conformal guarantee holds for new rows, "
            "not for the rows the detector was fitted on. Fit on training rows and "
            "predict on new ones."
        )

    @available_if(_fit_predict_unavailable)
    def fit_predict(self, X, y=None, **kwargs):
        """Not available: see Notes of the class."""

    def save(self, path):
        """Save the detector to one file that :func:`sklearn_daml.load` reads
        without pickle, running no code from the file.

        The wrapped detector is saved with it: a detector of sklearn-daml,
        IsolationForest, LocalOutlierFactor, or a pipeline of them and of
        the scikit-learn transformers that :func:`sklearn_daml.save` lists.

        Parameters
        ----------
        path : str or path-like
            File to write; replaced if it exists.

        Raises
        ------
        TypeError
            When the wrapped detector cannot be stored without pickle; the
            message names it.
        """
        save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator_tags = get_tags(self._get_estimator())
        tags.input_tags.sparse = estimator_tags.input_tags.sparse
        tags.input_tags.allow_nan = estimator_tags.input_tags.allow_nan
        return tags

"""Decision thresholds, conformal p-values and false-discovery control.

:class:`ThresholdMixin` turns scores into decisions. At fit, ``offset_`` is
set from the training rows' scores (or those of rows held out of training)
and ``contamination`` (a weighted
percentile, or for ``'auto'`` the conformal test at level
:data:`AUTO_LEVEL`); ``infer_threshold`` sets it
from a reference batch, as alibi-detect does; ``threshold_`` reads it in the
model's own units. ``decision_function`` and ``predict`` use ``offset_``.

:class:`PValuesMixin` gives every detector and ``ConformalOutlierDetector``
one ``predict_pvalues`` and ``predict_fdr``: conformal p-values against the
calibration scores, and the Benjamini-Hochberg procedure over a batch.
With ``calibration_size``, :class:`ThresholdMixin` takes the calibration
scores (and ``offset_``) from rows the network never trained on.

:func:`conformal_pvalues`, :func:`conformal_offset` and
:func:`benjamini_hochberg` are the pure functions underneath.
"""

import numbers
import warnings

import numpy as np
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ._dask import dask_blocks
from ._seeding import fit_seed
from ._weights import canonical_order, weighted_percentile

# the level of contamination="auto": a row is flagged when its conformal
# p-value against the training rows' scores is at most this
AUTO_LEVEL = 0.05


class PValuesMixin:
    """``predict_pvalues`` and ``predict_fdr`` against ``calibration_scores_``.

    The owner keeps its calibration scores with :meth:`_set_calibration`:
    ``calibration_scores_`` (sorted) and ``calibration_weights_`` (aligned
    with them, a row counted as that many copies of itself; ``None`` when
    every row counts once).
    """

    def _set_calibration(self, scores, weights=None):
        """Keep ``scores`` (and their rows' ``weights``; rows of weight zero
        are left out) as the calibration scores, sorted."""
        scores = np.asarray(scores, dtype=np.float64)
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            scores, weights = scores[weights > 0], weights[weights > 0]
        order = np.argsort(scores, kind="stable")
        self.calibration_scores_ = scores[order]
        self.calibration_weights_ = None if weights is None else weights[order]

    def _calibration(self):
        """``(calibration_scores_, calibration_weights_)``; a clear error for
        a detector saved before it kept them."""
        check_is_fitted(self)
        if not hasattr(self, "calibration_scores_"):
            raise AttributeError(
                f"This {type(self).__name__} has no calibration scores: it was saved by an "
                "older version. Fit it again, or call infer_threshold with rows it did not "
                "train on."
            )
        return self.calibration_scores_, getattr(self, "calibration_weights_", None)

    @dask_blocks
    def predict_pvalues(self, X):
        """Conformal p-value of each row: small for outliers.

        The share of the calibration scores (``calibration_scores_``) at or
        below the row's score, counting the row itself,
        ``(1 + #{calibration scores <= score}) / (n_calibration + 1)``, each
        calibration row counted as often as its weight; in
        ``[1 / (n_calibration + 1), 1]``. When the calibration rows are rows
        the detector did not train on, drawn like the new inliers, the
        p-value is valid: for a new inlier, ``P(p <= t) <= t`` for every
        ``t`` (Bates et al., 2023).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples, as in ``score_samples``; or a dask collection
            (the result is then a lazy dask array).

        Returns
        -------
        pvalues : ndarray of shape (n_samples,), float64
        """
        calibration, weights = self._calibration()
        return conformal_pvalues(calibration, self.score_samples(X), weights)

    def predict_fdr(self, X, alpha=0.1):
        """+1 for inliers and -1 for the rows flagged at false discovery rate
        ``alpha`` over the batch ``X``.

        The Benjamini-Hochberg procedure on the rows' p-values
        (:meth:`predict_pvalues`): with valid p-values, the expected share
        of inliers among the flagged rows is at most ``alpha``. The rows are
        tested together, so a row's label depends on the rest of the batch.
        Flagging ``k`` of ``m`` rows needs ``k`` p-values of at most
        ``alpha * k / m``, and no p-value is below
        ``1 / (n_calibration + 1)``: a large batch needs many calibration
        rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The batch of rows to test, as in ``score_samples`` (a dask
            collection is computed: the test needs every p-value at once).
        alpha : float in (0, 1), default=0.1
            Target false discovery rate.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,), int
        """
        validate_parameter_constraints(
            {"alpha": [Interval(numbers.Real, 0, 1, closed="neither")]},
            {"alpha": alpha},
            caller_name="predict_fdr",
        )
        pvalues = np.asarray(self.predict_pvalues(X), dtype=np.float64)
        return np.where(benjamini_hochberg(pvalues, alpha), -1, 1)


class ThresholdMixin(PValuesMixin):
    """``offset_``, ``threshold_``, ``infer_threshold``, and the p-values of
    :class:`PValuesMixin` against the calibration rows' scores.

    The calibration rows are the training rows, or with ``calibration_size``
    rows held out of training: the fit calls :meth:`_hold_out` before it
    trains and :meth:`_set_offset` with the fitted detector's scores.
    Held-out rows get weight zero for the whole fit, so no training pass,
    statistic or early-stopping split sees them. Their scores are
    ``calibration_scores_``, and ``offset_`` is the conformal threshold of
    :func:`conformal_offset` at level ``contamination`` (``'auto'``:
    :data:`AUTO_LEVEL`), so that a new row drawn like the training rows is
    flagged with probability at most that level, however closely the
    network fits its own rows (Bates et al., 2023).
    """

    _calibration_constraints: dict = {
        "calibration_size": [
            Interval(numbers.Real, 0, 1, closed="neither"),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
    }

    def _hold_out(self, X):
        """With ``calibration_size``, draw the rows of ``X`` held out and
        give them weight zero in ``_sample_weight``; return ``(mask, their
        weights)``. ``None`` without."""
        if self.calibration_size is None:
            return None
        held_out = self._held_out_rows(X)
        weights = np.ones(X.shape[0]) if self._sample_weight is None else self._sample_weight
        self._sample_weight = np.where(held_out, 0.0, weights)
        return held_out, weights[held_out]

    def _held_out_rows(self, X):
        """Boolean mask of the ``calibration_size`` rows of ``X`` held out (a
        share is rounded), at least one and leaving at least one to train
        on. They are drawn among the rows in their canonical order, so the
        same rows are held out whatever the order of the rows of ``X``."""
        n_rows = X.shape[0]
        if isinstance(self.calibration_size, numbers.Integral):
            if self.calibration_size >= n_rows:
                raise ValueError(
                    f"calibration_size={self.calibration_size} leaves no rows to train on: "
                    f"X has {n_rows} rows."
                )
            n_held_out = self.calibration_size
        else:
            n_held_out = min(max(1, round(self.calibration_size * n_rows)), n_rows - 1)
        # a stream of its own: the fit's draws start from the same seed
        rng = np.random.RandomState([fit_seed(self.random_state), 1])
        mask = np.zeros(n_rows, dtype=bool)
        mask[canonical_order(X)[rng.permutation(n_rows)[:n_held_out]]] = True
        return mask

    def _set_offset(self, scores, held_out=None):
        """``offset_`` and the calibration scores from the fitted detector's
        ``scores`` of every row of the training ``X``: those of the training
        rows (:meth:`_offset`), or of the rows ``held_out``
        (:meth:`_hold_out`)."""
        if held_out is None:
            self.offset_ = self._offset(scores, self._sample_weight)
            return
        mask, weights = held_out
        self._set_calibration(scores[mask], weights)
        level = AUTO_LEVEL if self.contamination == "auto" else self.contamination
        self.offset_ = conformal_offset(self.calibration_scores_, level, self.calibration_weights_)
        if self.offset_ == -np.inf:
            warnings.warn(
                f"{type(self).__name__} held out {mask.sum()} rows to set its threshold "
                f"(calibration_size={self.calibration_size!r}), too few for a p-value as small "
                f"as {level}: predict flags no row. Fit on more rows, or raise "
                "calibration_size or contamination.",
                UserWarning,
                stacklevel=5,
            )

    def _offset(self, scores, weights=None):
        """Offset on the training scores (weighted percentiles with weights).

        A float ``contamination`` takes that percentile of the training
        scores (as IsolationForest). ``'auto'`` assumes no outlier share: it
        flags a row when its conformal p-value against the training scores
        is at most ``AUTO_LEVEL`` (:func:`conformal_offset`, the rows
        counted as often as their weights), whatever the detector and the
        shape of its scores. The same scores become the calibration scores
        of the p-values.
        """
        self._set_calibration(scores, weights)
        if self.contamination == "auto":
            return conformal_offset(scores, AUTO_LEVEL, weights)
        return float(weighted_percentile(scores, 100.0 * self.contamination, weights))

    def infer_threshold(self, X, threshold_perc=95.0):
        """Set the threshold so that ``threshold_perc`` % of ``X`` are inliers.

        As alibi-detect's ``infer_threshold``: ``threshold_`` becomes the
        ``threshold_perc`` percentile of the outlier scores
        (``-score_samples``) of a reference batch ``X``, and ``offset_``
        follows (``offset_ = -threshold_``), so ``predict`` and
        ``decision_function`` use it. The batch's scores also become the
        calibration scores of :meth:`predict_pvalues` and
        :meth:`predict_fdr`: with rows the network did not train on, drawn
        like the inliers (a clean validation split), those p-values are
        valid. The network is unchanged; the next ``fit`` sets the
        threshold and the calibration from the training rows again.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Reference rows, for example clean validation data (sparse where
            the detector takes sparse input, as in ``score_samples``).
        threshold_perc : float in [0, 100], default=95.0
            Percentage of the reference rows whose outlier score is at most
            the threshold (they are predicted inliers).

        Returns
        -------
        self : object
            The detector, with ``offset_`` set.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_daml import AEGMMOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(300, 4))
        >>> det = AEGMMOutlierDetector(epochs=2, random_state=0).fit(X)
        >>> det = det.infer_threshold(X, threshold_perc=90)
        >>> float(np.mean(det.predict(X) == 1))
        0.9
        """
        if not isinstance(threshold_perc, numbers.Real) or not 0 <= threshold_perc <= 100:
            raise ValueError(
                f"threshold_perc must be a number in [0, 100]; got {threshold_perc!r}."
            )
        scores = self.score_samples(X)
        self.offset_ = -float(np.percentile(-scores, threshold_perc))
        self._set_calibration(scores)
        return self

    @property
    def threshold_(self):
        """Decision threshold in the model's own units (energy or error).

        Rows whose outlier score (``-score_samples``) exceeds it are
        predicted as outliers; equals ``-offset_``.
        """
        check_is_fitted(self, "offset_")
        return -self.offset_


# ------------------------------------------------------- conformal p-values
def _calibration_array(calibration_scores):
    scores = np.asarray(calibration_scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(
            "calibration_scores must be a non-empty 1-D array of scores; got shape "
            f"{scores.shape}."
        )
    if np.isnan(scores).any():
        raise ValueError("calibration_scores must not hold NaN.")
    return scores


def _check_level(level, name):
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"{name} must be a number in (0, 1); got {level!r}.")
    return float(level)


def conformal_rank(n_calibration, level):
    """Number of calibration scores a flagged row must score below.

    The largest ``k`` with ``k / (n_calibration + 1) <= level`` (computed
    as :func:`conformal_pvalues` computes a p-value, so that the two agree
    to the last bit), that is ``floor(level * (n_calibration + 1))``; ``0``
    when even the smallest p-value, ``1 / (n_calibration + 1)``, is above
    ``level``, and then no row can be flagged.

    Parameters
    ----------
    n_calibration : int
        Number of calibration scores.
    level : float in (0, 1)
        Level of the test.

    Returns
    -------
    k : int
    """
    level = _check_level(level, "level")
    k = min(int(np.floor(level * (n_calibration + 1))), n_calibration)
    while k < n_calibration and (k + 1) / (n_calibration + 1) <= level:
        k += 1
    while k > 0 and k / (n_calibration + 1) > level:
        k -= 1
    return k


def conformal_pvalues(calibration_scores, scores, weights=None):
    """Split-conformal p-values of ``scores`` against ``calibration_scores``.

    Scores follow the ``score_samples`` convention (higher = more normal),
    and a row's p-value is the share of calibration scores at or below its
    own, counting the row itself::

        p(x) = (1 + #{i : s_i <= s(x)}) / (n + 1)

    If the calibration rows and a new row are exchangeable (drawn alike,
    the new one unseen by the detector, as the calibration rows are), then
    ``P(p(x) <= t) <= t`` for every ``t``: a small p-value is evidence that
    the row is an outlier (Bates et al., 2023). Ties count against the row,
    so the p-values stay valid with tied scores.

    Parameters
    ----------
    calibration_scores : array-like of shape (n_calibration,)
        Scores of rows the detector did not see during its fit; not NaN.
    scores : array-like
        Scores of the rows to test, of any shape.
    weights : array-like of shape (n_calibration,), default=None
        Non-negative weights of the calibration rows, each counted as that
        many copies of its row: ``(1 + W(s)) / (W + 1)``, with ``W(s)`` the
        weight of the calibration scores at or below ``s`` and ``W`` the
        total (for integer weights, the p-values against the rows
        repeated). ``None``: each row once.

    Returns
    -------
    pvalues : ndarray of the shape of ``scores``, float64
        In ``[1 / (n + 1), 1]``. A NaN score gets ``1``.

    See Also
    --------
    conformal_offset : The threshold on the scores of ``p <= level``.
    benjamini_hochberg : Which of many p-values to reject at a false
        discovery rate.

    References
    ----------
    S. Bates, E. Candès, L. Lei, Y. Romano and M. Sesia, "Testing for
    outliers with conformal p-values", Annals of Statistics 51(1), 2023.

    Examples
    --------
    >>> from sklearn_daml._thresholds import conformal_pvalues
    >>> conformal_pvalues([0.1, 0.2, 0.3, 0.4], [0.0, 0.2, 0.25, 1.0])
    array([0.2, 0.6, 0.6, 1. ])
    >>> conformal_pvalues([0.1, 0.2, 0.3, 0.4], [0.0, 0.2, 0.25, 1.0], weights=[1, 1, 1, 2])
    array([0.16666667, 0.5       , 0.5       , 1.        ])
    """
    calibration = _calibration_array(calibration_scores)
    scores = np.asarray(scores, dtype=np.float64)
    if weights is None:
        calibration = np.sort(calibration)
        at_or_below = np.searchsorted(calibration, scores, side="right")
        at_or_below = np.where(np.isnan(scores), calibration.size, at_or_below)
        return (1 + at_or_below) / (calibration.size + 1)
    values, pvalues, below_all = _weighted_pvalue_steps(calibration, weights)
    at_or_below = np.searchsorted(values, scores, side="right")
    return np.where(np.isnan(scores), 1.0, np.r_[below_all, pvalues][at_or_below])


def _weighted_pvalue_steps(calibration, weights):
    """``(values, pvalues, below_all)``: the distinct calibration scores,
    increasing, the p-value ``(1 + W(v)) / (W + 1)`` of a score equal to
    each, and that of a score below them all, ``1 / (W + 1)``; computed
    once for both the p-values and the offset, so that the two agree to the
    last bit."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != calibration.shape or not np.all(weights >= 0):
        raise ValueError(
            "weights must be non-negative, one per calibration score; got shape "
            f"{weights.shape} for {calibration.size} scores."
        )
    order = np.argsort(calibration, kind="stable")
    values = calibration[order]
    cumulative = np.cumsum(weights[order])
    total = cumulative[-1]
    # the weight at or below a value: the cumulative weight at its last tie
    last_tie = np.append(values[1:] != values[:-1], True)
    values, cumulative = values[last_tie], cumulative[last_tie]
    return values, (1 + cumulative) / (total + 1), 1 / (total + 1)


def conformal_offset(calibration_scores, level, weights=None):
    """Threshold on the scores that flags exactly the rows with ``p <= level``.

    A row's score is below the returned offset exactly when its
    :func:`conformal_pvalues` p-value is at most ``level``, ties and
    infinite scores included (NaN scores are never flagged). It is the
    ``k``-th smallest calibration score, with
    ``k = floor(level * (n + 1))`` (:func:`conformal_rank`); ``-inf`` when
    ``k`` is ``0``: with fewer than ``1 / level - 1`` calibration rows, no
    p-value can be as small as ``level``.

    Parameters
    ----------
    calibration_scores : array-like of shape (n_calibration,)
        Scores of rows the detector did not see during its fit; not NaN.
    level : float in (0, 1)
        Level of the test: an exchangeable inlier is flagged with
        probability at most ``level``.
    weights : array-like of shape (n_calibration,), default=None
        Non-negative weights of the calibration rows, each counted as that
        many copies of its row (the p-values of the rows repeated, for
        integer weights); ``None``: each row once.

    Returns
    -------
    offset : float
        ``score < offset`` if and only if ``p <= level``.

    Examples
    --------
    >>> from sklearn_daml._thresholds import conformal_offset
    >>> conformal_offset([0.4, 0.1, 0.3, 0.2], 0.4)
    0.2
    >>> conformal_offset([0.4, 0.1, 0.3, 0.2], 0.1)
    -inf
    """
    calibration = _calibration_array(calibration_scores)
    if weights is not None:
        level = _check_level(level, "level")
        values, pvalues, below_all = _weighted_pvalue_steps(calibration, weights)
        if below_all > level:
            return -np.inf
        # the smallest value whose p-value is above the level
        return float(values[np.argmax(pvalues > level)])
    k = conformal_rank(calibration.size, level)
    if k == 0:
        return -np.inf
    return float(np.partition(calibration, k - 1)[k - 1])


def benjamini_hochberg(pvalues, alpha):
    """Rejections of the Benjamini-Hochberg step-up procedure at level ``alpha``.

    With ``m`` p-values sorted increasingly, ``p_(1) <= ... <= p_(m)``, the
    procedure finds the largest ``k`` with ``p_(k) <= alpha * k / m`` and
    rejects the ``k`` smallest p-values (every p-value at most ``p_(k)``).
    It controls the false discovery rate, the expected share of inliers
    among the flagged rows, at ``alpha * m0 / m`` (``m0`` inliers) when the
    p-values are independent or positively dependent (PRDS), as the
    split-conformal p-values of a batch of rows are (Bates et al., 2023).

    Parameters
    ----------
    pvalues : array-like of shape (n_tests,)
        p-values in ``[0, 1]``.
    alpha : float in (0, 1)
        Target false discovery rate.

    Returns
    -------
    rejected : ndarray of shape (n_tests,), bool
        ``True`` for the rejected hypotheses (the rows flagged as outliers).

    References
    ----------
    Y. Benjamini and Y. Hochberg, "Controlling the false discovery rate: a
    practical and powerful approach to multiple testing", Journal of the
    Royal Statistical Society B 57(1), 1995.

    Examples
    --------
    >>> from sklearn_daml._thresholds import benjamini_hochberg
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5], alpha=0.1)
    array([ True,  True,  True, False])
    """
    alpha = _check_level(alpha, "alpha")
    pvalues = np.asarray(pvalues, dtype=np.float64)
    if pvalues.ndim != 1:
        raise ValueError(f"pvalues must be a 1-D array; got shape {pvalues.shape}.")
    if not np.all((pvalues >= 0) & (pvalues <= 1)):
        raise ValueError("pvalues must be numbers in [0, 1] (not NaN).")
    n_tests = pvalues.size
    ordered = np.sort(pvalues)
    below = ordered <= alpha * np.arange(1, n_tests + 1) / n_tests
    if not below.any():
        return np.zeros(n_tests, dtype=bool)
    k = n_tests - np.argmax(below[::-1])  # the largest k with p_(k) below its line
    return pvalues <= ordered[k - 1]

"""Decision thresholds: ``offset_`` from ``contamination`` or a reference batch.

:class:`ThresholdMixin` turns scores into decisions. At fit, ``offset_`` is
set from the training rows' scores and ``contamination`` (a weighted
percentile, or Tukey's fence for ``'auto'``); ``infer_threshold`` sets it
from a reference batch, as alibi-detect does; ``threshold_`` reads it in the
model's own units. ``decision_function`` and ``predict`` use ``offset_``.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._weights import weighted_percentile


class ThresholdMixin:
    """``offset_``, ``threshold_`` and ``infer_threshold``."""

    def _offset(self, scores, weights=None):
        """Offset on the training scores (weighted percentiles with weights).

        A float ``contamination`` takes that percentile of the training
        scores (as IsolationForest). ``'auto'`` uses Tukey's fence,
        ``Q1 - 1.5 * IQR`` of the training scores: no outlier share is
        assumed, and rows far in the low tail are flagged.
        """
        if self.contamination == "auto":
            q1, q3 = weighted_percentile(scores, [25.0, 75.0], weights)
            return float(q1 - 1.5 * (q3 - q1))
        return float(weighted_percentile(scores, 100.0 * self.contamination, weights))

    def infer_threshold(self, X, threshold_perc=95.0):
        """Set the threshold so that ``threshold_perc`` % of ``X`` are inliers.

        As alibi-detect's ``infer_threshold``: ``threshold_`` becomes the
        ``threshold_perc`` percentile of the outlier scores
        (``-score_samples``) of a reference batch ``X``, and ``offset_``
        follows (``offset_ = -threshold_``), so ``predict`` and
        ``decision_function`` use it. The network is unchanged; the next
        ``fit`` sets the threshold from ``contamination`` again.

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
        outlier_scores = -self.score_samples(X)
        self.offset_ = -float(np.percentile(outlier_scores, threshold_perc))
        return self

    @property
    def threshold_(self):
        """Decision threshold in the model's own units (energy or error).

        Rows whose outlier score (``-score_samples``) exceeds it are
        predicted as outliers; equals ``-offset_``.
        """
        check_is_fitted(self, "offset_")
        return -self.offset_

"""Scoring rows in batches: compiled scorers, padding, flat memory.

:class:`ScoringMixin` runs a detector's compiled functions over the rows of
``X`` in batches bounded by scikit-learn's ``working_memory`` and writes
the results into one preallocated array, so memory does not grow with the
number of rows. Each batch is padded to a multiple of :data:`PAD_ROWS`
rows, so a row's score is bit-identical whatever batch it is scored in. The
same batching serves the statistics fitted on the training rows after
training (``_sum_over_batches``). Each batch is read with
:func:`~._rows.dense_rows`, so a sparse ``X`` is densified a batch at a
time. :class:`FeatureScoresMixin` adds ``feature_score_samples`` to the
reconstruction detectors.

A detector supplies ``_outlier_score(x)`` (larger = more abnormal) and may
add compiled functions in ``_compile_scorer``.
"""

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils.validation import check_is_fitted

from ._compiled import FLOAT_MAX, compiled, summed, tf
from ._rows import dense_rows

# rows per compiled scoring call: large enough that the per-call overhead is
# negligible, small enough that the intermediate tensors stay in the tens of MB
MAX_SCORING_ROWS = 2**13
# scoring batches are padded to a multiple of this many rows: the matrix
# kernels then take the same vectorised path for every row, so a row's score
# does not depend on the size of the batch it is scored in (unpadded, rows
# differ in the last bit unless the batch size is a multiple of 4; padding
# to 8 still left small batches differing, 64 none, for every batch size
# from 1 to 400)
PAD_ROWS = 64


def padded(x):
    """``x`` with copies of its last row appended up to a multiple of ``PAD_ROWS``."""
    n_pad = -x.shape[0] % PAD_ROWS
    if n_pad == 0:
        return x
    return np.concatenate([x, np.repeat(x[-1:], n_pad, axis=0)])


class ScoringMixin:
    """Batched, compiled evaluation of a fitted detector on validated rows."""

    def _compile_scorer(self):
        """Compiled scoring functions, rebuilt after unpickling (not pickled)."""
        self._compiled = {"score": compiled(self._outlier_score, self.n_features_in_)}

    def _batches(self, n_samples):
        """Row batches of at most ``MAX_SCORING_ROWS`` rows, fewer when
        scikit-learn's ``working_memory`` says so: the memory used while
        scoring does not grow with the number of rows."""
        row_bytes = 8 * self._scoring_row_width()
        chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=min(n_samples, MAX_SCORING_ROWS))
        return gen_batches(n_samples, max(1, chunk))

    def _scoring_row_width(self):
        """Floats held per row while scoring (a generous estimate)."""
        return 64 * self.n_features_in_ * self._n_score_samples()

    def _n_score_samples(self):
        """Network passes per row while scoring (latent draws of a VAE)."""
        return 1

    def _map_batches(self, fn, X):
        """``fn`` over row batches, written into one preallocated array.

        Each batch is padded with copies of its last row to a multiple of
        ``PAD_ROWS`` rows, so a row's result is bit-identical whether it is
        scored alone, in any batch or in the full set.
        """
        out = None
        for sl in self._batches(X.shape[0]):
            batch = np.asarray(fn(tf.constant(padded(dense_rows(X, sl)))))[: sl.stop - sl.start]
            if out is None:
                out = np.empty((X.shape[0],) + batch.shape[1:], dtype=np.float64)
            out[sl] = batch
        return out

    def _score_samples(self, X):
        """Normality scores of validated rows."""
        return self._normality(self._compiled["score"], X)

    def _normality(self, outlier_fn, X):
        """``-outlier_fn`` over the row batches of validated ``X``. An outlier
        score beyond float64's range (the squared error of a row of 1e200)
        saturates at the largest float: finite, and ranked below every row
        whose score float64 can hold."""
        scores = self._map_batches(outlier_fn, X)
        np.clip(scores, -FLOAT_MAX, FLOAT_MAX, out=scores)
        return np.negative(scores, out=scores)

    def _fit_weights(self, n_rows):
        """Weights of the training rows during ``fit`` (ones when unweighted)."""
        weights = getattr(self, "_sample_weight", None)
        return np.ones(n_rows) if weights is None else weights

    def _sum_over_batches(self, fn, X):
        """Sum over the row batches of ``X`` of the compiled ``fn(x, w)`` (a
        tensor or a tuple of tensors; ``w`` holds the batch's fit weights,
        ones when unweighted), accumulated in NumPy float64: statistics of
        the whole training set without holding per-row results for it."""
        compiled_fn = compiled(fn, X.shape[1], weighted=True)
        weights = self._fit_weights(X.shape[0])
        return summed(
            compiled_fn(tf.constant(dense_rows(X, sl)), tf.constant(weights[sl]))
            for sl in self._batches(X.shape[0])
        )


class FeatureScoresMixin:
    """``feature_score_samples`` of the reconstruction detectors.

    A detector using it implements ``_feature_outlier_scores(x)``: the
    outlier score of every feature of a batch, ``(n, n_features)``.
    """

    def _compile_scorer(self):
        super()._compile_scorer()
        self._compiled["feature"] = compiled(self._feature_outlier_scores, self.n_features_in_)

    def feature_score_samples(self, X):
        """Normality score of every feature of each row (higher = more normal).

        The negative reconstruction error of each feature, as alibi-detect's
        ``feature_score`` with the sign of ``score_samples``: the lowest
        entries of a row show which features make it an outlier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples; a sparse matrix is converted to a sparse
            ``csr_matrix`` and densified one batch of rows at a time.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_features), float64

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_daml import AEOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(200, 4))
        >>> det = AEOutlierDetector(epochs=5, random_state=0).fit(X)
        >>> int(np.argmin(det.feature_score_samples([[0.0, 0.0, 9.0, 0.0]])))
        2
        """
        check_is_fitted(self)
        return self._normality(self._compiled["feature"], self._validate_input(X, reset=False))

"""Sample weights of ``fit``: what a row's weight changes, in one place.

A weight counts copies of its row, as in scikit-learn: a fit with integer
weights equals, up to rounding, the fit on the rows repeated as often as
their weights, whatever the order of either (scikit-learn's
weight-equivalence check holds). Three mechanisms make that exact:

* the training rows are taken in a canonical order (:func:`canonical_order`,
  a function of the rows' values only), so a fit does not depend on the
  order of the rows it is given;
* training visits each row as often as its weight (:func:`training_draws`):
  integer weights repeat the row, fractional parts are drawn by systematic
  sampling, so a row of weight 2.5 is visited twice or three times (2.5 in
  expectation) and an epoch visits about ``sum(sample_weight)`` rows;
* the statistics fitted after training are weighted sums over the rows
  (GMM parameters, the members' moments), a weighted trimmed mean (the
  AE/VAE error scales) and a weighted percentile (the contamination
  threshold), each equal to its value on the
  repeated rows.

Rows of weight 0 are dropped before anything else, so a zero weight is the
same as leaving the row out, bit for bit; weights of one are the same as no
weights, bit for bit.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import gen_batches
from sklearn.utils.validation import _check_sample_weight

from ._rows import dense_rows

# values hashed at once by canonical_order (2 MB of 64-bit words)
_HASH_VALUES = 2**18


def fit_rows_and_weights(X, sample_weight):
    """``(X, weights)`` for a fit: rows of zero weight dropped (a sparse
    ``X`` stays sparse), and ``weights`` None where the remaining weights
    are all one."""
    if sample_weight is None:
        return X, None
    weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    keep = weights > 0
    if np.count_nonzero(keep) < 2:
        raise ValueError(
            "sample_weight must give a positive weight to at least two rows; "
            f"got {np.count_nonzero(keep)}."
        )
    if not np.all(keep):
        X, weights = X[keep], weights[keep]
    if np.all(weights == 1.0):
        return X, None
    if np.sum(weights) < 2.0:
        raise ValueError(
            "sample_weight counts copies of rows (a weight of 2 trains on the row "
            "as on two copies of it), so an epoch visits sum(sample_weight) rows; "
            f"the weights sum to {np.sum(weights):.3g}, less than two rows. Scale "
            "them, for example to sum to the number of rows."
        )
    return X, weights


def canonical_order(X):
    """Indices of the rows of ``X`` in an order set by their values alone.

    Rows are sorted by a 64-bit hash of their float64 bits (a sum of the
    bits times fixed odd constants, modulo 2**64, so exact whatever the
    summation order), read about ``_HASH_VALUES`` values at a time (a
    memory-mapped ``X`` is never copied whole; a sparse ``X`` is hashed
    from its stored values, or densified a batch at a time, to the keys of
    the same rows dense). Equal rows get equal keys and the sort is stable,
    so the same rows given in any order (or repeated) come out as the same
    sequence of values."""
    n_rows = X.shape[0]
    width = int(np.prod(X.shape[1:]))
    multipliers = np.random.RandomState(width).randint(
        0, 2**62, size=width, dtype=np.int64
    ).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    if sp.issparse(X) and X.format == "csr" and X.has_canonical_format:
        keys = _sparse_keys(X, multipliers)
    else:
        keys = np.empty(n_rows, dtype=np.uint64)
        for rows in gen_batches(n_rows, max(1, _HASH_VALUES // width)):
            values = np.array(dense_rows(X, rows), dtype=np.float64, order="C").reshape(-1, width)
            values += 0.0  # -0.0 becomes 0.0: one value, one key
            bits = values.view(np.uint64)
            bits *= multipliers
            keys[rows] = np.sum(bits, axis=1, dtype=np.uint64)
    return np.argsort(keys, kind="stable")


def _sparse_keys(X, multipliers):
    """The hash keys of :func:`canonical_order` for the rows of a CSR matrix
    without repeated entries, from its stored values alone: a zero's bits
    are 0, so it adds nothing to the sum, and the sum modulo 2**64 does not
    depend on its order. Equal to the keys of ``X.toarray()``, bit for bit,
    reading about ``_HASH_VALUES`` stored values at a time."""
    n_rows = X.shape[0]
    keys = np.empty(n_rows, dtype=np.uint64)
    per_row = max(1, X.nnz // max(1, n_rows))
    for rows in gen_batches(n_rows, max(1, _HASH_VALUES // per_row)):
        bounds = X.indptr[rows.start : rows.stop + 1]
        values = np.array(X.data[bounds[0] : bounds[-1]], dtype=np.float64)
        values += 0.0  # -0.0 becomes 0.0, as in the dense keys
        bits = values.view(np.uint64)
        bits *= multipliers[X.indices[bounds[0] : bounds[-1]]]
        # running sums modulo 2**64; a row's key is the difference at its ends
        running = np.zeros(bits.shape[0] + 1, dtype=np.uint64)
        np.cumsum(bits, dtype=np.uint64, out=running[1:])
        ends = bounds - bounds[0]
        keys[rows] = running[ends[1:]] - running[ends[:-1]]
    return keys


def training_draws(order, weights, rng):
    """Row indices that one pass over the training data visits, in
    ``order`` (the rows' :func:`canonical_order`): each row once, or each
    row as often as its weight. A weight's integer part repeats the row; the fractional parts
    are drawn by systematic sampling (one uniform offset ``u`` from
    ``rng``, drawn only when some weight is fractional), so a row of weight
    ``w`` is visited ``floor(w)`` or ``ceil(w)`` times, ``w`` in
    expectation, and a pass visits ``floor`` or ``ceil`` of ``sum(weights)``
    rows."""
    if weights is None:
        return order
    w = weights[order]
    cumulative = np.cumsum(w)
    offset = 0.0 if np.all(w == np.floor(w)) else rng.random_sample()
    # the points offset + k (k = 0, 1, ...) that fall in each row's interval
    # (cumulative[i] - w[i], cumulative[i]] of the cumulative weight
    ends = np.ceil(cumulative - offset).astype(np.int64)
    counts = np.diff(ends, prepend=0)
    return np.repeat(order, counts)


def weighted_percentile(values, q, weights):
    """``np.percentile(values, q)``, or with weights the same linear
    interpolation on the values repeated as often as their weights: of the
    sorted values, the one at position ``h = (W - 1) * q / 100`` (``W`` the
    total weight, a value covering ``weight`` positions) and the next,
    interpolated by the fractional part of ``h``. For integer weights it
    is ``np.percentile`` of the repeated values."""
    if weights is None:
        return np.percentile(values, q)
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values, cumulative = values[order], np.cumsum(weights[order])
    positions = np.asarray(q, dtype=np.float64) / 100.0 * (cumulative[-1] - 1.0)
    below = np.floor(positions)
    last = len(values) - 1
    # the value at position k covers k when its cumulative weight exceeds k
    lower = sorted_values[np.minimum(np.searchsorted(cumulative, below, side="right"), last)]
    upper = sorted_values[np.minimum(np.searchsorted(cumulative, below + 1, side="right"), last)]
    return lower + (upper - lower) * (positions - below)


def weighted_trimmed_mean(values, fraction, weights):
    """Mean of each column of ``values`` along the first axis, leaving out
    its largest values, by the rule of the ensembles' trimmed loss: of a
    total weight ``W`` (the number of rows when unweighted), the values
    holding the largest ``floor(fraction * W)`` of it do not count, and ties
    with the largest kept value are kept. For integer weights this is the
    trimmed mean of the values repeated as often as their weights; with
    ``fraction=0`` it is the (weighted) mean."""
    w = np.ones(values.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(values, axis=0, kind="stable")
    cumulative = np.cumsum(w[order], axis=0)
    total = cumulative[-1:]
    # the relative slack absorbs the rounding of sums of fractional weights
    kept_weight = total - np.floor(fraction * total * (1 + 1e-12))
    last = np.argmax(cumulative >= kept_weight * (1 - 1e-12), axis=0)
    kth = np.take_along_axis(values, np.take_along_axis(order, last[np.newaxis], axis=0), axis=0)
    kept = values <= kth
    w = w.reshape((-1,) + (1,) * (values.ndim - 1))
    return np.sum(np.where(kept, w * values, 0.0), axis=0) / np.sum(np.where(kept, w, 0.0), axis=0)

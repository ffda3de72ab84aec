"""Sample weights of ``fit``: what a row's weight changes, in one place.

A weight scales a row's share of everything the fit learns from the data:

* the training loss: each epoch draws its rows with probability
  proportional to their weights (with replacement, as many draws as rows),
  so a row of weight 2 is trained on as often as two copies of it would be,
  in expectation; mini-batch training cannot be bit-exact about repetition,
  so scikit-learn's weight-equivalence check is an expected failure;
* the statistics fitted after training (GMM parameters, the AE/VAE error
  scales): weighted sums over the rows, exactly;
* the contamination percentile (and Tukey's quartiles): a weighted
  inverted-CDF quantile.

Rows of weight 0 are dropped before anything else, so a zero weight is the
same as leaving the row out, bit for bit; equal weights are the same as no
weights, bit for bit.
"""

import numpy as np
from sklearn.utils.validation import _check_sample_weight


def fit_rows_and_weights(X, sample_weight):
    """``(X, weights)`` for a fit: rows of zero weight dropped, and
    ``weights`` None where the remaining weights are all equal."""
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
    if np.all(weights == weights[0]):
        return X, None
    return X, weights / np.mean(weights)


def epoch_order(rng, n_rows, weights):
    """Row indices of one training epoch: a permutation, or with weights a
    weighted draw of ``n_rows`` indices with replacement."""
    if weights is None:
        return rng.permutation(n_rows)
    return rng.choice(n_rows, size=n_rows, p=weights / np.sum(weights))


def weighted_percentile(values, q, weights):
    """``np.percentile(values, q)``, or with weights the weighted
    inverted-CDF quantile: the smallest value whose cumulative weight
    reaches ``q`` % of the total (for integer weights, the inverted-CDF
    quantile of the values repeated as often as their weights)."""
    if weights is None:
        return np.percentile(values, q)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    targets = np.asarray(q, dtype=np.float64) / 100.0 * cumulative[-1]
    index = np.searchsorted(cumulative, targets, side="left")
    return np.asarray(values)[order][np.minimum(index, len(values) - 1)]

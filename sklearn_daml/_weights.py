"""Sample weights of ``fit``: what a row's weight changes, in one place.

A weight scales a row's share of everything the fit learns from the data:

* the training loss: each epoch draws its rows with probability
  proportional to their weights (with replacement, as many draws as rows),
  so a row of weight 2 is trained on as often as two copies of it would be,
  in expectation; mini-batch training cannot be bit-exact about repetition,
  so scikit-learn's weight-equivalence check is an expected failure;
* the statistics fitted after training: weighted sums over the rows,
  exactly (GMM parameters, the AE/VAE members' moments), or a weighted
  trimmed mean (the AE/VAE error scales);
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
    # the relative slack absorbs the rounding of weights normalised to mean 1
    kept_weight = total - np.floor(fraction * total * (1 + 1e-12))
    last = np.argmax(cumulative >= kept_weight * (1 - 1e-12), axis=0)
    kth = np.take_along_axis(values, np.take_along_axis(order, last[np.newaxis], axis=0), axis=0)
    kept = values <= kth
    w = w.reshape((-1,) + (1,) * (values.ndim - 1))
    return np.sum(np.where(kept, w * values, 0.0), axis=0) / np.sum(np.where(kept, w, 0.0), axis=0)

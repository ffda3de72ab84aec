"""Accuracy measures for time-series anomaly detection, in NumPy.

Every function takes ``labels`` (1 inside a labelled anomaly range, 0
outside) and per-time-step ``scores`` (higher = more abnormal) or binary
``predictions`` of the same length.

- Point-wise: :func:`pointwise_roc_auc` and
  :func:`pointwise_average_precision` treat the steps as independent rows
  (the same values as scikit-learn's ``roc_auc_score`` and
  ``average_precision_score``).
- Range-AUC and VUS (Paparrizos, Boniol, Palpanas, Tsay, Elmore and
  Franklin, "Volume Under the Surface: a new accuracy evaluation measure for
  time-series anomaly detection", VLDB 2022): :func:`range_auc` softens the
  labels in a buffer around every labelled range and takes the areas under
  the range-based ROC and precision-recall curves; :func:`vus` averages them
  over the buffer sizes ``0, 1, ..., max_buffer``. The computation is that
  of ``RangeAUC_volume_opt`` in TSB-AD (``TSB_AD.evaluation.basic_metrics``,
  the same in the ``vus`` package), the code behind TSB-AD's ``VUS-ROC`` and
  ``VUS-PR``, with the same 250 score thresholds by default.
- Range-based precision, recall and F1 (Tatbul, Lee, Zdonik, Alam and
  Gottschlich, "Precision and Recall for Time Series", NeurIPS 2018) in
  TSB-AD's "R-based" variant: flat positional bias, cardinality factor
  ``1 / (number of overlapping ranges)``, existence reward weight
  ``alpha=0.2`` for the recall and 0 for the precision
  (:func:`range_precision_recall`); :func:`best_range_f1` is TSB-AD's
  threshold-free ``R-based-F1``, the best F1 over 100 evenly spaced score
  thresholds.

Buffer convention (TSB-AD's): a buffer of size ``l`` extends each labelled
range ``[s, e]`` by ``l // 2`` steps on each side, where the label of a step
``d`` steps outside the range is ``sqrt(1 - d / l)`` (labels of
overlapping buffers add up, capped at 1). TSB-AD's ``get_metrics`` takes the
maximum buffer equal to the detector's window length (``slidingWindow``,
default 100), so the largest buffer reaches half a window beyond each
range; the original ``vus`` package's ``get_range_vus_roc`` passes twice the
window instead.
"""

import numpy as np

__all__ = [
    "anomaly_ranges",
    "soft_labels",
    "range_auc",
    "range_auc_per_buffer",
    "vus",
    "range_precision_recall",
    "range_f1",
    "best_range_f1",
    "pointwise_roc_auc",
    "pointwise_average_precision",
    "evaluate",
]

VUS_THRESHOLDS = 250
"""Score thresholds of TSB-AD's VUS (``thre=250``)."""
VUS_MAX_BUFFER = 100
"""TSB-AD's default ``slidingWindow``, the largest buffer of its VUS."""
RANGE_F1_THRESHOLDS = 100
"""Evenly spaced score thresholds of TSB-AD's threshold-free ``R-based-F1``."""
RANGE_RECALL_ALPHA = 0.2
"""Existence-reward weight of TSB-AD's range recall."""


def _check_labels(labels, require_anomaly=True):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}.")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must hold only 0 and 1.")
    labels = labels.astype(np.int64)
    if require_anomaly and (labels.sum() == 0 or labels.sum() == len(labels)):
        raise ValueError("labels must hold both anomalous (1) and normal (0) steps.")
    return labels


def _check_scores(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape:
        raise ValueError(f"scores has shape {scores.shape}, labels {labels.shape}.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contains NaN or infinite values.")
    return scores


def anomaly_ranges(labels):
    """Inclusive ``[start, end]`` index pairs of the runs of 1 in ``labels``.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary sequence (0 and 1, or booleans).

    Returns
    -------
    ranges : ndarray of shape (n_ranges, 2)
        One row per maximal run of ones, in time order.

    Examples
    --------
    >>> anomaly_ranges([1, 1, 0, 0, 1, 0, 1])
    array([[0, 1],
           [4, 4],
           [6, 6]])
    """
    padded = np.concatenate([[0], np.asarray(labels, dtype=np.int8) != 0, [0]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return np.stack([starts, ends], axis=1)


def soft_labels(labels, buffer):
    """Labels extended by a buffer of size ``buffer``, as in TSB-AD's VUS.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels.
    buffer : int
        Buffer size ``l >= 0``: the ``l // 2`` steps before and after each
        labelled range get ``sqrt(1 - d / l)``, ``d`` their distance to the
        range; overlapping contributions add up, capped at 1.

    Returns
    -------
    soft : ndarray of shape (n_timesteps,)
        Float labels in ``[0, 1]``, equal to ``labels`` where these are 1.

    Examples
    --------
    >>> soft_labels([0, 0, 0, 1, 0, 0, 0], 4).round(3)
    array([0.   , 0.707, 0.866, 1.   , 0.866, 0.707, 0.   ])
    """
    labels = _check_labels(labels, require_anomaly=False)
    return _soft_labels(labels, anomaly_ranges(labels), int(buffer))


def _soft_labels(labels, ranges, buffer):
    soft = labels.astype(np.float64)
    half = buffer // 2
    if half == 0 or len(ranges) == 0:
        return soft
    distance = np.arange(1, half + 1)
    weight = np.sqrt(1.0 - distance / buffer)
    after = ranges[:, 1:2] + distance  # (n_ranges, half)
    before = ranges[:, 0:1] - distance
    positions = np.concatenate([after.ravel(), before.ravel()])
    weights = np.concatenate([np.tile(weight, len(ranges))] * 2)
    inside = (positions >= 0) & (positions < len(labels))
    np.add.at(soft, positions[inside], weights[inside])
    return np.minimum(soft, 1.0)


def _buffered_segments(ranges, buffer, n_timesteps):
    """The labelled ranges widened by ``buffer // 2`` on each side, those
    that then touch or overlap merged (TSB-AD's ``new_sequence``)."""
    half = buffer // 2
    separate = ranges[:-1, 1] + half < ranges[1:, 0] - half
    starts = np.maximum(ranges[np.r_[True, separate], 0] - half, 0)
    ends = np.minimum(ranges[np.r_[separate, True], 1] + half, n_timesteps - 1)
    return starts, ends


def _segment_maxima(scores, starts, ends):
    padded = np.append(scores, -np.inf)
    bounds = np.stack([starts, ends + 1], axis=1).ravel()
    return np.maximum.reduceat(padded, bounds)[::2]


def _thresholds(scores, n_thresholds):
    descending = np.sort(scores)[::-1]
    if n_thresholds is None:
        return np.unique(scores)[::-1]
    if n_thresholds < 1:
        raise ValueError(f"n_thresholds must be >= 1 or None, got {n_thresholds}.")
    return descending[np.linspace(0, len(scores) - 1, n_thresholds).astype(int)]


def range_auc_per_buffer(labels, scores, buffers, n_thresholds=VUS_THRESHOLDS):
    """Range-AUC-ROC and range-AUC-PR at each of several buffer sizes.

    For a threshold ``t`` the prediction is ``scores >= t``. With the soft
    labels ``y`` of the buffer (:func:`soft_labels`), ``P`` labelled steps
    and ``n`` steps in all, TSB-AD defines ``TP = sum(y * pred)``,
    ``P' = P + (TP - TP_point) / 2`` (``TP_point`` the predicted labelled
    steps), recall ``min(TP / P', 1)`` times the share of buffered ranges
    with at least one predicted step, ``FPR = (n_pred - TP) / (n - P')`` and
    precision ``TP / n_pred``. The ROC area is the trapezoid rule from
    ``(0, 0)`` through the thresholds to ``(1, 1)``; the PR area is
    ``sum((R_k - R_{k-1}) * precision_k)`` from recall 0.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels with at least one anomalous and one normal step.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.
    buffers : sequence of int
        Buffer sizes ``>= 0``.
    n_thresholds : int or None, default=250
        Thresholds at the scores of ranks ``linspace(0, n - 1, n_thresholds)``
        of the descending order (TSB-AD's), or every distinct score with
        ``None`` (the exact curves).

    Returns
    -------
    roc : ndarray of shape (n_buffers,)
        Range-AUC-ROC per buffer.
    pr : ndarray of shape (n_buffers,)
        Range-AUC-PR per buffer.
    """
    labels = _check_labels(labels)
    scores = _check_scores(scores, labels)
    n = len(labels)
    ranges = anomaly_ranges(labels)
    n_labelled = labels.sum()
    thresholds = _thresholds(scores, n_thresholds)
    order = np.argsort(-scores, kind="stable")
    # The n_pred[k] highest scores are exactly those >= thresholds[k].
    n_pred = n - np.searchsorted(np.sort(scores), thresholds, side="left")
    tp_point = np.concatenate([[0], np.cumsum(labels[order])])[n_pred]

    roc, pr = [], []
    for buffer in buffers:
        soft = _soft_labels(labels, ranges, int(buffer))
        tp = np.concatenate([[0.0], np.cumsum(soft[order])])[n_pred]
        starts, ends = _buffered_segments(ranges, int(buffer), n)
        maxima = _segment_maxima(scores, starts, ends)
        existence = (maxima[:, None] >= thresholds[None, :]).mean(axis=0)
        positives = n_labelled + (tp - tp_point) / 2
        tpr = np.minimum(tp / positives, 1.0) * existence
        fpr = (n_pred - tp) / (n - positives)
        precision = tp / n_pred
        tpr_curve = np.concatenate([[0.0], tpr, [1.0]])
        fpr_curve = np.concatenate([[0.0], fpr, [1.0]])
        roc.append(np.sum(np.diff(fpr_curve) * (tpr_curve[1:] + tpr_curve[:-1]) / 2))
        pr.append(np.sum(np.diff(tpr_curve[:-1]) * precision))
    return np.array(roc), np.array(pr)


def range_auc(labels, scores, buffer, n_thresholds=VUS_THRESHOLDS):
    """Range-AUC-ROC and range-AUC-PR with one buffer size.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels with at least one anomalous and one normal step.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.
    buffer : int
        Buffer size ``>= 0`` (see :func:`soft_labels`).
    n_thresholds : int or None, default=250
        See :func:`range_auc_per_buffer`.

    Returns
    -------
    roc : float
        Range-AUC-ROC.
    pr : float
        Range-AUC-PR.

    See Also
    --------
    range_auc_per_buffer : The definitions.
    vus : The mean over the buffers ``0..max_buffer``.
    """
    roc, pr = range_auc_per_buffer(labels, scores, [buffer], n_thresholds)
    return float(roc[0]), float(pr[0])


def vus(labels, scores, max_buffer=VUS_MAX_BUFFER, n_thresholds=VUS_THRESHOLDS):
    """VUS-ROC and VUS-PR: the range-AUCs averaged over the buffer sizes.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels with at least one anomalous and one normal step.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.
    max_buffer : int, default=100
        Largest buffer size; the buffers are ``0, 1, ..., max_buffer``.
        TSB-AD passes the detector's window length (``slidingWindow``, 100
        unless estimated from the series' period).
    n_thresholds : int or None, default=250
        See :func:`range_auc_per_buffer`.

    Returns
    -------
    vus_roc : float
        Mean range-AUC-ROC.
    vus_pr : float
        Mean range-AUC-PR.

    Examples
    --------
    >>> labels = np.r_[np.zeros(50), np.ones(10), np.zeros(40)]
    >>> vus(labels, labels, max_buffer=10)
    (1.0, 1.0)
    """
    if max_buffer < 0:
        raise ValueError(f"max_buffer must be >= 0, got {max_buffer}.")
    roc, pr = range_auc_per_buffer(labels, scores, range(int(max_buffer) + 1), n_thresholds)
    return float(roc.mean()), float(pr.mean())


def _overlap_reward(real, predicted, real_ranges, predicted_ranges):
    """Per real range: the share of its steps predicted (flat bias) times
    ``1 / (number of predicted ranges overlapping it)``, and whether any
    step is predicted."""
    covered = np.concatenate([[0], np.cumsum(predicted)])
    hits = covered[real_ranges[:, 1] + 1] - covered[real_ranges[:, 0]]
    overlapping = np.searchsorted(predicted_ranges[:, 0], real_ranges[:, 1], side="right") - (
        np.searchsorted(predicted_ranges[:, 1], real_ranges[:, 0], side="left")
    )
    cardinality = np.where(overlapping > 0, 1.0 / np.maximum(overlapping, 1), 0.0)
    length = real_ranges[:, 1] - real_ranges[:, 0] + 1
    return hits / length * cardinality, hits > 0


def _range_recall(real, predicted, alpha):
    real_ranges, predicted_ranges = anomaly_ranges(real), anomaly_ranges(predicted)
    if len(real_ranges) == 0:
        return 0.0
    overlap, existence = _overlap_reward(real, predicted, real_ranges, predicted_ranges)
    return float(np.mean(alpha * existence + (1 - alpha) * overlap))


def range_precision_recall(labels, predictions, alpha=RANGE_RECALL_ALPHA):
    """Range-based precision and recall (Tatbul et al., TSB-AD's variant).

    Recall averages, over the labelled ranges, ``alpha`` times whether any
    step of the range is predicted plus ``1 - alpha`` times the share of its
    steps predicted (flat bias) divided by the number of predicted ranges it
    overlaps. Precision is the same with the roles swapped and no existence
    reward. A side without ranges scores 0.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels.
    predictions : array-like of shape (n_timesteps,)
        Binary predictions.
    alpha : float, default=0.2
        Existence-reward weight of the recall (TSB-AD's; Tatbul et al.'s
        common default is 0).

    Returns
    -------
    precision : float
    recall : float

    Examples
    --------
    >>> precision, recall = range_precision_recall([0, 1, 1, 1, 1, 0], [0, 0, 1, 1, 0, 0])
    >>> precision, round(recall, 3)
    (1.0, 0.6)
    """
    labels = _check_labels(labels, require_anomaly=False)
    predictions = _check_labels(predictions, require_anomaly=False)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions has shape {predictions.shape}, labels {labels.shape}.")
    return _range_recall(predictions, labels, 0.0), _range_recall(labels, predictions, alpha)


def range_f1(labels, predictions, alpha=RANGE_RECALL_ALPHA):
    """Harmonic mean of :func:`range_precision_recall` (0 when both are 0)."""
    precision, recall = range_precision_recall(labels, predictions, alpha)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def best_range_f1(labels, scores, n_thresholds=RANGE_F1_THRESHOLDS, alpha=RANGE_RECALL_ALPHA):
    """The best :func:`range_f1` of ``scores > t`` over evenly spaced ``t``.

    As TSB-AD's ``R-based-F1`` without given predictions: the thresholds are
    ``linspace(min(scores), max(scores), n_thresholds)`` (an oracle choice of
    the threshold, the same for every detector).

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.
    n_thresholds : int, default=100
        Number of thresholds.
    alpha : float, default=0.2
        Existence-reward weight of the recall.

    Returns
    -------
    f1 : float
    """
    labels = _check_labels(labels, require_anomaly=False)
    scores = _check_scores(scores, labels)
    thresholds = np.linspace(scores.min(), scores.max(), n_thresholds)
    return max(range_f1(labels, (scores > t).astype(np.int64), alpha) for t in thresholds)


def pointwise_roc_auc(labels, scores):
    """Point-wise ROC-AUC: the Mann-Whitney statistic with tied ranks averaged.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels with both classes.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.

    Returns
    -------
    auc : float
        The probability that a labelled step outscores a normal one, ties
        counting one half (scikit-learn's ``roc_auc_score``).
    """
    labels = _check_labels(labels)
    scores = _check_scores(scores, labels)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct score value.
    upper = np.cumsum(counts)
    mean_rank = upper - (counts - 1) / 2
    ranks = mean_rank[inverse]
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pointwise_average_precision(labels, scores):
    """Point-wise average precision, ``sum((R_k - R_{k-1}) * P_k)`` over the
    distinct scores in decreasing order (scikit-learn's
    ``average_precision_score``).

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels with at least one anomalous step.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.

    Returns
    -------
    ap : float
    """
    labels = _check_labels(labels)
    scores = _check_scores(scores, labels)
    thresholds = np.unique(scores)[::-1]
    n_pred = len(scores) - np.searchsorted(np.sort(scores), thresholds, side="left")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(labels[order])[n_pred - 1]
    recall = tp / labels.sum()
    precision = tp / n_pred
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def evaluate(labels, scores, max_buffer=VUS_MAX_BUFFER):
    """All measures of this module for one series.

    Parameters
    ----------
    labels : array-like of shape (n_timesteps,)
        Binary labels with both classes.
    scores : array-like of shape (n_timesteps,)
        Finite anomaly scores, higher = more abnormal.
    max_buffer : int, default=100
        Largest VUS buffer (see :func:`vus`).

    Returns
    -------
    measures : dict
        ``vus_pr``, ``vus_roc``, ``range_f1`` (:func:`best_range_f1`),
        ``roc_auc`` and ``average_precision`` (point-wise).
    """
    vus_roc, vus_pr = vus(labels, scores, max_buffer)
    return {
        "vus_pr": vus_pr,
        "vus_roc": vus_roc,
        "range_f1": best_range_f1(labels, scores),
        "roc_auc": pointwise_roc_auc(labels, scores),
        "average_precision": pointwise_average_precision(labels, scores),
    }

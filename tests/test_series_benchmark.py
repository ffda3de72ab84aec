"""The time-series benchmark's measures, series generator and baselines."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks import series, series_generator
from benchmarks.baselines import KNNDistance
from benchmarks.series_generator import ANOMALIES, development_set, make_series
from benchmarks.ts_metrics import (
    anomaly_ranges,
    best_range_f1,
    evaluate,
    pointwise_average_precision,
    pointwise_roc_auc,
    range_auc,
    range_auc_per_buffer,
    range_f1,
    range_precision_recall,
    soft_labels,
    vus,
)

from .conftest import SHARED_DATA

NAB_DIR = SHARED_DATA / "nab"


def _labels(n, ranges):
    labels = np.zeros(n, dtype=int)
    for start, end in ranges:
        labels[start:end + 1] = 1
    return labels


@pytest.fixture
def noisy():
    """Three ranges and a point, scored by the labels plus noise."""
    rng = np.random.RandomState(0)
    labels = _labels(600, [(100, 129), (300, 300), (303, 309), (500, 559)])
    return labels, labels + rng.normal(0, 0.7, len(labels))


# --- measures ---------------------------------------------------------------


def test_anomaly_ranges_and_soft_labels():
    assert anomaly_ranges([1, 1, 0, 0, 1, 0, 1]).tolist() == [[0, 1], [4, 4], [6, 6]]
    assert anomaly_ranges([0, 0]).shape == (0, 2)
    # buffer 4: two steps on each side, sqrt(1 - d / 4) at distance d
    expected = [0, 0, np.sqrt(0.5), np.sqrt(0.75), 1, 1, np.sqrt(0.75), np.sqrt(0.5), 0, 0]
    np.testing.assert_allclose(soft_labels(_labels(10, [(4, 5)]), 4), expected)
    # overlapping buffers add up, capped at 1; buffers are cut at the ends
    np.testing.assert_allclose(
        soft_labels([1, 0, 0, 1], 4), [1, min(1, np.sqrt(0.75) + np.sqrt(0.5)), 1, 1]
    )
    np.testing.assert_array_equal(soft_labels([0, 1, 0], 1), [0, 1, 0])


@pytest.mark.parametrize("buffer", [0, 1, 7, 30])
def test_perfect_detector_scores_one(buffer):
    labels = _labels(300, [(40, 59), (150, 150), (280, 299)])
    assert range_auc(labels, labels.astype(float), buffer) == (1.0, 1.0)
    assert vus(labels, 2.0 * labels, max_buffer=buffer) == (1.0, 1.0)
    assert best_range_f1(labels, labels) == 1.0
    assert pointwise_roc_auc(labels, labels) == 1.0
    assert pointwise_average_precision(labels, labels) == 1.0


def test_inverted_detector():
    labels = _labels(100, [(10, 19), (60, 64)])
    inverted = -labels.astype(float)
    # buffer 0: the normal steps come first, all false; the ROC runs along
    # FPR = 1 and the only precision reached on the way up is P / n
    assert range_auc(labels, inverted, 0) == (0.0, pytest.approx(15 / 100))
    assert pointwise_roc_auc(labels, inverted) == 0.0
    assert pointwise_average_precision(labels, inverted) == pytest.approx(0.15)
    # buffer 4: the first threshold flags the 8 buffer steps (soft mass B)
    # beside the normal ones, then everything
    mass = 4 * (np.sqrt(0.75) + np.sqrt(0.5))
    positives = 15 + mass / 2
    tpr = mass / positives
    fpr = (85 - mass) / (100 - positives)
    # everything flagged next: TPR 1 at the same FPR (P' does not change)
    roc = fpr * tpr / 2 + (1 - fpr) * 1.0
    pr = tpr * mass / 85 + (1 - tpr) * (15 + mass) / 100
    assert range_auc(labels, inverted, 4) == (pytest.approx(roc), pytest.approx(pr))


def test_range_auc_by_hand():
    """One range [4, 5] of ten steps, buffer 4, every distinct score a threshold."""
    labels = _labels(10, [(4, 5)])
    scores = np.array([0.0, 0.1, 0.0, 0.9, 0.5, 0.8, 0.0, 0.3, 0.0, 0.0])
    near, far = np.sqrt(0.75), np.sqrt(0.5)  # soft labels of steps 3, 6 and 2, 7
    # threshold: (flagged steps, TP = sum of their soft labels, TP on the range)
    flagged = [(1, near, 0), (2, near + 1, 1), (3, near + 2, 2), (4, near + far + 2, 2),
               (5, near + far + 2, 2), (10, 2 * near + 2 * far + 2, 2)]
    tpr, fpr, precision = [0.0], [0.0], []
    for n_flagged, tp, tp_range in flagged:
        positives = 2 + (tp - tp_range) / 2
        tpr.append(min(tp / positives, 1.0))  # the single range is always hit
        fpr.append((n_flagged - tp) / (10 - positives))
        precision.append(tp / n_flagged)
    tpr.append(1.0)
    fpr.append(1.0)
    roc = sum((fpr[i + 1] - fpr[i]) * (tpr[i + 1] + tpr[i]) / 2 for i in range(len(fpr) - 1))
    pr = sum((tpr[i + 1] - tpr[i]) * precision[i] for i in range(len(precision)))
    expected = (pytest.approx(roc), pytest.approx(pr))
    assert range_auc(labels, scores, 4, n_thresholds=None) == expected
    assert roc == pytest.approx(0.98544, abs=1e-5)
    assert pr == pytest.approx(0.91437, abs=1e-5)
    # ten steps, 250 thresholds: every rank is a threshold, same areas
    assert range_auc(labels, scores, 4) == (pytest.approx(roc), pytest.approx(pr))


def test_existence_lowers_the_range_recall():
    """Two ranges, one flagged first: its recall 0.5 counts half (one of
    the two ranges is hit), where the point-wise curve has 0.5."""
    labels = _labels(20, [(2, 3), (12, 13)])
    scores = np.zeros(20)
    scores[[2, 3]] = 2.0
    scores[17] = 1.5
    scores[[12, 13]] = 1.0
    # thresholds 2, 1.5, 1, 0: (FPR, TPR) (0, 0.25), (1/16, 0.25), (1/16, 1), (1, 1)
    # with precisions 1, 2/3, 4/5, 1/5
    roc, pr = range_auc(labels, scores, 0, n_thresholds=None)
    assert roc == pytest.approx(0.25 / 16 + 15 / 16)
    assert pr == pytest.approx(0.25 * 1 + 0.75 * 4 / 5)
    assert pointwise_roc_auc(labels, scores) == pytest.approx(62 / 64)
    assert pointwise_average_precision(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 4 / 5)


def test_vus_is_the_mean_of_the_range_aucs(noisy):
    labels, scores = noisy
    rocs, prs = zip(*(range_auc(labels, scores, b) for b in range(21)))
    expected = (pytest.approx(np.mean(rocs)), pytest.approx(np.mean(prs)))
    assert vus(labels, scores, max_buffer=20) == expected
    roc, pr = range_auc_per_buffer(labels, scores, range(21))
    np.testing.assert_allclose(roc, rocs)
    np.testing.assert_allclose(pr, prs)
    # a wider buffer credits the detections next to the ranges
    assert roc[-1] > roc[0] and pr[-1] > pr[0]


def test_vus_matches_tsb_ad(noisy):
    """Values of TSB-AD 1.5's ``generate_curve(labels, scores, 20)`` and
    ``basic_metricor().metric_RF1`` on this series (the ``vus`` package
    0.0.6 gives the same VUS)."""
    labels, scores = noisy
    vus_roc, vus_pr = vus(labels, scores, max_buffer=20)
    assert vus_roc == pytest.approx(0.8664433470, abs=1e-9)
    assert vus_pr == pytest.approx(0.6191013329, abs=1e-9)
    assert best_range_f1(labels, scores) == pytest.approx(0.304426, abs=1e-6)


def test_buffer_zero_with_one_range_is_pointwise():
    """With one labelled range the existence factor is 1 once any step is
    flagged, so buffer 0 gives scikit-learn's ROC-AUC and average precision."""
    rng = np.random.RandomState(1)
    labels = _labels(400, [(150, 189)])
    scores = np.round(labels + rng.normal(0, 1, 400), 1)  # with ties
    roc, pr = range_auc(labels, scores, 0, n_thresholds=None)
    assert roc == pytest.approx(roc_auc_score(labels, scores))
    assert pr == pytest.approx(average_precision_score(labels, scores))
    short = slice(0, 240)  # no more steps than thresholds: the default is exact too
    roc, pr = range_auc(labels[short], scores[short], 0)
    assert roc == pytest.approx(roc_auc_score(labels[short], scores[short]))
    assert pr == pytest.approx(average_precision_score(labels[short], scores[short]))


def test_pointwise_measures_match_sklearn(noisy):
    labels, scores = noisy
    for values in (scores, np.round(scores), np.round(scores * 3) / 3):
        assert pointwise_roc_auc(labels, values) == pytest.approx(roc_auc_score(labels, values))
        assert pointwise_average_precision(labels, values) == pytest.approx(
            average_precision_score(labels, values)
        )


def test_range_precision_recall_by_hand():
    labels = _labels(6, [(1, 4)])
    # half the range flagged: recall 0.2 (existence) + 0.8 * 2/4; precision 1
    assert range_precision_recall(labels, [0, 0, 1, 1, 0, 0]) == (1.0, pytest.approx(0.6))
    assert range_precision_recall(labels, [0, 0, 1, 1, 0, 0], alpha=0) == (1.0, pytest.approx(0.5))
    # two flagged ranges inside one labelled range halve its overlap reward;
    # a third one outside scores 0 precision
    labels = _labels(20, [(0, 9)])
    predictions = _labels(20, [(1, 2), (5, 6), (15, 16)])
    precision, recall = range_precision_recall(labels, predictions)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(0.2 + 0.8 * (4 / 10) * (1 / 2))
    f1 = 2 * precision * recall / (precision + recall)
    assert range_f1(labels, predictions) == pytest.approx(f1)
    assert range_precision_recall(labels, np.zeros(20, dtype=int)) == (0.0, 0.0)
    assert range_f1(labels, np.zeros(20, dtype=int)) == 0.0


def test_evaluate_and_input_checks(noisy):
    labels, scores = noisy
    measures = evaluate(labels, scores, max_buffer=10)
    assert set(measures) == {"vus_pr", "vus_roc", "range_f1", "roc_auc", "average_precision"}
    assert all(0 <= v <= 1 for v in measures.values())
    with pytest.raises(ValueError, match="both"):
        vus(np.zeros(10), np.arange(10.0))
    with pytest.raises(ValueError, match="0 and 1"):
        vus(np.full(10, 2), np.arange(10.0))
    with pytest.raises(ValueError, match="NaN"):
        vus(labels, np.full(len(labels), np.nan))
    with pytest.raises(ValueError, match="shape"):
        vus(labels, scores[:-1])


# --- generator --------------------------------------------------------------

SYNTHETIC = [
    (base, anomaly)
    for base in ("seasonal", "noisy_sine", "random_walk")
    for anomaly in ANOMALIES
    if not (base == "random_walk" and anomaly in series_generator.PERIODIC_ANOMALIES)
]


@pytest.mark.parametrize("base, anomaly", SYNTHETIC)
def test_generator_is_deterministic(base, anomaly):
    first = make_series(base, anomaly, seed=3)
    again = make_series(base, anomaly, seed=3)
    other = make_series(base, anomaly, seed=4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.values, other.values)
    assert not np.array_equal(first.ranges, other.ranges)


def _check_injected(series, clean):
    values, labels, ranges = series
    assert labels.dtype.kind == "i" and set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, _labels(len(labels), ranges))
    np.testing.assert_array_equal(anomaly_ranges(labels), ranges)
    # the base is untouched outside the ranges and changed inside each
    np.testing.assert_array_equal(values[labels == 0], clean[labels == 0])
    for start, end in ranges:
        assert np.any(values[start:end + 1] != clean[start:end + 1])


@pytest.mark.parametrize("base, anomaly", SYNTHETIC)
def test_generator_labels_are_the_injected_ranges(base, anomaly):
    series = make_series(base, anomaly, length=3000, seed=7)
    clean = make_series(base, None, length=3000, seed=7).values
    _check_injected(series, clean)
    assert len(series.ranges) == (5 if anomaly == "spike" else 3)
    assert np.all(series.ranges[1:, 0] > series.ranges[:-1, 1] + 1)  # apart, in time order
    if anomaly == "spike":
        assert np.all(series.ranges[:, 0] == series.ranges[:, 1])


def test_generator_refuses_what_it_cannot_make():
    with pytest.raises(ValueError, match="periodic"):
        make_series("random_walk", "contextual")
    with pytest.raises(ValueError, match="base"):
        make_series("white_noise", "spike")
    with pytest.raises(ValueError, match="anomaly"):
        make_series("seasonal", "dropout")
    with pytest.raises(ValueError, match="too short"):
        make_series("seasonal", "frequency", length=500)
    series = make_series("seasonal", None, length=500, seed=0)
    assert series.labels.sum() == 0 and series.ranges.shape == (0, 2)


def test_development_set_without_nab():
    first = development_set(seed=0, include_nab=False)
    assert len(first) == 16
    assert {name.split("/")[1] for name in first} == set(ANOMALIES)
    again = development_set(seed=0, include_nab=False)
    other = development_set(seed=1, include_nab=False)
    for name, s in first.items():
        assert len(s.values) == 3000 and 0 < s.labels.sum() < 3000
        np.testing.assert_array_equal(s.values, again[name].values)
        assert not np.array_equal(s.values, other[name].values)


def _requires_nab():
    if not (NAB_DIR / "combined_windows.json").exists():
        pytest.skip(f"{NAB_DIR} is not available")


@pytest.mark.parametrize("nab_series", list(series_generator.NAB_PERIODS))
def test_nab_base_is_an_unlabelled_stretch(nab_series):
    _requires_nab()
    loaded = series.load_nab(series.SERIES[nab_series], data_dir=NAB_DIR)
    values, labels = loaded
    clean = make_series("nab", None, seed=5, nab_series=nab_series, data_dir=NAB_DIR).values
    # find where the stretch was cut: it must be a run of unlabelled steps
    windows = np.lib.stride_tricks.sliding_window_view(values, 20)
    starts = np.flatnonzero(np.all(windows == clean[:20], axis=1))
    assert any(
        np.array_equal(values[s:s + len(clean)], clean) and labels[s:s + len(clean)].sum() == 0
        for s in starts
    )
    anomaly = "trend" if series_generator.NAB_PERIODS[nab_series] is None else "contextual"
    injected = make_series("nab", anomaly, seed=5, nab_series=nab_series, data_dir=NAB_DIR)
    _check_injected(injected, clean)


def test_development_set_with_nab():
    _requires_nab()
    full = development_set(seed=0, data_dir=NAB_DIR)
    assert len(full) == 28
    assert sum(name.startswith("NAB ") for name in full) == 12


# --- benchmark --------------------------------------------------------------


def test_knn_leaves_each_window_out():
    X = np.array([[0.0], [1.0], [3.0], [6.0], [10.0], [15.0], [21.0]])
    scores = -KNNDistance(k=2, exclude_self=True).fit(X).score_samples(X)
    # second nearest other point of 0 is 3; of 21: 10
    assert scores[0] == 3.0 and scores[-1] == 11.0
    # new rows (the tables' kNN) count every training row
    assert -KNNDistance(k=2).fit(X).score_samples([[0.0]])[0] == 1.0


def test_baselines_on_a_generated_series():
    values, labels, _ = make_series("noisy_sine", "level_shift", length=1200, seed=0, n_anomalies=2)
    result = series.evaluate_series(values, labels, series.BASELINES, [0], "noisy_sine/level_shift")
    windows = series.standardized_windows(values)
    assert result["n_windows"] == len(windows)
    for name in series.BASELINES:
        assert set(result[name]) == {*series.MEASURES, "seconds"}
        # the table's point-wise ROC-AUC is the one the NAB table has always used
        detector = series.DETECTORS[name](0)
        expected = series.pointwise_auc(detector, windows, labels)
        assert result[name]["roc_auc"][0] == pytest.approx(expected)
    assert result["kNN"]["vus_roc"][0] > 0.9

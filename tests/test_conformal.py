"""Conformal p-values, Benjamini-Hochberg and ConformalOutlierDetector."""

import itertools
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
from scipy.stats import false_discovery_control
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import sklearn_daml
from sklearn_daml import AEOutlierDetector, ConformalOutlierDetector
from sklearn_daml._thresholds import (
    benjamini_hochberg,
    conformal_offset,
    conformal_pvalues,
    conformal_rank,
)


def small_forest(**params):
    return IsolationForest(n_estimators=10, random_state=0, **params)


def gaussian(rng, n, shift=0.0):
    return rng.normal(size=(n, 2)) + shift


def norm_scores(X):
    """A fixed score (no fit): minus the distance to the inliers' centre."""
    return -np.linalg.norm(X, axis=1)


# ------------------------------------------------------------- p-values
def test_pvalues_are_the_share_of_calibration_scores_at_or_below():
    rng = np.random.RandomState(0)
    calibration = rng.randint(0, 10, size=37).astype(float)  # many ties
    scores = np.r_[rng.randint(-2, 12, size=50).astype(float), 3.5, -np.inf, np.inf]
    expected = [(1 + np.sum(calibration <= s)) / (calibration.size + 1) for s in scores]
    np.testing.assert_array_equal(conformal_pvalues(calibration, scores), expected)
    # any shape; NaN is never an outlier
    grid = scores[:50].reshape(5, 10)
    np.testing.assert_array_equal(
        conformal_pvalues(calibration, grid), np.reshape(expected[:50], (5, 10))
    )
    assert conformal_pvalues(calibration, [np.nan])[0] == 1.0


@pytest.mark.parametrize("calibration", [[], [[1.0, 2.0]], [1.0, np.nan]])
def test_pvalues_refuse_bad_calibration_scores(calibration):
    with pytest.raises(ValueError, match="calibration_scores"):
        conformal_pvalues(calibration, [0.0])


def test_rank_is_the_largest_k_with_k_over_n_plus_one_at_most_the_level():
    for n in range(1, 120):
        for level in (0.01, 0.05, 0.1, 0.29, 0.3, 1 / 3, 0.5, 0.7, 0.99, 1 / (n + 1)):
            expected = max(k for k in range(n + 1) if k == 0 or k / (n + 1) <= level)
            assert conformal_rank(n, level) == expected, (n, level)
    # floor(0.29 * 100) is 28 in floating point, yet 29 / 100 <= 0.29
    assert conformal_rank(99, 0.29) == 29


def test_offset_flags_exactly_the_rows_with_small_pvalues():
    """Exhaustively on small arrays with ties: ``score < offset`` and
    ``score - offset < 0`` if and only if ``p <= level``."""
    scores = np.array([-np.inf, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, np.inf])
    n_checked = 0
    for n in range(1, 7):
        for calibration in itertools.combinations_with_replacement([0.0, 1.0, 2.0, 3.0], n):
            levels = {0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.9}
            levels |= {k / (n + 1) for k in range(1, n + 1)}  # on the boundaries
            levels |= {np.nextafter(k / (n + 1), 0) for k in range(1, n + 1)}
            for level in sorted(levels):
                offset = conformal_offset(calibration, level)
                flagged = conformal_pvalues(calibration, scores) <= level
                np.testing.assert_array_equal(scores < offset, flagged)
                with np.errstate(invalid="ignore"):
                    np.testing.assert_array_equal(scores - offset < 0, flagged)
                n_checked += 1
    assert n_checked > 1000


def test_offset_is_the_kth_smallest_calibration_score_or_minus_infinity():
    calibration = np.random.RandomState(0).normal(size=99)
    assert conformal_offset(calibration, 0.1) == np.sort(calibration)[9]  # k = 10
    assert conformal_offset(calibration[:8], 0.1) == -np.inf  # 1/9 > 0.1: never flagged
    for level in (0, 1, 1.5, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match="level must be a number in"):
            conformal_offset(calibration, level)


def test_weighted_offset_is_the_offset_of_the_repeated_rows():
    rng = np.random.RandomState(0)
    n_checked = 0
    for n in (1, 2, 5, 30, 120):
        calibration = np.round(rng.normal(size=n), 1)  # ties
        weights = rng.randint(0, 4, size=n).astype(float)
        weights[0] = 1.0
        repeated = np.repeat(calibration, weights.astype(int))
        for level in (0.01, 0.05, 0.1, 0.25, 0.5, 0.9, 1 / (repeated.size + 1)):
            expected = conformal_offset(repeated, level)
            assert conformal_offset(calibration, level, weights) == expected, (n, level)
            assert conformal_offset(calibration, level, np.ones(n)) == conformal_offset(
                calibration, level)
            n_checked += 1
    assert n_checked == 35
    # fractional weights count as fractions of a row
    assert conformal_offset([0.0, 1.0, 2.0], 0.5, [0.5, 0.5, 1.0]) == 1.0
    assert conformal_offset([0.0, 1.0, 2.0], 0.5, [0.2, 0.2, 1.0]) == 1.0
    # a total weight of 0.6: the smallest p-value is 1 / 1.6, above 0.5
    assert conformal_offset([0.0, 1.0, 2.0], 0.5, [0.2, 0.2, 0.2]) == -np.inf


# ---------------------------------------------------- Benjamini-Hochberg
def bh_loop(pvalues, alpha):
    """The step-up procedure, as written in textbooks."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    for k in range(m, 0, -1):
        if pvalues[order[k - 1]] <= alpha * k / m:
            threshold = pvalues[order[k - 1]]
            return np.array([p <= threshold for p in pvalues], dtype=bool)
    return np.zeros(m, dtype=bool)


@pytest.mark.parametrize(
    "pvalues, alpha, expected",
    [
        ([0.01, 0.04, 0.03, 0.5], 0.1, [True, True, True, False]),
        # step-up: the smallest p-value is above its line, the largest below
        ([0.06, 0.07], 0.1, [True, True]),
        ([0.2, 0.3, 0.9], 0.1, [False, False, False]),
        ([0.001, 0.2, 0.001, 0.3], 0.05, [True, False, True, False]),  # tied
        ([], 0.1, []),
    ],
)
def test_benjamini_hochberg_on_hand_cases(pvalues, alpha, expected):
    rejected = benjamini_hochberg(pvalues, alpha)
    assert rejected.dtype == bool
    np.testing.assert_array_equal(rejected, np.array(expected, dtype=bool))


def test_benjamini_hochberg_matches_a_direct_loop_and_scipy():
    rng = np.random.RandomState(0)
    n_rejected = 0
    for trial in range(300):
        m = rng.randint(1, 60)
        pvalues = rng.uniform(size=m) ** rng.uniform(1, 6)  # some small p-values
        if trial % 3 == 0:
            pvalues = np.round(pvalues, 2)  # ties
        alpha = rng.choice([0.01, 0.05, 0.1, 0.2, 0.5])
        rejected = benjamini_hochberg(pvalues, alpha)
        np.testing.assert_array_equal(rejected, bh_loop(list(pvalues), alpha))
        if trial % 3 != 0:  # scipy compares adjusted p-values: equal but for exact ties
            adjusted = false_discovery_control(pvalues, method="bh")
            np.testing.assert_array_equal(rejected, adjusted <= alpha)
        n_rejected += rejected.sum()
    assert n_rejected > 100  # the comparisons were not all about rejecting nothing


@pytest.mark.parametrize(
    "pvalues, alpha, match",
    [
        ([0.1, 1.2], 0.1, r"pvalues must be numbers in \[0, 1\]"),
        ([0.1, np.nan], 0.1, r"pvalues must be numbers in \[0, 1\]"),
        ([[0.1, 0.2]], 0.1, "1-D"),
        ([0.1], 0.0, "alpha must be a number in"),
        ([0.1], 1.0, "alpha must be a number in"),
    ],
)
def test_benjamini_hochberg_refuses_bad_input(pvalues, alpha, match):
    with pytest.raises(ValueError, match=match):
        benjamini_hochberg(pvalues, alpha)


# ------------------------------------------------ validity on synthetic data
def _bounds(rates, level, n_calibration):
    """The mean false-alarm rate over repetitions, and the bounds it must meet:
    ``[level - 1/(n+1), level]``, each widened by three standard errors."""
    mean, se = np.mean(rates), np.std(rates, ddof=1) / np.sqrt(len(rates))
    return mean, level - 1 / (n_calibration + 1) - 3 * se, level + 3 * se


@pytest.mark.parametrize("n_calibration", [49, 58])
def test_pvalues_of_new_inliers_are_valid(n_calibration):
    """Marginal validity, ``P(p <= 0.1) <= 0.1``, over 1000 calibration sets
    (exactly ``floor(0.1 * (n + 1)) / (n + 1)`` in expectation; without the
    ``1 +`` of the p-value the mean at ``n = 49`` is about 0.116)."""
    rng = np.random.RandomState(0)
    rates = [
        np.mean(conformal_pvalues(
            norm_scores(gaussian(rng, n_calibration)), norm_scores(gaussian(rng, 100))
        ) <= 0.1)
        for _ in range(1000)
    ]
    mean, low, high = _bounds(rates, 0.1, n_calibration)
    assert low <= mean <= high, (low, mean, high)
    # and not merely valid: p-values of new inliers are about uniform
    pvalues = conformal_pvalues(norm_scores(gaussian(rng, 999)), norm_scores(gaussian(rng, 4000)))
    assert abs(np.mean(pvalues <= 0.5) - 0.5) < 0.05


@pytest.mark.parametrize("method", ["split", "cv"])
def test_detector_flags_new_inliers_at_the_contamination_rate(method):
    """End to end with IsolationForest: the share of new inliers flagged by
    ``predict`` (p-value at most ``contamination``), over 150 fits."""
    rng = np.random.RandomState(0)
    rates = []
    for seed in range(150):
        det = ConformalOutlierDetector(
            IsolationForest(n_estimators=10, random_state=seed), method=method, cv=3,
            contamination=0.1, random_state=seed,
        ).fit(gaussian(rng, 100))
        rates.append(np.mean(det.predict(gaussian(rng, 50)) == -1))
    n_calibration = det.calibration_scores_.size
    mean, low, high = _bounds(rates, 0.1, n_calibration)
    assert mean <= high, (mean, high)
    if method == "split":  # the exact guarantee; cross-conformal may be conservative
        assert low <= mean, (low, mean)


def _fdp_and_power(rejected, is_outlier):
    false = np.sum(rejected & ~is_outlier)
    return false / max(rejected.sum(), 1), np.mean(rejected[is_outlier])


def test_benjamini_hochberg_on_conformal_pvalues_controls_the_fdr():
    """90 inliers and 10 outliers per batch, 400 batches: the mean share of
    inliers among the flagged rows is at most ``alpha * 90 / 100``."""
    rng = np.random.RandomState(0)
    is_outlier = np.r_[np.zeros(90, dtype=bool), np.ones(10, dtype=bool)]
    fdp, power = [], []
    for _ in range(400):
        calibration = norm_scores(gaussian(rng, 200))
        batch = np.vstack([gaussian(rng, 90), gaussian(rng, 10, shift=3.0)])
        rejected = benjamini_hochberg(conformal_pvalues(calibration, norm_scores(batch)), 0.2)
        for results, value in zip((fdp, power), _fdp_and_power(rejected, is_outlier)):
            results.append(value)
    assert np.mean(fdp) <= 0.2 * 0.9 + 3 * np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(power) > 0.5  # and it finds outliers


def test_predict_fdr_controls_the_fdr_end_to_end():
    rng = np.random.RandomState(1)
    is_outlier = np.r_[np.zeros(45, dtype=bool), np.ones(5, dtype=bool)]
    fdp, power = [], []
    for seed in range(80):
        det = ConformalOutlierDetector(
            IsolationForest(n_estimators=20, random_state=seed), random_state=seed
        ).fit(gaussian(rng, 400))
        batch = np.vstack([gaussian(rng, 45), gaussian(rng, 5, shift=4.0)])
        labels = det.predict_fdr(batch, alpha=0.2)
        assert set(np.unique(labels)) <= {-1, 1}
        for results, value in zip((fdp, power), _fdp_and_power(labels == -1, is_outlier)):
            results.append(value)
    assert np.mean(fdp) <= 0.2 * 0.9 + 3 * np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(power) > 0.5


# ------------------------------------------------------- the meta-estimator
@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = gaussian(rng, 300)
    X_new = np.vstack([gaussian(rng, 95), gaussian(rng, 5, shift=5.0)])
    return X, X_new


@pytest.mark.parametrize("method", ["split", "cv"])
def test_predict_decision_function_and_pvalues_agree(method, data):
    """The assertions of scikit-learn's check_outliers_train, and predict
    flagging exactly the rows with ``p <= contamination``."""
    X, X_new = data
    det = ConformalOutlierDetector(small_forest(), method=method, random_state=0)
    det.fit(X.tolist())
    for rows in (X, X_new):
        y_pred, decision = det.predict(rows), det.decision_function(rows)
        scores, pvalues = det.score_samples(rows), det.predict_pvalues(rows)
        assert y_pred.dtype.kind == "i" and y_pred.shape == (len(rows),)
        for output in (decision, scores, pvalues):
            assert output.dtype == np.float64 and output.shape == (len(rows),)
        np.testing.assert_array_equal(y_pred == -1, decision < 0)
        np.testing.assert_array_equal(y_pred == -1, pvalues <= det.contamination)
        np.testing.assert_allclose(scores - det.offset_, decision)
    assert set(det.predict(X_new)) == {-1, 1}
    assert np.all(det.predict(X_new[-5:]) == -1)
    for method_name in ("predict", "decision_function", "score_samples", "predict_pvalues"):
        with pytest.raises(ValueError):
            getattr(det, method_name)(X.T)


def test_offset_is_the_conformal_threshold_of_the_calibration_rows(data):
    X, _ = data
    det = ConformalOutlierDetector(small_forest(), calibration_size=99, random_state=0).fit(X)
    assert det.calibration_scores_.size == 99
    assert np.all(np.diff(det.calibration_scores_) >= 0)
    assert det.offset_ == det.calibration_scores_[9]  # floor(0.1 * 100) = 10th smallest
    det.set_params(contamination=0.05).fit(X)
    assert det.offset_ == det.calibration_scores_[4]
    halves = ConformalOutlierDetector(small_forest(), random_state=0).fit(X)
    assert halves.calibration_scores_.size == 150


class RecordingForest(IsolationForest):
    """IsolationForest that keeps the weights it was fitted with."""

    def fit(self, X, y=None, sample_weight=None):
        self.seen_weight_ = sample_weight
        return super().fit(X, y, sample_weight=sample_weight)


def test_split_calibrates_on_the_rows_the_clone_did_not_see(data):
    """Weights make the training rows visible: each row's weight is its
    number, so the clone's weights say which rows it was fitted on."""
    X, _ = data
    weights = np.arange(1.0, len(X) + 1)
    det = ConformalOutlierDetector(RecordingForest(n_estimators=10, random_state=0),
                                   random_state=0).fit(X, sample_weight=weights)
    train = det.estimator_.seen_weight_.astype(int) - 1
    calibration = np.setdiff1d(np.arange(len(X)), train)
    assert len(train) == len(calibration) == 150
    np.testing.assert_array_equal(
        det.calibration_scores_, np.sort(det.estimator_.score_samples(X[calibration]))
    )


def test_cross_conformal_scores_each_row_by_the_clone_that_did_not_see_it(data):
    X, X_new = data
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    det = ConformalOutlierDetector(small_forest(), method="cv", cv=folds).fit(X)
    assert not hasattr(det, "estimator_") and len(det.estimators_) == 4
    out_of_fold = np.concatenate(
        [est.score_samples(X[test]) for est, (_, test) in zip(det.estimators_, folds)]
    )
    np.testing.assert_array_equal(det.calibration_scores_, np.sort(out_of_fold))
    mean = np.mean([est.score_samples(X_new) for est in det.estimators_], axis=0)
    np.testing.assert_allclose(det.score_samples(X_new), mean, rtol=1e-12)
    # every row once in a test fold
    det_int = ConformalOutlierDetector(small_forest(), method="cv", cv=3, random_state=0)
    assert det_int.fit(X).calibration_scores_.size == len(X)
    # refitting with the other method leaves no stale clones
    det.set_params(method="split").fit(X)
    assert hasattr(det, "estimator_") and not hasattr(det, "estimators_")


def test_cross_conformal_refuses_folds_that_do_not_partition_the_rows(data):
    X, _ = data
    overlapping = [
        (np.arange(100, 300), np.arange(0, 150)), (np.arange(0, 100), np.arange(100, 300))
    ]
    with pytest.raises(ValueError, match="must hold every row exactly once.*0 rows .* 50 in"):
        ConformalOutlierDetector(small_forest(), method="cv", cv=overlapping).fit(X)


def test_reproducible_with_random_state_and_default_estimator(data):
    X, X_new = data
    first = ConformalOutlierDetector(random_state=0).fit(X)
    assert isinstance(first.estimator_, IsolationForest)
    assert first.estimator is None  # the parameter is untouched
    second = ConformalOutlierDetector(random_state=0).fit(X)
    np.testing.assert_array_equal(first.predict_pvalues(X_new), second.predict_pvalues(X_new))
    other = ConformalOutlierDetector(random_state=1).fit(X)
    assert not np.array_equal(first.calibration_scores_, other.calibration_scores_)


def test_sample_weight(data):
    X, X_new = data
    det = ConformalOutlierDetector(small_forest(), random_state=0)
    plain = det.fit(X).predict_pvalues(X_new)
    np.testing.assert_array_equal(det.fit(X, sample_weight=np.ones(len(X))).predict_pvalues(X_new),
                                  plain)
    # a zero weight leaves the row out of the fits and the calibration
    weights = np.ones(len(X))
    weights[:60] = 0
    det.fit(X, sample_weight=weights)
    assert det.calibration_scores_.size < 150
    det_cv = ConformalOutlierDetector(small_forest(), method="cv", random_state=0)
    assert det_cv.fit(X, sample_weight=weights).calibration_scores_.size == 240
    with pytest.raises(ValueError, match="sample_weight"):
        det.fit(X, sample_weight=np.ones(3))
    lof = ConformalOutlierDetector(LocalOutlierFactor(novelty=True), random_state=0)
    lof.fit(X)  # without weights, fine
    with pytest.raises(ValueError, match="the fit of LocalOutlierFactor takes no sample_weight"):
        lof.fit(X, sample_weight=np.ones(len(X)))


def test_fit_warns_when_no_row_can_be_flagged(data):
    X, _ = data
    det = ConformalOutlierDetector(small_forest(), random_state=0)
    with pytest.warns(UserWarning, match=r"6 calibration rows.*1/7.*at least 9 calibration rows"):
        det.fit(X[:12])
    assert det.offset_ == -np.inf and np.all(det.predict(X) == 1)
    with pytest.warns(UserWarning, match="at least 19 calibration rows"):
        det.set_params(contamination=0.05, calibration_size=18).fit(X[:30])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.set_params(calibration_size=19).fit(X[:30])


def test_errors_are_clear(data):
    X, X_new = data
    det = ConformalOutlierDetector(small_forest(), random_state=0)
    for method in ("predict", "decision_function", "score_samples", "predict_pvalues",
                   "predict_fdr"):
        with pytest.raises(NotFittedError):
            getattr(det, method)(X_new)
    det.fit(X)
    for alpha in (0, 1, 1.5, -0.1, "0.1"):
        with pytest.raises(ValueError, match="The 'alpha' parameter of predict_fdr must be"):
            det.predict_fdr(X_new, alpha=alpha)
    with pytest.raises(TypeError, match=r"needs a detector with score_samples.*novelty=True"):
        ConformalOutlierDetector(LocalOutlierFactor()).fit(X)
    with pytest.raises(TypeError, match="StandardScaler.* has none"):
        ConformalOutlierDetector(StandardScaler()).fit(X)
    with pytest.raises(TypeError, match="'estimator' parameter"):
        ConformalOutlierDetector("forest").fit(X)
    with pytest.raises(ValueError, match="'contamination' parameter"):
        ConformalOutlierDetector(contamination=0.6).fit(X)
    with pytest.raises(ValueError, match="smaller than the number of samples 300"):
        ConformalOutlierDetector(calibration_size=300).fit(X)
    with pytest.raises(ValueError, match="1 sample"):
        ConformalOutlierDetector().fit(X[:1])
    fitted = det.predict_pvalues(X_new)
    with pytest.raises(ValueError, match="1 sample"):
        det.fit(np.ones((1, 3)))
    infinite = np.full((20, 3), np.inf)  # LocalOutlierFactor refuses them, after our checks
    with pytest.raises(ValueError, match="infinity"):
        det.set_params(estimator=LocalOutlierFactor(novelty=True)).fit(infinite)
    # a failed fit changes nothing
    np.testing.assert_array_equal(det.predict_pvalues(X_new), fitted)
    assert det.n_features_in_ == 2
    det.set_params(estimator=small_forest())
    assert not hasattr(det, "fit_predict")
    with pytest.raises(AttributeError, match="no attribute 'fit_predict'") as error:
        det.fit_predict(X)
    assert "guarantee holds for new rows" in str(error.value.__cause__)


def test_wraps_local_outlier_factor_and_pipelines(data):
    X, X_new = data
    lof = ConformalOutlierDetector(LocalOutlierFactor(novelty=True), random_state=0).fit(X)
    assert np.all(lof.predict(X_new[-5:]) == -1)
    inner = ConformalOutlierDetector(
        make_pipeline(StandardScaler(), small_forest()), random_state=0
    ).fit(X)
    assert np.all(inner.predict(X_new[-5:]) == -1)
    outer = make_pipeline(
        StandardScaler(), ConformalOutlierDetector(small_forest(), random_state=0)
    )
    outer.fit(X)
    np.testing.assert_array_equal(
        outer.predict(X_new), outer[-1].predict(outer[0].transform(X_new))
    )
    pvalues = outer[-1].predict_pvalues(outer[:-1].transform(X_new))
    np.testing.assert_array_equal(outer.predict(X_new) == -1, pvalues <= 0.1)


def test_clone_and_grid_search(data):
    X, X_new = data
    det = ConformalOutlierDetector(small_forest(), method="cv", cv=3, random_state=0)
    copy = clone(det.fit(X))
    assert not hasattr(copy, "estimators_") and copy.get_params()["estimator__n_estimators"] == 10
    rows = np.vstack([X, X_new])
    y = np.r_[np.ones(len(X) + 95, dtype=int), -np.ones(5, dtype=int)]
    search = GridSearchCV(
        det, {"estimator__n_estimators": [5, 20], "estimator__max_features": [1, 2]},
        scoring="roc_auc", cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(rows, y)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.all(search.cv_results_["mean_test_score"] > 0.9)
    assert search.best_estimator_.estimators_[0].n_estimators in (5, 20)


def test_feature_names_and_tags(data):
    pd = pytest.importorskip("pandas")
    X, X_new = data
    frame = pd.DataFrame(X, columns=["a", "b"])
    det = ConformalOutlierDetector(small_forest(), random_state=0).fit(frame)
    assert det.n_features_in_ == 2
    np.testing.assert_array_equal(det.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="feature names"):
        det.predict(pd.DataFrame(X_new, columns=["b", "a"]))
    # a DataFrame reaches the wrapped detector: a pipeline selects columns by name
    frame["country"] = np.where(np.arange(len(X)) % 2, "fr", "es")
    by_name = ConformalOutlierDetector(
        make_pipeline(make_column_transformer((StandardScaler(), ["a", "b"])), small_forest()),
        random_state=0,
    ).fit(frame)
    new_frame = pd.DataFrame(X_new, columns=["a", "b"]).assign(country="es")
    assert np.all(by_name.predict(new_frame)[-5:] == -1)
    tags = det.__sklearn_tags__()
    assert tags.estimator_type == "outlier_detector"
    assert tags.input_tags.allow_nan and tags.input_tags.sparse  # as IsolationForest
    lof_tags = ConformalOutlierDetector(LocalOutlierFactor(novelty=True)).__sklearn_tags__()
    assert not lof_tags.input_tags.allow_nan


def test_wraps_a_deep_detector(data):
    X, X_new = data
    det = ConformalOutlierDetector(
        AEOutlierDetector(n_estimators=1, epochs=2, random_state=0), method="cv", cv=2,
        random_state=0,
    ).fit(X)
    assert len(det.estimators_) == 2 and det.calibration_scores_.size == len(X)
    np.testing.assert_array_equal(det.predict(X_new) == -1,
                                  det.predict_pvalues(X_new) <= det.contamination)


# ---------------------------------------------------------------- saving
def _round_trip(det, path, X_new):
    sklearn_daml.save(det, path)
    loaded = sklearn_daml.load(path)
    assert type(loaded) is ConformalOutlierDetector and repr(loaded) == repr(det)
    np.testing.assert_array_equal(loaded.score_samples(X_new), det.score_samples(X_new))
    np.testing.assert_array_equal(loaded.predict_pvalues(X_new), det.predict_pvalues(X_new))
    assert loaded.offset_ == det.offset_
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


@pytest.mark.parametrize("method", ["split", "cv"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: small_forest(),
        lambda: LocalOutlierFactor(novelty=True),  # a KD-tree, rebuilt at load
        lambda: LocalOutlierFactor(novelty=True, algorithm="ball_tree", metric="manhattan"),
        lambda: make_pipeline(StandardScaler(), small_forest()),
    ],
    ids=["forest", "lof", "lof-ball-tree", "pipeline"],
)
def test_save_and_load_round_trip(make, method, data, tmp_path):
    X, X_new = data
    det = ConformalOutlierDetector(make(), method=method, cv=3, random_state=0).fit(X)
    manifest = _round_trip(det, tmp_path / "det.daml", X_new)
    assert manifest["format_version"] == 3
    sklearn_daml.save(clone(det), tmp_path / "unfitted.daml")  # unfitted too
    assert repr(sklearn_daml.load(tmp_path / "unfitted.daml")) == repr(det)


def test_save_and_load_a_wrapped_deep_detector(data, tmp_path):
    X, X_new = data
    det = ConformalOutlierDetector(
        AEOutlierDetector(n_estimators=1, epochs=2, random_state=0), random_state=0
    ).fit(X)
    _round_trip(det, tmp_path / "det.daml", X_new)


def test_saving_refuses_a_detector_the_format_cannot_hold(data, tmp_path):
    X, _ = data
    det = ConformalOutlierDetector(OneClassSVM(), random_state=0).fit(X)
    with pytest.raises(TypeError, match=r"Cannot save estimator of ConformalOutlierDetector, "
                                        r"OneClassSVM\(\): .*OneClassSVM is neither"):
        sklearn_daml.save(det, tmp_path / "det.daml")
    assert os.listdir(tmp_path) == []


def _rewrite_manifest(path, edit):
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(contents["manifest.json"])
    edit(manifest)
    contents["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in contents.items():
            archive.writestr(name, content)


def test_loading_refuses_a_tree_that_points_outside_itself(data, tmp_path):
    X, _ = data
    path = tmp_path / "det.daml"
    sklearn_daml.save(ConformalOutlierDetector(small_forest(), random_state=0).fit(X), path)

    def wrong_count(manifest):
        tree = manifest["attributes"]["estimator_"]["attributes"]["estimators_"][0]
        for item in tree["attributes"]["tree_"]["state"]["items"]:
            if item[0] == "node_count":
                item[1] += 5

    _rewrite_manifest(path, wrong_count)
    with pytest.raises(ValueError, match="is damaged: a tree of scikit-learn counts"):
        sklearn_daml.load(path)

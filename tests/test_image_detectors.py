"""PixelCNNOutlierDetector and LLROutlierDetector: input rules, scores, quality."""

import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_daml import LLROutlierDetector, PixelCNNOutlierDetector, _image
from sklearn_daml._thresholds import conformal_offset
from sklearn_daml.models import PixelCNN

TINY = dict(
    low=0, high=3, num_resnet=1, num_hierarchies=1, num_filters=8, num_logistic_mix=2,
    dropout_p=0.0, epochs=2, random_state=0,
)
DETECTORS = [PixelCNNOutlierDetector(**TINY), LLROutlierDetector(**TINY)]
IDS = ["PixelCNN", "LLR"]


def _images(n=60, shape=(3, 4, 1), seed=0):
    return np.random.RandomState(seed).randint(0, 4, size=(n, *shape)).astype(float)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_4d_and_flat_input_agree(detector):
    X = _images()
    a = clone(detector).fit(X)
    b = clone(detector).set_params(image_shape=(3, 4, 1)).fit(X.reshape(len(X), -1))
    assert a.image_shape_ == b.image_shape_ == (3, 4, 1)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X.reshape(len(X), -1)))
    assert a.feature_score_samples(X).shape == (len(X), 3, 4)


def test_table_is_a_one_row_image():
    X = _images(shape=(1, 6, 1)).reshape(60, 6)
    det = PixelCNNOutlierDetector(**TINY).fit(X)
    assert det.image_shape_ == (1, 6, 1)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_values_are_rounded_and_clipped_with_a_warning(detector):
    X = _images()
    det = clone(detector).fit(X)
    np.testing.assert_array_equal(det.score_samples(X + 0.3), det.score_samples(X))
    with pytest.warns(UserWarning, match="clipped"):
        clipped = det.score_samples(X + 5)
    np.testing.assert_array_equal(clipped, det.score_samples(np.full_like(X, 3)))


def test_input_errors_are_clear():
    X = _images()
    with pytest.raises(ValueError, match="holds 10 values but X has 12"):
        PixelCNNOutlierDetector(image_shape=(2, 5, 1), **TINY).fit(X.reshape(60, -1))
    with pytest.raises(ValueError, match=r"images of shape \(3, 4, 1\) but image_shape"):
        PixelCNNOutlierDetector(image_shape=(4, 3, 1), **TINY).fit(X)
    with pytest.raises(ValueError, match="high must be greater than low"):
        PixelCNNOutlierDetector(**{**TINY, "low": 3}).fit(X)
    det = PixelCNNOutlierDetector(**TINY).fit(X)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(3, 4, 1\)"):
        det.predict(X.reshape(60, 4, 3, 1))
    with pytest.raises(ValueError, match="NaN"):
        det.predict(np.where(X > 2, np.nan, X))
    with pytest.raises(ValueError, match="dim 5"):
        det.predict(X[..., None])


def test_pixelcnn_scores_are_log_likelihoods():
    X = _images()
    det = PixelCNNOutlierDetector(**TINY).fit(X)
    log_prob = np.asarray(det.model_.log_prob(X, training=False))
    np.testing.assert_allclose(det.score_samples(X), log_prob, rtol=1e-12)
    np.testing.assert_allclose(det.feature_score_samples(X).sum(axis=(1, 2)), log_prob, rtol=1e-10)
    assert np.all(det.score_samples(X) < 0)  # probabilities of discrete values
    bits = PixelCNNOutlierDetector(bits_per_dim=True, **TINY).fit(X)
    np.testing.assert_allclose(bits.score_samples(X), log_prob / (12 * np.log(2)), rtol=1e-12)


def test_llr_is_semantic_minus_background():
    X = _images()
    det = LLROutlierDetector(**TINY).fit(X)
    semantic = np.asarray(det.model_.log_prob(X, training=False))
    background = np.asarray(det.background_model_.log_prob(X, training=False))
    np.testing.assert_allclose(det.score_samples(X), semantic - background, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        det.feature_score_samples(X).sum(axis=(1, 2)), semantic - background, rtol=1e-8, atol=1e-8
    )
    assert len(det.background_loss_curve_) == TINY["epochs"]
    assert not np.allclose(semantic, background)


def test_auto_grid_is_the_training_range():
    X = _images() + 2  # values 2..5
    det = PixelCNNOutlierDetector(**{**TINY, "low": "auto", "high": "auto"}).fit(X)
    assert (det.low_, det.high_) == (2, 5)
    assert (det.model_.low, det.model_.high) == (2, 5)
    with pytest.warns(UserWarning, match=r"outside \[low, high\] = \[2, 5\]"):
        det.score_samples(X + 1)
    constant = PixelCNNOutlierDetector(**{**TINY, "low": "auto", "high": "auto"}).fit(X * 0 + 7)
    assert (constant.low_, constant.high_) == (7, 8)
    mixed = PixelCNNOutlierDetector(**{**TINY, "low": 0, "high": "auto"}).fit(X)
    assert (mixed.low_, mixed.high_) == (0, 5)
    with pytest.raises(ValueError, match="high must be greater than low"):
        PixelCNNOutlierDetector(**{**TINY, "low": "auto", "high": 1}).fit(X)


def test_auto_architecture_is_small_for_digits_and_daml_for_large_data():
    digits = load_digits().images[:125, ..., None]
    det = PixelCNNOutlierDetector(epochs=1, random_state=0).fit(digits)
    assert (det.low_, det.high_) == (0, 16)
    small = dict(
        num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.0,
        use_weight_norm=False,
    )
    assert det.pixelcnn_params_ == small
    assert {name: getattr(det.model_, name) for name in small} == small
    # 25,000 images of 32 x 32: DAML's configuration, the defaults of the model class
    defaults = {
        name: p.default for name, p in inspect.signature(PixelCNN).parameters.items()
        if name in small
    }
    large = PixelCNNOutlierDetector()
    large.image_shape_ = (32, 32, 3)
    assert large._resolve_architecture(25_000) == defaults
    assert large._resolve_architecture(4_000) == dict(
        num_resnet=2, num_hierarchies=3, num_filters=64, num_logistic_mix=6, dropout_p=0.125,
        use_weight_norm=True,
    )
    # a table row is a 1 x n image: one level; explicit values win over 'auto'
    det = PixelCNNOutlierDetector(num_filters=8, epochs=1).fit(_images(shape=(1, 6, 1)))
    assert det.pixelcnn_params_["num_hierarchies"] == 1
    assert det.pixelcnn_params_["num_filters"] == det.model_.num_filters == 8


def test_freed_memory_is_released_after_every_epoch(monkeypatch):
    _image.release_freed_memory()  # glibc's malloc_trim, or a no-op elsewhere
    calls = []
    monkeypatch.setattr(_image, "release_freed_memory", lambda: calls.append(1))
    LLROutlierDetector(**{**TINY, "epochs": 3}).fit(_images())
    assert len(calls) == 6  # every epoch of each of the two models


def test_mutation_replaces_values_by_different_grid_values():
    det = LLROutlierDetector(**{**TINY, "mutation_rate": 0.3})
    det.low_, det.high_ = 0, 3  # as fit resolves them
    X = np.random.RandomState(0).randint(0, 4, size=(400, 25)).astype(float)
    mutated = det._mutate(X, np.random.RandomState(1))
    changed = mutated != X
    assert abs(changed.mean() - 0.3) < 0.02
    assert set(np.unique(mutated)) <= {0.0, 1.0, 2.0, 3.0}
    # replacements are uniform over the three other values
    counts = np.bincount(((mutated - X) % 4)[changed].astype(int), minlength=4)
    assert counts[0] == 0 and counts[1:].min() > 0.28 * changed.sum()


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_deterministic_and_pickles(detector):
    X = _images()
    a = clone(detector).fit(X)
    b = clone(detector).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.score_samples(X), a.score_samples(X))
    np.testing.assert_array_equal(restored.feature_score_samples(X), a.feature_score_samples(X))


def digits_split(inlier_class=0, seed=0):
    digits = load_digits()
    images = digits.images[..., None]
    inliers = images[digits.target == inlier_class]
    train, held_out = train_test_split(inliers, test_size=0.3, random_state=seed)
    others = images[digits.target != inlier_class]
    others = others[np.random.RandomState(seed).choice(len(others), 200, replace=False)]
    X_test = np.concatenate([held_out, others])
    y_test = np.r_[np.ones(len(held_out)), -np.ones(len(others))]
    return train, X_test, y_test


@pytest.mark.slow
@pytest.mark.parametrize("cls", [PixelCNNOutlierDetector, LLROutlierDetector])
def test_digits_defaults_match_isolation_forest(cls):
    """With the defaults ('auto' resolved to the small network), zeros as
    inliers: ROC-AUC 0.996 for PixelCNN and 0.999 for LLR against
    IsolationForest's 0.999 (seed 0; benchmarks/README.md has every digit)."""
    train, X_test, y_test = digits_split()
    det = cls(random_state=0).fit(train)
    scores = det.score_samples(X_test)
    assert np.all(np.isfinite(scores))
    assert roc_auc_score(y_test, scores) >= 0.99
    # the threshold comes from held-out images: new zeros are flagged about
    # as often as 'auto' says (0.05), not nearly all of them, as a threshold
    # on the scores of the images the network fitted would flag
    new_inliers = det.predict(X_test[y_test == 1]) == -1
    assert np.mean(new_inliers) <= 0.2
    # 25 held-out zeros: only images below all of them are flagged
    assert np.mean(det.predict(X_test[y_test == -1]) == -1) >= 0.5


# ------------------------------------------------- held-out threshold
def test_held_out_images_are_never_trained_on():
    # the network trains exactly as in a fit that leaves the held-out images
    # out, and the same images are held out whatever the order of the rows
    X = _images(n=80)
    det = PixelCNNOutlierDetector(**TINY, calibration_size=0.25).fit(X)
    held_out = det._held_out_rows(X)
    assert held_out.sum() == 20
    left_out = PixelCNNOutlierDetector(**TINY, calibration_size=None)
    left_out.fit(X, sample_weight=(~held_out).astype(float))
    order = np.random.RandomState(3).permutation(len(X))
    reordered = PixelCNNOutlierDetector(**TINY, calibration_size=0.25).fit(X[order])
    np.testing.assert_array_equal(reordered._held_out_rows(X[order]), held_out[order])
    for other in (left_out, reordered):
        for a, b in zip(det.model_.get_weights(), other.model_.get_weights()):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.sort(reordered.calibration_scores_),
                                  np.sort(det.calibration_scores_))


@pytest.mark.parametrize("contamination, level", [("auto", 0.05), (0.1, 0.1)])
@pytest.mark.parametrize("cls", [PixelCNNOutlierDetector, LLROutlierDetector])
def test_offset_is_the_conformal_threshold_of_the_held_out_images(cls, contamination, level):
    X = _images(n=100)
    det = cls(**TINY, contamination=contamination).fit(X)  # calibration_size=0.2
    held_out = det._held_out_rows(X)
    np.testing.assert_array_equal(det.calibration_scores_, np.sort(det.score_samples(X[held_out])))
    assert det.offset_ == conformal_offset(det.calibration_scores_, level)
    # with weights, the held-out images count as often as their weights
    weights = np.random.RandomState(0).randint(1, 4, size=len(X)).astype(float)
    weighted = cls(**TINY, contamination=contamination).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(np.sort(weighted.calibration_weights_), np.sort(weights[held_out]))
    assert weighted.offset_ == conformal_offset(
        np.repeat(weighted.calibration_scores_, weighted.calibration_weights_.astype(int)), level)


def test_without_calibration_size_the_threshold_is_on_the_training_scores():
    X = _images(n=100)
    det = PixelCNNOutlierDetector(**TINY, contamination=0.1, calibration_size=None).fit(X)
    np.testing.assert_array_equal(det.calibration_scores_, np.sort(det.score_samples(X)))
    assert det.offset_ == pytest.approx(np.percentile(det.score_samples(X), 10), rel=1e-12)
    # and a refit with held-out images sets them again
    det.set_params(calibration_size=10).fit(X)
    assert det.calibration_scores_.shape == (10,)


def test_too_few_held_out_images_warn_and_flag_nothing():
    X = _images(n=40)
    with pytest.warns(UserWarning, match="held out 8 rows .* too few for a p-value as small as 0.05"):
        det = PixelCNNOutlierDetector(**TINY).fit(X)
    assert det.offset_ == -np.inf and np.all(det.predict(X) == 1)
    with pytest.raises(ValueError, match="calibration_size=40 leaves no rows to train on"):
        PixelCNNOutlierDetector(**TINY, calibration_size=40).fit(X)

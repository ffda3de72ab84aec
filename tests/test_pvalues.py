"""Every detector's own conformal p-values and false-discovery control
(``predict_pvalues``, ``predict_fdr``), shared with ConformalOutlierDetector."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import sklearn_daml
from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    ConformalOutlierDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)
from sklearn_daml._thresholds import (
    AUTO_LEVEL,
    benjamini_hochberg,
    conformal_offset,
    conformal_pvalues,
)

from .test_adversarial import classifier


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(150, 4))


@pytest.fixture(scope="module")
def ae(X):
    return AEOutlierDetector(epochs=2, random_state=0).fit(X)


# ------------------------------------------------------- weighted p-values
def test_weighted_pvalues_are_the_pvalues_of_the_repeated_rows():
    rng = np.random.RandomState(0)
    for n in (1, 2, 5, 30, 120):
        calibration = np.round(rng.normal(size=n), 1)  # ties
        weights = rng.randint(0, 4, size=n).astype(float)
        weights[0] = 1.0
        scores = np.r_[calibration, np.round(rng.normal(size=50), 1), -np.inf, np.inf]
        repeated = np.repeat(calibration, weights.astype(int))
        np.testing.assert_array_equal(
            conformal_pvalues(calibration, scores, weights), conformal_pvalues(repeated, scores)
        )
        np.testing.assert_array_equal(
            conformal_pvalues(calibration, scores, np.ones(n)), conformal_pvalues(calibration, scores)
        )
    # a NaN score is never evidence against a row
    assert conformal_pvalues([0.0, 1.0], [np.nan], [1.0, 2.0])[0] == 1.0


def test_weighted_offset_flags_exactly_the_rows_with_small_weighted_pvalues():
    rng = np.random.RandomState(1)
    for n in (3, 20, 200):
        calibration = np.round(rng.normal(size=n), 1)
        weights = rng.uniform(0, 3, size=n)  # fractional: sums are not exact
        scores = np.r_[calibration, np.round(rng.normal(size=300), 2), -np.inf, np.inf]
        pvalues = conformal_pvalues(calibration, scores, weights)
        for level in (0.01, 0.05, 0.1, 0.3):
            offset = conformal_offset(calibration, level, weights)
            np.testing.assert_array_equal(scores < offset, pvalues <= level)


def test_weights_must_match_the_calibration_scores():
    with pytest.raises(ValueError, match="one per calibration score"):
        conformal_pvalues([0.0, 1.0], [0.5], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        conformal_pvalues([0.0, 1.0], [0.5], [1.0, -1.0])


# ------------------------------------------------------ on every detector
def test_auto_flags_exactly_the_rows_with_pvalues_at_most_its_level(ae, X):
    X_new = np.random.RandomState(1).normal(size=(400, 4)) * 1.3
    pvalues = ae.predict_pvalues(X_new)
    np.testing.assert_array_equal(ae.predict(X_new) == -1, pvalues <= AUTO_LEVEL)
    np.testing.assert_array_equal(pvalues, conformal_pvalues(ae.score_samples(X), ae.score_samples(X_new)))
    np.testing.assert_array_equal(ae.calibration_scores_, np.sort(ae.score_samples(X)))
    assert ae.calibration_weights_ is None


def test_sample_weight_counts_calibration_rows_as_copies(X):
    weights = np.random.RandomState(2).randint(0, 3, size=len(X)).astype(float)
    det = AEOutlierDetector(epochs=2, random_state=0).fit(X, sample_weight=weights)
    assert det.calibration_scores_.size == np.count_nonzero(weights)
    X_new = np.random.RandomState(3).normal(size=(300, 4)) * 1.3
    repeated = np.repeat(det.score_samples(X), weights.astype(int))
    np.testing.assert_array_equal(
        det.predict_pvalues(X_new), conformal_pvalues(repeated, det.score_samples(X_new))
    )
    np.testing.assert_array_equal(det.predict(X_new) == -1, det.predict_pvalues(X_new) <= AUTO_LEVEL)


def test_infer_threshold_calibrates_on_the_reference_batch(X):
    det = AEOutlierDetector(epochs=2, random_state=0).fit(X)
    reference = np.random.RandomState(4).normal(size=(99, 4))
    X_new = np.random.RandomState(5).normal(size=(50, 4))
    assert det.infer_threshold(reference) is det
    np.testing.assert_array_equal(det.calibration_scores_, np.sort(det.score_samples(reference)))
    np.testing.assert_array_equal(
        det.predict_pvalues(X_new),
        conformal_pvalues(det.score_samples(reference), det.score_samples(X_new)),
    )
    # the next fit calibrates on its training rows again
    det.fit(X)
    assert det.calibration_scores_.size == len(X)


def test_pvalues_of_new_inliers_are_valid_with_a_held_out_reference():
    """Marginal validity of the detector's own p-values, calibrated with
    ``infer_threshold`` on rows it never trained on: the share of new
    inliers with ``p <= 0.1`` over 300 draws of 49 reference and 100 new
    rows lies in ``[0.1 - 1/50, 0.1]`` up to three standard errors (it is
    ``floor(0.1 * 50) / 50 = 0.1`` in expectation)."""
    rng = np.random.RandomState(6)
    det = AEOutlierDetector(epochs=3, random_state=0).fit(rng.normal(size=(300, 3)))
    fresh = rng.normal(size=(300 * 149, 3))
    scores = det.score_samples(fresh).reshape(300, 149)  # one batch: scores do not depend on it
    rates = []
    for draw in scores:
        rates.append(np.mean(conformal_pvalues(draw[:49], draw[49:]) <= 0.1))
    mean, se = np.mean(rates), np.std(rates, ddof=1) / np.sqrt(len(rates))
    assert 0.1 - 1 / 50 - 3 * se <= mean <= 0.1 + 3 * se, (mean, se)
    # the p-values of the method itself on one draw
    reference, new = fresh[:49], fresh[49:149]
    det.infer_threshold(reference)
    np.testing.assert_array_equal(
        det.predict_pvalues(new), conformal_pvalues(det.score_samples(reference), det.score_samples(new))
    )


def test_predict_fdr_is_benjamini_hochberg_on_the_pvalues(ae):
    rng = np.random.RandomState(7)
    ae_ref = pickle.loads(pickle.dumps(ae)).infer_threshold(rng.normal(size=(999, 4)))
    batch = np.r_[rng.normal(size=(90, 4)), rng.normal(size=(10, 4)) + 6.0]
    pvalues = ae_ref.predict_pvalues(batch)
    for alpha in (0.05, 0.1, 0.3):
        expected = np.where(benjamini_hochberg(pvalues, alpha), -1, 1)
        np.testing.assert_array_equal(ae_ref.predict_fdr(batch, alpha=alpha), expected)
    assert np.all(ae_ref.predict_fdr(batch)[90:] == -1)
    with pytest.raises(ValueError, match="alpha"):
        ae_ref.predict_fdr(batch, alpha=1.5)


@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: VAEOutlierDetector(epochs=1, n_estimators=2, random_state=0), "rows"),
        (lambda: AEGMMOutlierDetector(epochs=1, n_estimators=2, random_state=0), "rows"),
        (lambda: Seq2SeqOutlierDetector(seq_len=8, latent_dim=2, epochs=1, random_state=0),
         "windows"),
        (lambda: PixelCNNOutlierDetector(epochs=1, random_state=0), "images"),
    ],
    ids=["VAE", "AEGMM", "Seq2Seq", "PixelCNN"],
)
def test_every_kind_of_detector_gives_pvalues(make, data):
    rng = np.random.RandomState(8)
    X = {
        "rows": rng.normal(size=(120, 3)),
        "windows": np.sin(0.4 * (np.arange(120)[:, None] + np.arange(8))),
        "images": rng.randint(0, 4, size=(120, 3, 3, 1)).astype(float),
    }[data]
    det = make().fit(X)
    pvalues = det.predict_pvalues(X[:30])
    np.testing.assert_array_equal(
        pvalues,
        conformal_pvalues(det.calibration_scores_, det.score_samples(X[:30]), det.calibration_weights_),
    )
    assert np.all((pvalues > 0) & (pvalues <= 1))
    assert det.predict_fdr(X[:30]).shape == (30,)


def test_held_out_images_are_the_calibration_rows():
    images = np.random.RandomState(9).randint(0, 4, size=(120, 3, 3, 1)).astype(float)
    det = PixelCNNOutlierDetector(epochs=1, random_state=0).fit(images)
    held_out = det._held_out_rows(images)
    np.testing.assert_array_equal(det.calibration_scores_, np.sort(det.score_samples(images[held_out])))
    np.testing.assert_array_equal(
        det.predict(images) == -1, det.predict_pvalues(images) <= AUTO_LEVEL
    )


def test_conformal_outlier_detector_shares_the_methods():
    for name in ("predict_pvalues", "predict_fdr"):
        assert getattr(ConformalOutlierDetector, name) is getattr(AEOutlierDetector, name)


# ----------------------------------------------------- saving and pickling
def test_saving_and_pickling_keep_the_calibration(X, tmp_path):
    weights = np.random.RandomState(10).randint(1, 3, size=len(X)).astype(float)
    det = AEOutlierDetector(epochs=2, random_state=0).fit(X, sample_weight=weights)
    X_new = np.random.RandomState(11).normal(size=(40, 4)) * 2
    path = str(tmp_path / "det.daml")
    det.save(path)
    for loaded in (sklearn_daml.load(path), pickle.loads(pickle.dumps(det))):
        np.testing.assert_array_equal(loaded.calibration_weights_, det.calibration_weights_)
        np.testing.assert_array_equal(loaded.predict_pvalues(X_new), det.predict_pvalues(X_new))
        np.testing.assert_array_equal(loaded.predict_fdr(X_new), det.predict_fdr(X_new))


def test_a_detector_without_calibration_scores_says_what_to_do(ae, X):
    old = pickle.loads(pickle.dumps(ae))
    del old.calibration_scores_, old.calibration_weights_
    with pytest.raises(AttributeError, match="Fit it again, or call infer_threshold"):
        old.predict_pvalues(X[:3])
    old.infer_threshold(X)
    assert old.predict_pvalues(X[:3]).shape == (3,)


def test_unfitted_detector_refuses():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AEOutlierDetector().predict_pvalues([[0.0, 1.0]])


def test_dask_pvalues_equal_in_memory_ones(ae):
    da = pytest.importorskip("dask.array")
    X_new = np.random.RandomState(12).normal(size=(100, 4))
    lazy = ae.predict_pvalues(da.from_array(X_new, chunks=30))
    np.testing.assert_array_equal(lazy.compute(), ae.predict_pvalues(X_new))
    np.testing.assert_array_equal(ae.predict_fdr(da.from_array(X_new, chunks=30)), ae.predict_fdr(X_new))


# ------------------------------------- held-out rows for every kind of detector
def _held_out_cases():
    from sklearn_daml import AdversarialAEDetector, ModelDistillationDetector

    rng = np.random.RandomState(13)
    rows = rng.normal(size=(100, 4))
    windows = np.sin(0.4 * (np.arange(100)[:, None] + np.arange(8))) + 0.05 * rng.normal(size=(100, 8))
    return [
        (lambda **p: Seq2SeqOutlierDetector(seq_len=8, latent_dim=2, epochs=2, **p), windows),
        (lambda **p: AdversarialAEDetector(classifier, epochs=2, **p), rows),
        (lambda **p: ModelDistillationDetector(classifier, epochs=2, **p), rows),
        (lambda **p: AEOutlierDetector(epochs=2, **p), rows),
        (lambda **p: VAEOutlierDetector(epochs=2, **p), rows),
        (lambda **p: AEGMMOutlierDetector(epochs=2, **p), rows),
        (lambda **p: VAEGMMOutlierDetector(epochs=2, **p), rows),
        (lambda **p: AEOutlierDetector(epochs=2, **p), sp.csr_matrix(np.where(rows > 0.5, rows, 0.0))),
    ]


@pytest.mark.parametrize(
    "case",
    range(8),
    ids=["Seq2Seq", "AdversarialAE", "ModelDistillation", "AE", "VAE", "AEGMM", "VAEGMM", "AE-sparse"],
)
def test_held_out_rows_set_the_threshold_of_every_kind_of_detector(case):
    """With ``calibration_size``, the rows held out never reach training (the
    weights equal those of a fit that gives them weight zero), their sorted
    scores are the calibration scores, and ``offset_`` is their conformal
    threshold; the default (``None``) is the training-score threshold."""
    make, X = _held_out_cases()[case]
    det = make(calibration_size=0.25, random_state=0).fit(X)
    held_out = det._held_out_rows(X)
    assert held_out.sum() == 25
    left_out = make(random_state=0).fit(X, sample_weight=(~held_out).astype(float))
    for a, b in zip(det.model_.get_weights(), left_out.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(det.calibration_scores_, np.sort(det.score_samples(X[held_out])))
    assert det.offset_ == conformal_offset(det.calibration_scores_, AUTO_LEVEL)
    np.testing.assert_array_equal(det.predict(X) == -1, det.predict_pvalues(X) <= AUTO_LEVEL)
    default = make(random_state=0).fit(X)
    assert default.calibration_size is None
    np.testing.assert_array_equal(default.calibration_scores_, np.sort(default.score_samples(X)))

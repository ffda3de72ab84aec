"""Sparse input (CSR, CSC, any scipy.sparse format), as IsolationForest takes
it: the tabular detectors read a sparse ``X`` one batch of rows at a time,
densified, and a fit or a score equals the one on the same data dense, bit
for bit. The image and series detectors refuse it with a clear message."""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_daml import (
    AdversarialAEDetector,
    AEGMMOutlierDetector,
    AEOutlierDetector,
    LLROutlierDetector,
    ModelDistillationDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)
from sklearn_daml._weights import canonical_order

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Classifier:
    """A small softmax classifier for rows of ``n_features`` (built at fit)."""

    def __call__(self, n_features):
        return keras.Sequential(
            [
                keras.Input((n_features,)),
                keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )


TABULAR = [
    AEOutlierDetector(epochs=2, random_state=0),
    VAEOutlierDetector(epochs=2, samples=3, random_state=0),
    AEGMMOutlierDetector(epochs=2, random_state=0),
    VAEGMMOutlierDetector(epochs=2, samples=3, random_state=0),
    AdversarialAEDetector(Classifier(), epochs=2, random_state=0),
    ModelDistillationDetector(Classifier(), epochs=2, random_state=0),
]
IDS = [type(d).__name__ for d in TABULAR]


def _one_hot_like(n_rows=240, seed=0):
    """Mostly zeros: a one-hot block of 3 categories x 4 values, plus a few
    sparse numeric columns, and some far rows."""
    rng = np.random.RandomState(seed)
    X = np.zeros((n_rows, 16))
    for block in range(3):
        X[np.arange(n_rows), 4 * block + rng.randint(0, 4, size=n_rows)] = 1.0
    X[:, 12:] = (rng.uniform(size=(n_rows, 4)) < 0.15) * rng.normal(size=(n_rows, 4))
    X[-8:, 12:] += 6.0
    return X


@pytest.mark.parametrize("detector", TABULAR, ids=IDS)
def test_fit_and_score_on_sparse_equal_dense(detector):
    X = _one_hot_like()
    X_new = _one_hot_like(60, seed=1)
    dense = clone(detector).fit(X)
    expected = dense.score_samples(X_new)
    for to_sparse in (sp.csr_matrix, sp.csc_matrix):
        fitted = clone(detector).fit(to_sparse(X))
        assert fitted.offset_ == dense.offset_
        np.testing.assert_array_equal(fitted.score_samples(to_sparse(X_new)), expected)
        np.testing.assert_array_equal(
            fitted.decision_function(to_sparse(X_new)), dense.decision_function(X_new)
        )
        np.testing.assert_array_equal(fitted.predict(to_sparse(X)), dense.predict(X))
        # a sparse fit scores dense rows, a dense fit sparse ones, the same
        np.testing.assert_array_equal(fitted.score_samples(X_new), expected)
        np.testing.assert_array_equal(dense.score_samples(to_sparse(X_new)), expected)


@pytest.mark.parametrize(
    "detector",
    [AEOutlierDetector(epochs=2, random_state=0), AEGMMOutlierDetector(epochs=2, random_state=0)],
    ids=["AE", "AEGMM"],
)
def test_sample_weight_with_sparse_input_equals_dense(detector):
    X = _one_hot_like()
    weights = np.random.RandomState(3).uniform(0, 3, size=X.shape[0])
    weights[::9] = 0.0  # dropped rows: the sparse matrix is subset, not densified
    dense = clone(detector).fit(X, sample_weight=weights)
    sparse = clone(detector).fit(sp.csr_matrix(X), sample_weight=weights)
    assert sparse.offset_ == dense.offset_
    np.testing.assert_array_equal(sparse.score_samples(sp.csr_matrix(X)), dense.score_samples(X))


def test_one_hot_encoder_pipeline():
    rng = np.random.RandomState(0)
    table = np.column_stack(
        [
            rng.choice(["red", "green", "blue"], size=300),
            rng.choice(["S", "M", "L", "XL"], size=300),
            rng.choice(["yes", "no"], size=300),
        ]
    ).astype(object)
    pipe = make_pipeline(OneHotEncoder(), AEOutlierDetector(epochs=2, random_state=0))
    pipe.fit(table)
    assert sp.issparse(pipe[0].transform(table))  # OneHotEncoder's default output
    scores = pipe.score_samples(table)
    assert scores.shape == (300,) and np.all(np.isfinite(scores))
    assert set(np.unique(pipe.predict(table))) <= {-1, 1}
    dense = make_pipeline(
        OneHotEncoder(sparse_output=False), AEOutlierDetector(epochs=2, random_state=0)
    ).fit(table)
    np.testing.assert_array_equal(dense.score_samples(table), scores)


def test_any_sparse_format_is_read_as_csr():
    X = _one_hot_like()
    detector = AEOutlierDetector(n_estimators=1, epochs=2, random_state=0)
    expected = clone(detector).fit(X).score_samples(X)
    for sparse in (sp.coo_matrix(X), sp.lil_matrix(X), sp.csr_array(X)):
        np.testing.assert_array_equal(clone(detector).fit(sparse).score_samples(sparse), expected)


def test_feature_scores_and_correct_take_sparse_rows():
    X = _one_hot_like()
    ae = AEOutlierDetector(epochs=2, random_state=0).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(
        ae.feature_score_samples(sp.csr_matrix(X)), ae.feature_score_samples(X)
    )
    adversarial = AdversarialAEDetector(Classifier(), epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(adversarial.correct(sp.csc_matrix(X)), adversarial.correct(X))


def test_sparse_input_with_nan_or_inf_is_rejected_as_dense():
    X = _one_hot_like()
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[3, 12] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            AEOutlierDetector(epochs=1).fit(sp.csr_matrix(X_bad))
    fitted = AEOutlierDetector(epochs=1, random_state=0).fit(sp.csr_matrix(X))
    X_bad[3, 12] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(sp.csr_matrix(X_bad))


PIXELS = np.random.RandomState(0).randint(0, 4, size=(40, 9)).astype(float)
WINDOWS = np.random.RandomState(0).normal(size=(40, 8))


@pytest.mark.parametrize(
    "detector, X",
    [
        (PixelCNNOutlierDetector(epochs=1), PIXELS),
        (LLROutlierDetector(epochs=1), PIXELS),
        (Seq2SeqOutlierDetector(latent_dim=4, epochs=1), WINDOWS),
    ],
    ids=["PixelCNN", "LLR", "Seq2Seq"],
)
def test_image_and_series_detectors_refuse_sparse_input(detector, X):
    name = type(detector).__name__
    with pytest.raises(TypeError, match=rf"{name} does not take sparse input.*X\.toarray\(\)"):
        detector.fit(sp.csr_matrix(X))


def test_a_fitted_series_detector_refuses_sparse_rows():
    X = np.random.RandomState(0).normal(size=(40, 8))
    detector = Seq2SeqOutlierDetector(latent_dim=4, epochs=1, random_state=0).fit(X)
    with pytest.raises(TypeError, match="Seq2SeqOutlierDetector does not take sparse input"):
        detector.score_samples(sp.csr_matrix(X))


def _csr_from_entries(entries, n_cols):
    """A CSR matrix storing exactly ``entries[i]``, ``(column, value)`` pairs, in row ``i``."""
    indptr = np.r_[0, np.cumsum([len(row) for row in entries])]
    indices = np.array([col for row in entries for col, _ in row], dtype=np.int32)
    data = np.array([value for row in entries for _, value in row], dtype=np.float64)
    return sp.csr_matrix((data, indices, indptr), shape=(len(entries), n_cols))


def test_canonical_order_of_sparse_rows_is_that_of_the_dense_rows():
    """The hash keys of the stored values alone (a zero adds nothing) give
    the order of the dense rows, with repeated rows, empty rows and stored
    -0.0 entries; a matrix with repeated entries (summed by ``toarray``)
    is densified batch by batch instead, to the same order."""
    rng = np.random.RandomState(0)
    X = (rng.uniform(size=(500, 30)) < 0.1) * rng.randint(-2, 3, size=(500, 30)).astype(float)
    X[::50] = X[1]  # repeated rows
    X[100:110] = 0.0  # empty rows
    entries = [[(j, X[i, j]) for j in np.flatnonzero(X[i])] for i in range(X.shape[0])]
    entries[100].append((0, -0.0))  # a stored -0.0 in an empty row
    free = int(np.flatnonzero(X[1] == 0)[0])
    entries[1] = sorted(entries[1] + [(free, -0.0)])  # and in a repeated row
    sparse = _csr_from_entries(entries, X.shape[1])
    assert sparse.has_canonical_format and np.array_equal(sparse.toarray(), X)
    expected = canonical_order(X)
    np.testing.assert_array_equal(canonical_order(sparse), expected)
    # every stored value split in two repeated entries of half of it
    halves = sp.csr_matrix(
        (np.repeat(sparse.data / 2, 2), np.repeat(sparse.indices, 2), 2 * sparse.indptr),
        shape=X.shape,
    )
    assert not halves.has_canonical_format and np.array_equal(halves.toarray(), X)
    np.testing.assert_array_equal(canonical_order(halves), expected)

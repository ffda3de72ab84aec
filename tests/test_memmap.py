"""Training on a memory-mapped array: same scores as in memory, no whole copy."""

import tracemalloc

import numpy as np
import pytest

from sklearn_daml import AEGMMOutlierDetector, AEOutlierDetector
from sklearn_daml import _ensemble as ensemble

DETECTORS = [
    AEOutlierDetector(
        n_estimators=2, hidden_layer_sizes=(8,), epochs=4, early_stopping=True, n_iter_no_change=2
    ),
    AEGMMOutlierDetector(
        hidden_layer_sizes=(8,), n_gmm=2, epochs=4, early_stopping=True, n_iter_no_change=2
    ),
]


def _memmap(path, X):
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=X.shape)
    mapped[:] = X
    mapped.flush()
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("detector", DETECTORS, ids=["AE", "AEGMM"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_on_memmap_equals_fit_in_memory(detector, tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 5)) * rng.uniform(0.5, 3, size=5)
    mapped = _memmap(tmp_path / "X.npy", X)
    assert isinstance(mapped, np.memmap) and detector.early_stopping
    in_memory = detector.set_params(random_state=0).fit(X)
    expected, curve = in_memory.score_samples(X), in_memory.validation_loss_curve_
    on_disk = detector.set_params(random_state=0).fit(mapped)
    np.testing.assert_array_equal(on_disk.validation_loss_curve_, curve)
    np.testing.assert_array_equal(on_disk.score_samples(mapped), expected)
    np.testing.assert_array_equal(on_disk.score_samples(X), expected)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_on_memmap_makes_no_whole_copy(tmp_path, monkeypatch):
    """NumPy's allocations during the fit stay far below the array's size:
    validation, the validation split, the batches and the GMM and
    reconstruction statistics read the mapped rows in pieces.

    The error scales (``scaled_error``) are the one step that holds values
    for many rows at once: every member's error in every feature for a
    seeded sample of at most ``_SCALE_ROWS`` rows, a bound that does not
    grow with the data (20,000 rows x 5 members x 64 features here, about
    five times that in sort temporaries). It is set small here so the count
    sees the rest of the fit. The GMM features kept for the EM steps are
    TensorFlow tensors, bounded by ``working_memory``, and not counted."""
    monkeypatch.setattr(ensemble, "_SCALE_ROWS", 200)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50_000, 64))
    mapped = _memmap(tmp_path / "X.npy", X)
    del X
    detector = AEGMMOutlierDetector(
        hidden_layer_sizes=(8,), n_gmm=2, epochs=1, batch_size=4096, random_state=0
    )
    detector.fit(mapped[:100])  # TensorFlow's first-use allocations, outside the count
    tracemalloc.start()
    try:
        detector.fit(mapped)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < mapped.nbytes / 2  # a whole copy alone is mapped.nbytes

import os
from pathlib import Path

import numpy as np
import pytest

import sklearn_daml  # noqa: F401  (imports TensorFlow quietly before anything else)

SHARED_DATA = Path(
    os.environ.get("SKLEARN_DAML_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


def load_shared(name):
    """A data set from ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return np.load(path)


@pytest.fixture
def blobs():
    """200 inliers around the origin and 10 far outliers (labels +1/-1)."""
    rng = np.random.RandomState(0)
    inliers = rng.normal(size=(200, 4))
    outliers = rng.uniform(5, 8, size=(10, 4)) * rng.choice([-1, 1], size=(10, 4))
    X = np.vstack([inliers, outliers])
    y = np.r_[np.ones(200, dtype=int), -np.ones(10, dtype=int)]
    return X, y

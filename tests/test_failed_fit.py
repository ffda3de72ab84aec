"""What a failed call leaves behind: bad input changes nothing, a failed
training leaves the detector unfitted (documented in ``fit``)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_daml import AEGMMOutlierDetector, AEOutlierDetector, TrainingDivergedError


@pytest.fixture
def fitted(blobs):
    X, _ = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    det = AEOutlierDetector(n_estimators=2, epochs=3, random_state=0).fit(frame)
    return det, frame, det.score_samples(frame)


@pytest.mark.parametrize(
    "bad",
    [
        lambda frame: frame.assign(a=np.nan),
        lambda frame: frame.rename(columns={"a": "z"}).iloc[:1],
        lambda frame: frame.assign(a="text"),
        lambda frame: "not an array",
    ],
    ids=["nan", "one-row", "text-column", "string"],
)
def test_bad_input_at_refit_changes_nothing(fitted, bad):
    det, frame, before = fitted
    state = {k: v for k, v in vars(det).items() if k != "_compiled"}
    with pytest.raises((ValueError, TypeError)):
        det.fit(bad(frame))
    assert list(det.feature_names_in_) == ["a", "b", "c", "d"]
    assert det.n_features_in_ == 4 and det.model_ is state["model_"]
    np.testing.assert_array_equal(det.score_samples(frame), before)


def test_bad_input_at_scoring_changes_nothing(fitted):
    det, frame, before = fitted
    for bad in [frame.assign(a=np.inf), frame.iloc[:, :3], np.ones((3, 5))]:
        with pytest.raises(ValueError):
            det.score_samples(bad)
    np.testing.assert_array_equal(det.score_samples(frame), before)


def test_failed_training_leaves_the_detector_unfitted(blobs):
    X, _ = blobs
    det = AEGMMOutlierDetector(epochs=2, random_state=0).fit(X)
    huge = np.random.RandomState(0).normal(size=(50, 4)) * 1e160  # squares overflow
    with pytest.raises(TrainingDivergedError):
        det.fit(huge)
    with pytest.raises(NotFittedError):
        det.score_samples(X)
    assert not [name for name in vars(det) if name.endswith("_")]
    # and it fits again normally
    np.testing.assert_array_equal(
        det.fit(X).score_samples(X),
        AEGMMOutlierDetector(epochs=2, random_state=0).fit(X).score_samples(X),
    )

"""Detection quality on real data with default settings (slow)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEGMMOutlierDetector, VAEGMMOutlierDetector

from .conftest import load_shared


@pytest.mark.slow
@pytest.mark.parametrize("detector_cls", [AEGMMOutlierDetector, VAEGMMOutlierDetector])
@pytest.mark.parametrize("seed", [0, 1])
def test_gmm_detectors_on_thyroid(detector_cls, seed):
    """ADBench protocol: 70/30 stratified split, outliers kept in training."""
    data = load_shared("38_thyroid.npz")
    X_train, X_test, _, y_test = train_test_split(
        data["X"], data["y"], test_size=0.3, stratify=data["y"], random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    detector = detector_cls(random_state=seed).fit(scaler.transform(X_train))
    scores = detector.score_samples(scaler.transform(X_test))
    assert np.all(np.isfinite(scores))
    assert roc_auc_score(y_test, -scores) >= 0.90

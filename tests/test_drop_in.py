"""Replacing IsolationForest in code that works: a user's own networks, tiny
data and input shapes that mean something else get a fit or a clear answer."""

import os
import warnings

import keras
import numpy as np
import pytest

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
    load,
)
from sklearn_daml.timeseries import sliding_windows


@pytest.fixture
def X():
    rng = np.random.RandomState(0)
    return np.vstack([rng.normal(size=(150, 4)), rng.uniform(5, 8, size=(5, 4))])


def _encoder_with_a_lambda(n_features, width):
    return keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Lambda(lambda t: 0.5 * t),
            keras.layers.Dense(width),
        ]
    )


@pytest.mark.parametrize("Detector", [AEOutlierDetector, AEGMMOutlierDetector])
def test_a_network_with_a_lambda_layer_trains(Detector, X):
    """Keras' cloning serializes a Python lambda to bytecode and refuses to
    load it back; the network is the user's own object, so it is rebuilt
    around the same function and trains."""
    encoder = _encoder_with_a_lambda(4, 2)
    det = Detector(encoder_net=encoder, latent_dim=2, epochs=2, random_state=0).fit(X)
    again = Detector(encoder_net=encoder, latent_dim=2, epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), again.score_samples(X))
    assert det.score_samples(X)[-5:].max() < np.median(det.score_samples(X)[:150])


def test_a_variational_encoder_with_a_lambda_layer_trains(X):
    encoder = _encoder_with_a_lambda(4, 6)
    det = VAEOutlierDetector(encoder_net=encoder, latent_dim=2, epochs=2, random_state=0)
    assert np.all(np.isfinite(det.fit(X).score_samples(X)))


def test_a_saved_lambda_layer_loads_only_when_trusted(X, tmp_path):
    """A lambda is code: the file holds its bytecode and loading names it."""
    det = AEOutlierDetector(
        encoder_net=_encoder_with_a_lambda(4, 2), latent_dim=2, epochs=1, n_estimators=1,
        random_state=0,
    ).fit(X)
    path = os.fspath(tmp_path / "lambda.daml")
    det.save(path)
    with pytest.raises(ValueError, match=r"keras\.layers\.Lambda.*Python bytecode"):
        load(path)
    loaded = load(path, trusted=["keras.layers.Lambda"])
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))


def test_a_raw_series_points_to_sliding_windows():
    series = np.sin(np.arange(300) * 0.2)
    with pytest.raises(ValueError, match=r"1-D.*sliding_windows\(series, seq_len\)"):
        Seq2SeqOutlierDetector(epochs=1).fit(series)
    det = Seq2SeqOutlierDetector(latent_dim=4, epochs=1, random_state=0)
    det.fit(sliding_windows(series, 16))
    with pytest.raises(ValueError, match="sliding_windows"):
        det.score_samples(series)


def test_flat_square_images_without_image_shape_get_a_warning():
    """64 values per row look like 8 x 8 images flattened: modelled as one
    row of pixels unless said otherwise, with a warning saying how."""
    images = np.random.RandomState(0).randint(0, 4, size=(40, 64))
    det = PixelCNNOutlierDetector(epochs=1, random_state=0)
    with pytest.warns(UserWarning, match=r"1 x 64 image.*reshape\(-1, 8, 8, 1\)"):
        det.fit(images)
    assert det.image_shape_ == (1, 64, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # 40 images hold out too few for a threshold at 0.05: train on all
        as_images = PixelCNNOutlierDetector(epochs=1, calibration_size=None, random_state=0).fit(
            images.reshape(-1, 8, 8, 1)
        )
        as_rows = PixelCNNOutlierDetector(
            image_shape=(1, 64, 1), epochs=1, calibration_size=None, random_state=0)
        as_rows.fit(images)
    assert as_images.image_shape_ == (8, 8, 1)



@pytest.mark.parametrize("Detector", [AEGMMOutlierDetector, VAEGMMOutlierDetector])
def test_one_mixture_component_fits_without_warnings(Detector, X, tmp_path):
    """``n_gmm=1`` (a grid search's natural lower end) is one Gaussian: no
    warning about a softmax over a single value, and it saves and loads."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = Detector(n_gmm=1, epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(det.predict(X)[:3], [1, 1, 1])
    path = os.fspath(tmp_path / "one.daml")
    det.save(path)
    np.testing.assert_array_equal(load(path).score_samples(X), det.score_samples(X))


_GMM_SMOKE_XFAIL = pytest.mark.xfail(
    strict=True,
    reason="known gap: on eight rows the mixtures of AEGMM (seed 2) and VAEGMM (seed 0) "
    "rank a far row above an inlier; see the benchmark page's 'tried, not adopted'",
)


@pytest.mark.parametrize(
    "Detector",
    [
        AEOutlierDetector,
        VAEOutlierDetector,
        pytest.param(AEGMMOutlierDetector, marks=_GMM_SMOKE_XFAIL),
        pytest.param(VAEGMMOutlierDetector, marks=_GMM_SMOKE_XFAIL),
    ],
)
def test_isolation_forest_smoke_test_finds_the_far_rows(Detector):
    """scikit-learn's own test of IsolationForest (``test_iforest_works``):
    six rows near the origin, two far away, default settings. The far rows
    score below every other row at each seed, and ``contamination=0.25``
    flags exactly them (``'auto'`` flags nothing: no p-value of eight
    training rows is as small as 0.05)."""
    X = [[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1], [7, 4], [-5, 9]]
    for seed in (0, 1, 2, 42):
        det = Detector(contamination=0.25, random_state=seed).fit(X)
        scores = det.score_samples(X)
        assert scores[-2:].max() < scores[:-2].min(), (seed, scores)
        np.testing.assert_array_equal(det.predict(X), [1] * 6 + [-1] * 2)


def test_one_row_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"1 sample\(s\).*one row has neither"):
        AEOutlierDetector().fit([[0.0, 1.0, 2.0]])

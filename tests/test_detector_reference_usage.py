"""The detectors used as the reference detector pages use them: networks
pasted from alibi-detect's examples, ``recon_features``, ``infer_threshold``
and ``feature_score_samples``."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone

import keras
from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)
from sklearn_daml._networks import instantiate_net
from sklearn_daml.models import eucl_cosim_features

from .test_reference_api import LATENT_DIM, N_FEATURES, N_GMM, reference_nets

# the reference networks pass input_shape=..., which Keras 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:Argument `input_shape` is deprecated")
DETECTORS = [
    AEOutlierDetector(epochs=5, random_state=0),
    VAEOutlierDetector(epochs=5, samples=3, random_state=0),
    AEGMMOutlierDetector(epochs=5, random_state=0),
    VAEGMMOutlierDetector(epochs=5, samples=3, random_state=0),
]
IDS = [type(d).__name__ for d in DETECTORS]


def alibi_vaegmm_page_networks(variational):
    """The three networks of alibi-detect's OutlierVAEGMM page, verbatim
    (``tf.keras.Sequential``, ``InputLayer(input_shape=...)``, raw
    TensorFlow activations such as ``tf.nn.softmax``)."""
    return reference_nets(LATENT_DIM, variational=variational)


@pytest.fixture
def table():
    """Inliers and a few far outliers, with the reference networks' width."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(200, N_FEATURES)), rng.uniform(5, 8, size=(10, N_FEATURES))])
    return X, np.r_[np.ones(200, dtype=int), -np.ones(10, dtype=int)]


# ------------------------------------------------ copying a user's network
def test_network_with_raw_tensorflow_activation_is_copied_fresh():
    _, _, density = alibi_vaegmm_page_networks(variational=False)
    with pytest.raises(TypeError):  # what Keras' own cloning does with tf.nn.softmax
        keras.models.clone_model(density)
    copy = instantiate_net(density)
    assert copy is not density
    assert [type(layer) for layer in copy.layers] == [type(layer) for layer in density.layers]
    assert copy.layers[-1].activation is tf.nn.softmax
    assert copy.layers[0].activation is tf.nn.tanh
    # fresh weights: not the same variables, not the same values
    for new, old in zip(copy.weights, density.weights):
        assert new is not old
    assert not np.allclose(copy.layers[0].kernel.numpy(), density.layers[0].kernel.numpy())
    out = copy(np.random.RandomState(0).normal(size=(5, LATENT_DIM + 2)))
    np.testing.assert_allclose(np.sum(np.asarray(out), axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "Detector, variational",
    [(AEGMMOutlierDetector, False), (VAEGMMOutlierDetector, True)],
    ids=["AEGMM", "VAEGMM"],
)
def test_gmm_detectors_fit_on_the_reference_page_networks(Detector, variational, table):
    X, y = table
    encoder_net, decoder_net, gmm_density_net = alibi_vaegmm_page_networks(variational)
    det = Detector(
        encoder_net=encoder_net,
        decoder_net=decoder_net,
        gmm_density_net=gmm_density_net,
        n_gmm=N_GMM,
        latent_dim=LATENT_DIM,
        recon_features=eucl_cosim_features,
        epochs=10,
        random_state=0,
    ).fit(X)
    scores = det.score_samples(X)
    assert np.all(np.isfinite(scores))
    assert np.mean(scores[y == -1]) < np.mean(scores[y == 1])
    # the user's networks are untouched: the detector trained copies
    assert det.model_.gmm_density_net is not gmm_density_net
    # cloning (GridSearchCV) shares the given networks where Keras' deep
    # copy fails, as for a network with tf.nn.softmax
    copy = clone(det)
    assert copy.gmm_density_net is gmm_density_net and not hasattr(copy, "model_")
    np.testing.assert_array_equal(copy.fit(X).score_samples(X), scores)


# ----------------------------------------------------------- recon_features
@keras.saving.register_keras_serializable(package="tests")
def squared_distance_only(x, x_recon):
    return keras.ops.sum(keras.ops.square(x - x_recon), axis=-1, keepdims=True)


@pytest.mark.parametrize("Detector", [AEGMMOutlierDetector, VAEGMMOutlierDetector])
def test_recon_features_sets_the_gmm_input(Detector, blobs):
    X, _ = blobs
    det = Detector(recon_features=squared_distance_only, epochs=3, random_state=0).fit(X)
    assert det.n_recon_features_ == 1
    latent_dim = det.latent_dim
    # the fitted mixtures' input: encoding, the one feature, the scaled error
    assert det.mu_.shape == (det.n_estimators, det.n_gmm, latent_dim + 2)
    # the GMM input is [encoding, ||x - x_recon||^2], each member's own
    # reconstruction; recompute it in NumPy
    x = X[:7]
    if Detector is AEGMMOutlierDetector:
        x_recon, z, _ = det.model_(x, training=False)
        np.testing.assert_allclose(
            np.asarray(z)[..., -1], np.sum((x[:, None] - np.asarray(x_recon)) ** 2, axis=-1),
            rtol=1e-10,
        )
    default = Detector(epochs=3, random_state=0).fit(X)
    assert default.n_recon_features_ == 2 and default.mu_.shape[2] == latent_dim + 3


@pytest.mark.parametrize(
    "features, match",
    [
        (lambda x, x_recon: keras.ops.matmul(x, x_recon), "raised"),
        (lambda x, x_recon: keras.ops.sum(x - x_recon, axis=-1), r"shape \(2,\)"),
        (lambda x, x_recon: x[:, None, :] - x_recon[:, :, None], r"shape \(2, 4, 4\)"),
    ],
    ids=["raises", "one-dimensional", "three-dimensional"],
)
def test_bad_recon_features_are_named(features, match, blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match=f"recon_features.*{match}"):
        AEGMMOutlierDetector(recon_features=features, epochs=1).fit(X)


# ---------------------------------------------------------- infer_threshold
@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_infer_threshold_is_alibi_detects_percentile(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X)
    reference = X[:150]
    outlier_scores = -det.score_samples(reference)
    assert det.infer_threshold(reference, threshold_perc=90) is det
    assert det.threshold_ == np.percentile(outlier_scores, 90)
    assert det.offset_ == -det.threshold_
    np.testing.assert_array_equal(det.predict(reference) == -1, outlier_scores > det.threshold_)
    assert np.mean(det.predict(reference) == 1) == pytest.approx(0.9, abs=1 / 150)
    det.infer_threshold(reference, threshold_perc=100)
    assert np.all(det.predict(reference) == 1)


@pytest.mark.parametrize("threshold_perc", [-1, 100.5, "95"])
def test_infer_threshold_rejects_a_bad_percentage(threshold_perc, blobs):
    X, _ = blobs
    det = clone(DETECTORS[2]).fit(X)
    offset = det.offset_
    with pytest.raises(ValueError, match="threshold_perc"):
        det.infer_threshold(X, threshold_perc=threshold_perc)
    assert det.offset_ == offset


# ---------------------------------------------------- feature_score_samples
@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_feature_scores_point_at_the_feature_that_departs(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X)
    rows = np.zeros((4, 4))
    rows[np.arange(4), np.arange(4)] = 8.0  # row j is abnormal in feature j only
    scores = det.feature_score_samples(rows)
    assert scores.shape == (4, 4) and scores.dtype == np.float64
    np.testing.assert_array_equal(np.argmin(scores, axis=1), np.arange(4))
    # a row's feature scores do not depend on its batch
    singles = np.vstack([det.feature_score_samples(rows[i : i + 1]) for i in range(4)])
    np.testing.assert_array_equal(singles, scores)


def test_ae_feature_scores_recomputed_from_the_model(blobs):
    X, _ = blobs
    det = clone(DETECTORS[0]).fit(X)
    x = X[:9]
    errors = (x[:, None, :] - np.asarray(det.model_(x))) ** 2  # (n, members, features)
    expected = np.mean(errors / det.feature_scale_, axis=1)
    np.testing.assert_allclose(-det.feature_score_samples(x), expected, rtol=1e-12)
    # the outlier score is the members' standardized mean of the same ratios
    normalised = np.mean(errors / det.feature_scale_, axis=2)
    score = np.mean((normalised - det.member_mean_) / det.member_std_, axis=1)
    np.testing.assert_allclose(-det.score_samples(x), score, rtol=1e-10)


def test_aegmm_feature_scores_are_squared_reconstruction_errors(blobs):
    X, _ = blobs
    det = clone(DETECTORS[2]).fit(X)
    x = X[:9]
    x_recon, _, _ = det.model_(x, training=False)  # (n, members, features)
    np.testing.assert_allclose(
        -det.feature_score_samples(x), np.mean((x[:, None] - np.asarray(x_recon)) ** 2, axis=1),
        rtol=1e-12,
    )

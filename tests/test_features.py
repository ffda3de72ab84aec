"""Reconstruction features: [negative cosine similarity, relative distance],
the column order and sign of DAML and alibi-detect."""

import numpy as np
import pytest

from sklearn_daml.models import EuclCosimFeatures, eucl_cosim_features

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402  (after sklearn_daml: quiet import)


def _reference(x, y, max_eucl=100.0, eps=1e-8):
    x = x.reshape(len(x), -1)
    y = y.reshape(len(y), -1)
    nx = np.linalg.norm(x, axis=1)
    ny = np.linalg.norm(y, axis=1)
    eucl = np.clip(np.linalg.norm(x - y, axis=1) / (np.minimum(nx, ny) + eps), 0.0, max_eucl)
    cosim = np.sum(x * y, axis=1) / (nx * ny + eps)
    return np.stack([-cosim, eucl], axis=1)


@pytest.fixture
def pair():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(4, 2, 3))
    y = x + 0.4 * rng.normal(size=(4, 2, 3))
    return x, y


def test_matches_numpy_on_3d_input(pair):
    x, y = pair
    out = np.asarray(eucl_cosim_features(x, y))
    assert out.shape == (4, 2)
    np.testing.assert_allclose(out, _reference(x, y), rtol=1e-10)
    # independent formula on explicitly flattened rows
    xf, yf = x.reshape(4, 6), y.reshape(4, 6)
    for i in range(4):
        rel = np.linalg.norm(xf[i] - yf[i]) / min(np.linalg.norm(xf[i]), np.linalg.norm(yf[i]))
        cos = xf[i] @ yf[i] / (np.linalg.norm(xf[i]) * np.linalg.norm(yf[i]))
        np.testing.assert_allclose(out[i], [-cos, rel], rtol=1e-7)


def test_flattening_equals_2d_input(pair):
    x, y = pair
    np.testing.assert_allclose(
        np.asarray(eucl_cosim_features(x, y)),
        np.asarray(eucl_cosim_features(x.reshape(4, 6), y.reshape(4, 6))),
        rtol=1e-14,
    )


def test_cosine_term_is_first_with_keras_loss_sign():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    y = np.array([[2.0, 4.0, 6.0], [-3.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    out = np.asarray(eucl_cosim_features(x, y))
    np.testing.assert_allclose(out[:, 0], [-1.0, 1.0, 0.0], atol=1e-7)
    # the reference's first column: Keras' cosine similarity loss of (y, x)
    keras_loss = np.asarray(keras.losses.cosine_similarity(y, x))
    np.testing.assert_allclose(out[:, 0], keras_loss, atol=1e-7)
    # parallel, twice as long: ||x - 2x|| / ||x|| = 1
    np.testing.assert_allclose(out[0, 1], 1.0, rtol=1e-7)
    # opposite, three times as long: ||x + 3x|| / ||x|| = 4
    np.testing.assert_allclose(out[1, 1], 4.0, rtol=1e-7)


def test_default_clipping_at_100():
    x = np.array([[1e-3, 0.0], [1.0, 1.0]])
    y = np.array([[5.0, 0.0], [1.0, 1.0]])
    out = np.asarray(eucl_cosim_features(x, y))
    assert out[0, 1] == pytest.approx(100.0)
    assert out[1, 1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("max_eucl", [0.5, 2.0, 7.5])
def test_custom_max_eucl(pair, max_eucl):
    x, y = pair
    y = 3.0 * y + 1.0  # relative distances above 0.5 for several rows
    out = np.asarray(eucl_cosim_features(x, y, max_eucl=max_eucl))
    np.testing.assert_allclose(out, _reference(x, y, max_eucl=max_eucl), rtol=1e-10)
    assert out[:, 1].max() <= max_eucl
    unclipped = _reference(x, y, max_eucl=np.inf)[:, 1]
    if max_eucl == 0.5:
        assert np.any(unclipped > max_eucl)
        assert np.any(out[:, 1] == max_eucl)


def test_custom_eps():
    x = np.array([[3.0, 4.0]])
    y = np.array([[0.0, 0.0]])
    out = np.asarray(eucl_cosim_features(x, y, eps=0.5, max_eucl=1e9))
    # distance 5, min norm 0 -> 5 / 0.5 = 10; cosine 0 / (0 + 0.5) = 0
    np.testing.assert_allclose(out, [[0.0, 10.0]], atol=1e-12)


def _grads(x, y):
    y_var = tf.Variable(y)
    with tf.GradientTape() as tape:
        out = eucl_cosim_features(tf.constant(x), y_var)
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, y_var)
    return out.numpy(), grad.numpy()


def test_zero_row_gives_finite_values_and_gradients():
    rng = np.random.RandomState(1)
    x = rng.normal(size=(3, 4))
    x[1] = 0.0
    y = rng.normal(size=(3, 4))
    out, grad = _grads(x, y)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(grad))
    assert out[1, 0] == 0.0  # no direction: cosine is 0
    np.testing.assert_allclose(out, _reference(x, y), rtol=1e-10)


def test_zero_row_in_reconstruction_gives_finite_values_and_gradients():
    rng = np.random.RandomState(3)
    x = rng.normal(size=(3, 4))
    y = rng.normal(size=(3, 4))
    y[2] = 0.0
    out, grad = _grads(x, y)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(out, _reference(x, y), rtol=1e-10)


def test_gradient_wrt_input_with_zero_row_is_finite():
    rng = np.random.RandomState(4)
    x = tf.Variable(np.vstack([np.zeros((1, 4)), rng.normal(size=(2, 4))]))
    y = tf.constant(rng.normal(size=(3, 4)))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(eucl_cosim_features(x, y))
    grad = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(grad))


def test_zero_rows_in_both_give_finite_values_and_gradients():
    x = np.zeros((2, 3))
    y = np.zeros((2, 3))
    out, grad = _grads(x, y)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(out, 0.0, atol=1e-12)


def test_identical_rows_give_finite_values_and_gradients():
    rng = np.random.RandomState(2)
    x = rng.normal(size=(3, 2, 2))
    out, grad = _grads(x, x.copy())
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(out[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[:, 0], -1.0, rtol=1e-7)


def test_gradient_matches_finite_differences(pair):
    x, y = pair
    _, grad = _grads(x, y)
    h = 1e-6
    numeric = np.zeros_like(y)
    for idx in np.ndindex(*y.shape):
        yp, ym = y.copy(), y.copy()
        yp[idx] += h
        ym[idx] -= h
        numeric[idx] = (
            _reference(x, yp).sum() - _reference(x, ym).sum()
        ) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_keeps_dtype():
    x = np.ones((2, 3), dtype=np.float32)
    out = eucl_cosim_features(x, 2 * x)
    assert np.asarray(out).dtype == np.float32
    out64 = eucl_cosim_features(x.astype(np.float64), 2 * x.astype(np.float64))
    assert np.asarray(out64).dtype == np.float64


def test_scale_is_a_reference_norm(pair):
    x, y = pair
    scale = 1.7
    out = np.asarray(EuclCosimFeatures(scale=scale)(x, y))
    xf, yf = x.reshape(4, 6), y.reshape(4, 6)
    nmin = np.minimum(np.linalg.norm(xf, axis=1), np.linalg.norm(yf, axis=1))
    expected = np.linalg.norm(xf - yf, axis=1) / np.sqrt(nmin**2 + scale**2)
    np.testing.assert_allclose(out[:, 1], expected, rtol=1e-7)
    np.testing.assert_allclose(out[:, 0], _reference(x, y)[:, 0], rtol=1e-10)
    # scale 0 is DAGMM's distance, bit for bit
    np.testing.assert_array_equal(
        np.asarray(EuclCosimFeatures(scale=0.0)(x, y)), np.asarray(eucl_cosim_features(x, y))
    )


def test_scale_removes_the_origin_pitfall():
    # the same small reconstruction error near the origin and far from it
    x = np.array([[1e-3, 0.0], [10.0, 0.0]])
    y = x + np.array([[0.0, 0.05], [0.0, 0.05]])
    plain = np.asarray(eucl_cosim_features(x, y))[:, 1]
    scaled = np.asarray(EuclCosimFeatures(scale=1.0)(x, y))[:, 1]
    assert plain[0] > 40 * plain[1]  # DAGMM: the typical row looks abnormal
    assert scaled[0] < 0.06 and scaled[0] > scaled[1]


def test_feature_callable_round_trips_in_a_saved_model(tmp_path):
    from sklearn_daml import AEGMMOutlierDetector

    X = np.random.RandomState(0).normal(size=(60, 3))
    det = AEGMMOutlierDetector(epochs=2, random_state=0).fit(X)
    expected_scale = np.sqrt(np.mean(np.sum(X**2, axis=1)))
    np.testing.assert_allclose(det.recon_scale_, expected_scale, rtol=1e-12)
    assert det.model_.recon_features.scale == det.recon_scale_
    det.model_.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(restored.recon_features, EuclCosimFeatures)
    assert restored.recon_features.get_config() == det.model_.recon_features.get_config()
    fixed = AEGMMOutlierDetector(epochs=2, recon_scale=0.5, random_state=0).fit(X)
    assert fixed.recon_scale_ == 0.5

"""Tests of the Keras 3 PixelCNN++ port (sklearn_daml.models.pixelcnn)."""

import pickle

import numpy as np
import pytest

from sklearn_daml.models import (
    PixelCNN,
    WeightNormConv2D,
    WeightNormDense,
    discretized_logistic_mixture_log_prob,
)

import keras  # noqa: E402  (after sklearn_daml: quiet TensorFlow import)
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions

TINY = dict(num_resnet=1, num_filters=4, num_logistic_mix=2, dropout_p=0.0)


def make(shape, num_hierarchies=1, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    params = dict(TINY, num_hierarchies=num_hierarchies)
    params.update(kwargs)
    return PixelCNN(shape, **params)


def rand_images(n, shape, high=255, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, high + 1, size=(n,) + tuple(shape)).astype("float64")


# --------------------------------------------------------------- likelihood maths
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_mixture_log_prob(x, logits, locs, scales, coeffs, low, high):
    """Direct reference: CDF differences at the bin edges x +- 0.5 (rescaled)."""
    n_ch = x.shape[-1]
    xs = 2.0 * (x - low) / (high - low) - 1.0
    half = 1.0 / (high - low)
    means = locs.copy()
    count = 0
    for i in range(n_ch):
        for j in range(i):
            means[..., i] += coeffs[..., count] * xs[..., None, j]
            count += 1
    upper = _sigmoid((xs[..., None, :] + half - means) / scales)
    lower = _sigmoid((xs[..., None, :] - half - means) / scales)
    xe = np.broadcast_to(x[..., None, :], upper.shape)
    prob = np.where(xe == low, upper, np.where(xe == high, 1.0 - lower, upper - lower))
    log_w = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    comp = np.sum(np.log(prob), axis=-1) + log_w
    mx = comp.max(-1, keepdims=True)
    return (mx + np.log(np.sum(np.exp(comp - mx), axis=-1, keepdims=True)))[..., 0]


def test_mixture_log_prob_one_channel_matches_numpy():
    low, high = 0, 16
    x = np.array([0.0, 1.0, 5.0, 8.0, 15.0, 16.0])[:, None]  # includes both edges
    logits = np.array([[0.3, -1.2]] * 6)
    locs = np.array([[[-0.5], [0.4]]] * 6)
    scales = np.array([[[0.3], [0.15]]] * 6)
    got = discretized_logistic_mixture_log_prob(x, logits, locs, scales, low=low, high=high)
    want = numpy_mixture_log_prob(x, logits, locs, scales, None, low, high)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-12)
    # the edge bins absorb the tails: far more mass at 16 than at 15 for a centre near 0.4*8+8
    assert want[-1] != pytest.approx(want[-2])


def test_mixture_log_prob_three_channels_matches_numpy_and_tfp():
    rng = np.random.RandomState(0)
    n, m, c, low, high = 7, 3, 3, 0, 10
    x = rng.randint(low, high + 1, size=(n, c)).astype("float64")
    x[0] = [low, high, low]
    x[1] = [high, low, high]
    logits = rng.normal(size=(n, m))
    locs = rng.uniform(-1, 1, size=(n, m, c))
    scales = rng.uniform(0.1, 0.5, size=(n, m, c))
    coeffs = rng.normal(scale=0.5, size=(n, m, 3))
    got = discretized_logistic_mixture_log_prob(x, logits, locs, scales, coeffs, low, high)
    got = np.asarray(got)
    want = numpy_mixture_log_prob(x, logits, locs, scales, coeffs, low, high)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    without = discretized_logistic_mixture_log_prob(x, logits, locs, scales, None, low, high)
    without = np.asarray(without)
    assert np.max(np.abs(without - got)) > 1e-3  # the coefficients matter

    # the same distribution as TFP's PixelCNN._make_mixture_dist
    xs = 2.0 * (x - low) / (high - low) - 1.0
    means = locs.copy()
    means[..., 1] += coeffs[..., 0] * xs[:, None, 0]
    means[..., 2] += coeffs[..., 1] * xs[:, None, 0] + coeffs[..., 2] * xs[:, None, 1]
    quantized = tfd.QuantizedDistribution(
        tfd.TransformedDistribution(
            tfd.Logistic(low + 0.5 * (high - low) * (means + 1.0), scales * 0.5 * (high - low)),
            tfp.bijectors.Shift(np.float64(-0.5)),
        ),
        low=np.float64(low),
        high=np.float64(high),
    )
    dist = tfd.MixtureSameFamily(tfd.Categorical(logits=logits), tfd.Independent(quantized, 1))
    np.testing.assert_allclose(got, dist.log_prob(x).numpy(), rtol=1e-8, atol=1e-10)


def test_mixture_log_prob_normalised_and_stable():
    low, high = 0, 6
    grid = np.stack(np.meshgrid(np.arange(7.0), np.arange(7.0), indexing="ij"), -1).reshape(-1, 2)
    logits = np.array([0.5, -0.5])
    locs = np.array([[-0.3, 0.8], [0.2, -0.9]])
    scales = np.array([[0.2, 0.4], [0.5, 0.05]])
    coeffs = np.array([[0.7], [-0.4]])
    b = lambda a: np.broadcast_to(a, (len(grid),) + a.shape)  # noqa: E731
    lp = discretized_logistic_mixture_log_prob(
        grid, b(logits), b(locs), b(scales), b(coeffs), low, high
    )
    assert np.exp(np.asarray(lp)).sum() == pytest.approx(1.0, abs=1e-12)
    # far from the centre a tiny scale gives a finite (very negative) log-probability
    far = discretized_logistic_mixture_log_prob(
        np.array([[3.0]]),
        np.zeros((1, 1)),
        np.full((1, 1, 1), -1.0),
        np.full((1, 1, 1), 1e-3),
        None,
        0,
        6,
    )
    assert np.isfinite(np.asarray(far)).all() and float(far[0]) < -100


# --------------------------------------------------------------- model shapes
SHAPES = [(1, 1, 1), (1, 5, 1), (1, 10, 1), (8, 8, 1), (7, 5, 2), (4, 4, 3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("num_hierarchies", [1, 2, 3])
def test_log_prob_shapes(shape, num_hierarchies):
    model = make(shape, num_hierarchies, dtype="float64")
    x = rand_images(3, shape)
    lp = model.log_prob(x)
    pp = model.log_prob(x, per_pixel=True)
    assert tuple(lp.shape) == (3,)
    assert tuple(pp.shape) == (3,) + shape[:2]
    assert keras.backend.standardize_dtype(lp.dtype) == "float64"
    assert np.isfinite(np.asarray(lp)).all()
    np.testing.assert_allclose(np.asarray(pp).sum(axis=(1, 2)), np.asarray(lp), rtol=1e-12)
    params = model(x)
    assert len(params) == (3 if shape[-1] == 1 else 4)
    assert tuple(params[1].shape) == (3,) + shape[:2] + (2, shape[-1])


def test_per_pixel_log_prob_is_the_mixture_function():
    model = make((4, 4, 3), 2, high=7, dtype="float64")
    x = rand_images(2, (4, 4, 3), high=7)
    want = discretized_logistic_mixture_log_prob(x, *model(x), low=0, high=7)
    got = np.asarray(model.log_prob(x, per_pixel=True))
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12)


@pytest.mark.parametrize("shape", [(1, 5, 1), (4, 4, 3)])
def test_sample(shape):
    model = make(shape, 2, high=9, dtype="float64")
    s = model.sample(3, seed=1)
    assert s.shape == (3,) + shape
    assert np.all(s == np.round(s)) and s.min() >= 0 and s.max() <= 9
    np.testing.assert_array_equal(s, model.sample(3, seed=1))
    assert not np.array_equal(s, model.sample(3, seed=2))


def test_dtypes():
    lp32 = make((3, 3, 1)).log_prob(rand_images(2, (3, 3, 1)))
    assert keras.backend.standardize_dtype(lp32.dtype) == "float32"
    model = make((3, 3, 2), 2, dtype="float64")
    assert all(keras.backend.standardize_dtype(w.dtype) == "float64" for w in model.weights)


# --------------------------------------------------------------- causality
def _params(model, x):
    out = model(x, training=False)
    return np.concatenate([np.asarray(t).reshape(x.shape[:3] + (-1,)) for t in out], -1)


@pytest.mark.parametrize("shape,num_hierarchies", [((5, 4, 1), 2), ((4, 4, 3), 3), ((1, 10, 1), 3)])
def test_causality(shape, num_hierarchies):
    h, w, _ = shape
    model = make(shape, num_hierarchies, seed=3, high=16, dtype="float64")
    x = rand_images(1, shape, high=16)
    model.data_init(np.concatenate([x, rand_images(4, shape, high=16, seed=1)]))
    base = _params(model, x)[0]
    order = np.arange(h * w).reshape(h, w)
    n_next_changed = 0
    for i in range(h):
        for j in range(w):
            x2 = x.copy()
            x2[0, i, j] = (x2[0, i, j] + 7) % 17
            diff = np.abs(_params(model, x2)[0] - base).max(axis=-1)
            # nothing at or before (i, j) in raster order moves
            assert diff[order <= order[i, j]].max() <= 1e-12, (i, j)
            if j + 1 < w:
                n_next_changed += diff[i, j + 1] > 1e-8
    # ... while the pixel to the right always sees it
    assert n_next_changed == h * (w - 1)


# --------------------------------------------------------------- training
def test_training_improves_log_prob_on_digits():
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    x = images[labels == 0].reshape(-1, 8, 8, 1)[:96].astype("float64")
    keras.utils.set_random_seed(0)
    model = PixelCNN(
        (8, 8, 1), num_resnet=1, num_hierarchies=1, num_filters=16, num_logistic_mix=3,
        dropout_p=0.0, high=16, low=0, dtype="float64",
    )
    model.data_init(x[:48])
    before = float(np.mean(model.log_prob(x, training=False)))
    opt = keras.optimizers.Adam(1e-2)
    for step in range(30):
        batch = x[(step % 3) * 32 : (step % 3 + 1) * 32]
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(batch, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    after = float(np.mean(model.log_prob(x, training=False)))
    # 64 pixels: about -170 nats before, well above -120 after
    assert after > before + 40, (before, after)


# --------------------------------------------------------------- batch independence, seeds
def test_float64_row_independent_of_batch():
    shape = (4, 5, 2)
    model = make(shape, 2, high=16, dtype="float64", dropout_p=0.5)
    x = rand_images(20, shape, high=16)
    model.data_init(x)
    full = np.asarray(model.log_prob(x, training=False))
    for k in (0, 7, 19):
        one = np.asarray(model.log_prob(x[k : k + 1], training=False))
        np.testing.assert_allclose(one[0], full[k], rtol=0, atol=1e-10)
    # dropout makes training=True stochastic
    assert not np.allclose(np.asarray(model.log_prob(x, training=True)), full)


def test_deterministic_given_seed():
    x = rand_images(2, (3, 4, 1))
    a = np.asarray(make((3, 4, 1), 2, seed=5).log_prob(x))
    b = np.asarray(make((3, 4, 1), 2, seed=5).log_prob(x))
    c = np.asarray(make((3, 4, 1), 2, seed=6).log_prob(x))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# --------------------------------------------------------------- options
def test_conditional_input():
    shape = (3, 4, 1)
    model = make(shape, 2, conditional_shape=(3,), dtype="float64")
    x = rand_images(2, shape)
    c0 = np.array([[1.0, 0, 0], [1.0, 0, 0]])
    c1 = np.array([[0, 0, 1.0], [0, 0, 1.0]])
    lp0 = np.asarray(model.log_prob(x, conditional_input=c0))
    lp1 = np.asarray(model.log_prob(x, conditional_input=c1))
    assert np.all(np.abs(lp0 - lp1) > 1e-6)
    with pytest.raises(ValueError):
        model.log_prob(x)
    s = model.sample(2, conditional_input=c1[0], seed=0)
    assert s.shape == (2,) + shape


def test_data_init_standardises_and_no_op_when_disabled():
    shape = (5, 5, 1)
    x = rand_images(16, shape)
    model = make(shape, 2, dtype="float64")
    before = np.asarray(model.log_prob(x))
    model.data_init(x)
    y = np.asarray(model.v_init(2.0 * x / 255 - 1.0))
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-8)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1.0, rtol=1e-6)
    assert not np.allclose(np.asarray(model.log_prob(x)), before)
    for kw in (dict(use_data_init=False), dict(use_weight_norm=False)):
        other = make(shape, 2, dtype="float64", **kw)
        lp = np.asarray(other.log_prob(x))
        other.data_init(x)
        np.testing.assert_array_equal(np.asarray(other.log_prob(x)), lp)
    assert not any(w.path.endswith("/g") for w in make(shape, use_weight_norm=False).weights)


def test_weight_norm_kernel():
    layer = WeightNormConv2D(3, (3, 3), kernel_mask=((0, 2), (0, 3)), dtype="float64")
    layer.build((None, 4, 4, 2))
    kernel = np.asarray(layer.kernel())
    np.testing.assert_array_equal(kernel[2], 0.0)  # masked row
    norms = np.sqrt((kernel**2).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(norms, np.asarray(layer.g), rtol=1e-12)
    dense = WeightNormDense(4, dtype="float64")
    out = dense(np.ones((2, 3, 3, 5)))
    assert tuple(out.shape) == (2, 3, 3, 4)


def test_activations_and_l2():
    x = rand_images(2, (3, 3, 1))
    lps = [
        np.asarray(make((3, 3, 1), resnet_activation=a).log_prob(x))
        for a in ("concat_elu", "elu", "relu")
    ]
    assert not np.allclose(lps[0], lps[1]) and not np.allclose(lps[1], lps[2])
    with pytest.raises(ValueError):
        make((3, 3, 1), resnet_activation="tanh")
    assert len(make((3, 3, 1)).losses) == 0
    penalised = make((3, 3, 1), l2_weight=1e-3)
    assert len(penalised.losses) > 0 and float(sum(penalised.losses)) > 0


# --------------------------------------------------------------- serialisation
def _trained_like(shape=(4, 3, 2), **kwargs):
    model = make(shape, 2, high=16, dtype="float64", conditional_shape=(2,), **kwargs)
    x = rand_images(4, shape, high=16)
    cond = np.random.RandomState(1).normal(size=(4, 2))
    model.data_init(x, cond)
    return model, x, cond


def test_config_round_trip():
    model, x, cond = _trained_like()
    config = model.get_config()
    assert config["image_shape"] == [4, 3, 2] and config["dtype"] == "float64"
    clone = PixelCNN.from_config(config)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(
        np.asarray(clone.log_prob(x, cond)), np.asarray(model.log_prob(x, cond))
    )


def test_keras_file_and_pickle_round_trip(tmp_path):
    model, x, cond = _trained_like()
    want = np.asarray(model.log_prob(x, cond))
    path = tmp_path / "pixelcnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, PixelCNN)
    np.testing.assert_array_equal(np.asarray(loaded.log_prob(x, cond)), want)
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(np.asarray(unpickled.log_prob(x, cond)), want)

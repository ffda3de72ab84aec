"""Keras models of the autoencoder family: outputs, KL loss, sampling, saving."""

import pickle

import numpy as np
import pytest

from sklearn_daml.models import (
    AE,
    AEGMM,
    VAE,
    VAEGMM,
    Sampling,
    create_model,
    eucl_cosim_features,
)

import keras  # noqa: E402  (after sklearn_daml: quiet TensorFlow import)

N, IN_DIM, HIDDEN, LATENT, N_GMM = 6, 5, 4, 2, 3
F64 = "float64"


def _seq(in_dim, out_dim, activation=None, dtype=F64, name=None):
    return keras.Sequential(
        [
            keras.Input((in_dim,), dtype=dtype),
            keras.layers.Dense(out_dim, activation=activation, dtype=dtype),
        ],
        name=name,
    )


def _density(dtype=F64):
    # dropout makes training=True and training=False differ
    return keras.Sequential(
        [
            keras.Input((LATENT + 2,), dtype=dtype),
            keras.layers.Dense(8, activation="tanh", dtype=dtype),
            keras.layers.Dropout(0.5, dtype=dtype),
            keras.layers.Dense(N_GMM, activation="softmax", dtype=dtype),
        ]
    )


def make(kind, beta=1.0, dtype=F64):
    keras.utils.set_random_seed(0)
    if kind == "AE":
        return AE(_seq(IN_DIM, LATENT, "tanh", dtype), _seq(LATENT, IN_DIM, dtype=dtype), dtype=F64)
    if kind == "VAE":
        return VAE(
            _seq(IN_DIM, HIDDEN, "tanh", dtype), _seq(LATENT, IN_DIM, dtype=dtype), LATENT,
            beta=beta, dtype=F64,
        )
    if kind == "AEGMM":
        return AEGMM(
            _seq(IN_DIM, LATENT, "tanh", dtype), _seq(LATENT, IN_DIM, dtype=dtype), _density(dtype),
            N_GMM, dtype=F64,
        )
    return VAEGMM(
        _seq(IN_DIM, HIDDEN, "tanh", dtype), _seq(LATENT, IN_DIM, dtype=dtype), _density(dtype),
        N_GMM, LATENT, beta=beta, dtype=F64,
    )


KINDS = ["AE", "VAE", "AEGMM", "VAEGMM"]


@pytest.fixture
def x():
    return np.random.RandomState(0).normal(size=(N, IN_DIM))


@pytest.fixture
def eps():
    return np.random.RandomState(1).normal(size=(N, LATENT))


def _call(model, kind, x, eps):
    """Deterministic forward pass, as a tuple of NumPy arrays."""
    if kind == "AE":
        out = model(x)
    elif kind == "VAE":
        out = model(x, epsilon=eps)
    elif kind == "AEGMM":
        out = model(x, training=False)
    else:
        out = model(x, training=False, epsilon=eps)
    out = out if isinstance(out, tuple) else (out,)
    return tuple(np.asarray(t) for t in out)


def _assert_same(a, b, rtol=1e-12):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.shape == v.shape
        np.testing.assert_allclose(u, v, rtol=rtol, atol=1e-14)


# ---------------------------------------------------------------- outputs


def test_ae_output_is_decoder_of_encoder(x):
    model = make("AE")
    out = np.asarray(model(x))
    assert out.shape == x.shape
    expected = np.asarray(model.decoder_net(model.encoder_net(x)))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_vae_output_shape_and_value(x, eps):
    model = make("VAE")
    out = np.asarray(model(x, epsilon=eps))
    assert out.shape == x.shape
    z_mean, z_log_var, z = (np.asarray(t) for t in model.encoder(x, epsilon=eps))
    assert z_mean.shape == z_log_var.shape == z.shape == (N, LATENT)
    np.testing.assert_allclose(z, z_mean + np.exp(z_log_var / 2) * eps, rtol=1e-12)
    np.testing.assert_allclose(out, np.asarray(model.decoder_net(z)), rtol=1e-12)


@pytest.mark.parametrize("kind", ["AEGMM", "VAEGMM"])
def test_gmm_models_outputs(kind, x, eps):
    model = make(kind)
    x_recon, z, gamma = _call(model, kind, x, eps)
    assert x_recon.shape == x.shape
    assert z.shape == (N, LATENT + 2)
    assert gamma.shape == (N, N_GMM)
    assert np.all(gamma >= 0)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)
    # z = [encoding, recon features of (x, x_recon)]
    if kind == "AEGMM":
        encoding = np.asarray(model.encoder_net(x))
    else:
        encoding = np.asarray(model.encoder(x, epsilon=eps)[2])
    np.testing.assert_allclose(z[:, :LATENT], encoding, rtol=1e-12)
    np.testing.assert_allclose(x_recon, np.asarray(model.decoder_net(encoding)), rtol=1e-12)
    np.testing.assert_allclose(
        z[:, LATENT:], np.asarray(eucl_cosim_features(x, x_recon)), rtol=1e-12
    )
    np.testing.assert_allclose(
        gamma, np.asarray(model.gmm_density_net(z, training=False)), rtol=1e-12
    )


@pytest.mark.parametrize("kind", KINDS)
def test_float64_model_with_float32_nets(kind, x, eps):
    model = make(kind, dtype="float32")
    outputs = _call(model, kind, x, eps)
    for t in outputs:
        assert t.dtype == np.float64
        assert np.all(np.isfinite(t))


def test_training_flag_reaches_dropout(x):
    model = make("AEGMM")
    _, _, g1 = _call(model, "AEGMM", x, None)
    _, _, g2 = _call(model, "AEGMM", x, None)
    np.testing.assert_array_equal(g1, g2)
    g_train = np.asarray(model(x, training=True)[2])
    assert not np.allclose(g_train, g1)


# ------------------------------------------------------------- VAE noise / KL


def _kl(z_mean, z_log_var):
    return -0.5 * np.mean(1 + z_log_var - z_mean**2 - np.exp(z_log_var))


@pytest.mark.parametrize("kind", ["VAE", "VAEGMM"])
def test_kl_loss_value_and_beta(kind, x, eps):
    m1 = make(kind, beta=1.0)
    m2 = make(kind, beta=2.0)  # same seed: same weights
    out1 = _call(m1, kind, x, eps)
    out2 = _call(m2, kind, x, eps)
    _assert_same(out1, out2)
    assert len(m1.losses) == 1 and len(m2.losses) == 1
    kl1 = float(m1.losses[0])
    kl2 = float(m2.losses[0])
    z_mean, z_log_var, _ = (np.asarray(t) for t in m1.encoder(x, epsilon=eps))
    np.testing.assert_allclose(kl1, _kl(z_mean, z_log_var), rtol=1e-10)
    assert kl1 > 0
    np.testing.assert_allclose(kl2, 2.0 * kl1, rtol=1e-12)
    # a second call replaces the loss, it does not accumulate
    _call(m1, kind, x, eps)
    assert len(m1.losses) == 1
    np.testing.assert_allclose(float(m1.losses[0]), kl1, rtol=1e-12)


@pytest.mark.parametrize("kind", ["VAE", "VAEGMM"])
def test_epsilon_makes_outputs_deterministic(kind, x, eps):
    model = make(kind)
    _assert_same(_call(model, kind, x, eps), _call(model, kind, x, eps))
    if kind == "VAE":
        a, b = np.asarray(model(x)), np.asarray(model(x))
    else:
        a, b = np.asarray(model(x, training=False)[1]), np.asarray(model(x, training=False)[1])
    assert a.shape == b.shape
    assert not np.allclose(a, b)
    # other epsilon, other output
    other = _call(model, kind, x, eps + 1.0)
    assert not np.allclose(other[0], _call(model, kind, x, eps)[0])


@pytest.mark.parametrize("kind", ["VAE", "VAEGMM"])
def test_epsilon_with_a_draws_axis_equals_a_batch_of_copies(kind):
    # one encoder pass for every draw: the same bits as the copies of the rows
    # as one batch, each copy with its draw's noise (64 rows, a padded batch)
    model = make(kind)
    rng = np.random.RandomState(4)
    x, draws = rng.normal(size=(64, IN_DIM)), rng.normal(size=(3, LATENT))
    copies = _call(model, kind, np.tile(x, (3, 1)), np.repeat(draws, len(x), axis=0))
    drawn = _call(model, kind, x, draws[:, None, :])
    assert len(drawn) == len(copies)
    for a, b in zip(drawn, copies):
        np.testing.assert_array_equal(a, b)
    assert drawn[0].shape == (3 * len(x), IN_DIM)


def test_sampling_with_epsilon():
    rng = np.random.RandomState(3)
    mean = rng.normal(size=(4, 3))
    log_var = rng.normal(size=(4, 3))
    eps = rng.normal(size=(4, 3))
    layer = Sampling(dtype=F64)
    z = np.asarray(layer((mean, log_var), epsilon=eps))
    np.testing.assert_allclose(z, mean + np.exp(log_var / 2) * eps, rtol=1e-12)
    # a leading axis of draws: every draw for every row
    draws = rng.normal(size=(5, 1, 3))
    z = np.asarray(layer((mean, log_var), epsilon=draws))
    assert z.shape == (5, 4, 3)
    np.testing.assert_allclose(z, mean + np.exp(log_var / 2) * draws, rtol=1e-12)


def test_sampling_without_epsilon_is_random_and_seeded():
    mean = np.full((2000, 2), 3.0)
    log_var = np.full((2000, 2), np.log(4.0))
    layer = Sampling(seed=5, dtype=F64)
    z1 = np.asarray(layer((mean, log_var)))
    z2 = np.asarray(layer((mean, log_var)))
    assert not np.allclose(z1, z2)
    # mean 3, standard deviation 2
    assert abs(z1.mean() - 3.0) < 0.15
    assert abs(z1.std() - 2.0) < 0.15
    # the same seed replays the same noise
    z_again = np.asarray(Sampling(seed=5, dtype=F64)((mean, log_var)))
    np.testing.assert_allclose(z_again, z1, rtol=1e-12)
    assert Sampling.from_config(layer.get_config()).seed == 5


# ------------------------------------------------------------- serialization


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_keras_file(kind, x, eps, tmp_path):
    model = make(kind)
    before = _call(model, kind, x, eps)
    path = tmp_path / f"{kind}.keras"
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    _assert_same(_call(loaded, kind, x, eps), before)
    if kind in ("VAE", "VAEGMM"):
        assert loaded.beta == model.beta
        assert loaded.latent_dim == LATENT
    if kind in ("AEGMM", "VAEGMM"):
        assert loaded.n_gmm == N_GMM


@pytest.mark.parametrize("kind", KINDS)
def test_pickle_round_trip(kind, x, eps):
    model = make(kind, beta=2.5)
    before = _call(model, kind, x, eps)
    clone = pickle.loads(pickle.dumps(model))
    assert type(clone) is type(model)
    _assert_same(_call(clone, kind, x, eps), before)
    if kind in ("VAE", "VAEGMM"):
        assert clone.beta == 2.5
        np.testing.assert_allclose(float(clone.losses[0]), float(model.losses[0]), rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip(kind, x, eps):
    model = make(kind, beta=3.0)
    before = _call(model, kind, x, eps)
    config = model.get_config()
    rebuilt = type(model).from_config(config)
    assert type(rebuilt) is type(model)
    if kind in ("VAE", "VAEGMM"):
        assert rebuilt.beta == 3.0 and rebuilt.latent_dim == LATENT
    if kind in ("AEGMM", "VAEGMM"):
        assert rebuilt.n_gmm == N_GMM
        assert rebuilt.recon_features is eucl_cosim_features
    # fresh weights, same architecture: copying the weights gives the same outputs
    _call(rebuilt, kind, x, eps)
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]
    rebuilt.set_weights(model.get_weights())
    _assert_same(_call(rebuilt, kind, x, eps), before)
    # the config round trip is stable
    assert rebuilt.get_config().keys() == config.keys()


def test_custom_recon_features_survive_saving(x, tmp_path):
    @keras.saving.register_keras_serializable(package="test_models")
    def diff_features(a, b):
        from keras import ops

        d = ops.reshape(a - b, (ops.shape(a)[0], -1))
        return ops.stack([ops.mean(d, axis=-1), ops.max(d, axis=-1)], axis=-1)

    keras.utils.set_random_seed(0)
    model = AEGMM(
        _seq(IN_DIM, LATENT, "tanh"), _seq(LATENT, IN_DIM), _density(), N_GMM,
        recon_features=diff_features, dtype=F64,
    )
    x_recon, z, gamma = _call(model, "AEGMM", x, None)
    d = x - x_recon
    np.testing.assert_allclose(z[:, LATENT:], np.stack([d.mean(1), d.max(1)], 1), rtol=1e-12)
    path = tmp_path / "custom.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    _assert_same(_call(loaded, "AEGMM", x, None), (x_recon, z, gamma))


# ------------------------------------------------------------- create_model


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("input_shape", [(10,), (8, 8, 1), (28, 28, 3), (7, 5, 2)])
def test_create_model_output_shape(kind, input_shape):
    model = create_model(kind, input_shape)
    x = np.random.RandomState(0).uniform(size=(2,) + input_shape).astype("float32")
    out = model(x, training=False) if kind.endswith("GMM") else model(x)
    if kind.endswith("GMM"):
        x_recon, z, gamma = out
        # DAML's gmm_latent_dim: 1 for AEGMM, 2 for VAEGMM; plus two features
        assert z.shape == (2, (2 if kind == "VAEGMM" else 1) + 2)
        assert gamma.shape == (2, 2)  # n_gmm 2
        np.testing.assert_allclose(np.asarray(gamma).sum(1), 1.0, rtol=1e-6)
        assert model.n_gmm == 2
    else:
        x_recon = out
    assert tuple(x_recon.shape) == (2,) + input_shape
    assert np.all(np.isfinite(np.asarray(x_recon)))


def test_create_model_encoding_sizes():
    # DAML's rule: 2 ** floor(0.8 * bit_length(prod(shape)))
    ae = create_model("AE", (10,))  # bit_length(10) = 4 -> 2 ** 3
    assert ae.encoder_net.output_shape == (None, 8)
    vae = create_model("VAE", (10,))
    assert vae.latent_dim == 8
    assert create_model("AE", (10,), encoding_dim=3).encoder_net.output_shape == (None, 3)
    gmm = create_model("VAEGMM", (10,), n_gmm=4, gmm_latent_dim=2)
    _, z, gamma = gmm(np.zeros((3, 10), "float32"), training=False, epsilon=np.zeros((3, 2)))
    assert z.shape == (3, 4) and gamma.shape == (3, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_create_model_takes_the_class(kind):
    cls = {"AE": AE, "VAE": VAE, "AEGMM": AEGMM, "VAEGMM": VAEGMM}[kind]
    by_class, by_name = create_model(cls, (10,)), create_model(kind, (10,))
    assert type(by_class) is cls and type(by_name) is cls
    assert by_class.get_config().keys() == by_name.get_config().keys()

    class Custom(cls):
        pass

    assert type(create_model(Custom, (10,))) is Custom


def test_create_model_pixelcnn_is_damls_small_configuration():
    from sklearn_daml.models import PixelCNN

    for model_type in ("PixelCNN", PixelCNN):
        model = create_model(model_type, (8, 8, 1))
        assert isinstance(model, PixelCNN)
        config = model.get_config()
        assert (config["num_resnet"], config["num_hierarchies"], config["num_filters"]) == (5, 2, 32)
        assert (config["num_logistic_mix"], config["dropout_p"]) == (1, 0.3)
    with pytest.raises(ValueError, match="input_shape"):
        create_model("PixelCNN", (64,))


@pytest.mark.parametrize("model_type", ["ae", "GMM", "AEGMM2", "", None, dict, keras.Model])
def test_create_model_bad_type(model_type):
    with pytest.raises(ValueError, match="model_type"):
        create_model(model_type, (10,))


@pytest.mark.parametrize("input_shape", [(), (8, 8), (2, 3, 4, 5)])
def test_create_model_bad_shape(input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        create_model("AE", input_shape)

"""The reference API (../shared/reference): every class, function and
parameter of DAML's and alibi-detect's TensorFlow model layer exists here with
the reference name and default, and runs on a tiny input.

The signatures below are transcribed from the reference documents
(``daml-tensorflow-models.md``, ``alibi-detect-autoencoder-api.md``,
``alibi-detect-losses-api.md``; DAML's page names ``Elbo``, ``LossGMM``,
``eucl_cosim_features`` and ``create_model`` without signatures, so theirs
come from DAML's source). Extra keyword arguments here are fine.
"""

import inspect

import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import multivariate_normal
from keras.layers import Dense, InputLayer

import keras
from sklearn_daml import VAEGMMOutlierDetector, VAEOutlierDetector
from sklearn_daml import models
from sklearn_daml.models import (
    AE,
    AEGMM,
    VAE,
    VAEGMM,
    Decoder,
    DecoderLSTM,
    Elbo,
    EncoderAE,
    EncoderLSTM,
    EncoderVAE,
    LossGMM,
    PixelCNN,
    Sampling,
    Seq2Seq,
    create_model,
    elbo,
    eucl_cosim_features,
    loss_adv_ae,
    loss_aegmm,
    loss_distillation,
    loss_vaegmm,
    squared_difference,
)

# the reference networks are pasted verbatim, InputLayer(input_shape=...) included
pytestmark = pytest.mark.filterwarnings("ignore:Argument `input_shape` is deprecated")

REQUIRED = inspect.Parameter.empty

# (name, reference parameters in order: name -> default or REQUIRED)
REFERENCE = {
    # DAML: daml.models.tensorflow
    "DAML AE": ("AE", {"encoder_net": REQUIRED, "decoder_net": REQUIRED}),
    "DAML AEGMM": ("AEGMM", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "gmm_density_net": REQUIRED,
        "n_gmm": REQUIRED, "recon_features": eucl_cosim_features,
    }),
    "DAML PixelCNN": ("PixelCNN", {
        "image_shape": REQUIRED, "conditional_shape": None, "num_resnet": 5,
        "num_hierarchies": 3, "num_filters": 160, "num_logistic_mix": 10,
        "receptive_field_dims": (3, 3), "dropout_p": 0.5, "resnet_activation": "concat_elu",
        "l2_weight": 0.0, "use_weight_norm": True, "use_data_init": True, "high": 255,
        "low": 0, "dtype": tf.float32, "name": "PixelCNN",
    }),
    "DAML VAE": ("VAE", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "latent_dim": REQUIRED, "beta": 1.0,
    }),
    "DAML VAEGMM": ("VAEGMM", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "gmm_density_net": REQUIRED,
        "n_gmm": REQUIRED, "latent_dim": REQUIRED, "recon_features": eucl_cosim_features,
        "beta": 1.0,
    }),
    "DAML eucl_cosim_features": ("eucl_cosim_features", {
        "x": REQUIRED, "y": REQUIRED, "max_eucl": 100.0,
    }),
    "DAML Elbo": ("Elbo", {"cov_type": 1.0, "x": None}),
    "DAML LossGMM": ("LossGMM", {
        "w_recon": 1e-7, "w_energy": 0.1, "w_cov_diag": 0.005, "elbo": None,
    }),
    "DAML create_model": ("create_model", {
        "model_type": REQUIRED, "input_shape": REQUIRED, "encoding_dim": None, "n_gmm": None,
        "gmm_latent_dim": None,
    }),
    # alibi-detect: alibi_detect.models.tensorflow.autoencoder
    "alibi AE": ("AE", {"encoder_net": REQUIRED, "decoder_net": REQUIRED, "name": "ae"}),
    "alibi AEGMM": ("AEGMM", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "gmm_density_net": REQUIRED,
        "n_gmm": REQUIRED, "recon_features": eucl_cosim_features, "name": "aegmm",
    }),
    "alibi Decoder": ("Decoder", {"decoder_net": REQUIRED, "name": "decoder"}),
    "alibi DecoderLSTM": ("DecoderLSTM", {
        "latent_dim": REQUIRED, "output_dim": REQUIRED, "output_activation": None,
        "name": "decoder_lstm",
    }),
    "alibi EncoderAE": ("EncoderAE", {"encoder_net": REQUIRED, "name": "encoder_ae"}),
    "alibi EncoderLSTM": ("EncoderLSTM", {"latent_dim": REQUIRED, "name": "encoder_lstm"}),
    "alibi EncoderVAE": ("EncoderVAE", {
        "encoder_net": REQUIRED, "latent_dim": REQUIRED, "name": "encoder_vae",
    }),
    "alibi Sampling": ("Sampling", {}),
    "alibi Seq2Seq": ("Seq2Seq", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "threshold_net": REQUIRED,
        "n_features": REQUIRED, "score_fn": squared_difference, "beta": 1.0, "name": "seq2seq",
    }),
    "alibi VAE": ("VAE", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "latent_dim": REQUIRED, "beta": 1.0,
        "name": "vae",
    }),
    "alibi VAEGMM": ("VAEGMM", {
        "encoder_net": REQUIRED, "decoder_net": REQUIRED, "gmm_density_net": REQUIRED,
        "n_gmm": REQUIRED, "latent_dim": REQUIRED, "recon_features": eucl_cosim_features,
        "beta": 1.0, "name": "vaegmm",
    }),
    "alibi eucl_cosim_features": ("eucl_cosim_features", {
        "x": REQUIRED, "y": REQUIRED, "max_eucl": 100.0,
    }),
    # alibi-detect: alibi_detect.models.tensorflow.losses
    "alibi elbo": ("elbo", {
        "y_true": REQUIRED, "y_pred": REQUIRED, "cov_full": None, "cov_diag": None, "sim": None,
    }),
    "alibi loss_adv_ae": ("loss_adv_ae", {
        "x_true": REQUIRED, "x_pred": REQUIRED, "model": None, "model_hl": None, "w_model": 1.0,
        "w_recon": 0.0, "w_model_hl": None, "temperature": 1.0,
    }),
    "alibi loss_aegmm": ("loss_aegmm", {
        "x_true": REQUIRED, "x_pred": REQUIRED, "z": REQUIRED, "gamma": REQUIRED,
        "w_energy": 0.1, "w_cov_diag": 0.005,
    }),
    "alibi loss_distillation": ("loss_distillation", {
        "x_true": REQUIRED, "y_pred": REQUIRED, "model": None, "loss_type": "kld",
        "temperature": 1.0,
    }),
    # alibi-detect: alibi_detect.models.tensorflow.gmm
    "alibi gmm_params": ("gmm_params", {"z": REQUIRED, "gamma": REQUIRED}),
    "alibi gmm_energy": ("gmm_energy", {
        "z": REQUIRED, "phi": REQUIRED, "mu": REQUIRED, "cov": REQUIRED, "L": REQUIRED,
        "log_det_cov": REQUIRED, "return_mean": True,
    }),
    "alibi loss_vaegmm": ("loss_vaegmm", {
        "x_true": REQUIRED, "x_pred": REQUIRED, "z": REQUIRED, "gamma": REQUIRED,
        "w_recon": 1e-7, "w_energy": 0.1, "w_cov_diag": 0.005, "cov_full": None,
        "cov_diag": None, "sim": 0.05,
    }),
}

# methods of the reference classes: (class, method, parameters after self)
REFERENCE_METHODS = [
    ("AE", "call", ["x"]),
    ("AEGMM", "call", ["x"]),
    ("Decoder", "call", ["x"]),
    ("DecoderLSTM", "call", ["x", "init_state"]),
    ("EncoderAE", "call", ["x"]),
    ("EncoderLSTM", "call", ["x"]),
    ("EncoderVAE", "call", ["x"]),
    ("Sampling", "call", ["inputs"]),
    ("Seq2Seq", "call", ["x"]),
    ("Seq2Seq", "decode_seq", ["x"]),
    ("VAE", "call", ["x"]),
    ("VAEGMM", "call", ["x"]),
]


def _same_default(ours, reference):
    if reference is tf.float32:  # PixelCNN's dtype: a dtype or its name
        return keras.backend.standardize_dtype(ours) == "float32"
    if isinstance(reference, tuple):
        return tuple(ours) == reference
    return ours is reference or ours == reference


@pytest.mark.parametrize("entry", list(REFERENCE), ids=list(REFERENCE))
def test_reference_signature(entry):
    name, reference = REFERENCE[entry]
    assert name in models.__all__
    params = inspect.signature(getattr(models, name)).parameters
    missing = [p for p in reference if p not in params]
    assert not missing, f"{name} lacks {missing}"
    for p, default in reference.items():
        assert _same_default(params[p].default, default), (
            f"{name}({p}=...) defaults to {params[p].default!r}, the reference to {default!r}"
        )
    # reference arguments can be passed by position: same relative order,
    # and the required ones lead
    order = [p for p in params if p in reference]
    assert order == list(reference)
    required = [p for p, d in reference.items() if d is REQUIRED]
    assert list(params)[: len(required)] == required


# the reference's modules and what each holds: code importing from them runs here
REFERENCE_MODULES = {
    "autoencoder": [
        "AE", "AEGMM", "Decoder", "DecoderLSTM", "EncoderAE", "EncoderLSTM", "EncoderVAE",
        "Sampling", "Seq2Seq", "VAE", "VAEGMM", "eucl_cosim_features",
    ],
    "gmm": ["gmm_energy", "gmm_params"],
    "losses": ["elbo", "loss_adv_ae", "loss_aegmm", "loss_distillation", "loss_vaegmm"],
}


@pytest.mark.parametrize("module", list(REFERENCE_MODULES))
def test_reference_modules(module):
    """``from alibi_detect.models.tensorflow.<module> import <name>`` becomes
    ``from sklearn_daml.models.<module> import <name>``."""
    imported = __import__(f"sklearn_daml.models.{module}", fromlist=REFERENCE_MODULES[module])
    for name in REFERENCE_MODULES[module]:
        assert getattr(imported, name) is getattr(models, name)


def test_gmm_energy_as_alibi_detect_calls_it():
    """alibi-detect's call: the mean energy and the covariance penalty."""
    from sklearn_daml.models.gmm import gmm_energy, gmm_params

    rng = np.random.RandomState(0)
    z = rng.normal(size=(20, 2))
    gamma = rng.dirichlet([1.0, 1.0], size=20)
    phi, mu, cov, L, log_det_cov = gmm_params(z, gamma)
    e, c = gmm_energy(z, phi, mu, cov, L, log_det_cov, return_mean=True)
    rows, c_rows = gmm_energy(z, phi, mu, cov, L, log_det_cov, return_mean=False)
    density = sum(
        np.asarray(phi)[k] * multivariate_normal(np.asarray(mu)[k], np.asarray(cov)[k]).pdf(z)
        for k in range(2)
    )
    np.testing.assert_allclose(np.asarray(rows), -np.log(density), rtol=1e-6)
    np.testing.assert_allclose(float(e), np.mean(-np.log(density)), rtol=1e-6)
    expected_c = np.sum(1.0 / np.diagonal(np.asarray(cov), axis1=-2, axis2=-1))
    np.testing.assert_allclose([float(c), float(c_rows)], [expected_c] * 2, rtol=1e-12)


@pytest.mark.parametrize("name, method, args", REFERENCE_METHODS)
def test_reference_methods(name, method, args):
    params = list(inspect.signature(getattr(getattr(models, name), method)).parameters)
    assert params[1 : 1 + len(args)] == args


# ----------------------------------------------- each one on a tiny input
N_FEATURES, LATENT_DIM, N_GMM = 5, 2, 2


def reference_nets(latent_dim=LATENT_DIM, variational=False):
    """The networks of alibi-detect's VAEGMM page, verbatim in style
    (``tf.keras.Sequential``, ``InputLayer(input_shape=...)``, raw
    TensorFlow activations)."""
    encoder_net = tf.keras.Sequential(
        [
            InputLayer(input_shape=(N_FEATURES,)),
            Dense(60, activation=tf.nn.tanh),
            Dense(30, activation=tf.nn.tanh),
            Dense(10, activation=tf.nn.tanh),
        ]
        + ([] if variational else [Dense(latent_dim, activation=None)])
    )
    decoder_net = tf.keras.Sequential(
        [
            InputLayer(input_shape=(latent_dim,)),
            Dense(10, activation=tf.nn.tanh),
            Dense(30, activation=tf.nn.tanh),
            Dense(60, activation=tf.nn.tanh),
            Dense(N_FEATURES, activation=None),
        ]
    )
    gmm_density_net = tf.keras.Sequential(
        [
            InputLayer(input_shape=(latent_dim + 2,)),
            Dense(10, activation=tf.nn.tanh),
            Dense(N_GMM, activation=tf.nn.softmax),
        ]
    )
    return encoder_net, decoder_net, gmm_density_net


@pytest.fixture
def x():
    return np.random.RandomState(0).normal(size=(6, N_FEATURES)).astype("float32")


def test_autoencoders_on_reference_networks(x):
    enc, dec, density = reference_nets()
    assert AE(enc, dec)(x).shape == x.shape
    x_recon, z, gamma = AEGMM(enc, dec, density, N_GMM)(x)
    assert z.shape == (6, LATENT_DIM + 2)
    np.testing.assert_allclose(np.sum(gamma, axis=1), 1.0, rtol=1e-6)
    enc, dec, density = reference_nets(variational=True)
    vae = VAE(enc, dec, LATENT_DIM)
    assert vae(x).shape == x.shape and len(vae.losses) == 1
    x_recon, z, gamma = VAEGMM(enc, dec, density, N_GMM, LATENT_DIM)(x)
    assert x_recon.shape == x.shape and gamma.shape == (6, N_GMM)


def test_layers_on_a_tiny_input(x):
    enc, dec, _ = reference_nets()
    assert EncoderAE(enc)(x).shape == (6, LATENT_DIM)
    assert Decoder(dec)(np.zeros((6, LATENT_DIM), "float32")).shape == x.shape
    z_mean, z_log_var, z = EncoderVAE(reference_nets(variational=True)[0], LATENT_DIM)(x)
    assert z.shape == (6, LATENT_DIM)
    mean = np.zeros((6, LATENT_DIM), "float32")
    assert Sampling()((mean, mean)).shape == (6, LATENT_DIM)


def test_seq2seq_as_in_alibi_detect():
    seq = np.random.RandomState(0).normal(size=(3, 4, 2)).astype("float32")
    threshold_net = tf.keras.Sequential(  # alibi-detect's default: hidden layers only
        [
            InputLayer(input_shape=(4, 8)),
            Dense(64, activation=tf.nn.relu),
            Dense(64, activation=tf.nn.relu),
        ]
    )
    model = Seq2Seq(EncoderLSTM(8), DecoderLSTM(8, 2), threshold_net, n_features=2)
    assert model(seq).shape == seq.shape and len(model.losses) == 1
    x_recon, threshold_est = model.decode_seq(seq)
    assert x_recon.shape == seq.shape and threshold_est.shape == seq.shape


def test_pixelcnn_on_a_tiny_image():
    model = PixelCNN(
        (4, 4, 1), num_resnet=1, num_hierarchies=1, num_filters=4, num_logistic_mix=2, high=3
    )
    images = np.random.RandomState(0).randint(0, 4, size=(2, 4, 4, 1)).astype("float32")
    assert np.all(np.isfinite(np.asarray(model.log_prob(images))))


def test_losses_on_a_tiny_input(x):
    rng = np.random.RandomState(1)
    y, y_pred = x.astype("float64"), x.astype("float64") + 0.1
    identity = ({"sim": 1.0}, {"cov_diag": np.ones(N_FEATURES)}, {"cov_full": np.eye(N_FEATURES)})
    for kwargs in identity:
        np.testing.assert_allclose(float(elbo(y, y_pred, **kwargs)), float(elbo(y, y_pred)))
    np.testing.assert_allclose(float(Elbo()(y, y_pred)), float(elbo(y, y_pred)))
    z = rng.normal(size=(6, 3))
    gamma = np.full((6, N_GMM), 1.0 / N_GMM)
    assert np.isfinite(float(loss_aegmm(y, y_pred, z, gamma)))
    assert np.isfinite(float(loss_vaegmm(y, y_pred, z, gamma)))
    assert float(LossGMM()(y, y_pred, z, gamma)) == float(loss_aegmm(y, y_pred, z, gamma))
    features = np.asarray(eucl_cosim_features(y, y_pred))
    assert features.shape == (6, 2) and np.all(features[:, 0] < 0)  # negative cosine first
    classifier = keras.Sequential([keras.Input((N_FEATURES,)), Dense(3, activation="softmax")])
    assert float(loss_adv_ae(x, x, model=classifier)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss_distillation(x, classifier(x), model=classifier)) == pytest.approx(
        0.0, abs=1e-6
    )


def test_create_model_by_name_and_class():
    for model_type in ("AE", AE, "VAE", VAE, "AEGMM", AEGMM, "VAEGMM", VAEGMM):
        model = create_model(model_type, (N_FEATURES,))
        out = model(np.zeros((2, N_FEATURES), "float32"))
        x_recon = out[0] if isinstance(out, tuple) else out
        assert x_recon.shape == (2, N_FEATURES)
    assert isinstance(create_model(PixelCNN, (8, 8, 1)), PixelCNN)


# ------------------------------------- the reference's elbo options, compiled
@pytest.mark.parametrize("cov_elbo", ["cov_full", "cov_diag"])
@pytest.mark.parametrize("Detector", [VAEOutlierDetector, VAEGMMOutlierDetector])
def test_elbo_covariances_train_in_the_compiled_step(Detector, cov_elbo):
    X = np.random.RandomState(0).normal(size=(80, 4)) * np.array([0.5, 1.0, 2.0, 4.0])
    det = Detector(cov_elbo=cov_elbo, epochs=2, samples=2, random_state=0).fit(X)
    assert len(det.loss_curve_) == 2 and np.all(np.isfinite(det.loss_curve_))
    assert np.all(np.isfinite(det.score_samples(X)))

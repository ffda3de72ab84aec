"""Losses of the autoencoder family against closed forms and SciPy."""

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import multivariate_normal

from sklearn_daml.models import (
    Elbo,
    LossGMM,
    elbo,
    gmm_cov_penalty,
    gmm_energy,
    gmm_params,
    loss_aegmm,
    loss_vaegmm,
)


@pytest.fixture
def recon():
    rng = np.random.RandomState(0)
    y = rng.normal(size=(6, 4))
    y_pred = y + 0.3 * rng.normal(size=(6, 4))
    return y, y_pred


@pytest.fixture
def gmm_batch():
    rng = np.random.RandomState(1)
    x = rng.normal(size=(20, 5))
    x_pred = x + 0.2 * rng.normal(size=(20, 5))
    z = rng.normal(size=(20, 3))
    gamma = softmax(rng.normal(size=(20, 2)), axis=1)
    return x, x_pred, z, gamma


def _scipy_nll(y, y_pred, cov):
    y = y.reshape(len(y), -1)
    y_pred = y_pred.reshape(len(y_pred), -1)
    return -np.mean(
        [multivariate_normal(y_pred[i], cov).logpdf(y[i]) for i in range(len(y))]
    )


def _gmm_terms(z, gamma, cov_jitter=1e-6):
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=cov_jitter)
    energy = float(np.mean(np.asarray(gmm_energy(z, phi, mu, cov, L, log_det, return_mean=False)[0])))
    return energy, float(gmm_cov_penalty(cov))


@pytest.mark.parametrize("sim", [0.05, 0.5, 1.0, 2.5])
def test_elbo_sim_closed_form_and_scipy(recon, sim):
    y, y_pred = recon
    F = y.shape[1]
    closed = np.mean(
        0.5 * np.sum((y - y_pred) ** 2, axis=1) / sim**2
        + F * np.log(sim)
        + F / 2 * np.log(2 * np.pi)
    )
    value = float(elbo(y, y_pred, sim=sim))
    np.testing.assert_allclose(value, closed, rtol=1e-10)
    np.testing.assert_allclose(value, _scipy_nll(y, y_pred, sim**2 * np.eye(F)), rtol=1e-10)


def test_elbo_flattens_rows():
    rng = np.random.RandomState(2)
    y = rng.normal(size=(3, 2, 3))
    y_pred = rng.normal(size=(3, 2, 3))
    np.testing.assert_allclose(
        float(elbo(y, y_pred, sim=0.7)), _scipy_nll(y, y_pred, 0.49 * np.eye(6)), rtol=1e-10
    )


def test_elbo_docstring_value():
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(float(elbo(y, y, sim=1.0)), np.log(2 * np.pi), rtol=1e-12)


def test_elbo_cov_diag_is_a_scale_and_matches_scipy(recon):
    # as alibi-detect (scale_diag of a MultivariateNormalDiag): standard deviations
    y, y_pred = recon
    std = np.array([0.1, 0.5, 2.0, 0.03])
    np.testing.assert_allclose(
        float(elbo(y, y_pred, cov_diag=std)), _scipy_nll(y, y_pred, np.diag(std**2)), rtol=1e-10
    )
    np.testing.assert_allclose(
        float(elbo(y, y_pred, cov_diag=np.full(4, 0.5))),
        float(elbo(y, y_pred, sim=0.5)),
        rtol=1e-12,
    )


def test_elbo_cov_full_matches_scipy(recon):
    y, y_pred = recon
    rng = np.random.RandomState(3)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + 0.5 * np.eye(4)
    np.testing.assert_allclose(
        float(elbo(y, y_pred, cov_full=cov)), _scipy_nll(y, y_pred, cov), rtol=1e-10
    )


def test_elbo_default_is_identity(recon):
    y, y_pred = recon
    expected = _scipy_nll(y, y_pred, np.eye(4))
    np.testing.assert_allclose(float(elbo(y, y_pred)), expected, rtol=1e-10)
    np.testing.assert_allclose(float(elbo(y, y_pred, sim=1.0)), expected, rtol=1e-10)
    np.testing.assert_allclose(float(elbo(y, y_pred, cov_diag=np.ones(4))), expected, rtol=1e-10)
    np.testing.assert_allclose(float(elbo(y, y_pred, cov_full=np.eye(4))), expected, rtol=1e-10)


def test_elbo_can_be_negative():
    y = np.zeros((2, 3))
    assert float(elbo(y, y, sim=0.05)) < 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cov_full": np.eye(4), "cov_diag": np.ones(4)},
        {"cov_full": np.eye(4), "sim": 1.0},
        {"cov_diag": np.ones(4), "sim": 0.5},
        {"cov_full": np.eye(4), "cov_diag": np.ones(4), "sim": 0.5},
    ],
)
def test_elbo_two_covariances_raise(recon, kwargs):
    y, y_pred = recon
    with pytest.raises(ValueError, match="at most one"):
        elbo(y, y_pred, **kwargs)


@pytest.mark.parametrize(
    "w_energy, w_cov_diag", [(0.1, 0.005), (1.0, 0.0), (0.0, 1.0), (0.3, 0.02)]
)
def test_loss_aegmm_components(gmm_batch, w_energy, w_cov_diag):
    x, x_pred, z, gamma = gmm_batch
    energy, penalty = _gmm_terms(z, gamma)
    expected = np.mean((x - x_pred) ** 2) + w_energy * energy + w_cov_diag * penalty
    value = float(loss_aegmm(x, x_pred, z, gamma, w_energy=w_energy, w_cov_diag=w_cov_diag))
    np.testing.assert_allclose(value, expected, rtol=1e-10)


def test_loss_aegmm_defaults(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    energy, penalty = _gmm_terms(z, gamma)
    expected = np.mean((x - x_pred) ** 2) + 0.1 * energy + 0.005 * penalty
    np.testing.assert_allclose(float(loss_aegmm(x, x_pred, z, gamma)), expected, rtol=1e-10)


def test_loss_aegmm_cov_jitter_is_used(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    energy, penalty = _gmm_terms(z, gamma, cov_jitter=0.5)
    expected = np.mean((x - x_pred) ** 2) + 0.1 * energy + 0.005 * penalty
    value = float(loss_aegmm(x, x_pred, z, gamma, cov_jitter=0.5))
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    assert not np.isclose(value, float(loss_aegmm(x, x_pred, z, gamma)), rtol=1e-6)


def test_loss_aegmm_image_shaped_input(gmm_batch):
    _, _, z, gamma = gmm_batch
    rng = np.random.RandomState(4)
    x = rng.normal(size=(20, 2, 2, 1))
    x_pred = rng.normal(size=(20, 2, 2, 1))
    energy, penalty = _gmm_terms(z, gamma)
    expected = np.mean((x - x_pred) ** 2) + 0.1 * energy + 0.005 * penalty
    np.testing.assert_allclose(float(loss_aegmm(x, x_pred, z, gamma)), expected, rtol=1e-10)


def test_loss_vaegmm_default_sim(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    energy, penalty = _gmm_terms(z, gamma)
    recon = float(elbo(x, x_pred, sim=0.05))
    expected = 1e-7 * recon + 0.1 * energy + 0.005 * penalty
    np.testing.assert_allclose(float(loss_vaegmm(x, x_pred, z, gamma)), expected, rtol=1e-10)


def test_loss_vaegmm_weights(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    energy, penalty = _gmm_terms(z, gamma)
    recon = float(elbo(x, x_pred, sim=0.3))
    expected = 0.5 * recon + 0.2 * energy + 0.01 * penalty
    value = loss_vaegmm(
        x, x_pred, z, gamma, w_recon=0.5, w_energy=0.2, w_cov_diag=0.01, sim=0.3
    )
    np.testing.assert_allclose(float(value), expected, rtol=1e-10)


def test_loss_vaegmm_cov_diag_with_default_sim(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    std = np.linspace(0.2, 1.5, 5)
    energy, penalty = _gmm_terms(z, gamma)
    value = float(loss_vaegmm(x, x_pred, z, gamma, w_recon=1.0, cov_diag=std))  # must not raise
    expected = _scipy_nll(x, x_pred, np.diag(std**2)) + 0.1 * energy + 0.005 * penalty
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    with_sim = float(loss_vaegmm(x, x_pred, z, gamma, w_recon=1.0))
    assert not np.isclose(value, with_sim, rtol=1e-3)


def test_loss_vaegmm_cov_full_with_default_sim(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    cov = np.cov(x, rowvar=False)
    energy, penalty = _gmm_terms(z, gamma)
    value = float(loss_vaegmm(x, x_pred, z, gamma, w_recon=1.0, cov_full=cov))
    expected = _scipy_nll(x, x_pred, cov) + 0.1 * energy + 0.005 * penalty
    np.testing.assert_allclose(value, expected, rtol=1e-10)


def test_elbo_class_sim(recon):
    y, y_pred = recon
    np.testing.assert_allclose(
        float(Elbo(0.5)(y, y_pred)), float(elbo(y, y_pred, sim=0.5)), rtol=1e-12
    )
    np.testing.assert_allclose(float(Elbo()(y, y_pred)), float(elbo(y, y_pred)), rtol=1e-12)
    assert Elbo(0.5).cov_type == 0.5


def test_elbo_class_hand_value():
    # 3 features, residual 0.5, sim 0.5: 0.5 * 3 + 3 log 0.5 + 1.5 log(2 pi) = 2.17737...
    # (the Elbo docstring claims 4.4774, which is wrong; see the report)
    y = np.zeros((4, 3))
    expected = 1.5 + 3 * np.log(0.5) + 1.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(float(Elbo(0.5)(y, y + 0.5)), expected, rtol=1e-12)
    np.testing.assert_allclose(expected, 2.1774, atol=5e-5)


def test_elbo_class_cov_full(recon):
    y, y_pred = recon
    x = np.random.RandomState(5).normal(size=(30, 4))
    cov = np.cov(x, rowvar=False)
    value = float(Elbo("cov_full", x)(y, y_pred))
    np.testing.assert_allclose(value, float(elbo(y, y_pred, cov_full=cov)), rtol=1e-10)
    np.testing.assert_allclose(value, _scipy_nll(y, y_pred, cov), rtol=1e-10)


def test_elbo_class_cov_diag(recon):
    y, y_pred = recon
    x = np.random.RandomState(6).normal(size=(30, 4)) * np.array([0.5, 1.0, 2.0, 3.0])
    var = np.var(x, axis=0, ddof=1)
    value = float(Elbo("cov_diag", x)(y, y_pred))
    np.testing.assert_allclose(value, float(elbo(y, y_pred, cov_diag=np.sqrt(var))), rtol=1e-10)
    np.testing.assert_allclose(value, _scipy_nll(y, y_pred, np.diag(var)), rtol=1e-10)


def test_elbo_class_flattens_image_data():
    rng = np.random.RandomState(7)
    x = rng.normal(size=(30, 2, 2))
    y = rng.normal(size=(3, 2, 2))
    y_pred = rng.normal(size=(3, 2, 2))
    var = np.var(x.reshape(30, 4), axis=0, ddof=1)
    np.testing.assert_allclose(
        float(Elbo("cov_diag", x)(y, y_pred)), _scipy_nll(y, y_pred, np.diag(var)), rtol=1e-10
    )


def test_elbo_class_single_feature():
    rng = np.random.RandomState(8)
    x = rng.normal(size=(30, 1))
    y, y_pred = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
    var = np.var(x, ddof=1)
    np.testing.assert_allclose(
        float(Elbo("cov_full", x)(y, y_pred)),
        _scipy_nll(y, y_pred, np.array([[var]])),
        rtol=1e-10,
    )


def test_elbo_class_bad_cov_type():
    with pytest.raises(ValueError, match="cov_type"):
        Elbo("cov_tril", np.ones((3, 2)))


@pytest.mark.parametrize("cov_type", ["cov_full", "cov_diag"])
def test_elbo_class_string_without_x(cov_type):
    with pytest.raises(ValueError, match="needs the data"):
        Elbo(cov_type)


def test_loss_gmm_without_elbo_is_loss_aegmm(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    loss = LossGMM(w_energy=0.2, w_cov_diag=0.01, cov_jitter=1e-3)
    expected = loss_aegmm(x, x_pred, z, gamma, w_energy=0.2, w_cov_diag=0.01, cov_jitter=1e-3)
    np.testing.assert_allclose(float(loss(x, x_pred, z, gamma)), float(expected), rtol=1e-12)
    np.testing.assert_allclose(
        float(LossGMM()(x, x_pred, z, gamma)), float(loss_aegmm(x, x_pred, z, gamma)), rtol=1e-12
    )


@pytest.mark.parametrize("kind", ["sim", "cov_full", "cov_diag"])
def test_loss_gmm_with_elbo_is_loss_vaegmm(gmm_batch, kind):
    x, x_pred, z, gamma = gmm_batch
    ref = np.random.RandomState(9).normal(size=(40, 5))
    if kind == "sim":
        e, kwargs = Elbo(0.2), {"sim": 0.2}
    elif kind == "cov_full":
        e, kwargs = Elbo("cov_full", ref), {"cov_full": np.cov(ref, rowvar=False)}
    else:
        e, kwargs = Elbo("cov_diag", ref), {"cov_diag": np.std(ref, axis=0, ddof=1)}
    loss = LossGMM(w_recon=0.5, w_energy=0.2, w_cov_diag=0.01, elbo=e, cov_jitter=1e-4)
    expected = loss_vaegmm(
        x, x_pred, z, gamma, w_recon=0.5, w_energy=0.2, w_cov_diag=0.01, cov_jitter=1e-4, **kwargs
    )
    np.testing.assert_allclose(float(loss(x, x_pred, z, gamma)), float(expected), rtol=1e-12)
    energy, penalty = _gmm_terms(z, gamma, cov_jitter=1e-4)
    by_hand = 0.5 * float(e(x, x_pred)) + 0.2 * energy + 0.01 * penalty
    np.testing.assert_allclose(float(loss(x, x_pred, z, gamma)), by_hand, rtol=1e-10)


def test_elbo_cov_full_in_a_compiled_step(recon):
    # unknown batch size inside tf.function: the triangular solve must still work
    import tensorflow as tf

    y, y_pred = recon
    cov = np.cov(np.random.RandomState(4).normal(size=(30, 4)), rowvar=False)
    spec = tf.TensorSpec([None, 4], tf.float64)
    compiled = tf.function(lambda a, b: elbo(a, b, cov_full=cov), input_signature=[spec, spec])
    np.testing.assert_allclose(
        float(compiled(y, y_pred)), _scipy_nll(y, y_pred, cov), rtol=1e-10
    )


def test_loss_gmm_elbo_differs_from_mse(gmm_batch):
    x, x_pred, z, gamma = gmm_batch
    a = float(LossGMM(w_recon=1.0)(x, x_pred, z, gamma))
    b = float(LossGMM(w_recon=1.0, elbo=Elbo(0.1))(x, x_pred, z, gamma))
    assert not np.isclose(a, b, rtol=1e-3)

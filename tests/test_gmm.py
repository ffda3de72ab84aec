"""GMM maths of DAGMM against NumPy / SciPy reference computations."""

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import multivariate_normal

from sklearn_daml.models import (
    gmm_cov_penalty,
    gmm_energy,
    gmm_params,
    gmm_params_from_statistics,
    gmm_responsibilities,
    gmm_sufficient_statistics,
)


def _np(t):
    return np.asarray(t)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    z = rng.normal(size=(50, 3))
    z[:, 1] += 0.5 * z[:, 0]  # correlated dims: off-diagonal covariances matter
    gamma = softmax(2.0 * rng.normal(size=(50, 3)), axis=1)
    return z, gamma


def _reference_params(z, gamma):
    sum_gamma = gamma.sum(0)
    phi = gamma.mean(0)
    mu = (gamma.T @ z) / sum_gamma[:, None]
    cov = np.stack(
        [
            ((gamma[:, k, None] * (z - mu[k])).T @ (z - mu[k])) / sum_gamma[k]
            for k in range(gamma.shape[1])
        ]
    )
    return phi, mu, cov


def _reference_energy(z, phi, mu, cov):
    density = sum(
        phi[k] * multivariate_normal(mu[k], cov[k]).pdf(z) for k in range(len(phi))
    )
    return -np.log(density)


@pytest.mark.parametrize("cov_jitter", [1e-6, 1e-2, 0.3])
def test_energy_matches_scipy_mixture(data, cov_jitter):
    z, gamma = data
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=cov_jitter)
    energy = _np(gmm_energy(z, phi, mu, cov, L, log_det, return_mean=False)[0])
    assert energy.shape == (50,)
    expected = _reference_energy(
        z, _np(phi), _np(mu), _np(cov) + cov_jitter * np.eye(3)[None]
    )
    np.testing.assert_allclose(energy, expected, rtol=1e-5)


def test_energy_without_jitter_matches_scipy_without_jitter(data):
    z, gamma = data
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=0.0)
    energy = _np(gmm_energy(z, phi, mu, cov, L, log_det, return_mean=False)[0])
    ref_phi, ref_mu, ref_cov = _reference_params(z, gamma)
    np.testing.assert_allclose(energy, _reference_energy(z, ref_phi, ref_mu, ref_cov), rtol=1e-5)


def test_energy_on_new_rows(data):
    """Parameters from one set, energies of other rows (as at scoring time)."""
    z, gamma = data
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=1e-6)
    z_new = np.random.RandomState(1).normal(scale=2.0, size=(7, 3))
    energy = _np(gmm_energy(z_new, phi, mu, cov, L, log_det, return_mean=False)[0])
    expected = _reference_energy(z_new, _np(phi), _np(mu), _np(cov) + 1e-6 * np.eye(3)[None])
    np.testing.assert_allclose(energy, expected, rtol=1e-5)


def test_energy_single_component_is_gaussian_nll(data):
    z, _ = data
    gamma = np.ones((50, 1))
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=0.0)
    energy = _np(gmm_energy(z, phi, mu, cov, L, log_det, return_mean=False)[0])
    expected = -multivariate_normal(z.mean(0), np.cov(z, rowvar=False, bias=True)).logpdf(z)
    np.testing.assert_allclose(energy, expected, rtol=1e-8)


def test_params_match_numpy(data):
    z, gamma = data
    jitter = 1e-3
    phi, mu, cov, L, log_det = (_np(t) for t in gmm_params(z, gamma, cov_jitter=jitter))
    ref_phi, ref_mu, ref_cov = _reference_params(z, gamma)
    np.testing.assert_allclose(phi, ref_phi, rtol=1e-12)
    np.testing.assert_allclose(phi.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-10)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-14)
    # L is lower triangular and L L^T = cov + jitter I
    np.testing.assert_array_equal(np.triu(L, 1), 0.0)
    np.testing.assert_allclose(
        L @ np.transpose(L, (0, 2, 1)), ref_cov + jitter * np.eye(3), rtol=1e-10
    )
    sign, ref_log_det = np.linalg.slogdet(ref_cov + jitter * np.eye(3))
    np.testing.assert_array_equal(sign, 1.0)
    np.testing.assert_allclose(log_det, ref_log_det, rtol=1e-10)


def test_params_keep_float64(data):
    z, gamma = data
    for t in gmm_params(z, gamma):
        assert _np(t).dtype == np.float64


@pytest.mark.parametrize("cov_jitter", [0.0, 1e-6, 0.1])
def test_batched_statistics_equal_one_shot(data, cov_jitter):
    z, gamma = data
    bounds = [0, 7, 8, 23, 41, 50]  # uneven batches, including one of a single row
    totals = None
    for start, stop in zip(bounds[:-1], bounds[1:]):
        stats = [_np(s) for s in gmm_sufficient_statistics(z[start:stop], gamma[start:stop])]
        totals = stats if totals is None else [a + b for a, b in zip(totals, stats)]
    assert totals[0] == 50
    batched = gmm_params_from_statistics(*totals, cov_jitter=cov_jitter)
    one_shot = gmm_params(z, gamma, cov_jitter=cov_jitter)
    for name, b, o in zip(["phi", "mu", "cov", "L", "log_det"], batched, one_shot):
        np.testing.assert_allclose(_np(b), _np(o), rtol=1e-10, atol=1e-13, err_msg=name)


def test_sufficient_statistics_match_numpy(data):
    z, gamma = data
    n, s_g, s_gz, s_gzz = (_np(t) for t in gmm_sufficient_statistics(z, gamma))
    assert n == 50
    np.testing.assert_allclose(s_g, gamma.sum(0), rtol=1e-12)
    np.testing.assert_allclose(s_gz, gamma.T @ z, rtol=1e-12)
    expected = np.einsum("nk,nd,ne->kde", gamma, z, z)
    np.testing.assert_allclose(s_gzz, expected, rtol=1e-12)


def test_cov_penalty_is_sum_of_inverse_diagonals(data):
    z, gamma = data
    _, _, cov, _, _ = gmm_params(z, gamma)
    cov = _np(cov)
    expected = sum(1.0 / cov[k, d, d] for k in range(3) for d in range(3))
    np.testing.assert_allclose(float(gmm_cov_penalty(cov)), expected, rtol=1e-12)
    # a hand-made example: diagonals 2, 4 and 0.5, 1 -> 1/2 + 1/4 + 2 + 1
    hand = np.array([[[2.0, 0.3], [0.3, 4.0]], [[0.5, 0.0], [0.0, 1.0]]])
    np.testing.assert_allclose(float(gmm_cov_penalty(hand)), 3.75, rtol=1e-12)


def test_cov_penalty_zero_diagonal_is_finite():
    cov = np.zeros((1, 2, 2))
    penalty = float(gmm_cov_penalty(cov))
    assert np.isfinite(penalty)
    assert penalty > 1e6  # still penalises a collapsed component strongly


def test_empty_component_gives_finite_sensible_energy(data):
    """A component with zero total membership must not produce NaN/inf."""
    z, gamma = data
    gamma = gamma.copy()
    gamma[:, 2] = 0.0
    gamma /= gamma.sum(1, keepdims=True)
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=1e-6)
    for name, t in zip(["phi", "mu", "cov", "L", "log_det"], (phi, mu, cov, L, log_det)):
        assert np.all(np.isfinite(_np(t))), name
    assert _np(phi)[2] == 0.0
    energy = _np(gmm_energy(z, phi, mu, cov, L, log_det, return_mean=False)[0])
    assert np.all(np.isfinite(energy))
    # the empty component has no weight: energy is that of the other two
    ref_phi, ref_mu, ref_cov = _reference_params(z, gamma[:, :2])
    ref_phi = gamma[:, :2].mean(0)
    expected = _reference_energy(z, ref_phi, ref_mu, ref_cov + 1e-6 * np.eye(3)[None])
    np.testing.assert_allclose(energy, expected, rtol=1e-6)
    assert np.isfinite(float(gmm_cov_penalty(cov)))


def test_empty_component_from_statistics_is_finite(data):
    z, gamma = data
    gamma = gamma.copy()
    gamma[:, 0] = 0.0
    gamma /= gamma.sum(1, keepdims=True)
    params = gmm_params_from_statistics(*gmm_sufficient_statistics(z, gamma), cov_jitter=1e-6)
    for t in params:
        assert np.all(np.isfinite(_np(t)))
    energy = _np(gmm_energy(z, *params, return_mean=False)[0])
    assert np.all(np.isfinite(energy))
    direct = gmm_energy(z, *gmm_params(z, gamma, cov_jitter=1e-6), return_mean=False)[0]
    np.testing.assert_allclose(energy, _np(direct), rtol=1e-8)


def test_collapsed_component_is_finite_thanks_to_jitter():
    """All rows identical: covariance is exactly zero, Cholesky needs the jitter."""
    z = np.tile([[1.0, -2.0, 0.5]], (10, 1))
    gamma = np.full((10, 2), 0.5)
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=1e-4)
    np.testing.assert_allclose(_np(cov), 0.0, atol=1e-15)
    np.testing.assert_allclose(_np(log_det), 3 * np.log(1e-4), rtol=1e-10)
    energy = _np(gmm_energy(z, phi, mu, cov, L, log_det, return_mean=False)[0])
    expected = -multivariate_normal(z[0], 1e-4 * np.eye(3)).logpdf(z)
    np.testing.assert_allclose(energy, expected, rtol=1e-8)


def test_cov_jitter_changes_cholesky_and_log_det(data):
    z, gamma = data
    _, _, cov_a, L_a, ld_a = (_np(t) for t in gmm_params(z, gamma, cov_jitter=1e-6))
    _, _, cov_b, L_b, ld_b = (_np(t) for t in gmm_params(z, gamma, cov_jitter=0.5))
    # the returned covariance is without jitter ...
    np.testing.assert_allclose(cov_a, cov_b, rtol=1e-12)
    # ... but the factor and the log-determinant use it
    assert np.all(ld_b > ld_a)
    np.testing.assert_allclose(
        L_b @ np.transpose(L_b, (0, 2, 1)), cov_a + 0.5 * np.eye(3), rtol=1e-10
    )
    np.testing.assert_allclose(ld_b, np.linalg.slogdet(cov_a + 0.5 * np.eye(3))[1], rtol=1e-10)
    # and the statistics path honours it too
    stats = gmm_sufficient_statistics(z, gamma)
    _, _, _, L_c, ld_c = (_np(t) for t in gmm_params_from_statistics(*stats, cov_jitter=0.5))
    np.testing.assert_allclose(L_c, L_b, rtol=1e-10)
    np.testing.assert_allclose(ld_c, ld_b, rtol=1e-10)


def test_default_jitter_is_1e_minus_6(data):
    z, gamma = data
    default = gmm_params(z, gamma)
    explicit = gmm_params(z, gamma, cov_jitter=1e-6)
    np.testing.assert_allclose(_np(default[4]), _np(explicit[4]), rtol=1e-14)
    zero = gmm_params(z, gamma, cov_jitter=0.0)
    assert not np.allclose(_np(default[4]), _np(zero[4]), rtol=1e-12, atol=0)


def test_empty_component_does_not_affect_rows_at_origin():
    """An empty component (phi=0, mu=0, cov=jitter*I) must carry no mass."""
    rng = np.random.RandomState(0)
    z = rng.normal(size=(50, 10))
    z[0] = 0.0
    gamma = np.zeros((50, 2))
    gamma[:, 0] = 1.0  # component 1 is empty
    energy = _np(gmm_energy(z, *gmm_params(z, gamma, cov_jitter=1e-6), return_mean=False)[0])
    cov = np.cov(z, rowvar=False, bias=True) + 1e-6 * np.eye(10)
    expected = -multivariate_normal(z.mean(0), cov).logpdf(z)
    np.testing.assert_allclose(energy, expected, rtol=1e-6)


@pytest.mark.parametrize("cov_jitter", [0.0, 1e-2])
def test_responsibilities_are_scipy_posteriors(data, cov_jitter):
    z, gamma = data
    phi, mu, cov, L, log_det = gmm_params(z, gamma, cov_jitter=cov_jitter)
    cov_used = _np(cov) + cov_jitter * np.eye(3)[None]
    joint = np.stack(
        [_np(phi)[k] * multivariate_normal(_np(mu)[k], cov_used[k]).pdf(z) for k in range(3)],
        axis=1,
    )
    posterior = _np(gmm_responsibilities(z, phi, mu, L, log_det))
    assert posterior.shape == (50, 3)
    np.testing.assert_allclose(posterior, joint / joint.sum(1, keepdims=True), rtol=1e-6, atol=1e-12)


def test_responsibilities_give_an_empty_component_no_rows(data):
    z, gamma = data
    gamma = gamma.copy()
    gamma[:, 2] = 0.0
    gamma /= gamma.sum(1, keepdims=True)
    phi, mu, _, L, log_det = gmm_params(z, gamma)
    posterior = _np(gmm_responsibilities(z, phi, mu, L, log_det))
    assert np.all(np.isfinite(posterior))
    np.testing.assert_array_equal(posterior[:, 2], 0.0)
    np.testing.assert_allclose(posterior.sum(1), 1.0)


def _reference_posterior_mode(z, gamma):
    """Fraley and Raftery (2007), eqs. for the unconstrained model: means
    shrink to the data mean with weight 0.01; covariances have the
    inverse-Wishart prior of ``d + 2`` degrees of freedom and scale
    ``cov(z) / K ** (2 / d)``."""
    n, d = z.shape
    K = gamma.shape[1]
    kappa, nu = 0.01, d + 2
    m = z.mean(0)
    scale = np.cov(z.T, bias=True) / K ** (2.0 / d)
    phi, mu, cov = [], [], []
    for k in range(K):
        n_k = gamma[:, k].sum()
        xbar = gamma[:, k] @ z / n_k
        W = (gamma[:, k, None] * (z - xbar)).T @ (z - xbar)
        dev = np.outer(xbar - m, xbar - m)
        phi.append(n_k / n)
        mu.append((n_k * xbar + kappa * m) / (n_k + kappa))
        cov.append((scale + kappa * n_k / (n_k + kappa) * dev + W) / (n_k + nu + d + 2))
    return np.array(phi), np.array(mu), np.array(cov)


def test_prior_gives_mclust_posterior_mode(data):
    z, gamma = data
    phi, mu, cov, L, log_det = (
        _np(p) for p in gmm_params_from_statistics(*gmm_sufficient_statistics(z, gamma), prior=True)
    )
    ref_phi, ref_mu, ref_cov = _reference_posterior_mode(z, gamma)
    np.testing.assert_allclose(phi, ref_phi, rtol=1e-12)
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-10)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10)
    jittered = ref_cov + 1e-6 * np.eye(3)
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), jittered, rtol=1e-10)
    np.testing.assert_allclose(log_det, np.linalg.slogdet(jittered)[1], rtol=1e-10)
    # the maximum-likelihood estimate is a different one
    assert not np.allclose(cov, _np(gmm_params(z, gamma)[2]), rtol=1e-3)


def test_prior_keeps_a_component_of_few_rows_full_rank():
    # two of the rows own a component in four dimensions: its maximum-
    # likelihood covariance is singular and the jitter alone makes it a
    # needle of near-infinite density at those rows
    rng = np.random.RandomState(1)
    z = np.vstack([rng.normal(size=(30, 4)), rng.normal(6.0, 1.0, size=(2, 4))])
    gamma = np.zeros((32, 2))
    gamma[:30, 0] = gamma[30:, 1] = 1.0
    stats = gmm_sufficient_statistics(z, gamma)
    ml_cov = _np(gmm_params_from_statistics(*stats)[2])
    map_cov = _np(gmm_params_from_statistics(*stats, prior=True)[2])
    assert np.linalg.eigvalsh(ml_cov[1]).min() < 1e-12
    # at least the prior's scale over its pseudo-count
    floor = np.cov(z.T, bias=True) / 2 ** (2.0 / 4) / (2 + 4 + 2 + 4 + 2)
    assert np.linalg.eigvalsh(map_cov[1] - floor).min() > -1e-12
    assert np.linalg.eigvalsh(floor).min() > 0.01


def test_prior_fades_with_many_rows():
    rng = np.random.RandomState(2)
    z = np.vstack([rng.normal(size=(20000, 3)), rng.normal(4.0, 0.5, size=(20000, 3))])
    gamma = np.repeat([[1.0, 0.0], [0.0, 1.0]], 20000, axis=0)
    ml = gmm_params(z, gamma)
    map_ = gmm_params_from_statistics(*gmm_sufficient_statistics(z, gamma), prior=True)
    for name, a, b in zip(["phi", "mu", "cov"], ml[:3], map_[:3]):
        np.testing.assert_allclose(_np(b), _np(a), rtol=0, atol=1e-3, err_msg=name)


def test_prior_works_on_member_batches(data):
    # one mixture per member: each with the prior of its own rows
    z, gamma = data
    z2 = np.stack([z, 3.0 * z[::-1]], axis=1)
    gamma2 = np.stack([gamma, gamma[::-1]], axis=1)
    batched = gmm_params_from_statistics(*gmm_sufficient_statistics(z2, gamma2), prior=True)
    for m in range(2):
        single = gmm_params_from_statistics(
            *gmm_sufficient_statistics(z2[:, m], gamma2[:, m]), prior=True
        )
        for a, b in zip(batched, single):
            np.testing.assert_allclose(_np(a)[m], _np(b), rtol=1e-10, atol=1e-13)

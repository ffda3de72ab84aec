"""EM refinement of the GMM detectors' mixture (``em_steps``)."""

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import multivariate_normal

from sklearn_daml import AEGMMOutlierDetector, VAEGMMOutlierDetector

DETECTORS = [AEGMMOutlierDetector, VAEGMMOutlierDetector]
SMALL = dict(epochs=3, early_stopping=False, n_gmm=3, n_estimators=2, random_state=0)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return np.vstack([rng.normal(size=(150, 4)), rng.normal(3.0, 0.5, size=(50, 4))])


def _training_features(det, X):
    """The learned features ``z`` of the training rows (all noise copies),
    ``(rows, n_members, n_dims)``."""
    from sklearn_daml._compiled import tf

    return np.asarray(det._gmm_pass(tf.constant(X))[0])


def _prior(z, n_gmm):
    """Fraley and Raftery's conjugate prior on the pooled rows: mean, its
    weight, degrees of freedom and scale."""
    d = z.shape[1]
    return z.mean(0), 0.01, d + 2, np.cov(z.T, bias=True) / n_gmm ** (2.0 / d)


def _numpy_em_step(z, phi, mu, cov, jitter):
    """One EM step to the posterior mode (MAP-EM, Fraley and Raftery 2007)."""
    joint = np.stack(
        [phi[k] * multivariate_normal(mu[k], cov[k] + jitter * np.eye(len(mu[k]))).pdf(z)
         for k in range(len(phi))],
        axis=1,
    )
    gamma = joint / joint.sum(1, keepdims=True)
    m, kappa, nu, scale = _prior(z, len(phi))
    d = z.shape[1]
    n_k = gamma.sum(0)
    xbar = gamma.T @ z / n_k[:, None]
    cov = np.stack([
        (scale + kappa * n_k[k] / (n_k[k] + kappa) * np.outer(xbar[k] - m, xbar[k] - m)
         + (gamma[:, k, None] * (z - xbar[k])).T @ (z - xbar[k])) / (n_k[k] + nu + d + 2)
        for k in range(len(phi))
    ])
    mu = (n_k[:, None] * xbar + kappa * m) / (n_k[:, None] + kappa)
    return n_k / len(z), mu, cov


def _log_prior(z, mu, cov):
    """Log density of the prior at a mixture's means and covariances, up to
    a constant."""
    m, kappa, nu, scale = _prior(z, len(mu))
    d = z.shape[1]
    total = 0.0
    for mu_k, cov_k in zip(mu, cov):
        inv = np.linalg.inv(cov_k)
        total -= 0.5 * (nu + d + 2) * np.linalg.slogdet(cov_k)[1]
        total -= 0.5 * np.trace(inv @ scale) + 0.5 * kappa * (mu_k - m) @ inv @ (mu_k - m)
    return total


@pytest.mark.parametrize("Detector", DETECTORS)
def test_em_steps_are_numpy_em_from_the_network_mixture(Detector, X):
    start = Detector(em_steps=0, **SMALL).fit(X)
    refined = Detector(em_steps=3, **SMALL).fit(X)
    # training is untouched: same network, only the mixture moves
    for a, b in zip(start.model_.get_weights(), refined.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    z = _training_features(start, X)
    assert start.phi_.shape == (2, 3)
    for m in range(2):  # each member's mixture on its own features
        phi, mu, cov = start.phi_[m], start.mu_[m], start.cov_[m]
        for _ in range(3):
            phi, mu, cov = _numpy_em_step(z[:, m], phi, mu, cov, start.cov_jitter)
        np.testing.assert_allclose(refined.phi_[m], phi, rtol=1e-6)
        np.testing.assert_allclose(refined.mu_[m], mu, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(refined.cov_[m], cov, rtol=1e-6, atol=1e-9)
        assert not np.allclose(refined.mu_[m], start.mu_[m])


@pytest.mark.parametrize("Detector", DETECTORS)
def test_em_steps_raise_the_training_posterior(Detector, X):
    # EM to the posterior mode never lowers the posterior of the mixture given
    # the rows it runs on: their log-likelihood, minus the training rows'
    # mean sample energy (member_mean_) times their number, plus the log
    # prior of the mixture
    fits = [Detector(em_steps=steps, **SMALL).fit(X) for steps in (0, 1, 5)]
    z = _training_features(fits[0], X)
    posteriors = np.array([
        [-len(z) * det.member_mean_[m] + _log_prior(z[:, m], det.mu_[m], det.cov_[m])
         for m in range(2)]
        for det in fits
    ])
    assert np.all(posteriors[1] > posteriors[0]) and np.all(posteriors[2] >= posteriors[1] - 1e-6)
    # with one member the score is that energy itself (DAGMM's)
    single = Detector(em_steps=1, **{**SMALL, "n_estimators": 1}).fit(X)
    np.testing.assert_allclose(-np.mean(single.score_samples(X)), single.member_mean_[0], rtol=1e-12)


def test_em_steps_keep_refits_bit_identical(X):
    a = AEGMMOutlierDetector(em_steps=4, **SMALL).fit(X).score_samples(X)
    b = AEGMMOutlierDetector(em_steps=4, **SMALL).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)


def test_em_steps_must_be_a_non_negative_integer(X):
    with pytest.raises(ValueError, match="em_steps"):
        AEGMMOutlierDetector(em_steps=-1).fit(X)


@pytest.mark.parametrize("Detector", DETECTORS)
def test_em_steps_share_one_compiled_pass(Detector, X, monkeypatch):
    """Every EM step runs the same compiled E-step (it reads the mixture from
    variables), so more steps compile nothing more; a compiled function has
    a fixed signature and traces once, and a trace costs several passes."""
    from sklearn_daml import _compiled, _ensemble, _gmm, _scoring, _training

    compiled, compile_ = [], _compiled.compiled

    def counting(fn, *args, **kwargs):
        compiled.append(fn)
        return compile_(fn, *args, **kwargs)

    for module in (_training, _scoring, _gmm, _ensemble):
        monkeypatch.setattr(module, "compiled", counting)
    counts = []
    for steps in (1, 6):
        compiled.clear()
        Detector(em_steps=steps, **SMALL).fit(X)
        counts.append(len(compiled))
    assert counts[0] == counts[1] > 0


@pytest.mark.parametrize("Detector", DETECTORS)
def test_kept_and_recomputed_features_give_the_same_fit(Detector, X, monkeypatch):
    """The mixture and its EM steps run on the training rows' features, kept
    in memory when they fit in ``working_memory`` and otherwise computed
    again for every step: bit for bit the same detector."""
    from sklearn_daml import _gmm

    params = dict(SMALL, em_steps=3)
    kept = Detector(**params).fit(X)
    monkeypatch.setattr(_gmm, "get_config", lambda: {"working_memory": 0})
    recomputed = Detector(**params).fit(X)
    for name in ("phi_", "mu_", "cov_", "member_mean_", "member_std_"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(recomputed, name))
    np.testing.assert_array_equal(kept.score_samples(X), recomputed.score_samples(X))


@pytest.mark.parametrize("Detector", DETECTORS)
def test_a_mixture_of_few_rows_does_not_collapse_onto_them(Detector):
    # IsolationForest's smoke test: six rows near the origin, two far away.
    # A component owning fewer rows than the mixture's dimensions has a
    # singular maximum-likelihood covariance, whose density at its own rows
    # is near infinite (the far rows then score as the most normal); the
    # prior keeps every covariance a sizeable share of the rows' own
    X = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1], [7, 4], [-5, 9]], float)
    for seed in (0, 1, 2, 42):
        det = Detector(random_state=seed).fit(X)
        z = _training_features(det, X)
        for m in range(det.n_estimators):
            pooled = np.cov(z[:, m].T, bias=True)
            for cov in det.cov_[m]:
                assert scipy.linalg.eigvalsh(cov, pooled).min() > 0.01

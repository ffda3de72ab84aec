"""``fit(X, y=None, sample_weight=None)`` as in IsolationForest, with
scikit-learn's meaning of a weight: it counts copies of its row. Integer
weights give the fit on the repeated rows, in whatever order either comes."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)
from sklearn_daml._thresholds import conformal_offset
from sklearn_daml._weights import (
    canonical_order,
    training_draws,
    weighted_percentile,
    weighted_trimmed_mean,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DETECTORS = [
    AEOutlierDetector(epochs=4, random_state=0),
    VAEOutlierDetector(epochs=4, samples=3, random_state=0),
    AEGMMOutlierDetector(epochs=4, random_state=0),
    VAEGMMOutlierDetector(epochs=4, samples=3, random_state=0),
]
IDS = [type(d).__name__ for d in DETECTORS]


def _weights(n, seed=0):
    return np.random.RandomState(seed).randint(1, 4, size=n).astype(float)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_zero_weight_is_leaving_the_row_out(detector, blobs):
    X, _ = blobs
    weights = _weights(len(X))
    weights[::7] = 0.0
    weighted = clone(detector).fit(X, sample_weight=weights)
    kept = clone(detector).fit(X[weights > 0], sample_weight=weights[weights > 0])
    np.testing.assert_array_equal(weighted.score_samples(X), kept.score_samples(X))
    assert weighted.offset_ == kept.offset_


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_integer_weights_are_repeated_rows_in_any_order(detector, blobs):
    X, _ = blobs
    weights = _weights(len(X), seed=4)
    weights[::5] = 0.0
    shuffled = np.random.RandomState(1).permutation(len(X))
    weighted = clone(detector).fit(X[shuffled], sample_weight=weights[shuffled])
    repeated = clone(detector).fit(np.repeat(X, weights.astype(int), axis=0))
    # the same training batches; the fitted statistics differ by rounding only
    np.testing.assert_allclose(weighted.score_samples(X), repeated.score_samples(X), rtol=1e-9)
    assert weighted.offset_ == pytest.approx(repeated.offset_, rel=1e-9)
    # a weight of 2 everywhere is every row twice, not the unweighted fit
    doubled = clone(detector).fit(X, sample_weight=np.full(len(X), 2.0))
    twice = clone(detector).fit(np.vstack([X, X]))
    np.testing.assert_allclose(doubled.score_samples(X), twice.score_samples(X), rtol=1e-9)
    assert not np.allclose(doubled.score_samples(X), clone(detector).fit(X).score_samples(X))


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_row_order_does_not_change_the_fit(detector, blobs):
    X, _ = blobs
    reordered = X[np.random.RandomState(2).permutation(len(X))]
    a, b = clone(detector).fit(X), clone(detector).fit(reordered)
    for wa, wb in zip(a.model_.get_weights(), b.model_.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_allclose(a.score_samples(X), b.score_samples(X), rtol=1e-9)


def test_weights_of_one_are_no_weights(blobs):
    X, _ = blobs
    det = AEGMMOutlierDetector(epochs=2, random_state=0)
    plain = clone(det).fit(X)
    weighted = clone(det).fit(X, sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(weighted.score_samples(X), plain.score_samples(X))
    assert weighted.offset_ == plain.offset_


def test_canonical_order_depends_on_the_values_only():
    rng = np.random.RandomState(0)
    # more rows than are hashed at once, with repeated rows and a -0.0
    X = rng.normal(size=(20_000, 30))
    X[5000:5100] = X[:100]
    X[7, 1], X[8] = 0.0, X[7]
    X[8, 1] = -0.0
    perm = rng.permutation(len(X))
    np.testing.assert_array_equal(X[canonical_order(X)], X[perm][canonical_order(X[perm])])
    # a 3-D batch of windows is ordered by its flattened rows
    windows = X[:600].reshape(200, 3, 30)
    np.testing.assert_array_equal(
        canonical_order(windows), canonical_order(windows.reshape(200, 90))
    )


def test_training_draws_repeat_and_sample_the_weights():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2))
    order = canonical_order(X)
    np.testing.assert_array_equal(training_draws(order, None, rng), order)
    counts = rng.randint(1, 5, size=40).astype(float)
    state = rng.get_state()
    draws = training_draws(order, counts, rng)
    np.testing.assert_array_equal(draws, np.repeat(order, counts[order].astype(int)))
    assert rng.get_state()[2] == state[2]  # integer weights draw nothing
    # fractional weights: floor or ceil of each weight, the weight on average
    weights = rng.uniform(0.2, 3.0, size=40)
    visits = np.array(
        [np.bincount(training_draws(order, weights, rng), minlength=40) for _ in range(4000)]
    )
    assert np.all(visits >= np.floor(weights)) and np.all(visits <= np.ceil(weights))
    np.testing.assert_allclose(visits.mean(axis=0), weights, atol=0.05)
    assert set(visits.sum(axis=1)) <= {np.floor(weights.sum()), np.ceil(weights.sum())}


def test_seq2seq_takes_sample_weight():
    windows = np.sin(np.linspace(0, 20, 60 * 8)).reshape(60, 8, 1)
    weights = np.r_[np.zeros(10), np.ones(50)]
    det = Seq2SeqOutlierDetector(latent_dim=4, epochs=2, random_state=0)
    weighted = clone(det).fit(windows, sample_weight=weights)
    kept = clone(det).fit(windows[10:])
    np.testing.assert_array_equal(weighted.score_samples(windows), kept.score_samples(windows))


@pytest.mark.parametrize("contamination", [0.1, "auto"])
def test_offset_is_the_weighted_percentile(contamination, blobs):
    X, _ = blobs
    weights = _weights(len(X), seed=1)
    det = AEGMMOutlierDetector(epochs=4, contamination=contamination, random_state=0)
    det.fit(X, sample_weight=weights)
    # integer weights: numpy's percentile of the rows repeated
    repeated = np.repeat(det.score_samples(X), weights.astype(int))
    if contamination == "auto":
        expected = conformal_offset(repeated, 0.05)
    else:
        expected = np.percentile(repeated, 10)
    assert det.offset_ == pytest.approx(expected, rel=1e-12)


def test_weighted_percentile_against_numpy():
    rng = np.random.RandomState(0)
    values, weights = rng.normal(size=50), rng.randint(1, 5, size=50).astype(float)
    for q in [0, 3, 25, 50, 97.5, 100]:
        expected = np.percentile(np.repeat(values, weights.astype(int)), q)
        assert weighted_percentile(values, q, weights) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(
        weighted_percentile(values, [10, 60], weights), np.percentile(np.repeat(values, weights.astype(int)), [10, 60]), rtol=1e-12
    )
    assert weighted_percentile(values, 30, None) == np.percentile(values, 30)
    # doubled weights: the values repeated twice as often
    expected = np.percentile(np.repeat(values, 2 * weights.astype(int)), 40)
    assert weighted_percentile(values, 40, 2 * weights) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.3])
def test_weighted_trimmed_mean_is_that_of_repeated_rows(fraction):
    rng = np.random.RandomState(0)
    for _ in range(5):
        values = rng.normal(size=(9, 2, 3))
        counts = rng.randint(1, 5, size=9)
        expected = _trimmed_mean(np.repeat(values, counts, axis=0), fraction)
        np.testing.assert_allclose(
            weighted_trimmed_mean(values, fraction, counts.astype(float)), expected, rtol=1e-12
        )
    np.testing.assert_allclose(
        weighted_trimmed_mean(values, fraction, None), _trimmed_mean(values, fraction), rtol=1e-12
    )


def _trimmed_mean(values, fraction):
    """Column means without the floor(fraction * n) largest values; ties
    with the largest kept value are kept (the trimmed loss's rule)."""
    n_kept = len(values) - int(np.floor(fraction * len(values)))
    kth = np.sort(values, axis=0)[n_kept - 1]
    kept = values <= kth
    return np.sum(values * kept, axis=0) / np.sum(kept, axis=0)


@pytest.mark.parametrize("Detector", [AEGMMOutlierDetector, VAEGMMOutlierDetector])
def test_gmm_parameters_are_numpys_weighted_moments(Detector, blobs):
    X, _ = blobs
    weights = _weights(len(X), seed=2)
    # the estimation network's weighted memberships, before any EM step
    det = Detector(epochs=4, random_state=0, em_steps=0, **({} if Detector is AEGMMOutlierDetector else {"samples": 2}))
    det.fit(X, sample_weight=weights)
    # the mixtures' input (the model's features and the scaled error); every
    # latent draw of a VAEGMM's row carries the row's weight
    z, gamma = (np.asarray(t) for t in det._gmm_pass(X))
    w = np.tile(weights, len(z) // len(X))
    assert z.shape[1] == det.n_estimators == 5
    for m in range(det.n_estimators):  # each member's own mixture
        wg = gamma[:, m] * w[:, None]
        phi = wg.sum(axis=0) / w.sum()
        mu = (wg.T @ z[:, m]) / wg.sum(axis=0)[:, None]
        # the posterior mode under the conjugate prior of the pooled weighted
        # rows (Fraley and Raftery 2007; tests/test_gmm.py checks its formulas)
        d, n_k = z.shape[2], wg.sum(axis=0)
        pooled_mean = np.average(z[:, m], axis=0, weights=w)
        scale = np.cov(z[:, m], rowvar=False, aweights=w, bias=True) / det.n_gmm ** (2 / d)
        for k in range(det.n_gmm):
            cov = np.cov(z[:, m], rowvar=False, aweights=wg[:, k], bias=True)
            dev = mu[k] - pooled_mean
            map_cov = (scale + 0.01 * n_k[k] / (n_k[k] + 0.01) * np.outer(dev, dev)
                       + n_k[k] * cov) / (n_k[k] + 2 * d + 4)
            np.testing.assert_allclose(det.cov_[m, k], map_cov, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(det.phi_[m], phi, rtol=1e-10)
        map_mu = (n_k[:, None] * mu + 0.01 * pooled_mean) / (n_k[:, None] + 0.01)
        np.testing.assert_allclose(det.mu_[m], map_mu, rtol=1e-9, atol=1e-12)
    # the members' energies are standardized by their weighted moments
    energies = np.asarray(det._energies(X))  # (n, n_estimators)
    mean = np.average(energies, axis=0, weights=weights)
    np.testing.assert_allclose(det.member_mean_, mean, rtol=1e-9)


def test_ae_error_scales_are_weighted_trimmed_means(blobs):
    X, _ = blobs
    weights = _weights(len(X), seed=3)
    det = AEOutlierDetector(epochs=4, random_state=0).fit(X, sample_weight=weights)
    errors = (X[:, None, :] - np.asarray(det.model_(X))) ** 2
    kept = weights > 0
    scale = weighted_trimmed_mean(errors[kept], det.trim_fraction, weights[kept])
    np.testing.assert_allclose(det.feature_scale_, scale, rtol=1e-10)
    s = np.mean(errors / det.feature_scale_, axis=2)
    np.testing.assert_allclose(det.member_mean_, np.average(s, axis=0, weights=weights), rtol=1e-10)


def test_weights_act_as_repetition():
    # 20 rows of a second cluster among 300, weighted x10, become as normal
    # as when repeated 10 times, and far more normal than unweighted
    rng = np.random.RandomState(0)
    main = rng.normal(size=(300, 4))
    small = rng.normal(size=(20, 4)) * 0.5 + 4.0
    X = np.vstack([main, small])
    det = AEOutlierDetector(n_estimators=3, epochs=40, random_state=0)
    plain = clone(det).fit(X).score_samples(small)
    weights = np.r_[np.ones(300), np.full(20, 10.0)]
    weighted = clone(det).fit(X, sample_weight=weights).score_samples(small)
    repeated = clone(det).fit(np.vstack([main] + [small] * 10)).score_samples(small)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-9)
    assert np.median(weighted) - np.median(plain) > 1.0


@pytest.mark.parametrize(
    "sample_weight, match",
    [
        (-np.ones(210), "(?i)negative"),
        (np.ones(5), "shape|length|inconsistent|samples"),
        (np.r_[1.0, np.zeros(209)], "at least two rows"),
        (np.full(210, 1e-3), "sum to 0.21"),
    ],
    ids=["negative", "wrong-length", "one-positive", "sum-below-two"],
)
def test_bad_weights_are_named(sample_weight, match, blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match=match):
        AEOutlierDetector(epochs=1).fit(X, sample_weight=sample_weight)

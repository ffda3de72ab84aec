"""Vectorized ensembles: the layer, the trimmed loss, and the combined score."""

import keras
import numpy as np
import pytest
import scipy.stats
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)
from sklearn_daml._ensemble import trimmed_mean
from sklearn_daml._tensorflow import import_tensorflow
from sklearn_daml.models import EnsembleDense, elbo, ensemble_dense_stack
from sklearn_daml.models.losses import gaussian_nll_rows, gmm_loss_terms

tf = import_tensorflow()


@pytest.mark.parametrize("shared", [True, False])
def test_ensemble_dense_is_each_members_own_dense_layer(shared):
    rng = np.random.RandomState(0)
    layer = EnsembleDense(3, n_members=4, activation="tanh", dtype="float64")
    x = rng.normal(size=(6, 5)) if shared else rng.normal(size=(6, 4, 5))
    out = np.asarray(layer(x))
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    for m in range(4):
        x_m = x if shared else x[:, m]
        np.testing.assert_allclose(out[:, m], np.tanh(x_m @ kernel[m] + bias[m]), rtol=1e-12)


def test_ensemble_dense_initialises_each_member_as_glorot_uniform():
    keras.utils.set_random_seed(0)
    layer = EnsembleDense(60, n_members=5, dtype="float64")
    layer.build((None, 40))
    kernel = layer.kernel.numpy()
    limit = np.sqrt(6.0 / (40 + 60))  # Dense's limit for one 40 x 60 matrix
    for member in kernel:
        assert np.abs(member).max() <= limit
        assert np.abs(member).max() > 0.99 * limit
        assert member.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    assert not np.allclose(kernel[0], kernel[1])
    np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def test_ensemble_stack_saves_and_reloads(tmp_path):
    encoder = ensemble_dense_stack(4, [8, 2], 3, dtype="float64")
    decoder = ensemble_dense_stack(2, [8, 4], 3, shared_input=False, dtype="float64")
    x = np.random.RandomState(0).normal(size=(5, 4))
    assert tuple(decoder(encoder(x)).shape) == (5, 3, 4)
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(encoder(x)))
    config = encoder.layers[0].get_config()
    assert EnsembleDense.from_config(config).get_config() == config


def _numpy_trimmed_mean(values, fraction):
    n = values.shape[0]
    kept = np.sort(values, axis=0)[: n - int(np.floor(fraction * n))]
    return kept.mean(axis=0)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5])
def test_trimmed_mean_leaves_out_the_largest_rows_per_member(fraction):
    values = np.random.RandomState(0).exponential(size=(37, 4))
    result = trimmed_mean(tf.constant(values), fraction).numpy()
    np.testing.assert_allclose(result, _numpy_trimmed_mean(values, fraction), rtol=1e-12)


def test_trimmed_mean_gradient_is_zero_on_trimmed_rows():
    values = tf.Variable(np.arange(10.0)[:, None])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(trimmed_mean(values, 0.2))
    grad = tape.gradient(loss, values).numpy().ravel()
    np.testing.assert_allclose(grad, np.r_[np.full(8, 1 / 8), 0.0, 0.0])


def test_gaussian_nll_rows_are_the_elbo_terms():
    rng = np.random.RandomState(0)
    y, y_pred = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    A = rng.normal(size=(3, 3))
    cov = A @ A.T + 3 * np.eye(3)
    var = np.array([0.5, 1.0, 2.0])
    expected = {
        "sim": -scipy.stats.norm.logpdf(y, y_pred, 0.3).sum(axis=1),
        "cov_diag": -scipy.stats.norm.logpdf(y, y_pred, np.sqrt(var)).sum(axis=1),
        "cov_full": -np.array(
            [scipy.stats.multivariate_normal.logpdf(y[i], y_pred[i], cov) for i in range(7)]
        ),
    }
    for name, value in {"sim": 0.3, "cov_diag": np.sqrt(var), "cov_full": cov}.items():
        rows = np.asarray(gaussian_nll_rows(y, y_pred, **{name: value}))
        np.testing.assert_allclose(rows, expected[name], rtol=1e-10)
        assert float(elbo(y, y_pred, **{name: value})) == pytest.approx(rows.mean(), rel=1e-12)


def _documented_score(errors, det):
    """The combination the docstring promises, in numpy."""
    normalised = (errors / det.feature_scale_).mean(axis=-1)
    return -((normalised - det.member_mean_) / det.member_std_).mean(axis=-1)


def _trimmed_mean(errors, fraction):
    """Mean of each column without its floor(fraction * n) largest values
    (distinct values: no ties at the cut)."""
    n_kept = len(errors) - int(np.floor(fraction * len(errors)))
    return np.sort(errors, axis=0)[:n_kept].mean(axis=0)


def _check_member_scaling(errors, det):
    np.testing.assert_allclose(det.feature_scale_, _trimmed_mean(errors, det.trim_fraction), rtol=1e-9)
    normalised = (errors / det.feature_scale_).mean(axis=-1)
    np.testing.assert_allclose(det.member_mean_, normalised.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(det.member_std_, normalised.std(axis=0), rtol=1e-7)


def test_ae_score_is_the_mean_of_standardized_member_errors(blobs):
    X, _ = blobs
    det = AEOutlierDetector(n_estimators=3, epochs=5, random_state=0).fit(X)
    recon = np.asarray(det.model_(X))
    assert recon.shape == (len(X), 3, 4)
    errors = (X[:, None, :] - recon) ** 2
    _check_member_scaling(errors, det)
    np.testing.assert_allclose(det.score_samples(X), _documented_score(errors, det), rtol=1e-9)


def test_vae_score_averages_the_fixed_draws_then_the_members(blobs):
    X, _ = blobs
    det = VAEOutlierDetector(n_estimators=2, samples=3, epochs=5, random_state=0).fit(X)
    errors = np.mean(
        [
            (X[:, None, :] - np.asarray(det.model_(X, epsilon=np.tile(eps, (len(X), 1, 1))))) ** 2
            for eps in det.noise_[:, None, :]
        ],
        axis=0,
    )
    assert errors.shape == (len(X), 2, 4)
    _check_member_scaling(errors, det)
    np.testing.assert_allclose(det.score_samples(X), _documented_score(errors, det), rtol=1e-9)


def _mixture_energy(z, phi, mu, cov, jitter):
    """``-log sum_k phi_k N(z; mu_k, cov_k + jitter I)`` with scipy."""
    eye = np.eye(z.shape[1])
    densities = [
        p * scipy.stats.multivariate_normal(m, c + jitter * eye).pdf(z)
        for p, m, c in zip(phi, mu, cov)
    ]
    return -np.log(np.sum(densities, axis=0))


def _gmm_energies(det, z):
    return np.stack(
        [
            _mixture_energy(z[:, m], det.phi_[m], det.mu_[m], det.cov_[m], det.cov_jitter)
            for m in range(det.n_estimators)
        ],
        axis=1,
    )


def test_gmm_score_is_the_mean_of_standardized_member_energies(blobs):
    X, _ = blobs
    det = AEGMMOutlierDetector(n_estimators=3, epochs=5, random_state=0).fit(X)
    x_recon, z, gamma = (np.asarray(t) for t in det.model_(X, training=False))
    assert z.shape == (len(X), 3, det.latent_dim + 2) and gamma.shape == (len(X), 3, det.n_gmm)
    assert det.phi_.shape == (3, det.n_gmm) and det.cov_.shape[:2] == (3, det.n_gmm)
    # the fitted mixtures see one more column: the log of the mean squared
    # error, each feature's divided by the member's trimmed mean (10%)
    errors = (X[:, None, :] - x_recon) ** 2
    scale = _trimmed_mean(errors, det.trim_fraction)
    np.testing.assert_allclose(det.feature_scale_, scale, rtol=1e-9)
    log_error = np.log(np.mean(errors / det.feature_scale_, axis=-1) + 1e-12)
    energies = _gmm_energies(det, np.concatenate([z, log_error[..., None]], axis=-1))
    assert det.mu_.shape == (3, det.n_gmm, det.latent_dim + 3)
    np.testing.assert_allclose(det.member_mean_, energies.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(det.member_std_, energies.std(axis=0), rtol=1e-7)
    # independently initialised members learn different mixtures
    assert len(set(np.round(det.member_mean_, 6))) == 3
    expected = -((energies - det.member_mean_) / det.member_std_).mean(axis=1)
    np.testing.assert_allclose(det.score_samples(X), expected, rtol=1e-8, atol=1e-10)


def test_gmm_without_scaled_error_scores_dagmms_features(blobs):
    X, _ = blobs
    det = AEGMMOutlierDetector(n_estimators=1, scaled_error=False, epochs=5, random_state=0)
    det.fit(X)
    assert not hasattr(det, "feature_scale_")
    _, z, _ = (np.asarray(t) for t in det.model_(X, training=False))
    assert det.mu_.shape == (1, det.n_gmm, det.latent_dim + 2)
    # one member: the score is minus the plain sample energy (DAGMM)
    np.testing.assert_allclose(
        det.score_samples(X), -_gmm_energies(det, z)[:, 0], rtol=1e-8, atol=1e-10
    )


@pytest.mark.parametrize(
    "detector_cls",
    [AEOutlierDetector, VAEOutlierDetector, AEGMMOutlierDetector, VAEGMMOutlierDetector],
)
def test_members_train_independently(detector_cls, blobs):
    # one member's gradients do not depend on another member's weights
    X, _ = blobs
    det = detector_cls(n_estimators=2, epochs=1, random_state=0).fit(X)
    model, x = det.model_, tf.constant(X[:64])
    # the VAE's noise fixed, so that two passes differ only by the weights
    fixed = {"epsilon": np.zeros((64, 1, det.noise_.shape[1]))} if hasattr(det, "noise_") else {}

    def member_one_gradients():
        with tf.GradientTape() as tape:
            loss = det._loss(x, model(x, training=False, **fixed))
            if model.losses:
                loss += tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        return [g.numpy()[1] for g in grads]

    before = member_one_gradients()
    for variable in model.trainable_variables:
        value = variable.numpy()
        value[0] = np.random.RandomState(1).normal(size=value[0].shape)
        variable.assign(value)
    for a, b in zip(before, member_one_gradients()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("detector_cls", [AEGMMOutlierDetector, VAEGMMOutlierDetector])
def test_gmm_loss_trims_only_the_reconstruction_term(detector_cls, blobs):
    # DAGMM's loss with each member's mean squared error taken without the
    # batch's 20% worst-reconstructed rows; the energy and the covariance
    # penalty keep every row, under the batch's own mixture
    X, _ = blobs
    det = detector_cls(n_estimators=3, trim_fraction=0.2, epochs=1, random_state=0).fit(X)
    x = tf.constant(X[:100])
    fixed = {"epsilon": np.zeros((100, 1, det.noise_.shape[1]))} if hasattr(det, "noise_") else {}
    outputs = det.model_(x, training=False, **fixed)
    x_recon, z, gamma = (np.asarray(t) for t in outputs)
    errors = ((X[:100, None, :] - x_recon) ** 2).mean(axis=-1)
    assert errors.shape == (100, 3)
    energy, penalty = (float(t) for t in gmm_loss_terms(z, gamma, det.cov_jitter))
    recon = _numpy_trimmed_mean(errors, 0.2).mean()
    assert recon < errors.mean()
    expected = recon + det.w_energy * energy + det.w_cov_diag * penalty
    assert float(det._loss(x, outputs)) == pytest.approx(expected, rel=1e-12)


def test_trimmed_loss_does_not_learn_a_cluster_of_outliers():
    # 5% of the training rows form a tight cluster far from the inliers: the
    # plain loss learns to reconstruct it, the trimmed loss leaves it out
    rng = np.random.RandomState(0)
    inliers = rng.normal(size=(400, 6))
    cluster = rng.normal(3.0, 0.05, size=(20, 6))
    X = np.vstack([inliers, cluster])
    y = np.r_[np.ones(400), -np.ones(20)]
    params = dict(n_estimators=3, epochs=60, early_stopping=False, random_state=0)
    plain = AEOutlierDetector(trim_fraction=0.0, **params).fit(X)
    trimmed = AEOutlierDetector(trim_fraction=0.1, **params).fit(X)
    auc_plain = roc_auc_score(y, plain.score_samples(X))
    auc_trimmed = roc_auc_score(y, trimmed.score_samples(X))
    assert auc_trimmed > auc_plain + 0.05
    assert auc_trimmed > 0.95


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_estimators": 0}, "n_estimators"),
        ({"n_estimators": 2.5}, "n_estimators"),
        ({"trim_fraction": 1.0}, "trim_fraction"),
        ({"trim_fraction": -0.1}, "trim_fraction"),
    ],
)
@pytest.mark.parametrize(
    "detector_cls",
    [AEOutlierDetector, VAEOutlierDetector, AEGMMOutlierDetector, VAEGMMOutlierDetector],
)
def test_invalid_ensemble_parameters_are_named(detector_cls, params, name, blobs):
    X, _ = blobs
    with pytest.raises(InvalidParameterError, match=name):
        detector_cls(**params).fit(X)


def test_ensemble_parameters_in_grid_search(blobs):
    X, y = blobs
    search = GridSearchCV(
        AEOutlierDetector(epochs=3, random_state=0),
        {"n_estimators": [1, 3], "trim_fraction": [0.0, 0.2]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(np.isfinite(scores))
    assert search.best_estimator_.model_.encoder_net.output_shape[1] == (
        search.best_params_["n_estimators"]
    )


def test_error_scales_come_from_a_seeded_subsample_of_large_data(monkeypatch, blobs):
    """Beyond ``_SCALE_ROWS`` rows the trimmed mean is taken over that many
    rows, drawn with the fit's random state: the same seed gives the same
    scales; up to it, every row counts."""
    import sklearn_daml._ensemble as ensemble

    X, _ = blobs
    det = AEOutlierDetector(n_estimators=2, epochs=2, random_state=0)
    full = clone(det).fit(X)
    monkeypatch.setattr(ensemble, "_SCALE_ROWS", len(X))
    np.testing.assert_array_equal(clone(det).fit(X).feature_scale_, full.feature_scale_)
    monkeypatch.setattr(ensemble, "_SCALE_ROWS", 50)
    sub = clone(det).fit(X)
    # the same network (training does not depend on the cap), other scales
    np.testing.assert_array_equal(np.asarray(sub.model_(X)), np.asarray(full.model_(X)))
    assert not np.allclose(sub.feature_scale_, full.feature_scale_, rtol=1e-6)
    again = clone(det).fit(X)
    np.testing.assert_array_equal(sub.feature_scale_, again.feature_scale_)
    np.testing.assert_array_equal(sub.score_samples(X), again.score_samples(X))


def test_outliers_in_training_do_not_inflate_their_features_scale():
    """A few training rows far out in one feature: the trimmed error scale of
    that feature stays that of the clean rows, so the feature keeps its
    weight in the score (the plain mean grows with the outliers' errors)."""
    rng = np.random.RandomState(0)
    clean = rng.normal(size=(400, 4))
    dirty = clean.copy()
    dirty[:20, 0] += 15.0
    fitted = [AEOutlierDetector(n_estimators=2, epochs=3, random_state=0).fit(X) for X in (clean, dirty)]
    errors = (dirty[:, None, :] - np.asarray(fitted[1].model_(dirty))) ** 2
    ratio = fitted[1].feature_scale_[:, 0] / fitted[0].feature_scale_[:, 0]
    mean_ratio = errors[:, :, 0].mean(axis=0) / fitted[0].feature_scale_[:, 0]
    assert np.all(ratio < 3) and np.all(mean_ratio > 10 * ratio)

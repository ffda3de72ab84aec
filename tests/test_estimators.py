"""Behaviour of the four detectors as scikit-learn estimators."""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keras

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    TrainingDivergedError,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

DETECTORS = [
    AEOutlierDetector(epochs=10, random_state=0),
    VAEOutlierDetector(epochs=10, samples=4, random_state=0),
    AEGMMOutlierDetector(epochs=10, random_state=0),
    VAEGMMOutlierDetector(epochs=10, samples=4, random_state=0),
]
IDS = [type(d).__name__ for d in DETECTORS]


def isolation_forest_workflow(detector, X, y):
    """Written for IsolationForest; must run unchanged with any detector."""
    detector = clone(detector).set_params(contamination=0.05)
    detector.fit(X)
    labels = detector.predict(X)
    scores = detector.score_samples(X)
    decision = detector.decision_function(X)
    assert set(np.unique(labels)) <= {-1, 1}
    assert labels.dtype.kind == "i"
    np.testing.assert_allclose(decision, scores - detector.offset_)
    np.testing.assert_array_equal(labels == -1, decision < 0)
    np.testing.assert_array_equal(detector.fit_predict(X), labels)
    assert abs(np.mean(labels == -1) - 0.05) <= 1 / len(X)
    return roc_auc_score(y, scores)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_drop_in_for_isolation_forest(detector, blobs):
    X, y = blobs
    assert isolation_forest_workflow(IsolationForest(random_state=0), X, y) > 0.9
    assert isolation_forest_workflow(detector, X, y) > 0.9


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_threshold_in_model_units(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X)
    assert det.threshold_ == -det.offset_
    outlier_score = -det.score_samples(X)
    np.testing.assert_array_equal(det.predict(X) == -1, outlier_score > det.threshold_)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_auto_contamination_is_the_conformal_test_at_five_percent(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X)
    assert det.contamination == "auto"
    scores = det.score_samples(X)
    # a row is flagged when its p-value against the training scores,
    # (1 + #{training scores <= s}) / (n + 1), is at most 0.05
    def pvalues(s):
        return (1 + np.sum(scores[None, :] <= s[:, None], axis=1)) / (len(scores) + 1)

    new = np.linspace(scores.min() - 1, scores.max() + 1, 2001)
    np.testing.assert_array_equal(new < det.offset_, pvalues(new) <= 0.05)
    np.testing.assert_array_equal(det.predict(X) == -1, pvalues(scores) <= 0.05)
    assert 0 < np.mean(det.predict(X) == -1) <= 0.05


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_pickle_and_joblib_round_trip_bit_identical(detector, blobs, tmp_path):
    X, _ = blobs
    det = clone(detector).fit(X)
    expected = det.score_samples(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(det)).score_samples(X), expected)
    joblib.dump(det, tmp_path / "det.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "det.joblib").score_samples(X), expected)


def test_round_trip_in_fresh_process(blobs, tmp_path):
    X, _ = blobs
    paths = []
    for i, detector in enumerate(DETECTORS):
        det = clone(detector).fit(X)
        joblib.dump(det, tmp_path / f"det{i}.joblib")
        np.save(tmp_path / f"expected{i}.npy", det.score_samples(X))
        paths.append(i)
    np.save(tmp_path / "X.npy", X)
    script = (
        "import sys, joblib, numpy as np\n"
        "d = sys.argv[1]\n"
        "X = np.load(d + '/X.npy')\n"
        f"for i in {paths!r}:\n"
        "    det = joblib.load(f'{d}/det{i}.joblib')\n"
        "    np.testing.assert_array_equal(det.score_samples(X), np.load(f'{d}/expected{i}.npy'))\n"
        "print('identical')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "identical"


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_same_random_state_bit_identical(detector, blobs):
    X, _ = blobs
    a = clone(detector).fit(X).score_samples(X)
    b = clone(detector).fit(X).score_samples(X)
    c = clone(detector).set_params(random_state=1).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_global_random_streams_untouched(detector, blobs):
    X, _ = blobs
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    clone(detector).fit(X)
    assert np.random.rand() == expected


@pytest.mark.parametrize("detector", DETECTORS[1::2], ids=IDS[1::2])
def test_variational_score_is_a_function_of_the_row(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X)
    full = det.score_samples(X)
    perm = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(det.score_samples(X[perm]), full[perm], rtol=1e-12)
    singles = np.array([det.score_samples(X[i : i + 1])[0] for i in range(5)])
    np.testing.assert_allclose(singles, full[:5], rtol=1e-12)
    assert det.noise_.shape == (det.samples, det.model_.latent_dim)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_row_score_does_not_depend_on_its_batch(detector, blobs):
    # unpadded, rows scored in a batch whose size is not a multiple of 4
    # differed from the full set in the last bit
    X, _ = blobs
    det = clone(detector).fit(X)
    full = det.score_samples(X)
    for size in (1, 3, 7, 13, 65, 129):
        parts = np.concatenate([det.score_samples(X[i : i + size]) for i in range(0, len(X), size)])
        np.testing.assert_array_equal(parts, full, err_msg=f"batches of {size} rows")


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_outputs_are_float64(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X.astype(np.float32))
    assert det.score_samples(X).dtype == np.float64
    assert det.decision_function(X).dtype == np.float64


BAD_INPUTS = [
    (np.array([[0.0, np.nan, 1.0, 2.0]] * 5), ValueError, "NaN"),
    (np.array([[0.0, np.inf, 1.0, 2.0]] * 5), ValueError, "infinity"),
    (np.array([["a", "b", "c", "d"]] * 5), ValueError, "could not convert"),
    (np.ones(5), ValueError, "Expected 2D array"),
    (np.ones((5, 4, 2)), ValueError, "dim 3"),
    (np.ones((0, 4)), ValueError, "0 sample"),
    (np.ones((1, 4)), ValueError, "1 sample"),
]


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
@pytest.mark.parametrize("X_bad, error, match", BAD_INPUTS)
def test_bad_input_at_fit(detector, X_bad, error, match):
    with pytest.raises(error, match=match):
        clone(detector).fit(X_bad)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_bad_input_at_predict(detector, blobs):
    X, _ = blobs
    det = clone(detector).set_params(epochs=1).fit(X)
    for X_bad, error, match in BAD_INPUTS[:5]:
        for method in (det.predict, det.score_samples, det.decision_function):
            with pytest.raises(error, match=match):
                method(X_bad)
    with pytest.raises(ValueError, match="3 features, but .* is expecting 4"):
        det.predict(X[:, :3])


def test_invalid_parameters_are_named():
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="contamination"):
        AEOutlierDetector(contamination=0.7).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        AEOutlierDetector(hidden_layer_sizes=(8, -2)).fit(X)
    with pytest.raises(ValueError, match="n_gmm"):
        AEGMMOutlierDetector(n_gmm=0).fit(X)
    with pytest.raises(ValueError, match="cov_elbo"):
        VAEOutlierDetector(cov_elbo="full").fit(X)
    with pytest.raises(ValueError, match="encoder_net"):
        AEOutlierDetector(encoder_net=3).fit(X)
    with pytest.raises(ValueError, match="optimizer"):
        AEOutlierDetector(optimizer="adamax").fit(X)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_divergence_is_reported_not_nan_scores(detector):
    # finite input whose squared errors overflow float64: the loss is inf
    X = np.random.RandomState(0).normal(size=(100, 4)) * 1e160
    with pytest.raises(TrainingDivergedError, match="Scale the input"):
        clone(detector).set_params(epochs=2).fit(X)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_verbose_prints_loss_per_epoch(detector, blobs, capsys):
    X, _ = blobs
    clone(detector).set_params(epochs=3, verbose=0).fit(X)
    assert capsys.readouterr().out == ""
    det = clone(detector).set_params(epochs=3, early_stopping=True, verbose=1).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    fields = [line.split(" - ") for line in lines]
    np.testing.assert_allclose([float(f[1].split("loss: ")[1]) for f in fields], det.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(
        [float(f[2].split("val_loss: ")[1]) for f in fields], det.validation_loss_curve_, rtol=1e-5
    )


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_early_stopping_curves(detector, blobs):
    X, _ = blobs
    det = clone(detector).set_params(
        epochs=200, early_stopping=True, n_iter_no_change=3, tol=1e-2
    ).fit(X)
    assert det.n_iter_ == len(det.loss_curve_) == len(det.validation_loss_curve_)
    curve = np.array(det.validation_loss_curve_)
    tol = det.tol
    # an epoch is stale when it does not beat every earlier epoch by tol
    # relative to the best; training stopped at the first run of 3 stale epochs
    stale = [
        curve[e] >= curve[:e].min() - tol * abs(curve[:e].min()) for e in range(1, len(curve))
    ]
    runs = [all(stale[e - 3 : e]) for e in range(3, len(stale) + 1)]
    assert det.n_iter_ < 200
    assert runs[-1] and not any(runs[:-1])
    plain = clone(detector).set_params(epochs=4, early_stopping=False).fit(X)
    assert plain.validation_loss_curve_ is None and plain.n_iter_ == 4


def test_early_stopping_restores_the_best_weights(blobs):
    X, _ = blobs
    # a large learning rate makes the validation loss fluctuate
    params = dict(early_stopping=True, learning_rate=0.05, tol=0.0, random_state=0)
    stopped = AEOutlierDetector(epochs=200, n_iter_no_change=3, **params).fit(X)
    best = int(np.argmin(stopped.validation_loss_curve_)) + 1
    # the same split and shuffles, trained for exactly the best number of epochs
    exact = AEOutlierDetector(epochs=best, n_iter_no_change=1000, **params).fit(X)
    np.testing.assert_array_equal(stopped.score_samples(X), exact.score_samples(X))
    assert stopped.n_iter_ > best


def test_early_stopping_holds_out_rows():
    # two rows: one trains, one validates
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    det = AEOutlierDetector(
        epochs=2, early_stopping=True, validation_fraction=0.01, random_state=0
    ).fit(X)
    assert len(det.validation_loss_curve_) == 2
    with pytest.raises(ValueError, match="validation_fraction"):
        AEOutlierDetector(validation_fraction=1.0).fit(X)


def test_training_reduces_the_loss(blobs):
    X, _ = blobs
    for detector in DETECTORS:
        det = clone(detector).set_params(epochs=30).fit(X)
        assert det.loss_curve_[-1] < det.loss_curve_[0], type(det).__name__


def test_feature_names_are_recorded(blobs):
    pd = pytest.importorskip("pandas")
    X, _ = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    det = AEOutlierDetector(epochs=1, random_state=0).fit(frame)
    np.testing.assert_array_equal(det.feature_names_in_, ["a", "b", "c", "d"])
    assert det.n_features_in_ == 4


def _encoder(n_features, latent_dim):
    return keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(latent_dim)])


def test_user_networks_model_is_cloned_and_callable_is_called(blobs):
    X, _ = blobs
    encoder = _encoder(4, 1)
    decoder = keras.Sequential([keras.Input((1,)), keras.layers.Dense(4)])
    weights = [w.copy() for w in encoder.get_weights()]
    det = AEGMMOutlierDetector(
        encoder_net=encoder, decoder_net=decoder, epochs=3, random_state=0
    ).fit(X)
    assert det.model_.encoder_net is not encoder
    cloned = clone(det)  # GridSearchCV deep-copies the user network
    assert cloned.encoder_net is not encoder
    np.testing.assert_array_equal(cloned.fit(X).score_samples(X), det.score_samples(X))
    for before, after in zip(weights, encoder.get_weights()):
        np.testing.assert_array_equal(before, after)
    calls = []

    def counting_encoder(n_features, latent_dim):
        calls.append((n_features, latent_dim))
        return _encoder(n_features, latent_dim)

    det2 = AEOutlierDetector(
        encoder_net=counting_encoder, latent_dim=2, n_estimators=3, epochs=3, random_state=0
    ).fit(X)
    # one fresh network per member, side by side in the ensemble
    assert calls == [(4, 2)] * 3
    assert det2.model_.encoder_net.output_shape == (None, 3, 2)
    assert np.all(np.isfinite(det2.score_samples(X)))
    det2 = AEOutlierDetector(encoder_net=_encoder, latent_dim=2, epochs=3, random_state=0).fit(X)
    assert clone(det2).get_params()["encoder_net"] is _encoder


def test_resolved_defaults_depend_on_features():
    X = np.random.RandomState(0).normal(size=(50, 30))
    det = AEOutlierDetector(epochs=1, random_state=0).fit(X)
    widths = [layer.units for layer in det.model_.encoder_net.layers]
    assert widths == [60, 30, 6]  # h = 2 * 30, h // 2, ceil(sqrt(30))
    assert det.get_params()["hidden_layer_sizes"] is None


def test_hep_vae_configuration_is_plain_arguments(blobs):
    X, _ = blobs
    det = VAEOutlierDetector(
        hidden_layer_sizes=(32, 16, 8),
        latent_dim=3,
        activation="leaky_relu",
        beta=1e-6,
        cov_elbo="mse",
        learning_rate=5e-4,
        epochs=5,
        random_state=0,
    ).fit(X)
    assert det.model_.beta == 1e-6
    assert det.model_.decoder_net.layers[-1].activation.__name__ == "linear"
    assert det.model_.encoder_net.layers[0].activation.__name__ == "leaky_relu"
    assert float(det._make_optimizer().learning_rate) == pytest.approx(5e-4)
    assert np.all(np.isfinite(det.score_samples(X)))


def test_grid_search_in_pipeline_picks_a_model():
    rng = np.random.RandomState(0)
    # scattered outliers: a tight cluster of them is a mixture component of
    # its own for n_gmm=4, which would test the data, not the search
    inliers = rng.normal(size=(240, 5))
    outliers = rng.uniform(3, 5, size=(24, 5)) * rng.choice([-1, 1], size=(24, 5))
    X = np.vstack([inliers, outliers])
    y = np.r_[np.ones(240, dtype=int), -np.ones(24, dtype=int)]
    pipe = make_pipeline(StandardScaler(), AEGMMOutlierDetector(epochs=5, random_state=0))
    search = GridSearchCV(
        pipe,
        param_grid={"aegmmoutlierdetector__n_gmm": [2, 4], "aegmmoutlierdetector__latent_dim": [1, 2]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_ in search.cv_results_["params"]
    assert search.best_score_ > 0.9  # 0.947-0.965 over the grid
    assert set(np.unique(search.predict(X))) <= {-1, 1}


def test_vaegmm_default_loss_trains_the_reconstruction():
    """The default VAEGMM weighs its reconstruction as AEGMM does (mean
    squared error, weight 1). alibi-detect's weights (ELBO with sim 0.05 at
    1e-7 next to the energy and a KL weight of 1) leave the decoder
    practically untrained: worse than predicting the mean of every
    feature, which gives a squared error of 1 on standardized data."""
    rng = np.random.RandomState(0)
    plane = rng.normal(size=(3000, 2)) @ rng.normal(size=(2, 8))
    X = StandardScaler().fit_transform(plane + 0.1 * rng.normal(size=(3000, 8)))

    def training_error(**params):
        det = VAEGMMOutlierDetector(random_state=0, **params).fit(X)
        return float(-np.mean(det.feature_score_samples(X)))

    assert training_error() < 0.6  # 0.42
    assert training_error(w_recon=1e-7, cov_elbo=0.05, beta=1.0) > 1.0  # 2.20

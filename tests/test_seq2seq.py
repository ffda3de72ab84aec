"""Seq2SeqOutlierDetector: input shapes, scores and detection of injected anomalies."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from sklearn_daml import Seq2SeqOutlierDetector

from .test_estimators import isolation_forest_workflow

SMALL = Seq2SeqOutlierDetector(latent_dim=8, epochs=3, random_state=0)


def _sine_windows(n_windows=120, seq_len=16, n_features=1, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(n_windows)[:, None, None] + np.arange(seq_len)[None, :, None]
    phase = np.arange(n_features)[None, None, :]
    return np.sin(0.3 * t + phase) + 0.05 * rng.normal(size=(n_windows, seq_len, n_features))


def test_univariate_2d_windows_just_work():
    windows = _sine_windows(seq_len=32)[:, :, 0]
    det = Seq2SeqOutlierDetector(seq_len=32, latent_dim=8, epochs=2, random_state=0).fit(windows)
    assert (det.n_steps_, det.n_channels_, det.n_features_in_) == (32, 1, 32)
    assert det.score_samples(windows).shape == (len(windows),)


def test_2d_default_seq_len_is_one_feature_per_column():
    X = _sine_windows(seq_len=10)[:, :, 0]
    det = clone(SMALL).fit(X)
    assert (det.n_steps_, det.n_channels_) == (10, 1)


def test_3d_and_flattened_2d_give_identical_scores():
    windows = _sine_windows(n_features=3)
    a = clone(SMALL).fit(windows)
    b = clone(SMALL).set_params(seq_len=16).fit(windows.reshape(len(windows), -1))
    assert (a.n_steps_, a.n_channels_) == (b.n_steps_, b.n_channels_) == (16, 3)
    np.testing.assert_array_equal(a.score_samples(windows), b.score_samples(windows.reshape(len(windows), -1)))
    np.testing.assert_array_equal(a.score_samples(windows), a.score_samples(windows.tolist()))


def test_shape_errors_are_clear():
    windows = _sine_windows(n_features=2)
    with pytest.raises(ValueError, match="do not split into seq_len=5"):
        clone(SMALL).set_params(seq_len=5).fit(windows.reshape(len(windows), -1))
    with pytest.raises(ValueError, match="16 steps but seq_len=8"):
        clone(SMALL).set_params(seq_len=8).fit(windows)
    det = clone(SMALL).fit(windows)
    with pytest.raises(ValueError, match=r"fitted on windows of shape \(16, 2\)"):
        det.predict(windows.reshape(len(windows), 8, 4))
    with pytest.raises(ValueError, match="expecting 32 features"):
        det.predict(windows.reshape(len(windows), -1)[:, :30])
    with pytest.raises(ValueError, match="X has 4 dimensions.*takes 3-D windows"):
        det.predict(windows[..., None])
    with pytest.raises(ValueError, match="NaN"):
        det.predict(np.where(windows > 0.9, np.nan, windows))


def test_odd_latent_dim_is_a_clear_error():
    with pytest.raises(ValueError, match="latent_dim must be even"):
        clone(SMALL).set_params(latent_dim=7).fit(_sine_windows())


def test_window_score_is_mean_of_top_feature_scores():
    """With ``level_weight=0`` the score is alibi-detect's."""
    windows = _sine_windows(n_features=2)
    for perc in (100.0, 25.0, 1.0):
        det = clone(SMALL).set_params(outlier_perc=perc, level_weight=0).fit(windows)
        assert not hasattr(det, "level_mean_")
        features = det.feature_score_samples(windows)
        assert features.shape == (len(windows), 16, 2)
        assert features.dtype == np.float64
        outlier = -features.reshape(len(windows), -1)
        n_top = int(np.ceil(perc / 100 * 32))
        expected = np.sort(outlier, axis=1)[:, ::-1][:, :n_top].mean(axis=1)
        np.testing.assert_allclose(-det.score_samples(windows), expected, rtol=1e-12)


def _standardized(values):
    return (values - values.mean()) / values.std()


def test_level_distance_is_added_to_the_standardized_reconstruction_score():
    """Closed form: z(reconstruction score) + level_weight * z(Mahalanobis
    distance of the window's per-feature mean), both standardized on the
    training windows; training itself does not depend on the weight (a
    weight other than 1, so that a missing factor fails)."""
    level_weight = 2.5
    rng = np.random.RandomState(1)
    windows = _sine_windows(n_features=2) + rng.normal(size=(120, 1, 2)) @ [[1.0, 0.6], [0.0, 0.5]]
    alibi = clone(SMALL).set_params(level_weight=0).fit(windows)
    det = clone(SMALL).set_params(level_weight=level_weight).fit(windows)
    test = np.concatenate([windows[:20], windows[:5] + [1.0, -1.0], windows[:5] + 3.0])

    levels, test_levels = windows.mean(axis=1), test.mean(axis=1)
    precision = np.linalg.inv(np.cov(levels, rowvar=False, ddof=0))

    def distance(lv):
        centred = lv - levels.mean(axis=0)
        return np.sqrt(np.einsum("ni,ij,nj->n", centred, precision, centred))

    recon_train, recon_test = -alibi.score_samples(windows), -alibi.score_samples(test)
    train_d, test_d = distance(levels), distance(test_levels)
    expected = (recon_test - recon_train.mean()) / recon_train.std() + level_weight * (
        test_d - train_d.mean()
    ) / train_d.std()
    np.testing.assert_allclose(-det.score_samples(test), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(det.level_mean_, levels.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(det.score_std_, [recon_train.std(), train_d.std()], rtol=1e-5)
    # standardized on the training windows: mean 0, standard deviation 1 each
    np.testing.assert_allclose(np.mean(-det.score_samples(windows)), 0, atol=1e-9)
    # feature scores show the shape only: the same with and without the level
    np.testing.assert_array_equal(det.feature_score_samples(test), alibi.feature_score_samples(test))
    # a refit without the level forgets the level statistics
    det.set_params(level_weight=0).fit(windows)
    assert not hasattr(det, "level_mean_") and not hasattr(det, "score_std_")


def test_level_excursion_scores_below_every_normal_window():
    """Windows of normal shape lying wholly at an unusual level rank below
    every training window with the default score."""
    windows = _sine_windows(n_windows=200)
    shifted = windows[:10] + 2.0
    det = clone(SMALL).fit(windows)
    scores = det.score_samples(np.concatenate([windows, shifted]))
    assert np.all(scores[200:] < np.min(scores[:200]))


def test_deterministic_pickle_and_verbose(capsys):
    windows = _sine_windows()
    det = clone(SMALL).set_params(verbose=1).fit(windows)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    again = clone(SMALL).fit(windows)
    np.testing.assert_array_equal(det.score_samples(windows), again.score_samples(windows))
    restored = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(restored.score_samples(windows), det.score_samples(windows))
    np.testing.assert_array_equal(
        restored.feature_score_samples(windows), det.feature_score_samples(windows)
    )


def test_threshold_net_learns_the_normal_error():
    windows = _sine_windows()
    det = clone(SMALL).set_params(epochs=15, learning_rate=1e-2).fit(windows)
    assert det.loss_curve_[-1] < 0.5 * det.loss_curve_[0]
    # on normal data the threshold estimate tracks the error: feature scores
    # centre near zero rather than at the raw squared error
    assert abs(np.median(det.feature_score_samples(windows))) < 0.05


def test_drop_in_for_isolation_forest():
    rng = np.random.RandomState(0)
    windows = _sine_windows(n_windows=200)[:, :, 0]
    outliers = rng.normal(size=(10, 16)) * 2
    X = np.vstack([windows, outliers])
    y = np.r_[np.ones(200, dtype=int), -np.ones(10, dtype=int)]
    assert isolation_forest_workflow(clone(SMALL).set_params(epochs=10), X, y) > 0.9


def _synthetic_series(n, rng):
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 60) + 0.05 * rng.normal(size=n)


def test_injected_spikes_and_level_shifts_score_worse():
    """Train on a clean sine mixture; windows covering an injected spike or
    level shift must score clearly worse than clean windows."""
    rng = np.random.RandomState(0)
    train = _synthetic_series(2000, rng)
    test = _synthetic_series(2000, rng)
    anomalous = np.zeros(len(test), dtype=bool)
    for pos in rng.choice(np.arange(50, 1950), 12, replace=False):
        test[pos] += rng.choice([-1, 1]) * 2.5
        anomalous[pos] = True
    for pos in rng.choice(np.arange(50, 1900), 6, replace=False):
        test[pos : pos + 15] += 1.5
        anomalous[pos : pos + 15] = True
    seq_len, step = 32, 4
    starts = np.arange(0, len(test) - seq_len + 1, step)
    index = starts[:, None] + np.arange(seq_len)[None, :]
    det = Seq2SeqOutlierDetector(seq_len=seq_len, latent_dim=16, epochs=20, random_state=0)
    det.fit(train[index])
    labels = anomalous[index].any(axis=1)
    assert 0.1 < labels.mean() < 0.5
    assert roc_auc_score(labels, -det.score_samples(test[index])) >= 0.95

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
    windows = _sine_windows(n_features=2)
    for perc in (100.0, 25.0, 1.0):
        det = clone(SMALL).set_params(outlier_perc=perc).fit(windows)
        features = det.feature_score_samples(windows)
        assert features.shape == (len(windows), 16, 2)
        assert features.dtype == np.float64
        outlier = -features.reshape(len(windows), -1)
        n_top = int(np.ceil(perc / 100 * 32))
        expected = np.sort(outlier, axis=1)[:, ::-1][:, :n_top].mean(axis=1)
        np.testing.assert_allclose(-det.score_samples(windows), expected, rtol=1e-12)


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
    det = Seq2SeqOutlierDetector(seq_len=seq_len, latent_dim=16, random_state=0).fit(train[index])
    labels = anomalous[index].any(axis=1)
    assert 0.1 < labels.mean() < 0.5
    assert roc_auc_score(labels, -det.score_samples(test[index])) >= 0.95

"""Tests of sklearn_daml.timeseries against naive Python-loop references."""

import numpy as np
import pytest

from sklearn_daml.timeseries import sliding_windows, timestep_scores

# (n_timesteps, seq_len, step): overlapping, disjoint, gaps (step > seq_len),
# divisible and non-divisible tails, seq_len == n_timesteps, seq_len == 1.
CASES = [
    (20, 5, 1),
    (20, 5, 2),
    (21, 5, 2),
    (20, 4, 4),
    (23, 4, 4),
    (20, 3, 5),
    (22, 3, 5),
    (17, 6, 7),
    (9, 9, 1),
    (9, 9, 3),
    (12, 1, 1),
    (12, 1, 5),
]


def naive_windows(series, seq_len, step):
    series = np.asarray(series, dtype=float)
    if series.ndim == 1:
        series = series[:, None]
    out = []
    start = 0
    while start + seq_len <= len(series):
        out.append(series[start:start + seq_len])
        start += step
    return np.array(out)


def naive_timestep_scores(window_scores, n_timesteps, seq_len, step, aggregate):
    covering = [[] for _ in range(n_timesteps)]
    for i, score in enumerate(window_scores):
        for t in range(i * step, i * step + seq_len):
            covering[t].append(score)
    reduce = {"mean": np.mean, "max": np.max}[aggregate]
    return np.array([reduce(c) if c else np.nan for c in covering])


@pytest.mark.parametrize("n_timesteps, seq_len, step", CASES)
@pytest.mark.parametrize("n_features", [1, 3])
def test_sliding_windows_matches_loop(n_timesteps, seq_len, step, n_features):
    rng = np.random.RandomState(n_timesteps * 100 + seq_len * 10 + step)
    series = rng.normal(size=(n_timesteps, n_features))
    windows = sliding_windows(series, seq_len, step)
    expected = naive_windows(series, seq_len, step)
    assert windows.shape == (1 + (n_timesteps - seq_len) // step, seq_len, n_features)
    assert windows.shape == expected.shape
    np.testing.assert_array_equal(windows, expected)
    assert windows.dtype == np.float64
    assert windows.flags.c_contiguous


@pytest.mark.parametrize("n_timesteps, seq_len, step", CASES)
def test_1d_is_one_feature(n_timesteps, seq_len, step):
    series = np.random.RandomState(0).normal(size=n_timesteps)
    windows_1d = sliding_windows(series, seq_len, step)
    windows_2d = sliding_windows(series[:, None], seq_len, step)
    assert windows_1d.shape[-1] == 1
    np.testing.assert_array_equal(windows_1d, windows_2d)
    # A list gives the same as an array.
    np.testing.assert_array_equal(sliding_windows(list(series), seq_len, step), windows_1d)


def test_sliding_windows_integer_and_bool_input_become_float64():
    windows = sliding_windows(np.arange(6, dtype=np.int32), seq_len=2, step=2)
    assert windows.dtype == np.float64
    np.testing.assert_array_equal(windows[..., 0], [[0, 1], [2, 3], [4, 5]])
    windows = sliding_windows([True, False, True], seq_len=2)
    assert windows.dtype == np.float64
    np.testing.assert_array_equal(windows[..., 0], [[1, 0], [0, 1]])


@pytest.mark.parametrize("step", [1, 4])
def test_sliding_windows_returns_a_copy(step):
    # step == seq_len on float64 1-D input is the case where a view would be
    # contiguous already; the result must still be independent of the input.
    series = np.arange(12, dtype=np.float64)
    windows = sliding_windows(series, seq_len=4, step=step)
    assert not np.shares_memory(windows, series)
    windows[0, 0, 0] = 99.0
    assert series[0] == 0.0
    assert windows[1, 0, 0] == step  # no overlap aliasing between windows


@pytest.mark.parametrize("n_timesteps, seq_len, step", CASES)
@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_timestep_scores_matches_loop(n_timesteps, seq_len, step, aggregate):
    n_windows = 1 + (n_timesteps - seq_len) // step
    rng = np.random.RandomState(n_timesteps + seq_len + step)
    window_scores = rng.normal(size=n_windows)
    scores = timestep_scores(window_scores, n_timesteps, seq_len, step, aggregate=aggregate)
    expected = naive_timestep_scores(window_scores, n_timesteps, seq_len, step, aggregate)
    assert scores.shape == (n_timesteps,)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(scores), np.isnan(expected))
    np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=0)  # NaNs compare equal


def test_timestep_scores_default_is_mean():
    window_scores = np.array([1.0, 5.0, 2.0])
    np.testing.assert_allclose(
        timestep_scores(window_scores, 5, 3), [1.0, 3.0, 8.0 / 3.0, 3.5, 2.0]
    )
    np.testing.assert_allclose(
        timestep_scores(window_scores, 5, 3, aggregate="max"), [1.0, 5.0, 5.0, 5.0, 2.0]
    )


def test_timestep_scores_nan_tail_and_gaps():
    # 3 windows of length 4 with step 3 over 12 steps: step 10 and 11 are in none.
    scores = timestep_scores([1.0, 2.0, 3.0], n_timesteps=12, seq_len=4, step=3)
    assert np.isnan(scores[10:]).all()
    assert not np.isnan(scores[:10]).any()
    # Divisible tail: every step is covered.
    assert not np.isnan(timestep_scores([1.0, 2.0, 3.0], 10, 4, 3)).any()
    # step > seq_len: steps 2, 5 (gaps) and 8 (tail) are in no window.
    scores = timestep_scores([1.0, 2.0, 3.0], n_timesteps=9, seq_len=2, step=3, aggregate="max")
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(scores)), [2, 5, 8])
    np.testing.assert_array_equal(scores[[0, 1, 3, 4, 6, 7]], [1, 1, 2, 2, 3, 3])


def test_round_trip_with_sliding_windows():
    # Score each window by its own max; with aggregate="max" a covered step's
    # score is the max of the series over all windows covering it, so it is
    # at least the step's own value, and equal to it at the series' maximum.
    series = np.random.RandomState(1).normal(size=50)
    windows = sliding_windows(series, seq_len=6, step=4)
    scores = timestep_scores(windows.max(axis=(1, 2)), len(series), 6, 4, aggregate="max")
    covered = ~np.isnan(scores)
    assert covered.sum() == 4 * (len(windows) - 1) + 6
    assert np.all(scores[covered] >= series[covered])
    top = np.argmax(np.where(covered, series, -np.inf))
    assert scores[top] == series[top]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seq_len": 0}, "seq_len must be >= 1"),
        ({"seq_len": -2}, "seq_len must be >= 1"),
        ({"seq_len": 3, "step": 0}, "step must be >= 1"),
        ({"seq_len": 11}, "seq_len=11 is larger than the number of time steps"),
    ],
)
def test_sliding_windows_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_windows(np.zeros(10), **kwargs)


@pytest.mark.parametrize("shape", [(), (4, 2, 2)])
def test_sliding_windows_bad_ndim(shape):
    with pytest.raises(ValueError, match="must be 1-D .* or 2-D"):
        sliding_windows(np.zeros(shape), seq_len=1)


def test_sliding_windows_no_feature():
    with pytest.raises(ValueError, match="no feature column"):
        sliding_windows(np.zeros((5, 0)), seq_len=2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sliding_windows_non_finite(bad):
    series = np.zeros((8, 2))
    series[5, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        sliding_windows(series, seq_len=3)


@pytest.mark.parametrize(
    "series", [["a", "b", "c"], np.array([1 + 1j, 2, 3]), np.array([None, 1.0, 2.0])]
)
def test_sliding_windows_non_numeric(series):
    with pytest.raises(TypeError, match="must be numeric"):
        sliding_windows(series, seq_len=2)


@pytest.mark.parametrize("seq_len, step", [(2.0, 1), (2, 1.5), (True, 1)])
def test_sliding_windows_non_integer_sizes(seq_len, step):
    with pytest.raises(TypeError, match="must be an integer"):
        sliding_windows(np.zeros(5), seq_len=seq_len, step=step)


def test_sliding_windows_numpy_integer_sizes():
    assert sliding_windows(np.zeros(5), np.int64(2), np.int32(3)).shape == (2, 2, 1)


@pytest.mark.parametrize("n_scores", [2, 4, 0])
def test_timestep_scores_wrong_length(n_scores):
    # 10 steps, seq_len 4, step 3 -> 3 windows
    with pytest.raises(ValueError, match=f"has {n_scores} entries.* give 3 windows"):
        timestep_scores(np.zeros(n_scores), 10, 4, 3)


@pytest.mark.parametrize("aggregate", ["median", "MEAN", None, np.max])
def test_timestep_scores_unknown_aggregate(aggregate):
    with pytest.raises(ValueError, match="aggregate must be one of"):
        timestep_scores(np.zeros(3), 10, 4, 3, aggregate=aggregate)


def test_timestep_scores_bad_scores():
    with pytest.raises(ValueError, match="must be 1-D"):
        timestep_scores(np.zeros((3, 1)), 10, 4, 3)
    with pytest.raises(ValueError, match="NaN or infinite"):
        timestep_scores([0.0, np.nan, 1.0], 10, 4, 3)


@pytest.mark.parametrize(
    "n_timesteps, seq_len, step, match",
    [
        (10, 0, 1, "seq_len must be >= 1"),
        (10, 4, 0, "step must be >= 1"),
        (0, 4, 1, "n_timesteps must be >= 1"),
        (3, 4, 1, "seq_len=4 is larger"),
    ],
)
def test_timestep_scores_bad_sizes(n_timesteps, seq_len, step, match):
    with pytest.raises(ValueError, match=match):
        timestep_scores(np.zeros(1), n_timesteps, seq_len, step)

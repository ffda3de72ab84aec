"""The speed benchmark's helpers: steps per epoch, the phase timer, the
profile totals and the grid search's scorer (no timing is asserted)."""

import cProfile
import pstats

import numpy as np
from sklearn.ensemble import IsolationForest

from benchmarks import speed


def test_steps_per_epoch_rounds_as_the_training_loop():
    assert speed.steps_per_epoch(100_000, 128) == 781
    assert speed.steps_per_epoch(10_000, 256) == 39
    assert speed.steps_per_epoch(200, 256) == 1
    assert speed.steps_per_epoch(1, 128) == 1


class _Fitter:
    def __init__(self):
        self.calls = []

    def inner(self):
        self.calls.append("inner")
        return 1

    def outer(self):
        self.calls.append("outer")
        return self.inner() + 1


def test_phase_timer_counts_outermost_calls_and_restores_the_methods():
    fitter = _Fitter()
    with speed.phase_timer(fitter, ("outer", "inner")) as times:
        assert fitter.outer() == 2
        assert fitter.inner() == 1
    assert set(times) == {"outer", "inner"}
    assert times["outer"] >= 0 and times["inner"] >= 0
    assert fitter.calls == ["outer", "inner", "inner"]
    assert "outer" not in vars(fitter) and "inner" not in vars(fitter)


def test_phase_timer_restores_the_methods_after_an_error():
    fitter = _Fitter()
    try:
        with speed.phase_timer(fitter, ("outer",)):
            raise RuntimeError
    except RuntimeError:
        pass
    assert "outer" not in vars(fitter)


def _leaf(n):
    return sum(range(n))


def _branch(depth):
    return _leaf(100) if depth == 0 else _branch(depth - 1)


def test_frame_totals_counts_calls_and_time_once_for_recursion():
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [_branch(3) for _ in range(2)])
    stats = pstats.Stats(profiler).stats
    calls, seconds = speed.frame_totals(stats, ("test_speed_benchmark.py", "_branch"))
    assert calls == 8  # two outer calls, each recursing three times
    leaf_calls, leaf_seconds = speed.frame_totals(stats, ("test_speed_benchmark.py", "_leaf"))
    assert leaf_calls == 2
    assert seconds >= leaf_seconds >= 0
    assert speed.frame_totals(stats, ("other_file.py", "_branch")) == (0, 0.0)


def test_grid_data_and_outlier_auc_rank_the_outliers_first():
    X, y = speed.grid_data()
    assert X.shape == (263, 10) and y.sum() == 13 and set(y) == {0, 1}
    forest = IsolationForest(random_state=0).fit(X)
    assert speed.outlier_auc(forest, X, y) > 0.9
    assert np.isclose(speed.outlier_auc(forest, X, 1 - y), 1 - speed.outlier_auc(forest, X, y))

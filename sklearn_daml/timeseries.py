"""Helpers to run window-based outlier detectors on time series.

A sequence detector scores fixed-length windows, not single time steps.
:func:`sliding_windows` cuts a series into such windows and
:func:`timestep_scores` maps the per-window scores back onto the time axis.
Both are plain NumPy.
"""

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["sliding_windows", "timestep_scores"]

_AGGREGATES = ("mean", "max")


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    return int(value)


def _n_windows(n_timesteps, seq_len, step):
    """Number of windows of ``sliding_windows`` for these sizes."""
    if seq_len > n_timesteps:
        raise ValueError(
            f"seq_len={seq_len} is larger than the number of time steps ({n_timesteps})."
        )
    return 1 + (n_timesteps - seq_len) // step


def sliding_windows(series, seq_len, step=1):
    """Cut a time series into fixed-length, possibly overlapping windows.

    Window ``i`` holds the time steps ``[i * step, i * step + seq_len)``.
    When ``(n_timesteps - seq_len)`` is not a multiple of ``step``, the last
    few time steps fit in no window and are left out.

    Parameters
    ----------
    series : array-like of shape (n_timesteps,) or (n_timesteps, n_features)
        Numeric, finite time series; a 1-D series is one feature.
    seq_len : int
        Length of each window, ``1 <= seq_len <= n_timesteps``.
    step : int, default=1
        Shift between the starts of consecutive windows. ``step = seq_len``
        gives disjoint windows; ``step > seq_len`` skips time steps.

    Returns
    -------
    windows : ndarray of shape (n_windows, seq_len, n_features)
        A new C-contiguous float64 array (never a view of ``series``), with
        ``n_windows = 1 + (n_timesteps - seq_len) // step``.

    Raises
    ------
    TypeError
        If ``series`` is not numeric (real, integer or boolean), or
        ``seq_len`` / ``step`` are not integers.
    ValueError
        If ``seq_len < 1``, ``step < 1``, ``seq_len > n_timesteps``, the
        series is not 1-D or 2-D, has no feature column, or holds NaN or
        infinite values.

    See Also
    --------
    timestep_scores : Map one score per window back to one per time step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.timeseries import sliding_windows
    >>> windows = sliding_windows(np.arange(7), seq_len=3, step=2)
    >>> windows.shape
    (3, 3, 1)
    >>> windows[..., 0]
    array([[0., 1., 2.],
           [2., 3., 4.],
           [4., 5., 6.]])
    >>> sliding_windows(np.ones((10, 2)), seq_len=4, step=3).shape
    (3, 4, 2)
    """
    seq_len = _check_positive_int(seq_len, "seq_len")
    step = _check_positive_int(step, "step")
    series = np.asarray(series)
    if series.dtype.kind not in "biuf":
        raise TypeError(
            f"series must be numeric (bool, integer or float), got dtype {series.dtype}."
        )
    if series.ndim not in (1, 2):
        raise ValueError(
            "series must be 1-D (n_timesteps,) or 2-D (n_timesteps, n_features), "
            f"got an array of shape {series.shape}."
        )
    if series.ndim == 1:
        series = series[:, np.newaxis]
    if series.shape[1] == 0:
        raise ValueError("series has no feature column (shape (n_timesteps, 0)).")
    _n_windows(series.shape[0], seq_len, step)  # raises if seq_len > n_timesteps
    series = series.astype(np.float64, copy=False)
    if not np.all(np.isfinite(series)):
        raise ValueError("series contains NaN or infinite values.")
    # sliding_window_view puts the window axis last: (n_starts, n_features, seq_len).
    view = sliding_window_view(series, seq_len, axis=0)[::step]
    return np.array(view.transpose(0, 2, 1), dtype=np.float64, order="C", copy=True)


def timestep_scores(window_scores, n_timesteps, seq_len, step=1, aggregate="mean"):
    """Spread one score per window back onto the time steps it covers.

    ``window_scores[i]`` is the score of the window over the time steps
    ``[i * step, i * step + seq_len)``, as cut by :func:`sliding_windows`
    with the same ``seq_len`` and ``step``. The score of a time step is the
    mean or the maximum of the scores of all windows that contain it.

    Time steps that no window contains get NaN: the tail left over when
    ``(n_timesteps - seq_len)`` is not a multiple of ``step``, and, when
    ``step > seq_len``, the ``step - seq_len`` time steps between
    consecutive windows. Mask them (``np.isnan``) before computing metrics.

    Parameters
    ----------
    window_scores : array-like of shape (n_windows,)
        Finite score of each window, with
        ``n_windows = 1 + (n_timesteps - seq_len) // step``. Any sign
        convention works; it is kept (e.g. pass ``-score_samples`` to get
        "higher = more abnormal" per time step).
    n_timesteps : int
        Length of the series the windows were cut from.
    seq_len : int
        Window length used by :func:`sliding_windows`.
    step : int, default=1
        Window shift used by :func:`sliding_windows`.
    aggregate : {"mean", "max"}, default="mean"
        How the scores of the windows covering one time step are combined.
        ``"max"`` lets one abnormal window mark all of its time steps.

    Returns
    -------
    scores : ndarray of shape (n_timesteps,)
        Float64 score of each time step; NaN where no window covers it.

    Raises
    ------
    ValueError
        If ``len(window_scores)`` is not the number of windows implied by
        ``n_timesteps``, ``seq_len`` and ``step``, if ``window_scores`` is
        not 1-D or holds NaN or infinite values, if ``aggregate`` is
        unknown, or if ``seq_len`` / ``step`` / ``n_timesteps`` are below 1
        or ``seq_len > n_timesteps``.

    See Also
    --------
    sliding_windows : Cut the series into the windows that get scored.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.timeseries import timestep_scores
    >>> # 3 windows of length 3, step 2, over 8 time steps; step 7 is in none.
    >>> timestep_scores([1.0, 3.0, 5.0], n_timesteps=8, seq_len=3, step=2)
    array([ 1.,  1.,  2.,  3.,  4.,  5.,  5., nan])
    >>> timestep_scores([1.0, 3.0, 5.0], 8, 3, step=2, aggregate="max")
    array([ 1.,  1.,  3.,  3.,  5.,  5.,  5., nan])
    """
    if not isinstance(aggregate, str) or aggregate not in _AGGREGATES:
        raise ValueError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}.")
    n_timesteps = _check_positive_int(n_timesteps, "n_timesteps")
    seq_len = _check_positive_int(seq_len, "seq_len")
    step = _check_positive_int(step, "step")
    n_windows = _n_windows(n_timesteps, seq_len, step)

    window_scores = np.asarray(window_scores, dtype=np.float64)
    if window_scores.ndim != 1:
        raise ValueError(
            f"window_scores must be 1-D (one score per window), got shape {window_scores.shape}."
        )
    if window_scores.shape[0] != n_windows:
        raise ValueError(
            f"window_scores has {window_scores.shape[0]} entries, but n_timesteps={n_timesteps}, "
            f"seq_len={seq_len} and step={step} give {n_windows} windows."
        )
    if not np.all(np.isfinite(window_scores)):
        raise ValueError("window_scores contains NaN or infinite values.")

    # Time step index of every (window, position) pair, and its window's score.
    steps = (np.arange(n_windows) * step)[:, np.newaxis] + np.arange(seq_len)
    steps = steps.ravel()
    values = np.repeat(window_scores, seq_len)
    counts = np.bincount(steps, minlength=n_timesteps)
    covered = counts > 0

    scores = np.full(n_timesteps, np.nan)
    if aggregate == "mean":
        sums = np.bincount(steps, weights=values, minlength=n_timesteps)
        scores[covered] = sums[covered] / counts[covered]
    else:
        maxima = np.full(n_timesteps, -np.inf)
        np.maximum.at(maxima, steps, values)
        scores[covered] = maxima[covered]
    return scores

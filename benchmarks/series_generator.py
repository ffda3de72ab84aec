"""Labelled univariate series with injected anomalies, for benchmarks.

:func:`make_series` draws a base signal and injects a few anomalies of one
type into it; every label is 1 exactly on the injected ranges and the values
outside them are those of the base. :func:`development_set` lists a fixed
collection of such series, every anomaly type on the bases where it means
something.

Base signals (``base=``):

- ``"seasonal"``: three harmonics of a period of 60-120 steps (amplitudes 1,
  0.5, 0.3, random phases) plus Gaussian noise of standard deviation 0.1;
- ``"noisy_sine"``: one sine of period 40-100 steps plus noise of standard
  deviation 0.3;
- ``"random_walk"``: cumulated Gaussian steps of standard deviation 0.1;
- ``"nab"``: a stretch of a Numenta Anomaly Benchmark series
  (realKnownCause, ``../shared/data/nab``) that overlaps none of its
  labelled anomaly windows (NYC taxi, period 48 steps = one day; ambient
  temperature, period 24; machine temperature, no period).

Anomaly types (``anomaly=``), in units of the base's scale (1 for the
synthetic bases, the stretch's standard deviation for NAB):

- ``"spike"``: one step moved by 3 to 5 units up or down (point anomaly);
- ``"level_shift"``: a stretch moved by 1 to 2 units, then back;
- ``"contextual"``: a stretch replaced by the base half a period later,
  values that are normal at another time of the cycle (periodic bases);
- ``"frequency"``: a stretch played at twice or half the speed (periodic
  bases);
- ``"amplitude"``: a stretch's swings scaled by 2-3 or by 0.2-0.4 (around
  the stretch's mean; the noise-free signal for the synthetic periodic
  bases; the walk's steps for the random walk, which rejoins the base at
  the end);
- ``"trend"``: a linear ramp reaching 1.5 to 3 units at the stretch's end,
  then back to the base.

Everything is drawn from ``numpy.random.RandomState(seed)``.
"""

from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import numpy as np

__all__ = ["BASES", "ANOMALIES", "LabelledSeries", "make_series", "development_set"]

BASES = ("seasonal", "noisy_sine", "random_walk", "nab")
ANOMALIES = ("spike", "level_shift", "contextual", "frequency", "amplitude", "trend")
PERIODIC_ANOMALIES = ("contextual", "frequency")
NAB_PERIODS = {"NYC taxi": 48, "ambient temperature": 24, "machine temperature": None}
DEFAULT_LENGTH = 3000
_GAP = 10  # normal steps kept at least between two anomalies and at the ends
_APERIODIC_LENGTH = 150  # stands in for the period of a base without one


class LabelledSeries(NamedTuple):
    """A series, its labels and the ranges injected.

    Attributes
    ----------
    values : ndarray of shape (n_timesteps,)
        The series.
    labels : ndarray of shape (n_timesteps,)
        Integer labels: 1 on the injected ranges, 0 elsewhere.
    ranges : ndarray of shape (n_anomalies, 2)
        Inclusive ``[start, end]`` of each injected anomaly, in time order.
    """

    values: np.ndarray
    labels: np.ndarray
    ranges: np.ndarray


@dataclass
class _Base:
    """A base signal: its values, period, scale and how to read it at
    fractional times (``signal`` plus ``noise`` for synthetic bases)."""

    name: str
    values: np.ndarray
    period: Optional[int]
    scale: float
    signal: Optional[Callable] = None
    noise: Optional[np.ndarray] = None

    def at(self, times, steps):
        """The base at fractional ``times``, with the noise of ``steps``."""
        if self.signal is not None:
            return self.signal(times) + self.noise[steps]
        return np.interp(times, np.arange(len(self.values)), self.values)


def _harmonics(period, amplitudes, phases):
    def signal(times):
        times = np.asarray(times, dtype=np.float64)
        return sum(
            a * np.sin(2 * np.pi * (k + 1) * times / period + phi)
            for k, (a, phi) in enumerate(zip(amplitudes, phases))
        )

    return signal


def _synthetic_base(name, period, amplitudes, noise_std, length, rng):
    signal = _harmonics(period, amplitudes, rng.uniform(0, 2 * np.pi, len(amplitudes)))
    noise = rng.normal(0, noise_std, length)
    return _Base(name, signal(np.arange(length)) + noise, period, 1.0, signal, noise)


def _seasonal(length, rng):
    return _synthetic_base("seasonal", rng.randint(60, 121), (1.0, 0.5, 0.3), 0.1, length, rng)


def _noisy_sine(length, rng):
    return _synthetic_base("noisy_sine", rng.randint(40, 101), (1.0,), 0.3, length, rng)


def _random_walk(length, rng):
    return _Base("random_walk", np.cumsum(rng.normal(0, 0.1, length)), None, 1.0)


def _nab(length, rng, nab_series, data_dir):
    from .series import NAB_DIR, SERIES, load_nab  # here: series imports this module

    if nab_series not in NAB_PERIODS:
        raise ValueError(f"nab_series must be one of {list(NAB_PERIODS)}, got {nab_series!r}.")
    loaded = load_nab(SERIES[nab_series], data_dir=NAB_DIR if data_dir is None else data_dir)
    if loaded is None:
        raise FileNotFoundError(f"NAB series {nab_series!r} is not available.")
    values, labels = loaded
    labelled_before = np.concatenate([[0], np.cumsum(labels)])
    starts = np.arange(len(values) - length + 1)
    free = starts[labelled_before[starts + length] == labelled_before[starts]]
    if len(free) == 0:
        raise ValueError(f"{nab_series} has no {length} steps outside its anomaly windows.")
    segment = values[free[rng.randint(len(free))]:][:length].astype(np.float64)
    return _Base("nab", segment, NAB_PERIODS[nab_series], float(np.std(segment)))


def _sign(rng):
    return rng.choice([-1.0, 1.0])


def _event_length(anomaly, base, rng):
    """Length of one anomaly and how far past its start it reads the base."""
    period = base.period or _APERIODIC_LENGTH
    if anomaly == "spike":
        return 1, 1
    if anomaly in ("level_shift", "trend"):
        length = rng.randint(period, 3 * period + 1)
        return length, length
    if anomaly == "contextual":
        length = rng.randint(period // 2, 2 * period + 1)
        return length, length + period // 2 + 1
    length = rng.randint(2 * period, 4 * period + 1)  # frequency, amplitude
    return length, (2 * length if anomaly == "frequency" else length)


def _inject(values, base, anomaly, start, length, rng):
    """Write one anomaly over ``values[start:start + length]``."""
    steps = np.arange(start, start + length)
    if anomaly == "spike":
        values[start] += _sign(rng) * rng.uniform(3, 5) * base.scale
    elif anomaly == "level_shift":
        values[steps] += _sign(rng) * rng.uniform(1, 2) * base.scale
    elif anomaly == "trend":
        height = _sign(rng) * rng.uniform(1.5, 3) * base.scale
        values[steps] += height * np.arange(1, length + 1) / length
    elif anomaly == "contextual":
        values[steps] = base.at(steps + base.period / 2, steps)
    elif anomaly == "frequency":
        speed = rng.choice([0.5, 2.0])
        values[steps] = base.at(start + speed * (steps - start), steps)
    else:  # amplitude
        factor = rng.uniform(2, 3) if rng.rand() < 0.5 else rng.uniform(0.2, 0.4)
        _amplify(values, base, steps, factor)


def _amplify(values, base, steps, factor):
    original = base.values[steps]
    if base.signal is not None:
        values[steps] = factor * base.signal(steps) + base.noise[steps]
    elif base.name == "random_walk":
        values[steps] = original[0] + factor * (original - original[0])
    else:
        values[steps] = original.mean() + factor * (original - original.mean())


def _place(n_events, lengths, reaches, n_timesteps, rng):
    """Start of each event, one in each of ``n_events`` equal slots, so that
    the events (and the base they read) stay ``_GAP`` steps apart."""
    slot = n_timesteps // n_events
    starts = []
    for i, (length, reach) in enumerate(zip(lengths, reaches)):
        first = i * slot + _GAP
        last = (i + 1) * slot - max(length, reach) - _GAP
        if last < first:
            raise ValueError(
                f"length={n_timesteps} is too short for {n_events} anomalies of up to "
                f"{max(reaches)} steps; pass a longer length or fewer anomalies."
            )
        starts.append(rng.randint(first, last + 1))
    return np.array(starts)


def _make_base(base, length, rng, nab_series, data_dir):
    if base == "seasonal":
        return _seasonal(length, rng)
    if base == "noisy_sine":
        return _noisy_sine(length, rng)
    if base == "random_walk":
        return _random_walk(length, rng)
    if base == "nab":
        return _nab(length, rng, nab_series, data_dir)
    raise ValueError(f"base must be one of {BASES}, got {base!r}.")


def make_series(
    base,
    anomaly,
    length=DEFAULT_LENGTH,
    seed=0,
    n_anomalies=None,
    nab_series="NYC taxi",
    data_dir=None,
):
    """A base signal with anomalies of one type injected, and its labels.

    Parameters
    ----------
    base : {"seasonal", "noisy_sine", "random_walk", "nab"}
        The base signal (see the module's description).
    anomaly : {"spike", "level_shift", "contextual", "frequency", "amplitude", "trend"} or None
        The anomaly type; ``None`` returns the base without anomalies.
        ``"contextual"`` and ``"frequency"`` need a periodic base.
    length : int, default=3000
        Number of time steps.
    seed : int, default=0
        Seed of the ``RandomState`` that draws everything: the same seed
        gives the same arrays.
    n_anomalies : int, optional
        Number of anomalies, one in each of ``n_anomalies`` equal slots of
        the series; 5 spikes or 3 anomalies of the other types by default.
    nab_series : {"NYC taxi", "ambient temperature", "machine temperature"}, default="NYC taxi"
        The NAB series cut when ``base="nab"``.
    data_dir : path-like, optional
        Folder of the NAB files; ``../shared/data/nab`` by default.

    Returns
    -------
    series : LabelledSeries
        ``(values, labels, ranges)``; ``labels`` is 1 exactly on the
        ``ranges``, and ``values`` equals the base outside them.

    Raises
    ------
    ValueError
        For an unknown base or anomaly, a periodic anomaly on a base without
        a period, or a length too short for the anomalies.
    FileNotFoundError
        If ``base="nab"`` and the NAB file is absent.

    Examples
    --------
    >>> values, labels, ranges = make_series("seasonal", "spike", length=1000, seed=0)
    >>> values.shape, int(labels.sum()), ranges.shape
    ((1000,), 5, (5, 2))
    """
    if anomaly is not None and anomaly not in ANOMALIES:
        raise ValueError(f"anomaly must be one of {ANOMALIES} or None, got {anomaly!r}.")
    rng = np.random.RandomState(seed)
    signal = _make_base(base, int(length), rng, nab_series, data_dir)
    values = signal.values.copy()
    labels = np.zeros(len(values), dtype=np.int64)
    if anomaly is None:
        return LabelledSeries(values, labels, np.zeros((0, 2), dtype=np.int64))
    if anomaly in PERIODIC_ANOMALIES and signal.period is None:
        raise ValueError(f"a {anomaly!r} anomaly needs a periodic base; {base!r} has no period.")
    n_anomalies = n_anomalies or (5 if anomaly == "spike" else 3)
    events = [_event_length(anomaly, signal, rng) for _ in range(n_anomalies)]
    lengths, reaches = zip(*events)
    starts = _place(n_anomalies, lengths, reaches, len(values), rng)
    for start, event_length in zip(starts, lengths):
        _inject(values, signal, anomaly, start, event_length, rng)
        labels[start:start + event_length] = 1
    ranges = np.stack([starts, starts + np.array(lengths) - 1], axis=1).astype(np.int64)
    return LabelledSeries(values, labels, ranges)


def _development_cases():
    """``(base, anomaly, nab_series)`` of every series of the development set."""
    cases = [(base, anomaly, None) for base in ("seasonal", "noisy_sine") for anomaly in ANOMALIES]
    cases += [("random_walk", a, None) for a in ("spike", "level_shift", "amplitude", "trend")]
    cases += [("nab", anomaly, "NYC taxi") for anomaly in ANOMALIES]
    aperiodic = ("spike", "level_shift", "amplitude", "trend")
    cases += [("nab", a, "machine temperature") for a in aperiodic]
    cases += [("nab", a, "ambient temperature") for a in ("contextual", "frequency")]
    return cases


def development_set(seed=0, length=DEFAULT_LENGTH, include_nab=True, data_dir=None):
    """A fixed collection of named series covering every anomaly type.

    Each periodic synthetic base (seasonal, noisy sine) carries each of the
    six anomaly types; the random walk the four that need no period; NAB
    stretches (NYC taxi: all six; machine temperature: the four without a
    period; ambient temperature: contextual and frequency) complete the set,
    28 series in all. Series ``i`` is drawn with seed ``1000 * seed + i``.

    Parameters
    ----------
    seed : int, default=0
        Seed of the whole set.
    length : int, default=3000
        Number of time steps of every series.
    include_nab : bool, default=True
        Include the NAB-based series; they are left out, with a message,
        when the NAB files are absent.
    data_dir : path-like, optional
        Folder of the NAB files.

    Returns
    -------
    series : dict of str to LabelledSeries
        Keyed ``"base/anomaly"`` (``"NAB <series>/anomaly"`` for NAB).
    """
    out = {}
    for i, (base, anomaly, nab_series) in enumerate(_development_cases()):
        if base == "nab" and not include_nab:
            continue
        name = f"NAB {nab_series}/{anomaly}" if base == "nab" else f"{base}/{anomaly}"
        try:
            out[name] = make_series(
                base, anomaly, length=length, seed=1000 * seed + i,
                nab_series=nab_series or "NYC taxi", data_dir=data_dir,
            )
        except FileNotFoundError as error:
            print(f"skipping {name}: {error}")
    return out

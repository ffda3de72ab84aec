"""False alarms, p-values and false-discovery control on 31 ADBench tables.

The splits are those of Protocol U in :mod:`benchmarks.quality` (stratified
70/30, ``StandardScaler`` fitted on the rows the method is fitted on, larger
tables sampled as there). The clean regime fits on the inlier training rows;
every test row is new to the method, and the test inliers are drawn like the
training rows, as the conformal guarantee assumes. The methods are the four
tabular detectors with their defaults and ``IsolationForest``, each in two
forms:

``own``
    The detector with ``contamination=CONTAMINATION``: ``offset_`` is that
    percentile of its training rows' scores. Measured: the share of test
    inliers that ``predict`` flags (the false-alarm rate, which nothing
    bounds) and the share of test outliers (the power).
``auto``
    The detector with ``contamination='auto'`` (for sklearn-daml's, a row is
    flagged when its conformal p-value against the training scores is at
    most 0.05; ``IsolationForest``'s is its own rule). Measured: the same two
    shares of ``predict``, in both regimes: what a user gets who sets no
    outlier share.
``conformal``
    ``ConformalOutlierDetector(detector, contamination=CONTAMINATION,
    random_state=seed)`` (split, default ``calibration_size``). Measured: the
    same two shares of ``predict``, the share of test inliers with a p-value
    of at most ``P_LEVEL``, and ``predict_fdr`` at ``ALPHA`` over the whole
    test set: its false discovery rate (false discoveries over
    ``max(discoveries, 1)``) and power. The test set holds about as many
    rows as there are calibration rows (30% of the table against half of
    the 70% of training rows), and the smallest p-value is
    ``1 / (n_calibration + 1)``: the procedure flags ``k`` rows only when
    ``k`` of them score below all but about ``alpha * k`` calibration rows,
    so its power is that of clearly separated outliers.

``pvalues``
    The detector's own ``predict_pvalues`` and ``predict_fdr`` (sklearn-daml's
    detectors only), calibrated on its training rows' scores: the same
    p-value share, false discovery rate and power as the conformal form,
    without a calibration split. The training rows are not new to the
    network, so nothing guarantees these p-values; the measurement shows how
    far they are from valid (clean regime only).
``heldout``
    The detector with ``contamination=CONTAMINATION`` and
    ``calibration_size=HELD_OUT`` (sklearn-daml's detectors only): it trains
    on the other rows, and its threshold and own p-values come from the
    held-out rows' scores. Measured: everything the ``own`` and ``pvalues``
    forms measure, in both regimes; its ROC-AUC beside the ``own`` form's is
    what training on fewer rows costs the ranking.

All record their fit time, so that the cost of the conformal fit is
compared with the default fit of the same detector. The contaminated regime
(fitted on every training row, outliers included) runs the ``auto``,
conformal and held-out forms only: they show what happens when the training
rows are not exchangeable with the new inliers.

Every measurement is one JSON line per (regime, table, seed, method) in
``benchmarks/results/calibration.jsonl`` (``calibration_quick.jsonl`` for
``--quick``), written by :class:`benchmarks.quality.Store` and keyed as the
quality benchmark keys its entries, plus the source of the thresholds and of
the conformal wrapper and of this module's measurement: a run measures only
what the store lacks, and can be interrupted and resumed.
"""

import functools
import importlib
import inspect
import time
import types
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

import sklearn_daml
from sklearn_daml import ConformalOutlierDetector

from . import data, quality
from .quality import (
    DETECTORS,
    RESULTS,
    SEEDS,
    Method,
    Store,
    _without_docstrings,
    baseline_method,
    collect,
    detector_method,
)

# level of predict, own and conformal
CONTAMINATION = 0.05
# level of the second p-value share
P_LEVEL = 0.1
# target false discovery rate of predict_fdr
ALPHA = 0.1
# the conformal false-alarm rate at CONTAMINATION, averaged over the tables
TARGET_RATE = (0.03, 0.07)
# at most this share of test inliers flagged on a table with at least
# MIN_INLIERS test inliers
TARGET_TABLE_RATE, MIN_INLIERS = 0.15, 200
# the conformal fit takes at most this multiple of the default fit's time
TARGET_TIME_RATIO = 1.5
# calibration_size of the held-out form
HELD_OUT = 0.2
BASES = [*DETECTORS, "IsolationForest"]
KINDS = ("own", "auto", "conformal", "pvalues", "heldout")
# the forms of sklearn-daml's detectors only
OWN_KINDS = ("pvalues", "heldout")
# the forms that the contaminated regime runs
CONTAMINATED_KINDS = ("auto", "conformal", "heldout")
REGIMES = {
    "clean": "Protocol U, clean regime (fitted on the inliers only)",
    "U": "Protocol U, contaminated regime (fitted with the outliers in), 'auto' and conformal",
}


# ------------------------------------------------------------------ methods
def _base_method(name):
    """The quality benchmark's method for ``name``, with its defaults."""
    return baseline_method(name) if name == "IsolationForest" else detector_method(name, name)


@functools.lru_cache
def _sources():
    """The docstring-free source of the threshold and conformal modules,
    which the quality benchmark leaves out of its keys."""
    modules = ("sklearn_daml._thresholds", "sklearn_daml._conformal")
    return tuple(_without_docstrings(inspect.getsource(importlib.import_module(m))) for m in modules)


def calibration_method(base, kind):
    """The ``kind`` form (``"own"``, ``"auto"`` or ``"conformal"``) of the
    quality benchmark's method ``base``, named ``"<base> <kind>"``."""
    def make(seed):
        detector = base.make(seed)
        if kind in ("own", "pvalues"):
            return detector.set_params(contamination=CONTAMINATION)
        if kind == "heldout":
            return detector.set_params(contamination=CONTAMINATION, calibration_size=HELD_OUT)
        if kind == "auto":
            return detector.set_params(contamination="auto")
        return ConformalOutlierDetector(detector, contamination=CONTAMINATION, random_state=seed)

    measured_by = (measure_pvalues, measure) if kind in OWN_KINDS else (measure,)
    measurement = [_without_docstrings(inspect.getsource(f))
                   for f in (*measured_by, _conformal_record)]
    key_parts = (base.key, kind, _sources(), measurement, CONTAMINATION, P_LEVEL, ALPHA)
    if kind == "heldout":
        key_parts += (HELD_OUT,)
    method = Method(f"{base.name} {kind}", make, key_parts, detector=base.detector)
    method.measure = measured_by[0]
    return method


def methods_for(names=None):
    """``{(base, kind): Method}`` for the bases in ``names`` (default all)."""
    unknown = set(names or []) - set(BASES)
    if unknown:
        raise SystemExit(f"unknown method {sorted(unknown)}; choose from {BASES}")
    out = {}
    for name in BASES:
        if names and name not in names:
            continue
        base = _base_method(name)
        for kind in KINDS:
            if kind in OWN_KINDS and name not in DETECTORS:
                continue  # IsolationForest has no p-values or held-out rows of its own
            out[name, kind] = calibration_method(base, kind)
    return out


# ------------------------------------------------------------------ measure
def _share(mask):
    return float(np.mean(mask)) if mask.size else None


def measure(method, seed, X_fit, X_test, y_test):
    """Fit a fresh estimator and measure its flags on the test rows (``y_test``
    1 for outliers): the stored record. A failed run is a record with its
    error."""
    estimator = method.make(seed)
    outlier = y_test == 1
    record = {"n_fit": len(X_fit), "n_test": len(y_test),
              "n_test_inliers": int(np.sum(~outlier)), "error": None, "warning": None}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(X_fit)
        record["fit_seconds"] = time.perf_counter() - start
        record["warning"] = "; ".join(str(w.message) for w in caught) or None
        flagged = estimator.predict(X_test) == -1
        scores = estimator.score_samples(X_test)
        record["inliers_flagged"] = _share(flagged[~outlier])
        record["outliers_flagged"] = _share(flagged[outlier])
        finite = np.all(np.isfinite(scores))
        record["roc_auc"] = float(roc_auc_score(y_test, -scores)) if finite else None
        if isinstance(estimator, ConformalOutlierDetector):
            record.update(_conformal_record(estimator, X_test, outlier))
    except Exception as exc:  # a failed run is a result, not a crash
        record["fit_seconds"] = time.perf_counter() - start
        record["error"] = f"{type(exc).__name__}: {exc}"
    return record


def measure_pvalues(method, seed, X_fit, X_test, y_test):
    """The record of :func:`measure`, plus the detector's own p-value share
    and ``predict_fdr``, as :func:`_conformal_record` measures the conformal
    wrapper's."""
    fitted = []

    def make(s):
        fitted.append(method.make(s))
        return fitted[-1]

    record = measure(types.SimpleNamespace(make=make), seed, X_fit, X_test, y_test)
    if record["error"] is None:
        try:
            record.update(_conformal_record(fitted[0], X_test, y_test == 1))
        except Exception as exc:  # a failed run is a result, not a crash
            record["error"] = f"{type(exc).__name__}: {exc}"
    return record


def _measure(method, seed, X_fit, X_test, y_test):
    """The measurement of ``method``'s kind (:func:`measure` or
    :func:`measure_pvalues`)."""
    return method.measure(method, seed, X_fit, X_test, y_test)


def _conformal_record(estimator, X_test, outlier):
    """p-value share of the test inliers, and ``predict_fdr`` over the test rows."""
    pvalues = estimator.predict_pvalues(X_test)
    discovered = estimator.predict_fdr(X_test, alpha=ALPHA) == -1
    false = int(np.sum(discovered & ~outlier))
    return {
        "n_calibration": int(estimator.calibration_scores_.size),
        "inliers_p_level": _share(pvalues[~outlier] <= P_LEVEL),
        "n_discoveries": int(discovered.sum()),
        "fdr": false / max(int(discovered.sum()), 1),
        "fdr_power": _share(discovered[outlier]),
    }


# ------------------------------------------------------------------ run
def _regime_methods(regime, methods):
    """The methods a regime runs: every form on clean rows, the ``auto``
    and conformal ones with outliers among the training rows."""
    kinds = KINDS if regime == "clean" else CONTAMINATED_KINDS
    return [m for (_, kind), m in methods.items() if kind in kinds]


def _describe(regime, record):
    if record["error"]:
        return f"ERROR {record['error']}"
    if "inliers_flagged" not in record:
        return (f"inliers with p <= {P_LEVEL}: {record['inliers_p_level']:.3f}, "
                f"FDR {record['fdr']:.3f}, power {record['fdr_power']:.3f}")
    return f"inliers flagged {record['inliers_flagged']:.3f}, outliers {record['outliers_flagged']:.3f}"


# ------------------------------------------------------------------ report
def _means(store, regime, tables, method, seeds, metric):
    """``{table: mean over seeds}`` of ``metric`` for the tables where every
    seed is stored (``nan`` where a run failed or the metric is undefined)."""
    values = collect(store, regime, tables, [method], seeds, metric)
    return {t: float(np.mean(row[method.name])) for t, row in values.items()
            if len(row[method.name]) == len(seeds)}


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fmt(value):
    return "failed" if value is None or np.isnan(value) else f"{value:.3f}"


def _table(title, tables, columns):
    """Print a markdown table: one row per table, one column per
    ``(label, [per-table means, ...])``, the means joined by " / " (``None``
    for a form the method does not have, shown as "-"), and a row of means
    over the tables that every column has."""
    print(f"\n{title}\n")
    print("| table | " + " | ".join(label for label, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    shown = [t for t in tables if any(m is not None and t in m for _, ms in columns for m in ms)]
    for table in shown:
        cells = [" / ".join("-" if m is None else _fmt(m.get(table)) for m in ms)
                 for _, ms in columns]
        print(f"| {table} | " + " | ".join(cells) + " |")
    complete = [t for t in shown
                if all(m is None or t in m for _, ms in columns for m in ms)]
    cells = [" / ".join("-" if m is None else
                        _fmt(np.nanmean([m[t] for t in complete]) if complete else None)
                        for m in ms) for _, ms in columns]
    label = f"mean ({_count(len(complete), 'table')})"
    print(f"| {label} | " + " | ".join(f"**{c}**" for c in cells) + " |")
    return complete


def report(store, regime, tables, methods, seeds):
    """Print one regime's tables; return ``{metric: {method: {table: mean}}}``."""
    bases = sorted({b for b, _ in methods}, key=BASES.index)
    kinds = KINDS if regime == "clean" else CONTAMINATED_KINDS
    flagging = tuple(k for k in kinds if k != "pvalues")
    tested = tuple(k for k in ("conformal", "pvalues", "heldout") if k in kinds)
    metrics = {"inliers_flagged": flagging, "outliers_flagged": flagging, "fit_seconds": flagging,
               "n_test_inliers": kinds, "inliers_p_level": tested, "n_calibration": tested,
               "fdr": tested, "fdr_power": tested, "roc_auc": flagging}
    means = {metric: {(b, k): _means(store, regime, tables, methods[b, k], seeds, metric)
                      for b in bases for k in metric_kinds if (b, k) in methods}
             for metric, metric_kinds in metrics.items()}
    leveled = [k for k in flagging if k != "auto"]
    label = " / ".join(leveled)
    print(f"\n### {REGIMES[regime]}, mean over seeds {list(seeds)}")
    _table(f"Share of test inliers flagged by predict at level {CONTAMINATION} ({label})",
           tables, [(b, [means["inliers_flagged"].get((b, k)) for k in leveled]) for b in bases])
    _table(f"Share of test outliers flagged by predict at level {CONTAMINATION} ({label})",
           tables, [(b, [means["outliers_flagged"].get((b, k)) for k in leveled]) for b in bases])
    _table("contamination='auto': share of test inliers / outliers flagged by predict",
           tables, [(b, [means["inliers_flagged"][b, "auto"], means["outliers_flagged"][b, "auto"]])
                    for b in bases])
    for kind, title in (("conformal", "ConformalOutlierDetector"),
                        ("pvalues", "the detector's own p-values (training scores)"),
                        ("heldout", f"the detector's own p-values (calibration_size={HELD_OUT})")):
        if kind not in tested:
            continue
        have = [b for b in bases if (b, kind) in methods]
        _table(f"{title}: share of test inliers with p <= {P_LEVEL}", tables,
               [(b, [means["inliers_p_level"][b, kind]]) for b in have])
        _table(f"{title}, predict_fdr at alpha={ALPHA} over the test rows: false discovery "
               "rate / power", tables,
               [(b, [means["fdr"][b, kind], means["fdr_power"][b, kind]]) for b in have])
    _table(f"Fit time in seconds ({label})", tables,
           [(b, [means["fit_seconds"].get((b, k)) for k in leveled]) for b in bases])
    if "heldout" in kinds:
        have = [b for b in bases if (b, "heldout") in methods]
        _table(f"ROC-AUC of the test rows: trained on every row / on all but "
               f"calibration_size={HELD_OUT}", tables,
               [(b, [means["roc_auc"][b, k] for k in ("own", "heldout") if k in kinds])
                for b in have])
    return means


def _share_se(n_calibration, n_inliers, level, n_seeds=1):
    """Standard error of the mean over tables (and seeds) of the share of test
    inliers with ``p <= level``, were the p-values valid.

    Given its ``n`` calibration rows, the share of new inliers a
    split-conformal test flags is ``F ~ Beta(k, n + 1 - k)`` with
    ``k = floor(level * (n + 1))`` (Bates et al. 2023, for continuous
    scores); ``m`` test inliers add binomial noise. A table's share has
    variance ``Var F + E[F (1 - F)] / m``."""
    variances = []
    for n, m in zip(n_calibration, n_inliers):
        n = int(round(n))
        k = max(int(np.floor(level * (n + 1))), 1)
        a, b = k, n + 1 - k
        mean = a / (a + b)
        var_f = a * b / ((a + b) ** 2 * (a + b + 1))
        variances.append(var_f + (mean * (1 - mean) - var_f) / max(m, 1))
    return float(np.sqrt(np.sum(variances) / n_seeds) / len(variances))


def _ratio(means, base, kind, tables):
    """Fit time of the ``kind`` form over the own form's, summed over ``tables``."""
    own = sum(means["fit_seconds"][base, "own"][t] for t in tables)
    other = sum(means["fit_seconds"][base, kind][t] for t in tables)
    return other / own if own else np.nan


def _verdict(ok, text):
    return f"- {'met' if ok else 'NOT met'}: {text}"


def targets(results, methods, seeds=(0,)):
    """The targets of the conformal thresholds, each met or not, and the
    same figures for the detectors' own thresholds, for comparison."""
    if "clean" not in results:
        return []
    means = results["clean"]
    lines = []
    for base in sorted({b for b, _ in methods}, key=BASES.index):
        conformal_rates = means["inliers_flagged"].get((base, "conformal"), {})
        own_rates = means["inliers_flagged"].get((base, "own"), {})
        tables = [t for t in conformal_rates
                  if t in own_rates and not np.isnan(conformal_rates[t])]
        if not tables:
            continue
        for kind in ("conformal", "heldout"):
            rates = means["inliers_flagged"].get((base, kind), {})
            if not all(t in rates for t in tables):
                continue
            mean = np.nanmean([rates[t] for t in tables])
            lo, hi = TARGET_RATE
            lines.append(_verdict(lo <= mean <= hi, f"{base} {kind}: mean share of test inliers "
                                  f"flagged {mean:.3f} in [{lo}, {hi}] "
                                  f"({_count(len(tables), 'table')}; own threshold "
                                  f"{np.nanmean([own_rates[t] for t in tables]):.3f})"))
            large = [t for t in tables if means["n_test_inliers"][base, kind][t] >= MIN_INLIERS]
            over = [t for t in large if rates[t] > TARGET_TABLE_RATE]
            own_over = [t for t in large if own_rates[t] > TARGET_TABLE_RATE]
            worst = max(large, key=rates.get) if large else None
            lines.append(_verdict(not over, f"{base} {kind}: at most {TARGET_TABLE_RATE} on the "
                                  f"{_count(len(large), 'table')} with >= {MIN_INLIERS} test "
                                  "inliers"
                                  + (f" (highest: {worst} {rates[worst]:.3f})" if worst else "")
                                  + (f"; above: {', '.join(over)}" if over else "")
                                  + f"; own threshold above on {len(own_over)}"
                                  + (f" ({', '.join(own_over)})" if own_over else "")))
        for kind in ("conformal", "pvalues", "heldout"):
            shares = means["inliers_p_level"].get((base, kind), {})
            if not all(t in shares for t in tables):
                continue
            share = np.nanmean([shares[t] for t in tables])
            fdr = np.nanmean([means["fdr"][base, kind][t] for t in tables])
            power = np.nanmean([means["fdr_power"][base, kind][t] for t in tables])
            slack = 2 * _share_se([means["n_calibration"][base, kind][t] for t in tables],
                                  [means["n_test_inliers"][base, kind][t] for t in tables],
                                  P_LEVEL, n_seeds=len(seeds))
            lines.append(_verdict(share <= P_LEVEL + slack,
                                  f"{base} {kind}: mean share of test inliers with p <= "
                                  f"{P_LEVEL} {share:.3f} <= {P_LEVEL} + {slack:.3f} (two "
                                  "standard errors of valid p-values)"))
            lines.append(_verdict(fdr <= ALPHA, f"{base} {kind}: mean false discovery rate "
                                  f"{fdr:.3f} <= alpha={ALPHA} (power {power:.3f})"))
        for kind in ("conformal", "heldout"):
            if not all(t in means["fit_seconds"].get((base, kind), {}) for t in tables):
                continue
            ratio = _ratio(means, base, kind, tables)
            lines.append(_verdict(ratio <= TARGET_TIME_RATIO, f"{base} {kind}: fit time "
                                  f"{ratio:.2f} x the default fit's (at most {TARGET_TIME_RATIO})"))
    if lines:
        print("\n### Targets (clean regime)\n")
        print("\n".join(lines))
    return lines


def run(quick=False, protocols=tuple(REGIMES), tables=None, methods=None):
    """Measure what the store lacks for ``protocols`` (``"clean"``, ``"U"``)
    x ``tables`` (default all; with ``quick``, the quality benchmark's
    ``QUICK_TABLES``) x ``methods`` (the names of ``BASES``; default
    all) x seeds, then print every table and the targets."""
    seeds = (0,) if quick else SEEDS
    store = Store(RESULTS / f"calibration{'_quick' if quick else ''}.jsonl")
    chosen = methods_for(methods)
    if tables is None and quick:
        tables = quality.QUICK_TABLES
    tables = [t for t in data.ADBENCH if tables is None or t in tables]
    regimes = [r for r in REGIMES if r in protocols]
    start = time.perf_counter()
    quality.compute(store, regimes, tables, chosen, seeds, quick, measure=_measure,
                    methods_for=_regime_methods, describe=_describe)
    results = {regime: report(store, regime, tables, chosen, seeds) for regime in regimes}
    verdicts = targets(results, chosen, seeds)
    elapsed = time.perf_counter() - start
    print(f"\nTotal time: {elapsed / 60:.1f} min; store: {store.path}")
    return {
        "seeds": list(seeds),
        "targets": verdicts,
        "means": {regime: {metric: {" ".join(key): by_table for key, by_table in by.items()}
                           for metric, by in res.items()} for regime, res in results.items()},
        "seconds": elapsed,
        "sklearn_daml": sklearn_daml.__version__,
    }

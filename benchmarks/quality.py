"""Detection quality on 31 ADBench tables, beside the field's baselines.

Protocol U (as ADBench): stratified 70/30 split (``random_state=seed``);
``StandardScaler`` fitted on the rows the method is fitted on; ROC-AUC and
average precision of ``-score_samples`` on the test rows. Two regimes share
the split and the test rows: ``U`` (contaminated) fits on every training
row, outliers included (labels unused); ``clean`` fits on the inlier
training rows only. A table with more than ``MAX_ROWS`` rows is first
replaced by a stratified sample of ``MAX_ROWS`` rows (``random_state=0``,
the same for every seed), so that no fit sees more than 9,800 rows.

Protocol D (the DAGMM paper, Zong et al. 2018): the inliers are split 50/50;
the detector is fitted on one half (inliers only, min-max scaled on that
half); the test set is the other half plus every outlier; the ``k`` highest
outlier scores are flagged, with ``k`` the number of test outliers; the
precision, recall and F1 of the outlier class are reported (with this ``k``
the three are equal, as in the paper's tables).

Methods: the four tabular detectors with their defaults and
``random_state=seed``, and four baselines from scikit-learn (benchmark only):
``IsolationForest``, the distance to the 5th nearest training row (as
ADBench's KNN), ``LocalOutlierFactor(novelty=True)`` and PCA's
reconstruction error with the components for 90% of the variance.
``Seq2SeqOutlierDetector`` needs sequences and the PixelCNN/LLR detectors
images on an integer grid, so a row of a standardized table is not an input
they model. ``--variant NAME=METHOD:param=value,...`` adds a detector with
changed parameters, for comparing a candidate default on the same splits.
``--quick`` is a smoke run in minutes: seed 0, the ``QUICK_TABLES`` and Protocol
D's tables, each sampled to ``QUICK_MAX_ROWS`` rows.

Every result is stored as one JSON line per (regime, table, seed, method) in
``benchmarks/results/quality.jsonl`` (``quality_quick.jsonl`` for
``--quick``) as soon as it is measured, with a key: the hash of the method's
parameters, of the docstring-free source of the package modules it runs
(for a detector, its module and every package module that one imports) and
of the protocol. A run computes only the entries whose key is not stored, so
it can be split (``--table``, ``--method``, ``--protocol``), interrupted and
resumed, and a changed detector recomputes only its own entries; the tables
are assembled from the store (``--report`` prints them without fitting).
"""

import ast
import functools
import hashlib
import importlib.util
import inspect
import json
import re
import time
from pathlib import Path

import numpy as np
import scipy.stats
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import sklearn_daml
from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

from . import baselines, data
from .baselines import KNNDistance, PCAReconstruction

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2)
# a larger table is replaced by a stratified sample of this many rows (70% of
# it, 9,800 rows, are the training rows)
MAX_ROWS = 14_000
# the quick run (one seed) samples every larger table to this many rows and
# runs these tables of Protocol U (a spread of sizes and widths, 6 to 1,555
# features): a smoke run of the whole protocol in minutes, not a measurement
QUICK_MAX_ROWS = 1000
QUICK_TABLES = [
    "annthyroid", "cardio", "glass", "InternetAds", "letter", "magic.gamma", "mnist",
    "pendigits", "satellite", "shuttle", "thyroid", "wine",
]
# the k of the k-th nearest-neighbour distance (ADBench's KNN)
KNN_K = 5
# the package modules that cannot change a detector's scores (saving, Dask,
# thresholds): the benchmark measures score_samples on NumPy arrays, so their
# source is left out of the detectors' keys
NOT_SCORED = {"sklearn_daml._persistence", "sklearn_daml._dask", "sklearn_daml._thresholds"}
# F1 of DAGMM in Zong et al. (2018), Table 2
PAPER_F1 = {"kddcup": 0.9369, "thyroid": 0.4766, "arrhythmia": 0.4983}


BASELINES = {
    "IsolationForest": lambda seed: IsolationForest(random_state=seed),
    "kNN": lambda seed: KNNDistance(k=KNN_K),
    "LOF": lambda seed: LocalOutlierFactor(novelty=True),
    "PCA": lambda seed: PCAReconstruction(variance=0.9),
}
DETECTORS = {
    "AE": AEOutlierDetector,
    "VAE": VAEOutlierDetector,
    "AEGMM": AEGMMOutlierDetector,
    "VAEGMM": VAEGMMOutlierDetector,
}
PROTOCOL_D_TABLES = ["kddcup", "thyroid", "arrhythmia"]
# the methods Protocol D runs (the neighbour baselines on KDDCUP's 200,000
# test rows would dominate the run)
PROTOCOL_D_METHODS = ["IsolationForest", *DETECTORS]
REGIMES = {
    "U": "Protocol U, contaminated regime (fitted with the outliers in)",
    "clean": "Protocol U, clean regime (fitted on the inliers only)",
    "D": "Protocol D (DAGMM paper)",
}


# ------------------------------------------------------------------ methods
class Method:
    """A method of the benchmark: ``make(seed)`` gives a fresh estimator
    with ``fit(X)`` and ``score_samples(X)`` (higher = more normal)."""

    def __init__(self, name, make, key_parts, detector=False):
        self.name, self.make, self.detector = name, make, detector
        self.key = _digest(*key_parts)


def _digest(*parts):
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _without_docstrings(source):
    """The module's syntax tree as text, without docstrings or comments:
    what runs, so that editing documentation keeps the stored results."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list) and body and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _imported_modules(name, tree):
    """The package modules ``tree`` (the module ``name``) imports."""
    package = name if importlib.util.find_spec(name).submodule_search_locations else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if _is_module(sub) else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module.startswith("sklearn_daml")}


def _is_module(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache
def package_sources(module):
    """The docstring-free source of ``module`` and of every package module it
    imports, transitively (but ``NOT_SCORED``), as ``{module: text}``."""
    sources, todo = {}, [module]
    while todo:
        name = todo.pop()
        if name in sources:
            continue
        source = Path(importlib.util.find_spec(name).origin).read_text()
        sources[name] = _without_docstrings(source)
        todo.extend(_imported_modules(name, ast.parse(source)) - set(sources) - NOT_SCORED)
    return dict(sorted(sources.items()))


def _versions():
    import keras
    import tensorflow as tf

    return np.__version__, sklearn.__version__, tf.__version__, keras.__version__


def detector_method(name, base, params=None):
    """A detector (``base``, a key of ``DETECTORS``) with ``params`` changed
    from its defaults."""
    cls, params = DETECTORS[base], dict(params or {})
    defaults = cls(**params).get_params(deep=False)
    return Method(
        name,
        lambda seed: cls(**{**params, "random_state": seed}),
        (sorted((k, repr(v)) for k, v in defaults.items() if k != "random_state"),
         package_sources(cls.__module__), _versions()),
        detector=True,
    )


def baseline_method(name):
    """A baseline, keyed by its construction and its class's source (for
    the classes of :mod:`benchmarks.baselines`)."""
    make = BASELINES[name]
    cls = type(make(0))
    source = inspect.getsource(cls) if cls.__module__ == baselines.__name__ else cls.__module__
    return Method(name, make, (inspect.getsource(make), source, KNN_K, np.__version__, sklearn.__version__))


def parse_variant(spec):
    """``NAME=METHOD:param=value,param=value`` (values as Python literals)."""
    name, _, rest = spec.partition("=")
    base, _, assignments = rest.partition(":")
    if not name or base not in DETECTORS:
        raise SystemExit(f"--variant {spec!r}: expected NAME=METHOD:param=value,... with METHOD in {list(DETECTORS)}")
    params = {}
    for item in filter(None, re.split(r",(?=\s*\w+=)", assignments)):
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return detector_method(name, base, params)


# ------------------------------------------------------------------ protocol
def load_table(name, quick):
    """The table ``name`` (``None`` when its file is absent), larger ones
    replaced by a stratified sample (of ``MAX_ROWS`` rows, or
    ``QUICK_MAX_ROWS`` for the quick run)."""
    if name == "kddcup":
        loaded = data.kddcup(scale=False)
    elif name == "arrhythmia":
        loaded = data.arrhythmia()
    else:
        loaded = data.adbench(name)
    limit = QUICK_MAX_ROWS if quick else (None if name == "kddcup" else MAX_ROWS)
    if loaded is not None and limit is not None and len(loaded[1]) > limit:
        X, y = loaded
        keep = train_test_split(np.arange(len(y)), train_size=limit, stratify=y, random_state=0)[0]
        loaded = X[np.sort(keep)], y[np.sort(keep)]
    return loaded


def protocol_u_split(X, y, seed, clean):
    """``(X_fit, X_test, y_test)``, scaled on ``X_fit``."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    if clean:
        X_train = X_train[y_train == 0]
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test


def protocol_d_split(X, y, seed):
    """Protocol D's rows: ``(X_fit, X_test, y_test)``, a random half of the
    inliers to fit on, min-max scaled on itself, and the other half plus every
    outlier to test on, scaled the same way."""
    inliers = np.random.RandomState(seed).permutation(np.flatnonzero(y == 0))
    half = len(inliers) // 2
    test = np.concatenate([inliers[half:], np.flatnonzero(y == 1)])
    scaler = MinMaxScaler().fit(X[inliers[:half]])
    return scaler.transform(X[inliers[:half]]), scaler.transform(X[test]), y[test]


def split(regime, X, y, seed):
    if regime == "D":
        return protocol_d_split(X, y, seed)
    return protocol_u_split(X, y, seed, clean=regime == "clean")


PROTOCOL_KEY = _digest(
    inspect.getsource(load_table), inspect.getsource(protocol_u_split),
    inspect.getsource(protocol_d_split), MAX_ROWS, QUICK_MAX_ROWS,
)


def f1_at_k(y_test, scores):
    """Share of outliers among the ``k`` highest ``scores``, ``k`` the number
    of test outliers: with ``k`` rows flagged and ``k`` outliers, precision,
    recall and F1 are this one number."""
    k = int(y_test.sum())
    flagged = np.argsort(-scores, kind="stable")[:k]
    return int(y_test[flagged].sum()) / k


def measure(method, seed, X_fit, X_test, y_test):
    """Fit a fresh estimator, score the test rows: the stored record."""
    estimator = method.make(seed)
    start = time.perf_counter()
    try:
        estimator.fit(X_fit)
        fit_seconds = time.perf_counter() - start
        scores = -estimator.score_samples(X_test)
        error = None
    except Exception as exc:  # a failed run is a result, not a crash
        fit_seconds, scores, error = time.perf_counter() - start, None, f"{type(exc).__name__}: {exc}"
    record = {"fit_seconds": fit_seconds, "n_fit": len(X_fit), "n_test": len(y_test), "error": error}
    nonfinite = len(y_test) if scores is None else int(np.sum(~np.isfinite(scores)))
    record["nonfinite"] = nonfinite
    ok = nonfinite == 0
    record["roc_auc"] = float(roc_auc_score(y_test, scores)) if ok else None
    record["average_precision"] = float(average_precision_score(y_test, scores)) if ok else None
    record["f1"] = f1_at_k(y_test, scores) if ok else None
    return record


# ------------------------------------------------------------------ store
class Store:
    """JSON lines, one per measured (regime, table, seed, method, key); a
    later line replaces an earlier one with the same identity."""

    def __init__(self, path):
        self.path = Path(path)
        self.entries = {}
        self.refresh()

    def refresh(self):
        """Read the file again: what other runs (the parts of a split run)
        have stored meanwhile."""
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self.entries[self._identity(entry)] = entry

    @staticmethod
    def _identity(entry):
        return entry["regime"], entry["table"], entry["seed"], entry["method"], entry["key"]

    def get(self, regime, table, seed, method):
        return self.entries.get((regime, table, seed, method.name, method.key + PROTOCOL_KEY))

    def add(self, regime, table, seed, method, record):
        self.append({"regime": regime, "table": table, "seed": seed, "method": method.name,
                     "key": method.key + PROTOCOL_KEY, **record})

    def append(self, entry):
        """Store a whole entry (identity fields included) as it is."""
        self.entries[self._identity(entry)] = entry
        self.path.parent.mkdir(exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")


# ------------------------------------------------------------------ run
def _regime_tables(regime, tables):
    if regime == "D":
        return [t for t in PROTOCOL_D_TABLES if tables is None or t in tables]
    return [t for t in data.ADBENCH if tables is None or t in tables]


def _chosen_tables(tables, quick):
    """``tables``, or by default every table (``QUICK_TABLES`` and the
    Protocol D tables for the quick run)."""
    if tables is None and quick:
        return [*QUICK_TABLES, *PROTOCOL_D_TABLES]
    return tables


def _regime_methods(regime, methods):
    if regime != "D":
        return methods
    return [m for m in methods if m.name in PROTOCOL_D_METHODS or m.name not in {*BASELINES, *DETECTORS}]


def _describe(regime, record):
    """The printed result of one measurement."""
    metric = record["f1" if regime == "D" else "roc_auc"]
    shown = "failed" if metric is None else f"{metric:.3f}"
    return shown + (f" ERROR {record['error']}" if record["error"] else "")


def compute(store, regimes, tables, methods, seeds, quick, measure=measure,
            methods_for=_regime_methods, describe=_describe):
    """Measure every entry of the run that the store lacks: for each regime,
    table and seed, ``measure(method, seed, X_fit, X_test, y_test)`` of the
    methods that ``methods_for(regime, methods)`` runs; ``describe(regime,
    record)`` is what is printed of it."""
    for regime in regimes:
        for table in _regime_tables(regime, tables):
            store.refresh()
            todo = [(seed, m) for seed in seeds for m in methods_for(regime, methods)
                    if store.get(regime, table, seed, m) is None]
            if not todo:
                continue
            loaded = load_table(table, quick)
            if loaded is None:
                continue
            splits = {}
            for seed, method in todo:
                if seed not in splits:
                    splits[seed] = split(regime, *loaded, seed)
                record = measure(method, seed, *splits[seed])
                store.add(regime, table, seed, method, record)
                print(f"  {regime:5s} {table:16s} {method.name:16s} seed {seed}: "
                      f"{describe(regime, record)} ({record['fit_seconds']:.1f} s)", flush=True)


# ------------------------------------------------------------------ report
def collect(store, regime, tables, methods, seeds, metric):
    """``{table: {method: [values per seed]}}`` of the stored entries
    (``nan`` for a failed run; a missing entry is left out)."""
    out = {}
    for table in _regime_tables(regime, tables):
        row = {}
        for method in _regime_methods(regime, methods):
            values = []
            for seed in seeds:
                entry = store.get(regime, table, seed, method)
                if entry is not None:
                    values.append(np.nan if entry[metric] is None else entry[metric])
            if values:
                row[method.name] = values
        if row:
            out[table] = row
    return out


def _complete(values_by_table, names, n_seeds):
    """The tables where every one of ``names`` has all its seeds."""
    return [t for t, row in values_by_table.items()
            if all(len(row.get(n, [])) == n_seeds for n in names)]


def summary(values_by_table, names, n_seeds):
    """Per-method summaries over the tables where every method ran every
    seed: mean, average rank (1 = best, as ADBench: ranks of the per-table
    means, ties averaged), largest seed std, and the per-table means."""
    tables = _complete(values_by_table, names, n_seeds)
    means = np.array([[np.mean(values_by_table[t][n]) for n in names] for t in tables]).reshape(len(tables), len(names))
    stds = np.array([[np.std(values_by_table[t][n]) for n in names] for t in tables]).reshape(len(tables), len(names))
    ranks = np.vstack([scipy.stats.rankdata(-np.nan_to_num(row, nan=-np.inf)) for row in means]) if tables else means
    return {
        "tables": tables,
        "means": means,
        "stds": stds,
        "mean": dict(zip(names, means.mean(axis=0) if tables else [np.nan] * len(names))),
        "rank": dict(zip(names, ranks.mean(axis=0) if tables else [np.nan] * len(names))),
        "max_std": dict(zip(names, stds.max(axis=0) if tables else [np.nan] * len(names))),
    }


def _cell(values):
    values = np.asarray(values, dtype=float)
    if np.any(np.isnan(values)):
        return "failed"
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def _below(summary_, names, detector, reference, margin):
    """Tables where ``detector``'s mean is more than ``margin`` below
    ``reference`` (a method name, or a list: the best of them per table)."""
    refs = [reference] if isinstance(reference, str) else reference
    col = {n: i for i, n in enumerate(names)}
    best = summary_["means"][:, [col[r] for r in refs]].max(axis=1)
    mine = summary_["means"][:, col[detector]]
    return [t for t, m, b in zip(summary_["tables"], mine, best) if m < b - margin]


def _table_text(values_by_table, names, seeds, metric_summary, footer):
    lines = ["| table | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for table, row in values_by_table.items():
        lines.append(f"| {table} | " + " | ".join(_cell(row[n]) if n in row else "" for n in names) + " |")
    for label, fn in footer:
        lines.append(f"| {label} | " + " | ".join(fn(n) for n in names) + " |")
    return "\n".join(lines)


def _fit_seconds(store, regime, tables, method, seeds):
    values = [e["fit_seconds"] for t in tables for s in seeds
              for e in [store.get(regime, t, s, method)] if e is not None]
    return np.mean(values) if values else np.nan


def report(store, regime, tables, methods, seeds):
    """Print one regime's tables from the store; return its summaries."""
    names = [m.name for m in _regime_methods(regime, methods)]
    by_name = {m.name: m for m in methods}
    print(f"\n### {REGIMES[regime]}", flush=True)
    if regime == "D":
        values = collect(store, regime, tables, methods, seeds, "f1")
        print("\nF1 of the outlier class (= precision = recall), mean ± std over seeds\n")
        print(_table_text(values, names, seeds, None, [
            ("mean fit time (s)", lambda n: f"{_fit_seconds(store, regime, list(values), by_name[n], seeds):.1f}"),
        ]))
        print("\nDAGMM paper: " + ", ".join(f"{t} {PAPER_F1[t]:.3f}" for t in PROTOCOL_D_TABLES))
        return {}
    results = {}
    for metric, label in [("roc_auc", "ROC-AUC"), ("average_precision", "average precision")]:
        values = collect(store, regime, tables, methods, seeds, metric)
        s = summary(values, names, len(seeds))
        results[metric] = s
        detectors = [n for n in names if by_name[n].detector]
        baselines = [n for n in names if n in BASELINES]
        footer = [
            (f"mean ({len(s['tables'])} tables)", lambda n: f"**{s['mean'][n]:.3f}**"),
            ("average rank", lambda n: f"{s['rank'][n]:.2f}"),
            ("largest seed std", lambda n: f"{s['max_std'][n]:.3f}" if len(seeds) > 1 else ""),
        ]
        if all(b in names for b in BASELINES):
            footer += [
                ("tables > 0.05 below the best baseline",
                 lambda n: str(len(_below(s, names, n, baselines, 0.05))) if n in detectors else ""),
                ("tables > 0.10 below IsolationForest",
                 lambda n: str(len(_below(s, names, n, "IsolationForest", 0.10))) if n in detectors else ""),
            ]
        if metric == "roc_auc":
            footer.append(("mean fit time (s)",
                           lambda n: f"{_fit_seconds(store, regime, s['tables'], by_name[n], seeds):.1f}"))
        print(f"\n{label}, mean ± std over seeds {list(seeds)}\n")
        print(_table_text(values, names, seeds, s, footer), flush=True)
    return results


def _verdict(ok, text):
    return f"- {'met' if ok else 'NOT met'}: {text}"


def targets(results, methods, seeds):
    """The targets of the defaults, each met or not, with its margin: the
    best detector against the strongest baselines, each detector against
    its own reference, the best average rank, the losses to
    IsolationForest, the spread over seeds."""
    detectors = [m.name for m in methods if m.detector and m.name in DETECTORS]
    lines = []
    if not detectors:
        return lines
    for regime, label in [("clean", "clean"), ("U", "contaminated")]:
        if regime not in results:
            continue
        roc, ap = results[regime]["roc_auc"], results[regime]["average_precision"]
        if not roc["tables"] or any(n not in roc["mean"] for n in [*BASELINES, *detectors]):
            continue
        best_roc = max(detectors, key=lambda n: roc["mean"][n])
        best_ap = max(detectors, key=lambda n: ap["mean"][n])
        refs = ["kNN"] if regime == "clean" else ["IsolationForest", "kNN"]
        ref_roc = max(roc["mean"][r] for r in refs)
        ref_ap = max(ap["mean"][r] for r in refs)
        ref_label = "kNN" if regime == "clean" else "max(IsolationForest, kNN)"
        lines.append(_verdict(roc["mean"][best_roc] >= ref_roc,
                              f"{label}: best detector's ROC-AUC ({best_roc} {roc['mean'][best_roc]:.3f}) >= {ref_label} ({ref_roc:.3f}), margin {roc['mean'][best_roc] - ref_roc:+.3f}"))
        lines.append(_verdict(ap["mean"][best_ap] >= ref_ap,
                              f"{label}: best detector's AP ({best_ap} {ap['mean'][best_ap]:.3f}) >= {ref_label} ({ref_ap:.3f}), margin {ap['mean'][best_ap] - ref_ap:+.3f}"))
        if regime == "clean":
            pairs = [(d, "PCA") for d in ("AE", "VAE")] + [(d, "AE") for d in ("AEGMM", "VAEGMM")]
        else:
            pairs = [(d, "IsolationForest") for d in detectors]
        for det, ref in pairs:
            if det in roc["mean"] and ref in roc["mean"]:
                margin = roc["mean"][det] - roc["mean"][ref]
                lines.append(_verdict(margin >= 0, f"{label}: {det} ROC-AUC ({roc['mean'][det]:.3f}) >= {ref} ({roc['mean'][ref]:.3f}), margin {margin:+.3f}"))
        best_rank = min(roc["rank"], key=roc["rank"].get)
        lines.append(_verdict(best_rank in detectors,
                              f"{label}: best average rank is a detector's (best: {best_rank} {roc['rank'][best_rank]:.2f}; best detector {min(detectors, key=roc['rank'].get)} {min(roc['rank'][d] for d in detectors):.2f})"))
        names = list(roc["mean"])
        for det in detectors:
            losses = _below(roc, names, det, "IsolationForest", 0.10)
            lines.append(_verdict(len(losses) <= 2, f"{label}: {det} more than 0.10 below IsolationForest on {len(losses)} tables (at most 2){': ' + ', '.join(losses) if losses else ''}"))
            std = roc["max_std"][det]
            if len(seeds) > 1:
                spread = [t for t, v in zip(roc["tables"], roc["stds"][:, names.index(det)]) if v > 0.03]
                lines.append(_verdict(std <= 0.03, f"{label}: {det} largest seed std {std:.3f} (at most 0.03; above on {len(spread)} tables{': ' + ', '.join(spread) if spread else ''})"))
    if lines:
        print("\n### Targets (ROC-AUC unless stated)\n")
        print("\n".join(lines))
    return lines


def run(quick=False, protocols=tuple(REGIMES), tables=None, methods=None, variants=(), report_only=False):
    """Measure what the store lacks for ``protocols`` x ``tables`` x
    ``methods`` (names; default all) x seeds, then print every table."""
    seeds = (0,) if quick else SEEDS
    tables = _chosen_tables(tables, quick)
    store = Store(RESULTS / f"quality{'_quick' if quick else ''}.jsonl")
    chosen = [baseline_method(n) for n in BASELINES] + [detector_method(n, n) for n in DETECTORS]
    if methods:
        unknown = set(methods) - {m.name for m in chosen}
        if unknown:
            raise SystemExit(f"unknown --method {sorted(unknown)}; choose from {[m.name for m in chosen]}")
        chosen = [m for m in chosen if m.name in methods]
    chosen += [parse_variant(v) for v in variants]
    start = time.perf_counter()
    if not report_only:
        compute(store, protocols, tables, chosen, seeds, quick)
    results = {}
    for regime in protocols:
        results[regime] = report(store, regime, tables, chosen, seeds)
    verdicts = targets(results, chosen, seeds)
    elapsed = time.perf_counter() - start
    print(f"\nTotal time: {elapsed / 60:.1f} min; store: {store.path}")
    return {
        "seeds": list(seeds),
        "targets": verdicts,
        "means": {r: {m: s["mean"] for m, s in res.items()} for r, res in results.items()},
        "ranks": {r: {m: s["rank"] for m, s in res.items()} for r, res in results.items()},
        "seconds": elapsed,
        "sklearn_daml": sklearn_daml.__version__,
    }

"""Seq2Seq beside window baselines on NAB series and generated series.

Data: the three NAB series of ``../shared/data/nab`` (machine temperature,
ambient temperature, NYC taxi; realKnownCause) with NAB's labelled anomaly
windows, and the generated development set of
:func:`benchmarks.series_generator.development_set` (seed 0: 28 series of
3,000 steps, every anomaly type on the bases where it means something).

Each series is standardized over its whole length (no label enters) and cut
into windows of ``SEQ_LEN`` steps every ``STEP`` steps
(:func:`~sklearn_daml.timeseries.sliding_windows`). Every method fits on
every window (the anomalies included, unlabelled) with ``random_state=seed``
where it has one, and scores the same windows:

- ``Seq2SeqOutlierDetector`` with its defaults, on the windows;
- ``IsolationForest`` with its defaults, on the flattened windows;
- kNN: the distance of a flattened window to its 5th nearest other window
  (scikit-learn's ``NearestNeighbors``, Euclidean);
- PCA: the squared error of a flattened window's reconstruction from the
  principal components that explain 90% of the windows' variance (TSB-AD's
  Sub-PCA fits PCA on sliding windows too, but keeps every component and
  scores PyOD's variance-weighted distances to them).

Window outlier scores (``-score_samples``) map to time steps with
:func:`~sklearn_daml.timeseries.timestep_scores` (the maximum over the
windows covering a step); the steps that no window covers (the tail) are
left out. On each series :mod:`benchmarks.ts_metrics` gives VUS-PR and
VUS-ROC (TSB-AD's computation, 250 thresholds, buffers ``0..SEQ_LEN``: the
window length, as TSB-AD passes its detectors' window), the best range-based
F1 over 100 thresholds (TSB-AD's R-based F1), and the point-wise ROC-AUC and
average precision.

``run(baselines_only=True)`` leaves out Seq2Seq (minutes per fit); the
baselines take seconds.
"""

import csv
import json
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from sklearn_daml import Seq2SeqOutlierDetector
from sklearn_daml.timeseries import sliding_windows, timestep_scores

from . import ts_metrics
from .baselines import KNNDistance, PCAReconstruction
from .data import DATA_DIR
from .series_generator import development_set

NAB_DIR = DATA_DIR / "nab"
SERIES = {
    "machine temperature": "machine_temperature_system_failure.csv",
    "ambient temperature": "ambient_temperature_system_failure.csv",
    "NYC taxi": "nyc_taxi.csv",
}
SEQ_LEN = 48
STEP = 24
KNN_K = 5
PCA_VARIANCE = 0.9
MEASURES = {
    "vus_pr": "VUS-PR",
    "vus_roc": "VUS-ROC",
    "range_f1": "range-F1",
    "roc_auc": "point-wise ROC-AUC",
    "average_precision": "point-wise AP",
}
TABLE_MEASURES = ("vus_pr", "vus_roc", "range_f1", "roc_auc")


DETECTORS = {
    "IsolationForest": lambda seed: IsolationForest(random_state=seed),
    "kNN": lambda seed: KNNDistance(k=KNN_K, exclude_self=True),
    "PCA": lambda seed: PCAReconstruction(variance=PCA_VARIANCE),
    "Seq2Seq": lambda seed: Seq2SeqOutlierDetector(random_state=seed),
}
BASELINES = ("IsolationForest", "kNN", "PCA")


def load_nab(file_name, data_dir=NAB_DIR):
    """``(values, labels)`` of one NAB series; labels are 1 inside a labelled
    anomaly window. ``None`` with a message when the file is absent."""
    path = data_dir / file_name
    if not path.exists():
        print(f"skipping {file_name}: {path} not found")
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    timestamps = np.array([row["timestamp"] for row in rows], dtype="datetime64[s]")
    values = np.array([float(row["value"]) for row in rows])
    with open(data_dir / "combined_windows.json") as fh:
        windows = json.load(fh)["realKnownCause/" + file_name]
    labels = np.zeros(len(values), dtype=int)
    for start, end in windows:
        start, end = np.datetime64(start, "s"), np.datetime64(end, "s")
        labels[(timestamps >= start) & (timestamps <= end)] = 1
    return values, labels


def standardized_windows(values):
    """Windows of ``SEQ_LEN`` steps every ``STEP`` of the standardized series."""
    return sliding_windows(StandardScaler().fit_transform(values[:, None]), SEQ_LEN, STEP)


def covered_steps(window_scores, labels):
    """``(labels, scores)`` of the steps some window covers, each step scored
    by the maximum over the windows covering it."""
    steps = timestep_scores(window_scores, len(labels), SEQ_LEN, STEP, aggregate="max")
    covered = ~np.isnan(steps)
    return labels[covered], steps[covered]


def window_scores_auc(window_scores, labels):
    """Point-wise ROC-AUC of window outlier scores (:func:`covered_steps`)."""
    return roc_auc_score(*covered_steps(window_scores, labels))


def window_outlier_scores(detector, windows):
    """Fit on the windows (flattened unless the detector is Seq2Seq) and
    return their outlier scores, ``-score_samples``."""
    X = windows
    if not isinstance(detector, Seq2SeqOutlierDetector):
        X = windows.reshape(len(windows), -1)
    detector.fit(X)
    return -detector.score_samples(X)


def pointwise_auc(detector, windows, labels):
    """Fit on the windows; point-wise ROC-AUC of the per-step maximum score."""
    return window_scores_auc(window_outlier_scores(detector, windows), labels)


def series_measures(window_scores, labels):
    """:func:`benchmarks.ts_metrics.evaluate` of the per-step maximum of the
    window scores, over the steps some window covers (VUS buffers up to
    ``SEQ_LEN``)."""
    return ts_metrics.evaluate(*covered_steps(window_scores, labels), max_buffer=SEQ_LEN)


def evaluate_series(values, labels, detectors, seeds, name):
    """Every detector and seed on one series: the measures per seed and the
    seconds of each fit and scoring."""
    windows = standardized_windows(values)
    result = {"n_steps": len(values), "n_windows": len(windows)}
    for detector_name in detectors:
        runs = {key: [] for key in (*MEASURES, "seconds")}
        for seed in seeds:
            start = time.perf_counter()
            scores = window_outlier_scores(DETECTORS[detector_name](seed), windows)
            runs["seconds"].append(time.perf_counter() - start)
            for key, value in series_measures(scores, labels).items():
                runs[key].append(value)
        result[detector_name] = runs
        print(
            f"{name}: {detector_name} VUS-PR {np.mean(runs['vus_pr']):.3f} "
            f"VUS-ROC {np.mean(runs['vus_roc']):.3f} range-F1 {np.mean(runs['range_f1']):.3f} "
            f"ROC-AUC {np.mean(runs['roc_auc']):.3f} ({np.mean(runs['seconds']):.1f} s)",
            flush=True,
        )
    return result


def nab_series():
    """The NAB series that are present, ``{name: (values, labels)}``."""
    out = {}
    for name, file_name in SERIES.items():
        loaded = load_nab(file_name)
        if loaded is not None:
            out[name] = loaded
    return out


def generated_series():
    """The development set, ``{name: (values, labels)}``."""
    return {name: (s.values, s.labels) for name, s in development_set(seed=0).items()}


def _cell(values, n_seeds):
    return f"{np.mean(values):.3f}" + (f" ± {np.std(values):.3f}" if n_seeds > 1 else "")


def print_table(title, results, detectors, measure, seeds, sizes=False):
    """One markdown table: a row per series, a column per detector, and the
    mean over the series."""
    print(f"\n{title}: {MEASURES[measure]} (mean ± std over seeds {seeds}), windows of "
          f"{SEQ_LEN} steps every {STEP}\n")
    extra = " steps | windows |" if sizes else ""
    print("| series |" + extra + " " + " | ".join(detectors) + " |")
    print("|---|" + ("---:|---:|" if sizes else "") + "---:|" * len(detectors))
    for name, r in results.items():
        size = f" {r['n_steps']:,} | {r['n_windows']:,} |" if sizes else ""
        cells = " | ".join(_cell(r[d][measure], len(seeds)) for d in detectors)
        print(f"| {name} |{size} {cells} |")
    if results:
        means = " | ".join(f"{_mean_over_series(results, d, measure):.3f}" for d in detectors)
        print(f"| mean |{' | |' if sizes else ''} {means} |")


def _mean_over_series(results, detector, measure):
    return float(np.mean([np.mean(r[detector][measure]) for r in results.values()]))


def print_summary(sets, detectors, seeds):
    """Means over the series of every set, one row per set and detector."""
    print(f"\nMeans over the series (seeds {seeds})\n")
    print("| set | detector | " + " | ".join(MEASURES.values()) + " | seconds per series |")
    print("|---|---|" + "---:|" * (len(MEASURES) + 1))
    for set_name, results in sets.items():
        if not results:
            continue
        for d in detectors:
            cells = " | ".join(f"{_mean_over_series(results, d, m):.3f}" for m in MEASURES)
            seconds = _mean_over_series(results, d, "seconds")
            print(f"| {set_name} | {d} | {cells} | {seconds:.1f} |")


def run(quick=False, baselines_only=False):
    """Run the benchmark; ``quick``: seed 0 only; ``baselines_only``: no
    Seq2Seq. Returns the results by set, series, detector and measure."""
    seeds = [0] if quick else [0, 1, 2]
    detectors = list(BASELINES if baselines_only else DETECTORS)
    sets = {"NAB": nab_series(), "generated": generated_series()}
    results = {
        "settings": {"seq_len": SEQ_LEN, "step": STEP, "seeds": seeds, "max_buffer": SEQ_LEN,
                     "vus_thresholds": ts_metrics.VUS_THRESHOLDS, "detectors": detectors},
    }
    for set_name, series in sets.items():
        results[set_name] = {
            name: evaluate_series(values, labels, detectors, seeds, name)
            for name, (values, labels) in series.items()
        }
    for set_name in sets:
        for measure in TABLE_MEASURES:
            print_table(set_name, results[set_name], detectors, measure, seeds,
                        sizes=set_name == "NAB")
    print_summary({s: results[s] for s in sets}, detectors, seeds)
    return results

"""Seq2Seq beside IsolationForest on the three NAB series, the same windows.

Each series of ``../shared/data/nab`` (machine temperature, ambient
temperature, NYC taxi; realKnownCause) is standardized over the whole series
(no label enters) and cut into windows of ``SEQ_LEN`` steps every ``STEP``
steps (:func:`~sklearn_daml.timeseries.sliding_windows`). Both detectors fit
on every window (the anomalies included, unlabelled) with their default
parameters and ``random_state=seed``; window outlier scores
(``-score_samples``) map to time steps with
:func:`~sklearn_daml.timeseries.timestep_scores` (the maximum over the
windows covering a step), and the point-wise ROC-AUC is taken against NAB's
labelled anomaly windows over the steps some window covers.
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

from .data import DATA_DIR

NAB_DIR = DATA_DIR / "nab"
SERIES = {
    "machine temperature": "machine_temperature_system_failure.csv",
    "ambient temperature": "ambient_temperature_system_failure.csv",
    "NYC taxi": "nyc_taxi.csv",
}
SEQ_LEN = 48
STEP = 24
DETECTORS = {
    "IsolationForest": lambda seed: IsolationForest(random_state=seed),
    "Seq2Seq": lambda seed: Seq2SeqOutlierDetector(random_state=seed),
}


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


def window_scores_auc(window_scores, labels):
    """Point-wise ROC-AUC of window outlier scores, each step scored by the
    maximum over the windows covering it."""
    steps = timestep_scores(window_scores, len(labels), SEQ_LEN, STEP, aggregate="max")
    covered = ~np.isnan(steps)
    return roc_auc_score(labels[covered], steps[covered])


def pointwise_auc(detector, windows, labels):
    """Fit on the windows; point-wise ROC-AUC of the per-step maximum score."""
    flat = windows.reshape(len(windows), -1)
    detector.fit(windows if isinstance(detector, Seq2SeqOutlierDetector) else flat)
    window_scores = -detector.score_samples(
        windows if isinstance(detector, Seq2SeqOutlierDetector) else flat
    )
    return window_scores_auc(window_scores, labels)


def run(quick=False):
    seeds = [0] if quick else [0, 1, 2]
    results = {}
    for name, file_name in SERIES.items():
        loaded = load_nab(file_name)
        if loaded is None:
            continue
        values, labels = loaded
        windows = sliding_windows(StandardScaler().fit_transform(values[:, None]), SEQ_LEN, STEP)
        results[name] = {"n_steps": len(values), "n_windows": len(windows)}
        for detector_name, make in DETECTORS.items():
            aucs, seconds = [], []
            for seed in seeds:
                start = time.perf_counter()
                aucs.append(pointwise_auc(make(seed), windows, labels))
                seconds.append(time.perf_counter() - start)
            results[name][detector_name] = {"roc_auc": aucs, "seconds": seconds}
            mean_seconds = np.mean(seconds)
            print(f"{name}: {detector_name} {np.mean(aucs):.3f} ({mean_seconds:.0f} s)", flush=True)

    print(f"\nNAB point-wise ROC-AUC (mean ± std over seeds {seeds}), windows of {SEQ_LEN} "
          f"steps every {STEP}, defaults\n")
    print("| series | steps | windows | " + " | ".join(DETECTORS) + " |")
    print("|---|---:|---:|" + "---:|" * len(DETECTORS))
    for name, r in results.items():
        cells = " | ".join(
            f"{np.mean(r[d]['roc_auc']):.3f} ± {np.std(r[d]['roc_auc']):.3f}" for d in DETECTORS
        )
        print(f"| {name} | {r['n_steps']:,} | {r['n_windows']:,} | {cells} |")
    if results:
        means = " | ".join(
            f"{np.mean([np.mean(r[d]['roc_auc']) for r in results.values()]):.3f}"
            for d in DETECTORS
        )
        print(f"| mean | | | {means} |")
    return results

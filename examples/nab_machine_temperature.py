"""Seq2Seq LSTM detector on NAB's machine temperature series, beside IsolationForest.

Data: ``machine_temperature_system_failure.csv`` from the Numenta Anomaly
Benchmark (NAB, realKnownCause, MIT licence): 22,695 temperature readings of
an industrial machine, one every 5 minutes, with four labelled anomaly windows
(``combined_windows.json``), the known failures. It is read from
``../shared/data/nab`` next to the project root and is not copied into it.

Protocol (unsupervised, labels are used for evaluation only):

1. Standardise the series. The scaler is fitted on the whole series, which
   leaks nothing about the labels and is fine for this illustration.
2. Cut it into windows of ``SEQ_LEN`` steps (4 hours), one every ``STEP``
   steps (1 hour), with :func:`sklearn_daml.timeseries.sliding_windows`.
3. Fit each detector on all windows and score the same windows
   (``-score_samples``: higher = more abnormal). ``Seq2SeqOutlierDetector``
   takes the 3-D windows; IsolationForest takes them flattened to
   ``SEQ_LEN`` features.
4. Map the window scores back to one score per time step with
   :func:`sklearn_daml.timeseries.timestep_scores` (``aggregate="max"``: a
   step is as abnormal as the worst window containing it). The last few steps
   fall in no window and get NaN; they are left out of the metric.
5. Report the point-wise ROC-AUC against "inside a labelled window" and the
   fit time, and plot the series and both score curves to
   ``examples/output/nab_machine_temperature.png`` (needs matplotlib).

Run from the project root::

    .venv/bin/python examples/nab_machine_temperature.py

It takes a minute or two on a laptop CPU.
"""

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from sklearn_daml import Seq2SeqOutlierDetector
from sklearn_daml.timeseries import sliding_windows, timestep_scores

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nab"
SERIES_FILE = "machine_temperature_system_failure.csv"
LABELS_KEY = "realKnownCause/" + SERIES_FILE
OUTPUT_FILE = Path(__file__).resolve().parent / "output" / "nab_machine_temperature.png"

SEQ_LEN = 48  # 4 hours of 5-minute readings
STEP = 12  # a new window every hour: about 1,900 windows
EPOCHS = 50


def load_series(data_dir):
    """Timestamps (datetime64[s]) and values (float64) of the series."""
    with open(data_dir / SERIES_FILE, newline="") as f:
        rows = list(csv.DictReader(f))
    timestamps = np.array([row["timestamp"] for row in rows], dtype="datetime64[s]")
    values = np.array([float(row["value"]) for row in rows])
    return timestamps, values


def load_labels(data_dir, timestamps):
    """1 for time steps inside any labelled anomaly window, else 0."""
    with open(data_dir / "combined_windows.json") as f:
        windows = json.load(f)[LABELS_KEY]
    labels = np.zeros(len(timestamps), dtype=int)
    for start, end in windows:
        start, end = np.datetime64(start, "s"), np.datetime64(end, "s")
        labels[(timestamps >= start) & (timestamps <= end)] = 1
    return labels, windows


def fit_and_score(detector, X, n_timesteps):
    """Fit on the windows; return per-step scores (higher = more abnormal) and fit time."""
    start = time.perf_counter()
    detector.fit(X)
    fit_time = time.perf_counter() - start
    window_scores = -detector.score_samples(X)
    scores = timestep_scores(window_scores, n_timesteps, SEQ_LEN, STEP, aggregate="max")
    return scores, fit_time


def plot(timestamps, values, label_windows, scores, path):
    """Series with the labelled windows shaded, and the min-max normalised scores."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nPlot skipped: matplotlib is not installed "
              "(install it with `.venv/bin/pip install matplotlib`).")
        return
    times = timestamps.astype("datetime64[ms]").astype(object)  # matplotlib dates
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    top.plot(times, values, lw=0.6, color="black")
    top.set_ylabel("temperature")
    top.set_title("NAB machine_temperature_system_failure (shaded: labelled anomaly windows)")
    for start, end in label_windows:
        for ax in (top, bottom):
            ax.axvspan(np.datetime64(start, "ms").astype(object),
                       np.datetime64(end, "ms").astype(object), color="tab:red", alpha=0.2)
    for name, step_scores in scores.items():
        low, high = np.nanmin(step_scores), np.nanmax(step_scores)
        bottom.plot(times, (step_scores - low) / (high - low), lw=0.8, label=name)
    bottom.set_ylabel("outlier score (min-max)")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\nPlot saved to {path}")


def main():
    data_dir = DATA_DIR.resolve()
    if not (data_dir / SERIES_FILE).is_file():
        sys.exit(f"NAB data not found: expected {data_dir / SERIES_FILE} "
                 "(the shared data folder next to the project root).")
    timestamps, values = load_series(data_dir)
    labels, label_windows = load_labels(data_dir, timestamps)
    n_timesteps = len(values)

    scaled = StandardScaler().fit_transform(values[:, None])  # whole series: see docstring
    windows = sliding_windows(scaled, seq_len=SEQ_LEN, step=STEP)  # (n_windows, SEQ_LEN, 1)
    print(f"{n_timesteps} time steps ({labels.sum()} inside {len(label_windows)} labelled "
          f"windows), {len(windows)} windows of {SEQ_LEN} steps, one every {STEP} steps\n")

    detectors = {
        "Seq2SeqOutlierDetector": (
            Seq2SeqOutlierDetector(latent_dim=16, epochs=EPOCHS, batch_size=64, random_state=0),
            windows,
        ),
        "IsolationForest": (IsolationForest(random_state=0), windows.reshape(len(windows), -1)),
    }
    # Seq2SeqOutlierDetector.feature_score_samples(windows) also gives a score
    # per window, time step and feature, shape (n_windows, SEQ_LEN, n_features),
    # higher = more normal: it shows where inside a window the error lies.
    scores = {}
    print(f"| {'detector':<22} | {'ROC-AUC':>7} | {'fit time (s)':>12} |")
    print(f"|{'-' * 24}|{'-' * 9}|{'-' * 14}|")
    for name, (detector, X) in detectors.items():
        scores[name], fit_time = fit_and_score(detector, X, n_timesteps)
        covered = ~np.isnan(scores[name])  # the tail after the last window is NaN
        auc = roc_auc_score(labels[covered], scores[name][covered])
        print(f"| {name:<22} | {auc:>7.3f} | {fit_time:>12.1f} |")

    plot(timestamps, values, label_windows, scores, OUTPUT_FILE)


if __name__ == "__main__":
    main()

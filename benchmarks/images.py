"""Image detectors on scikit-learn's digits, with their default parameters.

Digits (8 x 8, values 0..16, no download): one class is the inliers; 70% of
its images (about 125) train each detector, and the other 30% with 200
images of the other classes (a fixed draw) are scored. The table gives the
ROC-AUC of ``score_samples`` and the fit time of ``PixelCNNOutlierDetector``
and ``LLROutlierDetector`` with their defaults (``'auto'`` resolved from the
data) and of ``IsolationForest`` on the flattened images, all with
``random_state=seed`` and ``contamination=CONTAMINATION``, averaged over
``SEEDS`` (each seed its own split; ``--quick``: seed 0, digit 0); and the share of
the new inliers (the held-out images of the class) and of the other images
that ``predict`` flags: the false-alarm rate on new images of the class
the image detectors' held-out threshold is meant to hold at about
``CONTAMINATION``.

The memory part fits a detector in a fresh process with ``verbose=1`` and
reads the resident set size (``/proc/self/statm``) at every epoch line: it
must stay flat across epochs.
"""

import json
import subprocess
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_daml import LLROutlierDetector, PixelCNNOutlierDetector

# the level of predict: the share of new inliers it should flag
CONTAMINATION = 0.05
DETECTORS = {
    "IsolationForest": lambda seed: IsolationForest(
        contamination=CONTAMINATION, random_state=seed),
    "PixelCNN": lambda seed: PixelCNNOutlierDetector(
        contamination=CONTAMINATION, random_state=seed),
    "LLR": lambda seed: LLROutlierDetector(contamination=CONTAMINATION, random_state=seed),
}
DAML = dict(
    num_resnet=5, num_hierarchies=3, num_filters=160, num_logistic_mix=10, dropout_p=0.5,
    use_weight_norm=True,
)
CHILD = r"""
import contextlib, io, json, resource, sys
from sklearn.datasets import load_digits
import sklearn_daml

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()

class EpochRSS(io.TextIOBase):
    def __init__(self):
        self.values = []
    def write(self, text):
        if text.startswith("Epoch"):
            self.values.append(rss())
        return len(text)

digits = load_digits()
X = digits.images[digits.target == 0][:125, ..., None]
name, params = sys.argv[1], json.loads(sys.argv[2])
detector = getattr(sklearn_daml, name)(verbose=1, random_state=0, **params)
before = rss()
record = EpochRSS()
with contextlib.redirect_stdout(record):
    detector.fit(X)
print(json.dumps({"before": before, "epochs": record.values}))
"""


def digits_split(inlier_class, seed=0):
    """``(train, X_test, y_test)``: y is +1 for the held-out inliers, -1 for
    200 images of the other classes."""
    digits = load_digits()
    images = digits.images[..., None]
    train, held_out = train_test_split(
        images[digits.target == inlier_class], test_size=0.3, random_state=seed
    )
    others = images[digits.target != inlier_class]
    others = others[np.random.RandomState(seed).choice(len(others), 200, replace=False)]
    y_test = np.r_[np.ones(len(held_out)), -np.ones(len(others))]
    return train, np.concatenate([held_out, others]), y_test


def _fit_score(name, seed, train, X_test):
    detector = DETECTORS[name](seed)
    flat = name == "IsolationForest"
    start = time.perf_counter()
    detector.fit(train.reshape(len(train), -1) if flat else train)
    seconds = time.perf_counter() - start
    X_test = X_test.reshape(len(X_test), -1) if flat else X_test
    return detector.score_samples(X_test), detector.predict(X_test) == -1, seconds


def epoch_rss(name, params):
    """RSS (bytes) before fit and at every epoch of a fit in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, name, json.dumps(params)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:  # a failed fit is a result: its last line says why
        lines = out.stderr.strip().splitlines() or ["(no message)"]
        return {"error": lines[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


SEEDS = (0, 1, 2)


def _digit_row(digit, seeds):
    """``{method: measurements}`` on ``digit``: each measurement's mean over
    ``seeds`` (each seed its own split and fit), the ROC-AUC's standard
    deviation and the per-seed values."""
    per_seed = {name: [] for name in DETECTORS}
    for seed in seeds:
        train, X_test, y_test = digits_split(digit, seed)
        for name in DETECTORS:
            scores, flagged, seconds = _fit_score(name, seed, train, X_test)
            per_seed[name].append({
                "roc_auc": roc_auc_score(y_test, scores), "fit_seconds": seconds,
                "inliers_flagged": float(np.mean(flagged[y_test == 1])),
                "outliers_flagged": float(np.mean(flagged[y_test == -1])),
            })
    row = {}
    for name, runs in per_seed.items():
        row[name] = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
        row[name]["roc_auc_std"] = float(np.std([r["roc_auc"] for r in runs]))
        row[name]["seeds"] = runs
    return row, len(train)


def run(quick=False):
    classes = [0] if quick else [0, 1, 8]
    seeds = (0,) if quick else SEEDS
    results = {"seeds": list(seeds), "digits": {}, "rss": {}}
    print(f"Digits, one class as inliers, defaults, seeds {list(seeds)}: ROC-AUC, mean "
          "(± std over seeds) (mean fit seconds)\n")
    print("| inlier digit | training images | " + " | ".join(DETECTORS) + " |")
    print("|---|---:|" + "---:|" * len(DETECTORS))
    for digit in classes:
        row, n_train = _digit_row(digit, seeds)
        results["digits"][digit] = row
        cells = " | ".join(
            f"{r['roc_auc']:.3f} ± {r['roc_auc_std']:.3f} ({r['fit_seconds']:.0f} s)"
            for r in row.values()
        )
        print(f"| {digit} | {n_train} | {cells} |", flush=True)
    means = {name: np.mean([r[name]["roc_auc"] for r in results["digits"].values()])
             for name in DETECTORS}
    print("| mean | | " + " | ".join(f"{m:.3f}" for m in means.values()) + " |")
    print(f"\nShare of the new images of the class / of the other images flagged by predict "
          f"(contamination={CONTAMINATION}), mean over seeds\n")
    print("| inlier digit | " + " | ".join(DETECTORS) + " |")
    print("|---|" + "---:|" * len(DETECTORS))
    for digit, row in results["digits"].items():
        cells = " | ".join(f"{r['inliers_flagged']:.3f} / {r['outliers_flagged']:.3f}"
                           for r in row.values())
        print(f"| {digit} | {cells} |")
    for key in ("inliers_flagged", "outliers_flagged"):
        results[f"mean_{key}"] = {
            name: float(np.mean([r[name][key] for r in results["digits"].values()]))
            for name in DETECTORS
        }
    print("| mean | " + " | ".join(
        f"{results['mean_inliers_flagged'][n]:.3f} / {results['mean_outliers_flagged'][n]:.3f}"
        for n in DETECTORS) + " |")

    runs = {"PixelCNN defaults (60 epochs)": ("PixelCNNOutlierDetector", {})}
    if not quick:
        runs["PixelCNN, DAML's configuration, 4 epochs"] = (
            "PixelCNNOutlierDetector", {**DAML, "epochs": 4}
        )
    mib = 2.0**20
    print("\nResident memory per epoch, digit 0 (MiB)\n")
    print("| fit | before fit | epoch 1 | last epoch | lowest | highest |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (name, params) in runs.items():
        m = epoch_rss(name, params)
        results["rss"][label] = m
        if "error" in m:
            print(f"| {label} | failed: {m['error']} | | | | |", flush=True)
            continue
        epochs = m["epochs"]
        values = (m["before"], epochs[0], epochs[-1], min(epochs), max(epochs))
        cells = " | ".join(f"{v / mib:,.0f}" for v in values)
        print(f"| {label} | {cells} |", flush=True)
    return results

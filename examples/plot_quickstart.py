"""
==================================================
Quick start: deep detectors beside IsolationForest
==================================================

Four deep detectors and :class:`~sklearn.ensemble.IsolationForest` on the same
table, each in a :class:`~sklearn.pipeline.Pipeline` with
:class:`~sklearn.preprocessing.StandardScaler`, with nothing to download.

Data: scikit-learn's breast cancer table. All benign rows are inliers; 20
malignant rows (5%) are mixed in as outliers. Each detector is fitted on a 70%
split (outliers included, labels unused) and scored on the other 30%; the labels
serve only to compute the ROC-AUC. ``make demo`` runs this script: it prints the
table and saves the bar chart to ``quickstart.png`` in the current directory (or
to the path given as the script's first argument).
"""

# %%
# Data
# ----
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)


def load_data(n_outliers=20, seed=0):
    """Benign rows (+1) and ``n_outliers`` malignant rows (-1)."""
    X, target = load_breast_cancer(return_X_y=True)
    rng = np.random.RandomState(seed)
    benign = np.flatnonzero(target == 1)
    malignant = rng.choice(np.flatnonzero(target == 0), n_outliers, replace=False)
    rows = np.r_[benign, malignant]
    y = np.r_[np.ones(len(benign), dtype=int), -np.ones(n_outliers, dtype=int)]
    return X[rows], y


X, y = load_data()
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print(f"breast cancer: {len(X_train)} training rows ({np.sum(y_train == -1)} outliers), "
      f"{len(X_test)} test rows ({np.sum(y_test == -1)} outliers), {X.shape[1]} features\n")

# %%
# Fit and score
# -------------
# ``score_samples`` is higher for more normal rows, so the ROC-AUC is computed
# against ``y`` with +1 for inliers, as for IsolationForest. The default
# settings are used throughout: the four deep detectors are ensembles of five
# networks, each trained for a fixed 20 epochs on all the training rows (no
# early stopping), with the worst-reconstructed 10% of each batch left out of
# the reconstruction loss.
detectors = {
    "IsolationForest": IsolationForest(random_state=0),
    "AEOutlierDetector": AEOutlierDetector(random_state=0),
    "VAEOutlierDetector": VAEOutlierDetector(random_state=0),
    "AEGMMOutlierDetector": AEGMMOutlierDetector(random_state=0),
    "VAEGMMOutlierDetector": VAEGMMOutlierDetector(random_state=0),
}
results = {}
print(f"| {'detector':<22} | {'ROC-AUC':>7} | {'fit time (s)':>12} | {'flagged':>7} |")
print(f"|{'-' * 24}|{'-' * 9}|{'-' * 14}|{'-' * 9}|")
for name, detector in detectors.items():
    pipe = make_pipeline(StandardScaler(), detector)
    start = time.perf_counter()
    pipe.fit(X_train)
    fit_time = time.perf_counter() - start
    auc = roc_auc_score(y_test, pipe.score_samples(X_test))
    flagged = int(np.sum(pipe.predict(X_test) == -1))
    results[name] = auc
    print(f"| {name:<22} | {auc:>7.3f} | {fit_time:>12.2f} | {flagged:>7d} |")

# %%
# Plot
# ----
fig, ax = plt.subplots(figsize=(7, 3))
names = list(results)
ax.barh(names, [results[n] for n in names], color=["tab:gray"] + ["tab:blue"] * 4)
ax.set_xlim(0.5, 1.0)
ax.set_xlabel("ROC-AUC on the test rows (higher is better)")
ax.invert_yaxis()
for i, name in enumerate(names):
    ax.text(results[name] - 0.005, i, f"{results[name]:.3f}", va="center", ha="right",
            color="white")
fig.tight_layout()

# %%
# Save the figure
# ---------------
# Run as a script (``make demo``), the example also writes the figure to a PNG
# file: ``quickstart.png`` in the current directory, or the path given as the
# first argument. The documentation build shows the figure above instead and
# writes no file.
if __name__ == "__main__" and "sphinx_gallery" not in sys.modules:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart.png")
    fig.savefig(path, dpi=150)
    print(f"\nfigure saved to {path.resolve()}")

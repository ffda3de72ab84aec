"""
===============================================
Per-feature scores: why is this row an outlier?
===============================================

A detector gives one score per row. To see which measurements make a row
unusual, replace one feature at a time by a typical value (the median of the
training rows) and measure how much more normal the row becomes: a feature
whose replacement raises ``score_samples`` a lot is one the model finds
abnormal in that row. This uses only ``score_samples``, so it works for every
detector (and for IsolationForest), inside a pipeline too, and it measures the
effect on the detector's actual score.

The reconstruction detectors also have a ``feature_score_samples`` method, the
model's own score of every feature (higher = more normal): minus the
per-feature reconstruction error for
:class:`~sklearn_daml.AEOutlierDetector`,
:class:`~sklearn_daml.VAEOutlierDetector`,
:class:`~sklearn_daml.AEGMMOutlierDetector` and
:class:`~sklearn_daml.VAEGMMOutlierDetector`, of every time step and feature
for :class:`~sklearn_daml.Seq2SeqOutlierDetector`, and of every pixel for
:class:`~sklearn_daml.PixelCNNOutlierDetector` and
:class:`~sklearn_daml.LLROutlierDetector`. A pipeline does not pass that method
on; call it on the fitted detector with the transformed rows, as at the end of
this example.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEOutlierDetector

data = load_breast_cancer()
rng = np.random.RandomState(0)
rows = np.r_[np.flatnonzero(data.target == 1),
             rng.choice(np.flatnonzero(data.target == 0), 20, replace=False)]
X, is_outlier = data.data[rows], data.target[rows] == 0

pipe = make_pipeline(StandardScaler(), AEOutlierDetector(random_state=0)).fit(X)
scores = pipe.score_samples(X)

# %%
# The least normal row
# --------------------
# The row the detector finds least normal; the labels only say, afterwards,
# whether it is one of the malignant rows.
row = int(np.argmin(scores))
kind = "malignant, an outlier" if is_outlier[row] else "benign"
print(f"row {row} ({kind}): score_samples {scores[row]:.3f}")

# %%
# One feature at a time set to the median
# ---------------------------------------
typical = np.median(X, axis=0)
variants = np.repeat(X[[row]], X.shape[1], axis=0)
variants[np.arange(X.shape[1]), np.arange(X.shape[1])] = typical
gain = pipe.score_samples(variants) - scores[row]  # > 0: more normal without it

order = np.argsort(gain)[::-1][:12]
fig, ax = plt.subplots(figsize=(8, 4))
ax.barh(np.arange(len(order)), gain[order],
        color=np.where(gain[order] > 0, "tab:red", "tab:gray"))
ax.set_yticks(np.arange(len(order)), labels=data.feature_names[order])
ax.invert_yaxis()
ax.set_xlabel("rise of score_samples when the feature is set to its median")
ax.set_title(f"Row {row}: effect of setting one feature to its median (12 largest)")
fig.tight_layout()

# %%
# Red bars: features whose replacement makes the row more normal, the ones
# that explain its score. Features whose replacement barely changes the score,
# or lowers it (gray), are not what the model objects to. Correlated features (radius, perimeter and area here) share
# their effect: replacing one of them leaves the others unusual, so look at
# groups, not only at the top bar.

# %%
# The detector's own per-feature scores
# -------------------------------------
# ``feature_score_samples`` of the fitted autoencoder, on the row as the
# pipeline's scaler transforms it: minus each feature's reconstruction error,
# relative to that feature's typical error on the training rows. Its lowest
# entries are the features the network reconstructs worst in this row; they
# need not be the ones whose replacement changes the score most, since the
# replacement also changes how the other features are reconstructed.
scaler, detector = pipe[0], pipe[-1]
feature_scores = detector.feature_score_samples(scaler.transform(X[[row]]))[0]
worst = np.argsort(feature_scores)[:5]
print("worst-reconstructed features:",
      ", ".join(f"{data.feature_names[j]} ({feature_scores[j]:.1f})" for j in worst))

"""
===============================================
Per-feature scores: why is this row an outlier?
===============================================

The outlier score of :class:`~sklearn_daml.AEOutlierDetector` is the mean
squared reconstruction error of a row: a mean over features. Splitting it back
into one error per feature shows which measurements the autoencoder could not
reconstruct, and so what makes the row unusual. The fitted Keras model is
``model_``; calling it on scaled rows gives their reconstructions.

:class:`~sklearn_daml.Seq2SeqOutlierDetector`,
:class:`~sklearn_daml.PixelCNNOutlierDetector` and
:class:`~sklearn_daml.LLROutlierDetector` have a ``feature_score_samples``
method that returns such scores per time step and feature, or per pixel.
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
scaler, detector = pipe[0], pipe[-1]

# %%
# Per-feature squared errors
# --------------------------
# Their mean over the features is the outlier score, ``-score_samples``.
X_scaled = scaler.transform(X)
errors = (X_scaled - np.asarray(detector.model_(X_scaled))) ** 2
assert np.allclose(errors.mean(axis=1), -pipe.score_samples(X))

scores = pipe.score_samples(X)
worst = np.flatnonzero(is_outlier)[np.argmin(scores[is_outlier])]
rank = int(np.sum(scores <= scores[worst]))
print(f"least normal malignant row: {worst}, outlier score {errors[worst].mean():.2f}, "
      f"rank {rank} of {len(X)} from the least normal")

# %%
# The least normal outlier against a typical inlier
# -------------------------------------------------
# Bars: the row's error per feature; dots: the median error of each feature
# over the benign rows. The largest bars name the features that explain the
# score.
order = np.argsort(errors[worst])[::-1][:12]
typical = np.median(errors[~is_outlier], axis=0)
fig, ax = plt.subplots(figsize=(8, 4))
ax.barh(np.arange(len(order)), errors[worst, order], color="tab:red", label="least normal malignant row")
ax.plot(typical[order], np.arange(len(order)), "o", color="black", label="median, benign rows")
ax.set_yticks(np.arange(len(order)), labels=data.feature_names[order])
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlabel("squared reconstruction error (standardised units)")
ax.legend(loc="lower right")
fig.tight_layout()

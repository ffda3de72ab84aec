"""
========================================
Contamination and the decision threshold
========================================

A fitted detector turns scores into labels with one number, ``offset_``:
``decision_function = score_samples - offset_`` and ``predict`` is -1 where
that is negative. ``contamination`` decides how ``offset_`` is set from the
training scores:

- ``"auto"`` (the default): no share of outliers is assumed. A row is flagged
  when its conformal p-value against the training scores is at most 0.05: when
  it scores below all but 5% of the training rows. About 5% of new rows drawn
  like the training rows are flagged, whatever the detector.
- a float in (0, 0.5]: that percentile of the training scores, so that this
  share of the training rows is flagged (as for IsolationForest).

``threshold_ = -offset_`` is the same threshold in the units of the model's
outlier score (``-score_samples``), for readers coming from alibi-detect.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEOutlierDetector

X, target = load_breast_cancer(return_X_y=True)
rng = np.random.RandomState(0)
rows = np.r_[np.flatnonzero(target == 1),
             rng.choice(np.flatnonzero(target == 0), 20, replace=False)]
X = StandardScaler().fit_transform(X[rows])
is_outlier = target[rows] == 0

auto = AEOutlierDetector(random_state=0).fit(X)
# The same seed gives the same network; only the offset differs.
share = AEOutlierDetector(contamination=0.05, random_state=0).fit(X)
for name, det in (("'auto'", auto), ("0.05", share)):
    flagged = det.predict(X) == -1
    print(f"contamination={name:<6}  offset_={det.offset_:8.3f}  threshold_={det.threshold_:7.3f}  "
          f"flagged {flagged.sum():3d} rows, {np.sum(flagged & is_outlier)} of 20 outliers")

# %%
# Histogram of the training scores
# --------------------------------
# ``score_samples`` is higher for more normal rows, so the outliers should sit
# on the left, below the offsets. Malignant rows that the model reconstructs
# as well as benign ones end up among the inliers, whatever the offset.
scores = auto.score_samples(X)
bins = np.linspace(np.percentile(scores, 0.5), scores.max(), 50)
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.hist(np.clip(scores[~is_outlier], bins[0], None), bins=bins, alpha=0.7, log=True,
        label="benign (inliers)")
ax.hist(np.clip(scores[is_outlier], bins[0], None), bins=bins, alpha=0.7, log=True,
        label="malignant (outliers)")
ax.axvline(auto.offset_, color="black", ls="--", label="offset_, contamination='auto'")
ax.axvline(share.offset_, color="tab:red", ls=":", label="offset_, contamination=0.05")
ax.set_xlabel("score_samples (higher = more normal; lowest values clipped into the first bin)")
ax.set_ylabel("rows (log scale)")
ax.legend(loc="upper left")
fig.tight_layout()

# %%
# Choosing a threshold after fitting
# ----------------------------------
# ``contamination`` only sets ``offset_``; the scores do not depend on it. To
# flag a fixed number of rows, say the 10 least normal, rank
# ``score_samples`` instead of calling ``predict``:
least_normal = np.argsort(scores)[:10]
print(f"the 10 least normal rows hold {is_outlier[least_normal].sum()} outliers")

"""
=========================================================
Model selection: grid search with a few labelled outliers
=========================================================

A :class:`~sklearn.pipeline.Pipeline` with
:class:`~sklearn_daml.AEGMMOutlierDetector`, tuned over ``n_gmm`` and
``latent_dim`` by :class:`~sklearn.model_selection.GridSearchCV` with
``scoring="roc_auc"``. The detector never sees the labels when it trains; the
labels only rank the candidate settings. Two details matter:

- **The label convention.** ``y`` uses +1 for inliers and -1 for outliers, as
  ``predict`` does. ``roc_auc`` takes the larger label as the positive class
  and scores it with ``decision_function`` (higher = more normal), which then
  agree. With 1 = outlier and 0 = inlier (PyOD's and ADBench's convention) the
  AUC is computed upside down, ``1 - AUC``, and the search picks the *worst*
  setting. Convert first: ``y = np.where(y_outlier == 1, -1, 1)``.
- **Stratified, shuffled folds.** ``cv=5`` gives plain, unshuffled ``KFold``
  for an estimator that is not a classifier. On rows sorted by label (as ``X``
  below, inliers first) most folds then hold no outlier, and on any rows a
  fold may hold none: its ROC-AUC is undefined (NaN), and so is the mean over
  the folds. Pass :class:`~sklearn.model_selection.StratifiedKFold` with
  ``shuffle=True``.

The same search, on the same data, is in the README and on the user guide's
:ref:`model_selection` page.
"""

# %%
# Data: breast cancer, 20 malignant rows as outliers
# --------------------------------------------------
# The benign rows come first and the 20 malignant ones last. 30% of the rows
# are kept aside to check the chosen setting on rows the search never saw.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEGMMOutlierDetector

X, target = load_breast_cancer(return_X_y=True)
malignant = np.random.RandomState(0).choice(np.flatnonzero(target == 0), 20, replace=False)
rows = np.r_[np.flatnonzero(target == 1), malignant]
X, y = X[rows], np.where(target[rows] == 1, 1, -1)  # +1 inlier (benign), -1 outlier
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# The search
# ----------
# Three stratified folds of the 14 training outliers leave four or five
# outliers in each validation fold. The detector keeps its defaults (20 epochs,
# no early stopping); only ``n_gmm`` and ``latent_dim`` vary.
pipe = make_pipeline(StandardScaler(), AEGMMOutlierDetector(random_state=0))
grid = GridSearchCV(
    pipe,
    {"aegmmoutlierdetector__n_gmm": [2, 4], "aegmmoutlierdetector__latent_dim": [1, 2]},
    scoring="roc_auc",
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
grid.fit(X_train, y_train)
print("best parameters:", grid.best_params_)
print(f"best mean ROC-AUC over the folds: {grid.best_score_:.3f}")
print(f"ROC-AUC of the refitted best setting on the test rows: "
      f"{roc_auc_score(y_test, grid.decision_function(X_test)):.3f}")

# %%
# Mean validation ROC-AUC of each setting
# ----------------------------------------
n_gmms, latent_dims = [2, 4], [1, 2]
table = np.array(grid.cv_results_["mean_test_score"]).reshape(len(latent_dims), len(n_gmms))
fig, ax = plt.subplots(figsize=(4.5, 3.5))
image = ax.imshow(table, cmap="viridis")
ax.set_xticks(range(len(n_gmms)), labels=[str(n) for n in n_gmms])
ax.set_yticks(range(len(latent_dims)), labels=[str(d) for d in latent_dims])
ax.set_xlabel("n_gmm")
ax.set_ylabel("latent_dim")
for (i, j), value in np.ndenumerate(table):
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white")
fig.colorbar(image, label="mean ROC-AUC")
fig.tight_layout()

# %%
# With the wrong label convention
# -------------------------------
# With ``1`` for outliers and ``0`` for inliers, ``roc_auc`` measures the
# refitted best model as ``1 - AUC``; a search with such labels would rank
# every setting upside down and return the worst one.
scores = grid.decision_function(X_test)
y_wrong = (y_test == -1).astype(int)
print(f"ROC-AUC with y in {{+1, -1}}: {roc_auc_score(y_test, scores):.3f}; "
      f"with 1 = outlier: {roc_auc_score(y_wrong, scores):.3f}")

"""
=================================================
Images: PixelCNN likelihood on handwritten digits
=================================================

:class:`~sklearn_daml.PixelCNNOutlierDetector` scores an image by its PixelCNN++
log-likelihood. Data: scikit-learn's ``load_digits`` (8 x 8 images, values
0..16, no download). 70% of the zeros train the detector; the other 30% of the
zeros (inliers) and 100 images of other digits (outliers) are scored. The
figure shows the test images the model finds most and least likely.

The detector runs with its defaults: the pixel grid and the architecture are
``'auto'``, resolved at fit from the training images (about 125 of 8 x 8
here), which gives a small PixelCNN (1 ResNet block, 2 hierarchies, 32
filters, 5 mixture components, no weight norm) that trains in about a minute
on two CPU cores. DAML's configuration (160 filters, 5 blocks, 3 hierarchies)
is what ``'auto'`` resolves to for 25,000 images or more, and is meant for a
GPU. :class:`~sklearn_daml.LLROutlierDetector` takes the same parameters and
trains a second, background model (twice the cost); see the user guide on
images.
"""

# %%
# Data
# ----
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_daml import PixelCNNOutlierDetector

digits = load_digits()
images = digits.images[..., None]  # (n, 8, 8, 1), integer values 0..16
inliers = images[digits.target == 0]
train, held_out = train_test_split(inliers, test_size=0.3, random_state=0)
pick = np.random.RandomState(0).choice(np.flatnonzero(digits.target != 0), 100, replace=False)
others = images[pick]
X_test = np.concatenate([held_out, others])
test_digits = np.r_[np.zeros(len(held_out), dtype=int), digits.target[pick]]
y_test = np.r_[np.ones(len(held_out)), -np.ones(len(others))]
print(f"{len(train)} training images, {len(held_out)} inliers and {len(others)} outliers to score")

# %%
# Fit and score
# -------------
# ``low_`` and ``high_`` are the integer grid of the pixel values, and
# ``pixelcnn_params_`` the architecture, both resolved from the training images.
detector = PixelCNNOutlierDetector(random_state=0)
start = time.perf_counter()
detector.fit(train)
print(f"PixelCNN fitted in {time.perf_counter() - start:.1f} s")
print(f"grid [{detector.low_}, {detector.high_}], architecture {detector.pixelcnn_params_}")
scores = detector.score_samples(X_test)  # log-likelihood: higher = more normal

forest = IsolationForest(random_state=0).fit(train.reshape(len(train), -1))
forest_scores = forest.score_samples(X_test.reshape(len(X_test), -1))
print(f"ROC-AUC  PixelCNN log p(x): {roc_auc_score(y_test, scores):.3f}   "
      f"IsolationForest: {roc_auc_score(y_test, forest_scores):.3f}")

# %%
# The most and least likely test images
# -------------------------------------
# Top row: the eight highest log-likelihoods; bottom row: the eight lowest.
# Titles give the digit and its log-likelihood (nats).
order = np.argsort(scores)
fig, axes = plt.subplots(2, 8, figsize=(10, 3.2))
for row, picks in enumerate((order[::-1][:8], order[:8])):
    for ax, i in zip(axes[row], picks):
        ax.imshow(X_test[i, :, :, 0], cmap="gray_r", vmin=0, vmax=16)
        ax.set_title(f"{test_digits[i]}: {scores[i]:.0f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("most likely")
axes[1, 0].set_ylabel("least likely")
fig.suptitle("PixelCNN log-likelihood of test images (trained on zeros)")
fig.tight_layout()

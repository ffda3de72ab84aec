"""PixelCNN likelihood and likelihood ratio (LLR) on handwritten digits.

Data: scikit-learn's ``load_digits`` (8 x 8 images, values 0..16), no download.
For each inlier class, 70% of its images train the detectors; the other 30%
(inliers) and 200 images of the other classes (outliers) are scored. The
script prints the ROC-AUC of the PixelCNN log-likelihood, of the likelihood
ratio (semantic minus background PixelCNN, Ren et al. 2019) and of
IsolationForest on the flattened pixels, with fit times.

The small configuration below (1 ResNet block, 2 hierarchies, 32 filters,
5 mixture components, no weight norm) is documented in
``PixelCNNOutlierDetector``; it trains in well under a minute per model on
two CPU cores. DAML's default configuration (160 filters, 5 blocks, 3
hierarchies) is meant for larger images and a GPU.

Run from the project root::

    .venv/bin/python examples/digits_likelihood.py
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_daml import LLROutlierDetector, PixelCNNOutlierDetector

SMALL = dict(
    low=0, high=16, num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5,
    dropout_p=0.0, use_weight_norm=False, use_data_init=False, epochs=60, batch_size=32,
    learning_rate=3e-3, random_state=0,
)
INLIER_CLASSES = (0, 1, 3, 7)


def split(images, target, inlier_class, seed=0):
    inliers = images[target == inlier_class]
    train, held_out = train_test_split(inliers, test_size=0.3, random_state=seed)
    others = images[target != inlier_class]
    others = others[np.random.RandomState(seed).choice(len(others), 200, replace=False)]
    X_test = np.concatenate([held_out, others])
    y_test = np.r_[np.ones(len(held_out)), -np.ones(len(others))]
    return train, X_test, y_test


def evaluate(detector, train, X_test, y_test, flatten=False):
    shape = (len(train), -1) if flatten else train.shape
    start = time.perf_counter()
    detector.fit(train.reshape(shape))
    fit_time = time.perf_counter() - start
    X = X_test.reshape(len(X_test), -1) if flatten else X_test
    return roc_auc_score(y_test, detector.score_samples(X)), fit_time


def main():
    digits = load_digits()
    images = digits.images[..., None]
    detectors = {
        "PixelCNN log p(x)": lambda: PixelCNNOutlierDetector(**SMALL),
        "LLR (semantic - background)": lambda: LLROutlierDetector(**SMALL),
        "IsolationForest": lambda: IsolationForest(random_state=0),
    }
    print("| inlier digit | detector | ROC-AUC | fit time (s) |")
    print("|---:|---|---:|---:|")
    for inlier_class in INLIER_CLASSES:
        train, X_test, y_test = split(images, digits.target, inlier_class)
        for name, make in detectors.items():
            auc, fit_time = evaluate(make(), train, X_test, y_test, flatten=name == "IsolationForest")
            print(f"| {inlier_class} | {name} | {auc:.3f} | {fit_time:.1f} |", flush=True)


if __name__ == "__main__":
    main()

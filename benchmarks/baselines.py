"""The simple baselines of the field, from scikit-learn (benchmark only).

Each has ``fit(X)`` and ``score_samples(X)`` (higher = more normal), as the
detectors and ``IsolationForest``.
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors


class KNNDistance:
    """Minus the distance to the ``k``-th nearest training row (ADBench's
    KNN with ``k=5``).

    With ``exclude_self``, the rows scored are the training rows themselves
    (the windows of one series, fitted and scored at once), and each is left
    out of its own neighbours, as TSB-AD's KNN does.
    """

    def __init__(self, k=5, exclude_self=False):
        self.k = k
        self.exclude_self = exclude_self

    def fit(self, X):
        self.neighbors_ = NearestNeighbors(n_neighbors=self.k).fit(X)
        return self

    def score_samples(self, X):
        n_neighbors = self.k + 1 if self.exclude_self else self.k
        return -self.neighbors_.kneighbors(X, n_neighbors=n_neighbors)[0][:, -1]


class PCAReconstruction:
    """Minus the squared error of the reconstruction from the principal
    components that explain ``variance`` of the training rows' variance."""

    def __init__(self, variance=0.9):
        self.variance = variance

    def fit(self, X):
        self.pca_ = PCA(n_components=self.variance, svd_solver="full").fit(X)
        return self

    def score_samples(self, X):
        recon = self.pca_.inverse_transform(self.pca_.transform(X))
        return -np.sum(np.square(X - recon), axis=1)

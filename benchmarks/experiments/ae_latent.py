"""Issue 9 experiment (run by hand): the AE ensemble's latent code as a
second score beside its reconstruction, on Protocol U's splits (both
regimes, as ``variants.py``)::

    python -m benchmarks.experiments.ae_latent 0

For each member, the distance of a row's code from the training rows' codes
(the Ledoit-Wolf Mahalanobis distance, or the distance to the 10th nearest
training code) is standardized on the training rows and averaged over the
members; ``recon+lat`` and ``recon+knn`` add it to the reconstruction score
standardized the same way. One JSON line per table, seed and regime, with
``[ROC-AUC, AP]`` of each score.
"""

import json
import sys

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors

from sklearn_daml import AEOutlierDetector

from .variants import splits


def _standardized_by(train, test):
    return (test - train.mean()) / train.std()


def latent_scores(det, A, B):
    """Member-averaged standardized Mahalanobis and 10-NN code distances of ``B``."""
    codes_a, codes_b = np.asarray(det.model_.encoder_net(A)), np.asarray(det.model_.encoder_net(B))
    n_members = codes_a.shape[1]
    maha, knn = np.zeros(len(B)), np.zeros(len(B))
    for m in range(n_members):
        za, zb = codes_a[:, m], codes_b[:, m]
        lw = LedoitWolf().fit(za)
        maha += _standardized_by(np.sqrt(lw.mahalanobis(za)), np.sqrt(lw.mahalanobis(zb)))
        nn = NearestNeighbors(n_neighbors=10).fit(za)
        # a training row is its own nearest neighbour: its 11th is its 10th other
        knn += _standardized_by(nn.kneighbors(za, 11)[0][:, -1], nn.kneighbors(zb, 10)[0][:, -1])
    return maha / n_members, knn / n_members


def main(argv):
    seeds = [int(s) for s in argv[0].split(",")] if argv else [0]
    for ds, seed, regime, A, B, yte in splits(seeds):
        det = AEOutlierDetector(random_state=seed).fit(A)
        recon = _standardized_by(-det.score_samples(A), -det.score_samples(B))
        maha, knn = latent_scores(det, A, B)
        scores = {"recon": recon, "lat": maha, "recon+lat": recon + maha,
                  "knn": knn, "recon+knn": recon + knn}
        out = {"ds": ds, "seed": seed, "regime": regime}
        for name, s in scores.items():
            out[name] = [roc_auc_score(yte, s), average_precision_score(yte, s)]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

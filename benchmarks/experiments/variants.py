"""Variants of a tabular detector over seeds and regimes (run by hand).

Fits a detector (``AE``, ``VAE``, ``AEGMM`` or ``VAEGMM``) with some
parameters changed from its defaults on Protocol U (both regimes: ``U``
contaminated training rows, ``C`` inliers only), on the same splits as
``benchmarks.quality``, and prints one JSON line per table, seed and regime
(``LABEL`` names the variant in them); ``summarize.py`` beside it averages
them into a table::

    python -m benchmarks.experiments.variants AEGMM base seeds=0,1,2 > base.jsonl
    python -m benchmarks.experiments.variants AEGMM e40 epochs=40 seeds=0,1,2 > e40.jsonl
    python -m benchmarks.experiments.variants AEGMM absdist seeds=0 recon=abs regimes=U
    python -m benchmarks.experiments.summarize base.jsonl e40.jsonl

``seeds=``, ``regimes=`` and ``tables=`` take comma-separated lists
(defaults: seed 0, both regimes, every ADBench table).

``recon`` picks the reconstruction features of the GMM detectors (``rel``:
the default; ``abs``: cosine term and ``||x - x_hat|| / s`` with ``s`` the
root mean square row norm of the training rows; ``both``: the three).
Every other ``key=value`` is a constructor argument (parsed as Python).
"""
import ast
import json
import sys
import time

from keras import ops
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)
from sklearn_daml.models import eucl_cosim_features

from .. import data

DETECTORS = {
    "AE": AEOutlierDetector,
    "VAE": VAEOutlierDetector,
    "AEGMM": AEGMMOutlierDetector,
    "VAEGMM": VAEGMMOutlierDetector,
}


class _Features:
    def __init__(self, kind, scale):
        self.kind, self.scale = kind, float(scale)

    def __call__(self, x, y):
        dist = ops.sqrt(ops.sum(ops.square(x - y), axis=-1) + 1e-12) / self.scale
        base = eucl_cosim_features(x, y, scale=self.scale)
        if self.kind == "abs":
            return ops.stack([base[:, 0], dist], axis=-1)
        return ops.concatenate([base, dist[:, None]], axis=-1)


def split_args(args):
    """``(seeds, regimes, tables, rest)`` from ``key=value`` arguments:
    ``seeds=0,1,2``, ``regimes=U,C`` and ``tables=...`` (comma-separated;
    defaults seed 0, both regimes, every table), and a dict of the others."""
    seeds, regimes, tables, rest = [0], ["U", "C"], list(data.ADBENCH), {}
    for arg in args:
        key, value = arg.split("=", 1)
        if key == "seeds":
            seeds = [int(s) for s in value.split(",")]
        elif key == "regimes":
            regimes = value.split(",")
        elif key == "tables":
            tables = value.split(",")
        else:
            rest[key] = value
    return seeds, regimes, tables, rest


def main(argv):
    name, label = argv[0], argv[1]
    seeds, regimes, tables, rest = split_args(argv[2:])
    recon = rest.pop("recon", "rel")
    params = {}
    for key, value in rest.items():
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value

    def make(seed, A):
        extra = {}
        if recon != "rel":
            scale = float((A**2).sum(axis=1).mean() ** 0.5)
            extra["recon_features"] = _Features(recon, scale)
        return DETECTORS[name](random_state=seed, **params, **extra)

    run(make, label, seeds, regimes, tables)


def splits(seeds=(0,), regimes=("U", "C"), tables=tuple(data.ADBENCH)):
    """Protocol U's splits: ``(table, seed, regime, A, B, y_test)`` with ``A``
    the scaled rows to fit (``U``: contaminated training rows, ``C``: inliers
    only) and ``B`` the test rows scaled the same way."""
    for ds in tables:
        X, y = data.adbench(ds)
        for seed in seeds:
            Xtr, Xte, ytr, yte = train_test_split(
                X, y, test_size=0.3, stratify=y, random_state=seed
            )
            for regime in regimes:
                Xf = Xtr if regime == "U" else Xtr[ytr == 0]
                sc = StandardScaler().fit(Xf)
                yield ds, seed, regime, sc.transform(Xf), sc.transform(Xte), yte


def run(make, label, seeds=(0,), regimes=("U", "C"), tables=tuple(data.ADBENCH)):
    """Fit ``make(seed, X_fit)`` on Protocol U's splits and print one JSON
    line per table, seed and regime."""
    for ds, seed, regime, A, B, yte in splits(seeds, regimes, tables):
        det = make(seed, A)
        start = time.perf_counter()
        det.fit(A)
        t = time.perf_counter() - start
        s = -det.score_samples(B)
        rec = dict(name=label, ds=ds, seed=seed, regime=regime,
                   auc=roc_auc_score(yte, s), ap=average_precision_score(yte, s),
                   t=round(t, 1), epochs=int(det.n_iter_))
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

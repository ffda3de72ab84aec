"""How the reconstruction ensembles turn errors into one score (issue 9, stop 32;
run by hand).

Fits the AE or VAE with its defaults on Protocol U's splits (as ``variants``),
reads every member's squared error in every feature, ``(n, n_members,
n_features)``, on the training and the test rows, and scores the test rows
with several rules, all from the same fit, so the columns differ only by the
rule. One JSON line per table, seed, regime and rule, in ``variants``' format
(``summarize.py`` averages them)::

    python -m benchmarks.experiments.error_rules VAE seeds=0,1,2

Rules (``e`` a member's squared error in a feature, ``c`` that member's
``feature_scale_``, statistics over the training rows):

* ``mean_z``: the library's rule, ``s_m = mean_j e_j / c_j`` standardized by
  the mean and standard deviation of ``s_m`` over the training rows, averaged
  over the members (checked against ``score_samples``);
* ``tmom_z``: the same, but the mean and standard deviation of ``s_m`` leave
  out its largest ``trim_fraction`` of the training rows, as the feature
  scales do: the outliers among the training rows otherwise inflate the
  standard deviation most in the members that separate them best;
* ``robust_z``: ``s_m`` standardized by its median and interquartile range;
* ``raw``: the mean of ``s_m`` over the members, not standardized;
* ``ens_err``: the members' errors averaged first, ``mean_j mean_m(e_j) /
  mean_m(c_j)`` (the ensemble's reconstruction error in each feature);
* ``abs_z``: ``s_m = mean_j sqrt(e_j / c_j)`` (absolute rather than squared
  normalized errors), standardized as ``mean_z``;
* ``prior``: each feature's scale shrunk towards the member's mean scale
  ``c_bar`` by one pseudo-row, ``(n * c_j + c_bar) / (n + 1)`` for ``n``
  training rows, instead of the floor ``1e-6 * c_bar``: a feature the training
  rows never vary in (so the network reconstructs it exactly) gets a finite
  weight that shrinks as the rows grow, not a near-infinite one;
* ``floor1e-2``: the floor ``1e-2 * c_bar`` instead of ``1e-6 * c_bar``;
* ``ignore_const``: features constant over the training rows weigh nothing
  (as IsolationForest, which cannot split on them).

``protocol=D`` runs the DAGMM paper's protocol instead (thyroid and arrhythmia
unless ``tables`` says otherwise; fitted on a min-max scaled half of the
inliers): each line's ``ap`` is then the F1 at the number of test outliers, as
``benchmarks.quality`` reports it, and ``auc`` the ROC-AUC::

    python -m benchmarks.experiments.error_rules VAE seeds=0,1,2 protocol=D
"""
import json
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from sklearn_daml._base import _compile
from sklearn_daml._weights import weighted_trimmed_mean

from .. import quality
from ..data import ADBENCH as DATA
from ..quality import f1_at_k
from .variants import DETECTORS, split_args, splits


def _standardized(s_train, s_test, fraction=0.0):
    """``s_test`` standardized per member by the training rows' mean and
    standard deviation, without their largest ``fraction``."""
    if fraction:
        kth = np.quantile(s_train, 1 - fraction, axis=0, method="lower")
        keep = s_train <= kth
        mean = (s_train * keep).sum(0) / keep.sum(0)
        std = np.sqrt((np.square(s_train - mean) * keep).sum(0) / keep.sum(0))
    else:
        mean, std = s_train.mean(0), s_train.std(0)
    return ((s_test - mean) / std).mean(axis=1)


def rules(e_train, e_test, scale, fraction, constant):
    s_train = (e_train / scale).mean(-1)
    s_test = (e_test / scale).mean(-1)
    med = np.median(s_train, axis=0)
    q1, q3 = np.percentile(s_train, [25, 75], axis=0)
    ens_scale = weighted_trimmed_mean(e_train.mean(1), fraction, None)
    a_train = np.sqrt(e_train / scale).mean(-1)
    a_test = np.sqrt(e_test / scale).mean(-1)
    return {
        "mean_z": _standardized(s_train, s_test),
        "tmom_z": _standardized(s_train, s_test, fraction),
        "robust_z": ((s_test - med) / (q3 - q1)).mean(axis=1),
        "raw": s_test.mean(axis=1),
        "ens_err": (e_test.mean(1) / ens_scale).mean(-1),
        "abs_z": _standardized(a_train, a_test),
        **{
            name: _standardized((e_train / c).mean(-1), (e_test / c).mean(-1))
            for name, c in _scales(scale, len(e_train), constant).items()
        },
    }


def _scales(scale, n, constant):
    """The scale variants (``prior``, ``floor1e-2``, ``ignore_const``) from the
    fitted ``scale`` (already floored at ``1e-6`` of its member mean)."""
    c_bar = scale.mean(axis=1, keepdims=True)
    ignore = np.where(constant, np.inf, scale)
    return {
        "prior": (n * scale + c_bar) / (n + 1),
        "floor1e-2": np.maximum(scale, 1e-2 * c_bar),
        "ignore_const": ignore,
    }


def splits_d(seeds, tables):
    """Protocol D's splits (``quality.protocol_d_split``), as
    ``variants.splits`` yields Protocol U's."""
    for ds in tables:
        X, y = quality._load(ds, quick=False)
        for seed in seeds:
            yield (ds, seed, "D", *quality.protocol_d_split(X, y, seed))


def protocol_splits(seeds, regimes, tables, rest):
    """Protocol U's splits (``variants.splits``), or Protocol D's with
    ``protocol=D`` in ``rest`` (thyroid and arrhythmia unless ``tables``
    names others)."""
    if rest.get("protocol") != "D":
        return splits(seeds, regimes, tables)
    return splits_d(seeds, ["thyroid", "arrhythmia"] if tables == list(DATA) else tables)


def main(argv):
    name = argv[0]
    seeds, regimes, tables, rest = split_args(argv[1:])
    for ds, seed, regime, A, B, yte in protocol_splits(seeds, regimes, tables, rest):
        det = DETECTORS[name](random_state=seed)
        start = time.perf_counter()
        det.fit(A)
        t = round(time.perf_counter() - start, 1)
        fn = _compile(det._feature_errors, A.shape[1])
        e_train, e_test = det._map_batches(fn, A), det._map_batches(fn, B)
        constant = np.ptp(A, axis=0) == 0
        scored = rules(e_train, e_test, det.feature_scale_, det.trim_fraction, constant)
        check = float(np.max(np.abs(-det.score_samples(B) - scored["mean_z"])))
        for rule, s in scored.items():
            rec = dict(
                name=f"{name}_{rule}", ds=ds, seed=seed, regime=regime, t=t,
                auc=roc_auc_score(yte, s), check=check,
                ap=f1_at_k(yte, s) if regime == "D" else average_precision_score(yte, s),
            )
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

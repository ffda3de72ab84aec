"""How the members' scores are combined (issue 9, stop 24; run by hand).

Fits a detector with its defaults on Protocol U's splits (as ``variants``)
and scores the test rows with several rules for combining the members'
outlier scores, all from the same fit, so the columns differ only by the
rule. One JSON line per table, seed and regime::

    python -m benchmarks.experiments.member_combination VAEGMM seeds=0,1,2

Rules (each member's score ``s_m``, statistics over the training rows):

* ``mean_z``: the mean of ``(s_m - mean_m) / std_m`` (the library's rule;
  checked against ``score_samples``);
* ``median_z``: the median over the members of the same standardized scores;
* ``robust_z``: the mean of ``(s_m - median_m) / IQR_m``;
* ``trim_z``: the mean of the standardized scores without the largest and
  the smallest member's;
* ``tmom_z``: the mean of ``(s_m - mean_m) / std_m`` with ``mean_m`` and
  ``std_m`` over the training rows without their largest ``trim_fraction``
  (stop 32);
* ``members``: each member's ROC-AUC on its own (diagnostic).

Two more questions, on the same splits::

    python -m benchmarks.experiments.member_combination VAEGMM seeds=0,1,2 \
        tables=mnist regimes=U mode=independent
    python -m benchmarks.experiments.member_combination VAEGMM seeds=2 \
        tables=mnist regimes=U mode=noise

``protocol=D`` scores the rules in the DAGMM paper's protocol instead (thyroid
and arrhythmia; the ``ap`` of each rule is then the F1 at the number of test
outliers, as in ``error_rules``).

``mode=states states=10,11`` fits the default ensemble with those random
states on each seed's split (is a weak seed its split or its fit?).
``mode=independent`` fits five single networks (``n_estimators=1``, random
states ``1000 * seed + k``: each its own initialisation and batch order) and
averages their energies standardized on the training rows, as the ensemble
averages its members. ``mode=noise`` refits one fit's mixtures with four
other draws of its fixed scoring noise (``noise_``) and rescores.
"""
import json
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from sklearn_daml._base import _compile

from ..quality import f1_at_k
from .error_rules import _standardized, protocol_splits
from .variants import DETECTORS, split_args


def member_score_fn(det):
    """``x -> (n, n_members)``: each member's outlier score, as the detector
    feeds it to its member average (the GMM detectors' energies)."""
    if hasattr(det, "_energies"):
        return det._energies
    return lambda x: det._member_scores(x, det.feature_scale_)


def combinations(s_train, s_test, mean, std, fraction=0.1):
    z = (s_test - mean) / std
    med = np.median(s_train, axis=0)
    q1, q3 = np.percentile(s_train, [25, 75], axis=0)
    zs = np.sort(z, axis=1)
    out = {
        "mean_z": z.mean(axis=1),
        "median_z": np.median(z, axis=1),
        "robust_z": ((s_test - med) / np.maximum(q3 - q1, 1e-300)).mean(axis=1),
    }
    if z.shape[1] > 2:
        out["trim_z"] = zs[:, 1:-1].mean(axis=1)
    out["tmom_z"] = _standardized(s_train, s_test, fraction)
    return out


def independent(name, A, B, yte, seed):
    """Five single networks averaged as the ensemble averages its members."""
    zs, single = [], []
    for k in range(5):
        det = DETECTORS[name](random_state=1000 * seed + k, n_estimators=1).fit(A)
        s_train, s_test = -det.score_samples(A), -det.score_samples(B)
        zs.append((s_test - s_train.mean()) / s_train.std())
        single.append(roc_auc_score(yte, s_test))
    s = np.mean(zs, axis=0)
    return dict(mean_z=[roc_auc_score(yte, s), average_precision_score(yte, s)], members=single)


def other_noise(name, A, B, yte, seed):
    """One fit rescored after refitting its mixtures with other scoring noise."""
    det = DETECTORS[name](random_state=seed).fit(A)
    out = dict(fit=roc_auc_score(yte, -det.score_samples(B)), noise=[])
    for k in range(4):
        det._sample_weight = None
        det._fit_extra(A, np.random.RandomState(100 + k))
        det._compile_scorer()
        out["noise"].append(roc_auc_score(yte, -det.score_samples(B)))
    return out


def other_states(name, A, B, yte, states):
    """The default ensemble with other random states on the same split."""
    return dict(states=states, auc=[
        roc_auc_score(yte, -DETECTORS[name](random_state=s).fit(A).score_samples(B))
        for s in states
    ])


def rules(name, A, B, yte, seed, regime="U"):
    """One fit scored with every combination rule, and each member alone."""
    det = DETECTORS[name](random_state=seed)
    start = time.perf_counter()
    det.fit(A)
    out = dict(t=round(time.perf_counter() - start, 1))
    fn = _compile(member_score_fn(det), A.shape[1])
    s_train, s_test = det._map_batches(fn, A), det._map_batches(fn, B)
    combined = combinations(
        s_train, s_test, det.member_mean_, det.member_std_, det.trim_fraction
    )
    second = f1_at_k if regime == "D" else average_precision_score
    for rule, s in combined.items():
        out[rule] = [roc_auc_score(yte, s), second(yte, s)]
    out["check"] = float(np.max(np.abs(-det.score_samples(B) - combined["mean_z"])))
    out["members"] = [roc_auc_score(yte, s_test[:, m]) for m in range(s_test.shape[1])]
    return out


def main(argv):
    name = argv[0]
    seeds, regimes, tables, rest = split_args(argv[1:])
    mode = rest.get("mode", "rules")
    for ds, seed, regime, A, B, yte in protocol_splits(seeds, regimes, tables, rest):
        if mode == "states":
            states = [int(s) for s in rest["states"].split(",")]
            result = other_states(name, A, B, yte, states)
        else:
            fn = {"rules": rules, "independent": independent, "noise": other_noise}[mode]
            extra = {"regime": regime} if mode == "rules" else {}
            result = fn(name, A, B, yte, seed, **extra)
        print(json.dumps(dict(ds=ds, seed=seed, regime=regime, **result)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Detection quality against IsolationForest, in two protocols.

Protocol U (as ADBench): stratified 70/30 split; ``StandardScaler`` fitted on
the training rows; the detector is fitted on the training rows, outliers
included (labels unused); ROC-AUC and average precision of
``-score_samples`` on the test rows. Its clean regime ("one-class" use)
keeps the same split and test rows but fits the scaler and the detector on
the inlier training rows only.

Protocol D (the DAGMM paper, Zong et al. 2018): the inliers are split 50/50;
the detector is fitted on one half (inliers only, min-max scaled on that
half); the test set is the other half plus every outlier; the ``k`` highest
outlier scores are flagged, with ``k`` the number of test outliers; the
precision, recall and F1 of the outlier class are reported (with this ``k``
the three are equal, as in the paper's tables).

Every detector runs with its default settings and ``random_state=seed``.
The tabular detectors are compared: ``Seq2SeqOutlierDetector`` needs
sequences and the PixelCNN/LLR detectors need images on an integer grid, so
a row of a standardized table is not an input they model.
"""

import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

from . import data

DETECTORS = {
    "IsolationForest": lambda seed: IsolationForest(random_state=seed),
    "AE": lambda seed: AEOutlierDetector(random_state=seed),
    "VAE": lambda seed: VAEOutlierDetector(random_state=seed),
    "AEGMM": lambda seed: AEGMMOutlierDetector(random_state=seed),
    "VAEGMM": lambda seed: VAEGMMOutlierDetector(random_state=seed),
}
PROTOCOL_U = list(data.ADBENCH)
PROTOCOL_D = ["kddcup", "thyroid", "arrhythmia"]
# the quick run (one seed) uses a stratified sample of this many rows of every
# larger table, KDDCUP included: a smoke run of the whole protocol, not a
# measurement (the full tables need the full run)
QUICK_MAX_ROWS = 1000
# F1 of DAGMM in Zong et al. (2018), Table 2
PAPER_F1 = {"kddcup": 0.9369, "thyroid": 0.4766, "arrhythmia": 0.4983}


def _fit_score(make, seed, X_train, X_test):
    """Fit a fresh detector, return (outlier scores of X_test, fit seconds, error)."""
    detector = make(seed)
    start = time.perf_counter()
    try:
        detector.fit(X_train)
        scores = -detector.score_samples(X_test)
    except Exception as exc:  # a failed run is a result, not a crash
        return None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    return scores, time.perf_counter() - start, None


def _record(scores, fit_seconds, error, n_test):
    """Fit time, error and non-finite count (every test row when the fit failed)."""
    nonfinite = n_test if scores is None else int(np.sum(~np.isfinite(scores)))
    return {"fit_seconds": fit_seconds, "nonfinite": nonfinite, "error": error}


def protocol_u(X, y, seed, make, clean=False):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    if clean:
        X_train = X_train[y_train == 0]
    scaler = StandardScaler().fit(X_train)
    scores, fit_seconds, error = _fit_score(
        make, seed, scaler.transform(X_train), scaler.transform(X_test)
    )
    result = _record(scores, fit_seconds, error, len(y_test))
    ok = result["nonfinite"] == 0
    result["roc_auc"] = float(roc_auc_score(y_test, scores)) if ok else float("nan")
    result["average_precision"] = float(average_precision_score(y_test, scores)) if ok else float("nan")
    return result


def protocol_d_split(X, y, seed):
    """Protocol D's rows: ``(X_fit, X_test, y_test)``, a random half of the
    inliers to fit on, min-max scaled on itself, and the other half plus every
    outlier to test on, scaled the same way."""
    inliers = np.random.RandomState(seed).permutation(np.flatnonzero(y == 0))
    half = len(inliers) // 2
    test = np.concatenate([inliers[half:], np.flatnonzero(y == 1)])
    scaler = MinMaxScaler().fit(X[inliers[:half]])
    return scaler.transform(X[inliers[:half]]), scaler.transform(X[test]), y[test]


def f1_at_k(y_test, scores):
    """Share of outliers among the ``k`` highest ``scores``, ``k`` the number
    of test outliers: with ``k`` rows flagged and ``k`` outliers, precision,
    recall and F1 are this one number."""
    k = int(y_test.sum())
    flagged = np.argsort(-scores, kind="stable")[:k]
    return int(y_test[flagged].sum()) / k


def protocol_d(X, y, seed, make):
    X_fit, X_test, y_test = protocol_d_split(X, y, seed)
    scores, fit_seconds, error = _fit_score(make, seed, X_fit, X_test)
    result = _record(scores, fit_seconds, error, len(y_test))
    if result["nonfinite"]:
        result.update(precision=float("nan"), recall=float("nan"), f1=float("nan"))
        return result
    share = f1_at_k(y_test, scores)
    result.update(precision=share, recall=share, f1=share)
    return result


def _load(name, quick):
    if name == "kddcup":
        loaded = data.kddcup(scale=False)
    elif name == "arrhythmia":
        loaded = data.arrhythmia()
    else:
        loaded = data.adbench(name)
    if loaded is not None and quick and len(loaded[1]) > QUICK_MAX_ROWS:
        # a stratified sample of every large table keeps the quick run short
        X, y = loaded
        keep = train_test_split(
            np.arange(len(y)), train_size=QUICK_MAX_ROWS, stratify=y, random_state=0
        )[0]
        loaded = X[keep], y[keep]
    return loaded


def protocol_u_clean(X, y, seed, make):
    return protocol_u(X, y, seed, make, clean=True)


def _mean_std(values):
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return "not run"
    if np.any(np.isnan(values)):
        return "failed"
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def _table(runs, datasets, metric, extra_rows=()):
    names = list(DETECTORS)
    lines = ["| data set | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for ds in datasets:
        if ds not in runs:
            continue
        cells = [_mean_std([r[metric] for r in runs[ds][name]]) for name in names]
        lines.append(f"| {ds} | " + " | ".join(cells) + " |")
    for label, fn in extra_rows:
        lines.append(f"| {label} | " + " | ".join(fn(name) for name in names) + " |")
    return "\n".join(lines)


def _run_protocol(protocol, datasets, seeds, quick, exclude=()):
    runs = {}
    for ds in datasets:
        loaded = _load(ds, quick)
        if loaded is None:
            continue
        X, y = loaded
        runs[ds] = {}
        for name, make in DETECTORS.items():
            runs[ds][name] = []
            if f"{ds}:{name}" in exclude:
                print(f"  {ds:12s} {name:16s} not run (--exclude)", flush=True)
                continue
            for seed in seeds:
                result = protocol(X, y, seed, make)
                result["seed"] = seed
                runs[ds][name].append(result)
                metric = result.get("roc_auc", result.get("f1"))
                note = f" ERROR {result['error']}" if result["error"] else ""
                print(
                    f"  {ds:12s} {name:16s} seed {seed}: {metric:.3f} "
                    f"({result['fit_seconds']:.1f} s){note}",
                    flush=True,
                )
    return runs


PROTOCOLS = {
    "U": ("Protocol U", protocol_u, PROTOCOL_U),
    "clean": ("Protocol U, clean regime (fitted on inliers only)", protocol_u_clean, PROTOCOL_U),
    "D": ("Protocol D", protocol_d, PROTOCOL_D),
}


def _mean_cell(runs, metric):
    def cell(name):
        per_ds = [np.mean([r[metric] for r in runs[ds][name]]) for ds in runs if runs[ds][name]]
        return f"**{np.mean(per_ds):.3f}**" if per_ds else ""

    return cell


def _fit_time_cell(runs):
    def cell(name):
        times = [r["fit_seconds"] for ds in runs for r in runs[ds][name]]
        return f"{np.mean(times):.1f}" if times else ""

    return cell


def _max_std_cell(runs, metric, seeds):
    def cell(name):
        stds = [np.std([r[metric] for r in runs[ds][name]]) for ds in runs if runs[ds][name]]
        return f"{max(stds):.3f}" if len(seeds) > 1 and stds else ""

    return cell


def _print_tables(key, runs, seeds):
    """The tables of one protocol, printed as soon as it has run."""
    title = PROTOCOLS[key][0]
    if key == "D":
        print(f"\n### {title}: F1 of the outlier class (= precision = recall)\n")
        print(_table(runs, PROTOCOL_D, "f1", [("mean fit time (s)", _fit_time_cell(runs))]))
        print("\nDAGMM paper: " + ", ".join(f"{ds} {PAPER_F1[ds]:.3f}" for ds in PROTOCOL_D))
        return
    print(f"\n### {title}: ROC-AUC (mean ± std over seeds {seeds})\n")
    print(_table(runs, PROTOCOL_U, "roc_auc", [
        ("mean", _mean_cell(runs, "roc_auc")),
        ("largest std", _max_std_cell(runs, "roc_auc", seeds)),
        ("mean fit time (s)", _fit_time_cell(runs)),
    ]))
    print(f"\n### {title}: average precision\n")
    print(_table(runs, PROTOCOL_U, "average_precision", [
        ("mean", _mean_cell(runs, "average_precision")),
        ("largest std", _max_std_cell(runs, "average_precision", seeds)),
    ]), flush=True)


def run(quick=False, exclude=(), protocols=tuple(PROTOCOLS)):
    """Run ``protocols`` (keys of ``PROTOCOLS``), printing each one's tables
    as soon as it is done; ``exclude`` holds ``"dataset:detector"`` pairs."""
    seeds = [0] if quick else [0, 1, 2]
    start = time.perf_counter()
    results = {"seeds": seeds}
    for key in protocols:
        title, protocol, datasets = PROTOCOLS[key]
        print(f"{title} ({len(seeds)} seed(s))", flush=True)
        runs = _run_protocol(protocol, datasets, seeds, quick, exclude)
        _print_tables(key, runs, seeds)
        results[key] = runs
    elapsed = time.perf_counter() - start
    print("\nNon-finite scores, all runs: " + ", ".join(
        f"{name} {sum(r['nonfinite'] for key in protocols for runs in [results[key]] for ds in runs for r in runs[ds][name])}"
        for name in DETECTORS))
    print(f"Total time: {elapsed / 60:.1f} min")
    results["seconds"] = elapsed
    return results

"""
===============================================
Conformal p-values and false-discovery control
===============================================

A detector's ``predict`` flags the rows that score below ``offset_``, a
percentile of the scores of its own training rows. How often that flags a new
inlier is not known in advance: a detector scores the rows it was fitted on as
more normal than new ones, by an amount that depends on the detector and the
data. :class:`~sklearn_daml.ConformalOutlierDetector` scores rows that the
detector did not see instead, the *calibration rows*, and turns the score of
each new row into a p-value with a guarantee:

- ``predict_pvalues``: small for outliers; a new inlier gets a p-value of at
  most ``t`` with probability at most ``t``;
- ``predict``: flags the rows with a p-value of at most ``contamination``, so
  a new inlier is flagged with probability at most ``contamination``;
- ``predict_fdr``: flags the rows of a batch that the Benjamini-Hochberg
  procedure rejects, so that on average at most a share ``alpha`` of the
  flagged rows are inliers.

Data: a synthetic machine with 20 sensors, all driven by three operating
conditions (load, speed, temperature) through smooth relations, plus noise.
In a faulty row one sensor has drifted by 0.5 to 1.5 (the readings range over
about -1 to 1), while the others follow the operating conditions. The
detectors are fitted on rows of normal operation and tested on new rows of
both kinds.
"""

# %%
# Data
# ----
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEOutlierDetector, ConformalOutlierDetector

N_SENSORS = 20
SENSOR_WEIGHTS = np.random.RandomState(42).normal(size=(3, N_SENSORS))


def readings(n_rows, rng, faulty=False):
    """``n_rows`` rows of the sensors, in normal operation or with one
    drifted sensor per row."""
    X = np.tanh(rng.uniform(-1, 1, size=(n_rows, 3)) @ SENSOR_WEIGHTS)
    if faulty:
        sensor = rng.randint(N_SENSORS, size=n_rows)
        drift = rng.choice([-1, 1], size=n_rows) * rng.uniform(0.5, 1.5, size=n_rows)
        X[np.arange(n_rows), sensor] += drift
    return X + 0.1 * rng.normal(size=X.shape)


def training_rows(fit, faulty_share=0.0):
    """The 1,000 training rows of fit number ``fit``, normal operation but for
    ``faulty_share`` of them."""
    rng = np.random.RandomState(100 + fit)
    n_faulty = int(round(1000 * faulty_share))
    return np.vstack([readings(1000 - n_faulty, rng), readings(n_faulty, rng, faulty=True)])


rng = np.random.RandomState(0)
X_inliers = readings(4000, rng)  # new rows of normal operation
X_faults = readings(400, rng, faulty=True)  # new faulty rows
X_train = training_rows(0)
print(f"{len(X_train)} training rows; new rows: {len(X_inliers)} inliers and "
      f"{len(X_faults)} faulty rows; {N_SENSORS} sensors")

# %%
# Fit
# ---
# The default ``method="split"`` holds out half of the training rows at
# random: a clone of the detector is fitted on the other half and scores the
# 500 held-out rows. The autoencoder is standardized in a pipeline, which the
# conformal detector wraps as a whole. ``contamination=0.05`` is the level of
# each row's test: the false-alarm rate on new inliers.
DETECTORS = {
    "AEOutlierDetector": lambda seed: make_pipeline(
        StandardScaler(), AEOutlierDetector(random_state=seed)),
    "IsolationForest": lambda seed: IsolationForest(random_state=seed),
}


def fit_conformal(name, fit, faulty_share=0.0, **params):
    """``ConformalOutlierDetector`` around detector ``name``, fitted on the
    training rows of fit number ``fit``."""
    det = ConformalOutlierDetector(DETECTORS[name](fit), contamination=0.05, random_state=fit,
                                   **params)
    return det.fit(training_rows(fit, faulty_share))


def row(label, det, seconds):
    """A line of the table: the share of new rows of each kind flagged by ``predict``."""
    return (f"| {label:<17} | {det.calibration_scores_.size:>16d} "
            f"| {np.mean(det.predict(X_inliers) == -1):>19.3f} "
            f"| {np.mean(det.predict(X_faults) == -1):>14.3f} | {seconds:>12.1f} |")


def header(label):
    """The header of the table, ``label`` over the first column."""
    return (f"| {label:<17} | {'calibration rows':>16} | {'new inliers flagged':>19} "
            f"| {'faults flagged':>14} | {'fit time (s)':>12} |\n"
            f"|{'-' * 19}|{'-' * 18}|{'-' * 21}|{'-' * 16}|{'-' * 14}|")


first, fit_times = {}, {}
print(header("detector"))
for name in DETECTORS:
    start = time.perf_counter()
    first[name] = fit_conformal(name, 0)
    fit_times[name] = time.perf_counter() - start
    print(row(name, first[name], fit_times[name]))

# %%
# Both flag close to 5% of the new inliers: that part is the calibration's,
# whatever the detector. How many faulty rows are flagged, the power, is the
# detector's: the autoencoder learns how the sensors move together, while
# each split of IsolationForest looks at one sensor chosen at random, so one
# drifted sensor out of 20 rarely isolates a row.
#
# What a p-value is
# -----------------
# A new row's p-value is the share of calibration rows that score at or below
# it, ``(1 + #{calibration scores <= its score}) / (n_calibration + 1)``. A
# new inlier is drawn like the calibration rows and, like them, unseen by the
# detector, so its score is equally likely to fall at any rank among theirs:
# its p-value is uniform, and ``P(p <= t) <= t`` for every ``t``. A faulty
# row scores below most calibration rows, so its p-value piles up near 0.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
bins = np.linspace(0, 1, 21)
for ax, (name, det) in zip(axes, first.items()):
    ax.hist(det.predict_pvalues(X_inliers), bins=bins, density=True, alpha=0.6,
            label="new inliers")
    ax.hist(det.predict_pvalues(X_faults), bins=bins, density=True, alpha=0.6,
            label="faulty rows")
    ax.axhline(1, color="black", lw=1, ls="--", label="uniform")
    ax.set_title(name)
    ax.set_xlabel("conformal p-value")
axes[0].set_ylabel("density")
axes[0].legend()
fig.tight_layout()

# %%
# False discovery rate
# --------------------
# ``predict`` tests each row alone: over many new inliers it flags a share
# ``contamination`` of them, however many outliers there are. When the
# flagged rows of a batch go to someone for review, the question is rather how
# many of them are false leads. ``predict_fdr(X, alpha)`` answers it with the
# Benjamini-Hochberg procedure: sort the ``m`` p-values of the batch, find the
# largest ``k`` with ``p_(k) <= alpha * k / m``, flag the ``k`` smallest. The
# *false discovery rate*, the expected share of inliers among the flagged
# rows, is then at most ``alpha`` (exactly: ``alpha`` times the share of
# inliers in the batch), because the split-conformal p-values of a batch are
# positively dependent (Bates et al., 2023).
#
# The expectation is over the batches and over the calibration rows: the
# procedure works in the far tail of the p-values, where the few lowest
# calibration scores decide, and one fit's calibration rows may sit a little
# high or low. So the experiment below fits each detector four times, each
# time on its own training rows, and draws 100 random batches of 180 new
# inliers and 20 faulty rows per fit. The procedure needs only the p-values:
# ``flag_fdr`` is what ``predict_fdr`` does (checked on one batch), applied to
# p-values computed once per fit.
N_FITS = 4


def flag_fdr(pvalues, alpha):
    """Benjamini-Hochberg: True for the rows flagged at false discovery rate ``alpha``."""
    ordered = np.sort(pvalues)
    below = ordered <= alpha * np.arange(1, len(pvalues) + 1) / len(pvalues)
    if not below.any():
        return np.zeros(len(pvalues), dtype=bool)
    return pvalues <= ordered[np.flatnonzero(below)[-1]]


def fdr_and_power(fits, alphas, n_batches=100):
    """Mean share of inliers among the flagged rows (0 when none is flagged)
    and mean share of faulty rows flagged, per alpha, over the fitted
    detectors ``fits`` and ``n_batches`` random batches each."""
    rng = np.random.RandomState(0)
    is_fault = np.r_[np.zeros(180, dtype=bool), np.ones(20, dtype=bool)]
    fdr, power = np.zeros(len(alphas)), np.zeros(len(alphas))
    for det in fits:
        p_inliers, p_faults = det.predict_pvalues(X_inliers), det.predict_pvalues(X_faults)
        for _ in range(n_batches):
            batch = np.r_[rng.choice(p_inliers, 180, replace=False),
                          rng.choice(p_faults, 20, replace=False)]
            for i, alpha in enumerate(alphas):
                flagged = flag_fdr(batch, alpha)
                fdr[i] += np.sum(flagged & ~is_fault) / max(flagged.sum(), 1)
                power[i] += np.mean(flagged[is_fault])
    return fdr / (len(fits) * n_batches), power / (len(fits) * n_batches)


batch = np.r_[X_inliers[:180], X_faults[:20]]
det = first["AEOutlierDetector"]
assert np.array_equal(det.predict_fdr(batch, alpha=0.1) == -1,
                      flag_fdr(det.predict_pvalues(batch), 0.1))

fits = {name: [first[name]] + [fit_conformal(name, fit) for fit in range(1, N_FITS)]
        for name in DETECTORS}
alphas = np.linspace(0.02, 0.3, 15)
curves = {name: fdr_and_power(fits[name], alphas) for name in DETECTORS}
fig, (ax_fdr, ax_power) = plt.subplots(1, 2, figsize=(9, 3.5))
for name, (fdr, power) in curves.items():
    ax_fdr.plot(alphas, fdr, marker="o", ms=3, label=name)
    ax_power.plot(alphas, power, marker="o", ms=3, label=name)
ax_fdr.plot(alphas, alphas, color="black", ls="--", lw=1, label="FDR = alpha")
ax_fdr.plot(alphas, 0.9 * alphas, color="gray", ls=":", lw=1,
            label="alpha x share of inliers")
ax_fdr.set(xlabel="alpha", ylabel="false discovery rate", title="Share of false leads")
ax_power.set(xlabel="alpha", ylabel="share of faulty rows flagged", title="Power",
             ylim=(0, 1))
ax_fdr.legend(fontsize=8)
fig.tight_layout()

# %%
# The false discovery rate stays at or below ``alpha`` for both detectors,
# as an average: a single batch, or a single fit, can do worse. The power is
# where they differ. IsolationForest ranks few faulty rows below all but a
# handful of the calibration rows, and a batch of 200 rows needs such small
# p-values: it flags almost nothing. A p-value cannot be smaller than
# ``1 / (n_calibration + 1)``, so a large batch also needs many calibration
# rows.
#
# Split or cross-conformal
# ------------------------
# ``method="split"`` fits the detector on half of the rows. ``method="cv"``
# fits ``cv`` clones, each on all folds but one and scoring that fold, so
# every training row calibrates and each clone sees 80% of the rows (with the
# default ``cv=5``); a new row's score is the mean of the clones' scores. It
# costs five fits and five scorings, and its guarantee is weaker (up to about
# twice the level in the worst case, close to it in practice): worth it when
# the training rows are few.
start = time.perf_counter()
cv = fit_conformal("AEOutlierDetector", 0, method="cv")
cv_time = time.perf_counter() - start
print(header("AE, method"))
print(row("split", first["AEOutlierDetector"], fit_times["AEOutlierDetector"]))
print(row("cv", cv, cv_time))

# %%
# With twice the calibration rows and clones fitted on more rows, ``cv`` flags
# a few more faulty rows here, for several times the fit time.

# %%
# Outliers among the training rows
# --------------------------------
# The guarantee assumes training rows drawn like the new inliers. Faulty rows
# among them break it: their scores join the calibration scores. They score
# low, so they raise the p-values of every new row. New inliers are flagged
# no more often than the level says, but faulty rows less often: a faulty row
# now has to score below the faulty calibration rows as well. Here 5% of the
# training rows of each of the four fits are faulty.
mixed = [fit_conformal("AEOutlierDetector", fit, faulty_share=0.05) for fit in range(N_FITS)]
fdr_mixed, power_mixed = fdr_and_power(mixed, alphas)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(alphas, curves["AEOutlierDetector"][1], marker="o", ms=3, label="clean training rows")
ax.plot(alphas, power_mixed, marker="o", ms=3, label="5% faulty training rows")
ax.set(xlabel="alpha", ylabel="share of faulty rows flagged", ylim=(0, 1),
       title="AEOutlierDetector, predict_fdr")
ax.legend()
fig.tight_layout()
i = np.argmin(np.abs(alphas - 0.1))
print(f"predict_fdr at alpha={alphas[i]:.2f}: false discovery rate "
      f"{curves['AEOutlierDetector'][0][i]:.3f} (clean training rows), "
      f"{fdr_mixed[i]:.3f} (5% faulty)")
for label, dets in (("clean training rows", fits["AEOutlierDetector"]), ("5% faulty", mixed)):
    inliers = np.mean([np.mean(d.predict(X_inliers) == -1) for d in dets])
    faults = np.mean([np.mean(d.predict(X_faults) == -1) for d in dets])
    print(f"predict, {label}: flags {inliers:.3f} of the new inliers, {faults:.3f} of the "
          "new faulty rows")

# %%
# About 25 of the 500 calibration rows are faulty, and they hold the lowest
# calibration scores. ``predict_fdr`` needs p-values below ``alpha * k / m``,
# that is new faulty rows scoring below nearly all of those: it flags almost
# none. ``predict`` still flags a share of the new faulty rows, but fewer new
# inliers than the level, since every p-value has risen. Fit on clean rows
# where you can.

# %%
# The training-score threshold
# ----------------------------
# ``AEOutlierDetector(contamination=c)`` sets ``offset_`` to the ``c``
# percentile of the scores of its training rows, so that it flags a share
# ``c`` of them; ``infer_threshold`` on the training rows with
# ``threshold_perc=100 * (1 - c)`` sets the same threshold without refitting.
# How many new inliers it flags depends on how much better the detector
# scores its training rows than new ones. The conformal threshold flags the
# rows with ``p <= c``, which ``predict`` flags at ``contamination=c``. Both
# are averaged over the four fits; the detectors with their own threshold are
# fitted on all 1,000 training rows of each fit.
levels = np.array([0.01, 0.02, 0.05, 0.1, 0.15, 0.2])
own = {name: np.zeros(len(levels)) for name in DETECTORS}
auto = []
own_pvalues = {"training rows": np.zeros(len(levels)), "500 unseen clean rows": np.zeros(len(levels))}
for fit in range(N_FITS):
    X_fit = training_rows(fit)
    ae = DETECTORS["AEOutlierDetector"](fit).fit(X_fit)
    auto.append(np.mean(ae.predict(X_inliers) == -1))  # contamination="auto"
    # the detector's own p-values, calibrated on its training rows, then on
    # clean rows it never saw (infer_threshold makes them the calibration rows)
    detector, scaled_inliers = ae[-1], ae[:-1].transform(X_inliers)
    p_training = detector.predict_pvalues(scaled_inliers)
    detector.infer_threshold(ae[:-1].transform(readings(500, np.random.RandomState(200 + fit))))
    p_unseen = detector.predict_pvalues(scaled_inliers)
    for j, c in enumerate(levels):
        own_pvalues["training rows"][j] += np.mean(p_training <= c) / N_FITS
        own_pvalues["500 unseen clean rows"][j] += np.mean(p_unseen <= c) / N_FITS
        ae[-1].infer_threshold(ae[:-1].transform(X_fit), threshold_perc=100 * (1 - c))
        own["AEOutlierDetector"][j] += np.mean(ae.predict(X_inliers) == -1) / N_FITS
        forest = IsolationForest(contamination=c, random_state=fit).fit(X_fit)
        own["IsolationForest"][j] += np.mean(forest.predict(X_inliers) == -1) / N_FITS
print("AEOutlierDetector with its default contamination='auto' flags "
      f"{np.mean(auto):.3f} of the new inliers (fits: {np.min(auto):.3f} to {np.max(auto):.3f})")

fig, ax = plt.subplots(figsize=(5.5, 4))
for name, color in zip(DETECTORS, ["tab:blue", "tab:orange"]):
    p_inliers = [det.predict_pvalues(X_inliers) for det in fits[name]]
    conformal_shares = [np.mean([np.mean(p <= c) for p in p_inliers]) for c in levels]
    ax.plot(levels, own[name], color=color, ls=":", marker="s", ms=4,
            label=f"{name}, training-score threshold")
    ax.plot(levels, conformal_shares, color=color, marker="o", ms=4, label=f"{name}, conformal")
ax.plot(levels, levels, color="black", ls="--", lw=1, label="contamination")
ax.set(xlabel="contamination", ylabel="share of new inliers flagged")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The conformal thresholds follow the diagonal, up to the spread of four
# fits: averaged over fits, a new inlier is flagged with probability between
# ``contamination - 1 / (n_calibration + 1)`` and ``contamination``, on any
# data and for any detector. The training-score thresholds come close on this data, but nothing
# bounds them: IsolationForest already flags more new inliers than its
# training rows, and a detector that fits its training rows more closely
# flags more still. The ``calibration`` benchmark (``python -m benchmarks
# calibration``) measures both on 31 tables.

# %%
# A detector's own p-values
# -------------------------
# Every detector of sklearn-daml has ``predict_pvalues`` and ``predict_fdr``
# itself, against its ``calibration_scores_``: after ``fit``, the scores of
# its training rows; after ``infer_threshold(X_ref)``, those of ``X_ref``.
# Only rows the network never trained on make the p-values valid. Here the
# autoencoder of each fit above gives p-values to the new inliers, first
# against its training rows, then against 500 new clean rows.
fig, ax = plt.subplots(figsize=(5.5, 4))
for label, shares in own_pvalues.items():
    ax.plot(levels, shares, marker="o", ms=4, label=f"calibrated on {label}")
ax.plot(levels, levels, color="black", ls="--", lw=1, label="t")
ax.set(xlabel="t", ylabel="share of new inliers with p <= t",
       title="AEOutlierDetector.predict_pvalues")
ax.legend(fontsize=8)
fig.tight_layout()
for label, shares in own_pvalues.items():
    print(f"calibrated on {label}: share of new inliers with p <= 0.05: "
          f"{shares[levels == 0.05][0]:.3f}")

# %%
# Calibrated on rows it never saw, the shares follow the diagonal: those
# p-values are valid, as the conformal detector's. Against its training rows
# the autoencoder comes close here too, because it trains briefly and scores
# new inliers much like the rows it saw; nothing guarantees that, and a
# network that memorises its rows (a PixelCNN on a few hundred images) gives
# new inliers p-values far too small. Calibrate on unseen clean rows when the
# p-values must hold.

"""Would float32 scoring be batch-invariant with padded batches, and how much faster?

Issue 9 asks to measure it before offering a ``dtype``. The detectors train
and score in float64. This script fits the default ``AEOutlierDetector``
(5 members) on the KDDCUP inlier half (the speed benchmark's rows), makes a
float32 copy of the fitted network (same weights, rounded) and scores with
it through the same padded batches as the float64 scorer. It prints

- batch invariance: rows scored alone, in odd-sized batches and in the full
  set, compared bit for bit, in float32 unpadded and padded to multiples of
  64 and 256 rows, on KDDCUP (118 features) and satellite (36 features);
- scoring throughput (rows/s on 100k rows) in float64 and float32;
- the effect on quality: the largest relative score difference and the
  ROC-AUC of both on the KDDCUP test half (``normal.`` rows are outliers).

    python -m benchmarks.experiments.float32_scoring
"""

import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEOutlierDetector
from sklearn_daml._base import tf

import keras

from ..data import adbench, kddcup


def _float32_copy(model, n_features):
    config = keras.saving.serialize_keras_object(model)

    def recast(node):
        if isinstance(node, dict):
            return {k: ("float32" if v == "float64" else recast(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [recast(v) for v in node]
        return node

    copy = keras.saving.deserialize_keras_object(recast(config))
    copy(np.zeros((1, n_features), "float32"))
    copy.set_weights([w.astype(np.float32) for w in model.get_weights()])
    return copy


def _scorer32(det, model32):
    scale = tf.constant(det.feature_scale_, tf.float32)
    mean = tf.constant(det.member_mean_, tf.float32)
    std = tf.constant(det.member_std_, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, det.n_features_in_], tf.float32)])
    def score(x):
        err = tf.square(x[:, None, :] - model32(x))
        normalised = tf.reduce_mean(err / scale, axis=-1)
        return tf.reduce_mean((normalised - mean) / std, axis=-1)

    return score


def _pad_to(x, multiple):
    n_pad = -x.shape[0] % multiple
    return np.concatenate([x, np.repeat(x[-1:], n_pad, axis=0)]) if n_pad else x


def _map(fn, X, pad, dtype, chunk=2**13):
    """Scores of ``X`` by ``fn`` in chunks, each padded to a multiple of ``pad`` rows."""
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], chunk):
        xb = X[start : start + chunk].astype(dtype)
        n = xb.shape[0]
        out[start : start + n] = np.asarray(fn(tf.constant(_pad_to(xb, pad) if pad else xb)))[:n]
    return -out


def _batch_differences(score, X):
    full = score(X)
    rows = {}
    for size in (1, 3, 7, 13, 37, 64, 65, 129, 300, 1000):
        parts = np.concatenate([score(X[i : i + size]) for i in range(0, len(X), size)])
        rows[size] = int(np.sum(parts != full))
    return rows


def _print_invariance(det, s32, X):
    print("  float64, padded to 64 :", _batch_differences(det.score_samples, X))
    for pad in (0, 64, 256):
        diffs = _batch_differences(lambda A, pad=pad: _map(s32, A, pad, np.float32), X)
        print(f"  float32, padded to {pad:<3}:", diffs)


def main():
    X, y = kddcup()
    inliers = np.flatnonzero(y == 0)
    perm = np.random.RandomState(0).permutation(inliers)
    train = X[perm[: len(perm) // 2]]
    test_idx = np.setdiff1d(np.arange(len(X)), perm[: len(perm) // 2])
    det = AEOutlierDetector(random_state=0, epochs=20).fit(train[:50_000])
    model32 = _float32_copy(det.model_, det.n_features_in_)
    s32 = _scorer32(det, model32)

    X_small = train[:2000]
    print("KDDCUP: rows (of 2000) whose score differs from the full-set score, by batch size:")
    _print_invariance(det, s32, X_small)
    X_sat, _ = adbench("satellite")
    X_sat = StandardScaler().fit_transform(X_sat)
    det_sat = AEOutlierDetector(random_state=0, epochs=5).fit(X_sat)
    s32_sat = _scorer32(det_sat, _float32_copy(det_sat.model_, det_sat.n_features_in_))
    print(f"satellite: rows (of {len(X_sat)}) whose score differs from the full-set score:")
    _print_invariance(det_sat, s32_sat, X_sat)

    X_score = np.vstack([train] * (1 + 100_000 // len(train)))[:100_000]
    timings = {}
    for name, fn in [
        ("float64", det.score_samples),
        ("float32", lambda A: _map(s32, A, 256, np.float32)),
    ]:
        fn(X_score[:1000])
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            fn(X_score)
            best = min(best, time.perf_counter() - start)
        timings[name] = len(X_score) / best
        print(f"{name}: {timings[name]:,.0f} rows/s (best of 3, 100k rows)")
    print(f"speed-up: {timings['float32'] / timings['float64']:.2f}x")

    s64 = det.score_samples(X[test_idx])
    s32v = _map(s32, X[test_idx], 256, np.float32)
    rel = np.max(np.abs(s32v - s64) / np.maximum(np.abs(s64), 1e-12))
    print(f"largest relative score difference on the test half: {rel:.2e}")
    y_test = y[test_idx]
    print(
        f"ROC-AUC test half: float64 {roc_auc_score(y_test, -s64):.6f}, "
        f"float32 {roc_auc_score(y_test, -s32v):.6f}"
    )


if __name__ == "__main__":
    main()

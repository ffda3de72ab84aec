"""Bit-level fingerprint of every detector's outputs, to show that a change
of the code leaves scores exactly as they were.

``save`` fits every detector on small synthetic data (the default network,
a few epochs; with sample weights, early stopping and a custom network where
a detector has them) and stores every output a user reads: ``score_samples``,
``decision_function``, ``predict``, ``offset_``, the training curves and the
per-feature scores. ``check`` fits the same detectors with the code in the
working tree and compares bit for bit; it exits non-zero on any difference.

    python -m benchmarks.fingerprint save /tmp/before.npz   # on the old code
    python -m benchmarks.fingerprint check /tmp/before.npz  # on the new code

A run takes a few minutes on two cores.
"""

import argparse
import sys

import numpy as np


from sklearn_daml import (  # first: it imports TensorFlow quietly
    AdversarialAEDetector,
    AEGMMOutlierDetector,
    AEOutlierDetector,
    LLROutlierDetector,
    ModelDistillationDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

import keras  # noqa: E402


def _classifier(n_features):
    return keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _tables():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(300, 6)), rng.uniform(4, 6, size=(15, 6))])
    weights = rng.randint(0, 3, size=X.shape[0]).astype(float)
    t = np.arange(240)[:, None] + np.arange(16)[None, :]
    windows = np.sin(0.3 * t) + 0.05 * rng.normal(size=t.shape)
    windows[200:205] += 2.0
    images = rng.randint(0, 4, size=(120, 3, 3, 1))
    return X, weights, windows, images


def _cases():
    """``(name, detector, X, fit_kwargs)`` for every case fingerprinted."""
    X, weights, windows, images = _tables()
    tabular = [
        ("ae", AEOutlierDetector(epochs=3, random_state=0)),
        ("vae", VAEOutlierDetector(epochs=3, random_state=0)),
        ("aegmm", AEGMMOutlierDetector(epochs=3, random_state=0)),
        ("vaegmm", VAEGMMOutlierDetector(epochs=3, random_state=0)),
        ("ae_early", AEOutlierDetector(epochs=4, early_stopping=True, n_iter_no_change=1, random_state=1)),
        ("aegmm_early", AEGMMOutlierDetector(epochs=4, early_stopping=True, contamination="auto", random_state=1)),
        ("vae_elbo", VAEOutlierDetector(epochs=2, cov_elbo="cov_diag", n_estimators=1, random_state=2)),
        ("ae_single", AEOutlierDetector(epochs=2, n_estimators=1, hidden_layer_sizes=(12,), random_state=3)),
    ]
    for name, det in tabular:
        yield name, det, X, {}
    yield "ae_weighted", AEOutlierDetector(epochs=2, random_state=4), X, {"sample_weight": weights}
    yield "aegmm_weighted", AEGMMOutlierDetector(epochs=2, random_state=4), X, {"sample_weight": weights}
    yield "seq2seq", Seq2SeqOutlierDetector(seq_len=16, latent_dim=4, epochs=3, random_state=0), windows, {}
    yield "pixelcnn", PixelCNNOutlierDetector(epochs=2, random_state=0), images, {}
    yield "llr", LLROutlierDetector(epochs=2, random_state=0), images, {}
    yield "adversarial", AdversarialAEDetector(_classifier, epochs=3, random_state=0), X, {}
    yield "distillation", ModelDistillationDetector(_classifier, epochs=3, random_state=0), X, {}


def fingerprint():
    """Every output of every case, as a flat dict of float64 arrays."""
    out = {}
    for name, det, X, fit_kwargs in _cases():
        det.fit(X, **fit_kwargs)
        values = {
            "score_samples": det.score_samples(X),
            "decision_function": det.decision_function(X),
            "predict": det.predict(X).astype(np.float64),
            "offset_": np.atleast_1d(det.offset_),
            "loss_curve_": np.asarray(det.loss_curve_, dtype=np.float64),
            "single_row": det.score_samples(X[:1]),
        }
        if hasattr(det, "feature_score_samples"):
            values["feature_score_samples"] = np.asarray(det.feature_score_samples(X[:50]))
        if getattr(det, "validation_loss_curve_", None) is not None:
            values["validation_loss_curve_"] = np.asarray(det.validation_loss_curve_)
        if hasattr(det, "correct"):
            values["correct"] = np.asarray(det.correct(X[:50]), dtype=np.float64)
        for key, value in values.items():
            out[f"{name}/{key}"] = np.asarray(value, dtype=np.float64)
        print(f"{name}: {len(values)} outputs", file=sys.stderr)
    return out


def _same_bits(a, b):
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fingerprint")
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("path")
    args = parser.parse_args(argv)
    current = fingerprint()
    if args.action == "save":
        np.savez(args.path, **current)
        print(f"wrote {len(current)} arrays to {args.path}")
        return 0
    stored = dict(np.load(args.path))
    differ = sorted(k for k in stored if k not in current or not _same_bits(stored[k], current[k]))
    new = sorted(set(current) - set(stored))
    for key in differ:
        if key in current:
            diff = np.max(np.abs(stored[key] - current[key])) if stored[key].shape == current[key].shape else "shape"
            print(f"DIFFERENT {key}: max abs difference {diff}")
        else:
            print(f"MISSING {key}")
    for key in new:
        print(f"NEW {key} (not in {args.path})")
    print(f"{len(stored) - len(differ)} of {len(stored)} arrays bit-identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

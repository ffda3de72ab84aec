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

``save`` also records the key under which ``python -m benchmarks quality``
stores each tabular detector's results (a hash of its source). A change of
the code changes that key even when the scores stay as they were, and the
stored results would have to be measured again. ``check --carry`` copies the
stored quality results of every tabular detector whose outputs are all
bit-identical, but for those of the threshold that the quality benchmark
does not read (``offset_``, ``decision_function``, ``predict``), from the
recorded key to the current one (a detector with any other difference keeps
none), so that ``--report`` shows them for the new code.

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


# the fingerprint cases of each detector of the quality benchmark: those
# whose name starts with its prefix and an underscore, or is the prefix
_QUALITY_CASES = {"AE": "ae", "VAE": "vae", "AEGMM": "aegmm", "VAEGMM": "vaegmm"}
_KEY = "quality_key/"


def _quality_keys():
    """``{name: key}`` of the stored quality results of each tabular
    detector with its defaults, for the code in the working tree."""
    from . import quality

    return {name: quality.detector_method(name, name).key for name in _QUALITY_CASES}


# the outputs the threshold sets, which the quality benchmark does not read
# (as its keys leave out the thresholds' module)
_THRESHOLD_OUTPUTS = {"offset_", "decision_function", "predict"}


def _case(key):
    """The detector prefix of a fingerprint array's key (``"ae_early/offset_"``: ``"ae"``)."""
    return key.partition("/")[0].partition("_")[0]


def _identical_detectors(differ, stored):
    """The quality benchmark's detectors none of whose cases differ in an
    output other than the threshold's."""
    changed = {_case(key) for key in differ if key.partition("/")[2] not in _THRESHOLD_OUTPUTS}
    recorded = {_case(key) for key in stored}
    return [name for name, case in _QUALITY_CASES.items()
            if case in recorded and case not in changed]


def carry(stored_keys, detectors, paths):
    """Append to each store in ``paths`` a copy, under the current key, of
    every entry of ``detectors`` stored under the key recorded at ``save``;
    return the number of entries copied."""
    from .quality import Store

    current = _quality_keys()
    moves = {name: (stored_keys[name], current[name]) for name in detectors
             if stored_keys.get(name) not in (None, current[name])}
    copied = 0
    for path in paths:
        if not path.exists():
            continue
        store = Store(path)
        carried = 0
        for entry in list(store.entries.values()):
            old, now = moves.get(entry["method"], (None, None))
            if old is not None and entry["key"].startswith(old):
                moved = {**entry, "key": now + entry["key"][len(old):]}
                if store._identity(moved) not in store.entries:
                    store.append(moved)
                    carried += 1
        print(f"{path}: {carried} stored results carried to the current keys")
        copied += carried
    return copied


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fingerprint")
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("path")
    parser.add_argument(
        "--carry", action="store_true",
        help="with check: carry the stored quality results of the detectors whose outputs "
        "are all bit-identical to the current code's keys",
    )
    args = parser.parse_args(argv)
    current = fingerprint()
    if args.action == "save":
        keys = {_KEY + name: np.array(key) for name, key in _quality_keys().items()}
        np.savez(args.path, **current, **keys)
        print(f"wrote {len(current)} arrays to {args.path}")
        return 0
    stored = dict(np.load(args.path))
    stored_keys = {k[len(_KEY):]: str(stored.pop(k)) for k in list(stored) if k.startswith(_KEY)}
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
    if args.carry:
        from .quality import RESULTS

        identical = _identical_detectors(differ, stored)
        print(f"bit-identical detectors of the quality benchmark: {', '.join(identical) or 'none'}")
        carry(stored_keys, identical, [RESULTS / "quality.jsonl", RESULTS / "quality_quick.jsonl"])
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

"""The quality benchmark's machinery: which stored results a change keeps,
the store, the subsampling rule, ranks and loss counts."""

import numpy as np
import pytest

from benchmarks import quality
from benchmarks.baselines import KNNDistance, PCAReconstruction


def test_keys_ignore_documentation_but_not_code():
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # one\n'
    redocumented = 'def f(x):\n    """Other words."""\n    # a comment\n    return x + 1\n'
    changed = 'def f(x):\n    """Doc."""\n    return x + 2\n'
    assert quality._without_docstrings(code) == quality._without_docstrings(redocumented)
    assert quality._without_docstrings(code) != quality._without_docstrings(changed)


def test_a_detector_is_keyed_by_the_modules_it_runs():
    ae = quality.package_sources("sklearn_daml._ae")
    aegmm = quality.package_sources("sklearn_daml._aegmm")
    # shared mechanisms and models are in both; each detector's own file only in its own
    for module in ("sklearn_daml._base", "sklearn_daml._ensemble", "sklearn_daml.models.ensemble"):
        assert module in ae and module in aegmm
    assert "sklearn_daml._aegmm" not in ae and "sklearn_daml._ae" not in aegmm
    # what cannot change a score on a NumPy array is left out
    assert not quality.NOT_SCORED & set(ae)
    assert "sklearn_daml.__init__" not in ae and "sklearn_daml" not in ae


def test_method_keys_follow_parameters():
    base = quality.detector_method("AE", "AE")
    assert quality.detector_method("AE", "AE").key == base.key
    assert quality.detector_method("AE-e40", "AE", {"epochs": 40}).key != base.key
    assert quality.detector_method("AEGMM", "AEGMM").key != base.key
    variant = quality.parse_variant("AE-small=AE:hidden_layer_sizes=(8,),latent_dim=2")
    assert variant.make(3).get_params()["latent_dim"] == 2
    assert variant.make(3).get_params()["random_state"] == 3
    with pytest.raises(SystemExit, match="expected NAME=METHOD"):
        quality.parse_variant("AE-small=Forest:n_estimators=10")


def test_store_keeps_the_last_entry_and_reloads(tmp_path):
    path = tmp_path / "store.jsonl"
    store = quality.Store(path)
    method = quality.detector_method("AE", "AE")
    assert store.get("clean", "wine", 0, method) is None
    store.add("clean", "wine", 0, method, {"roc_auc": 0.5})
    store.add("clean", "wine", 0, method, {"roc_auc": 0.75})
    store.add("clean", "wine", 1, method, {"roc_auc": 0.25})
    again = quality.Store(path)
    assert again.get("clean", "wine", 0, method)["roc_auc"] == 0.75
    assert again.get("clean", "wine", 1, method)["roc_auc"] == 0.25
    # another key (a changed detector) finds nothing
    other = quality.detector_method("AE", "AE", {"epochs": 3})
    assert again.get("clean", "wine", 0, other) is None



def test_fingerprint_carries_only_the_detectors_whose_scores_are_identical(tmp_path, monkeypatch):
    from benchmarks import fingerprint

    path = tmp_path / "store.jsonl"
    store = quality.Store(path)
    old = {name: quality.detector_method(name, name, {"epochs": 3}) for name in ("AE", "AEGMM")}
    for name, method in old.items():
        store.add("clean", "wine", 0, method, {"roc_auc": 0.5})
        store.add("U", "wine", 1, method, {"roc_auc": 0.25})
    now = {name: quality.detector_method(name, name) for name in ("AE", "AEGMM")}
    monkeypatch.setattr(fingerprint, "_quality_keys", lambda: {n: m.key for n, m in now.items()})
    stored = {"ae/score_samples": 0, "ae_early/offset_": 0, "aegmm/score_samples": 0}
    # a different threshold keeps the AE's results; a different score drops AEGMM's
    differ = ["ae_early/offset_", "aegmm/score_samples"]
    identical = fingerprint._identical_detectors(differ, stored)
    assert identical == ["AE"]
    keys = {name: method.key for name, method in old.items()}
    assert fingerprint.carry(keys, identical, [path, tmp_path / "absent.jsonl"]) == 2
    again = quality.Store(path)
    assert again.get("clean", "wine", 0, now["AE"])["roc_auc"] == 0.5
    assert again.get("U", "wine", 1, now["AE"])["roc_auc"] == 0.25
    assert again.get("clean", "wine", 0, now["AEGMM"]) is None
    assert fingerprint.carry(keys, identical, [path]) == 0  # nothing twice


def test_large_tables_are_sampled_with_their_outlier_share(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30_000, 3))
    y = (np.arange(30_000) % 50 == 0).astype(int)  # 2% outliers
    monkeypatch.setattr(quality.data, "adbench", lambda name: (X, y))
    X_s, y_s = quality.load_table("cover", quick=False)
    assert len(y_s) == quality.MAX_ROWS
    assert y_s.sum() == pytest.approx(0.02 * quality.MAX_ROWS, abs=1)
    X_again, _ = quality.load_table("cover", quick=False)
    np.testing.assert_array_equal(X_s, X_again)  # the same sample for every seed
    assert len(quality.load_table("cover", quick=True)[1]) == quality.QUICK_MAX_ROWS
    small = X[:500], y[:500]
    monkeypatch.setattr(quality.data, "adbench", lambda name: small)
    assert quality.load_table("wine", quick=False)[0] is small[0]


def test_ranks_and_losses_against_a_hand_computed_case():
    names = ["kNN", "PCA", "AE"]
    values = {
        "a": {"kNN": [0.9, 0.9], "PCA": [0.8, 0.8], "AE": [0.7, 0.7]},
        "b": {"kNN": [0.6, 0.6], "PCA": [0.7, 0.7], "AE": [0.7, 0.7]},
        "c": {"kNN": [0.5, 0.5], "PCA": [0.5, 0.5], "AE": [0.9, 0.7]},
        "d": {"kNN": [0.5, 0.5], "PCA": [0.5, 0.5]},  # AE missing: left out
    }
    s = quality.summary(values, names, n_seeds=2)
    assert s["tables"] == ["a", "b", "c"]
    # ranks per table: a 1/2/3; b 3/1.5/1.5; c 2.5/2.5/1
    assert s["rank"] == pytest.approx({"kNN": 6.5 / 3, "PCA": 6 / 3, "AE": 5.5 / 3})
    assert s["mean"]["AE"] == pytest.approx((0.7 + 0.7 + 0.8) / 3)
    assert s["max_std"]["AE"] == pytest.approx(0.1)
    assert quality._below(s, names, "AE", ["kNN", "PCA"], 0.05) == ["a"]
    assert quality._below(s, names, "AE", "PCA", 0.15) == []
    assert quality._below(s, names, "AE", "PCA", 0.05) == ["a"]


def test_baselines_score_outliers_lower():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)) @ np.diag([3.0, 2.0, 0.1, 0.1])
    new = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    for baseline in (KNNDistance(), PCAReconstruction()):
        scores = baseline.fit(X).score_samples(new)
        assert scores[0] > scores[1]
    # PCA keeps the two large directions: the error is the rest of the row
    assert PCAReconstruction().fit(X).score_samples(new)[1] == pytest.approx(-9.0, rel=0.05)

"""det.save and sklearn_daml.load: one file that runs no code on load."""

import io
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import sklearn_daml
from sklearn_daml import AEGMMOutlierDetector, AEOutlierDetector, VAEOutlierDetector, load

TINY_IMAGES = dict(
    low=0, high=3, num_resnet=1, num_hierarchies=1, num_filters=4, num_logistic_mix=2,
    dropout_p=0.0, epochs=1, random_state=0,
)
TABLE = np.random.RandomState(0).normal(size=(60, 4))
IMAGES = np.random.RandomState(1).randint(0, 4, size=(40, 2, 3, 1)).astype(float)
WINDOWS = np.sin(0.3 * (np.arange(40)[:, None] + np.arange(8)[None, :]))


def _classifier():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])


def _custom_networks():
    """AEGMM with every network, the activation and the optimizer given by the user."""
    return AEGMMOutlierDetector(
        encoder_net=keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(6), keras.layers.Dense(1)]
        ),
        decoder_net=keras.Sequential([keras.Input((1,)), keras.layers.Dense(4)]),
        gmm_density_net=keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
             keras.layers.Dense(2, activation="softmax")]
        ),
        activation=keras.activations.relu,
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        epochs=2,
        random_state=0,
    )


# A cheap fit for every detector: (constructor, data).
RECIPES = {
    "AEOutlierDetector": (
        lambda: AEOutlierDetector(n_estimators=2, epochs=2, random_state=0), TABLE
    ),
    "VAEOutlierDetector": (
        lambda: VAEOutlierDetector(
            n_estimators=2, samples=2, epochs=2, cov_elbo="cov_full", random_state=0
        ),
        TABLE,
    ),
    "AEGMMOutlierDetector": (lambda: AEGMMOutlierDetector(epochs=2, random_state=0), TABLE),
    "VAEGMMOutlierDetector": (
        lambda: sklearn_daml.VAEGMMOutlierDetector(samples=2, epochs=2, random_state=0), TABLE
    ),
    "Seq2SeqOutlierDetector": (
        lambda: sklearn_daml.Seq2SeqOutlierDetector(latent_dim=4, epochs=1, random_state=0), WINDOWS
    ),
    "PixelCNNOutlierDetector": (
        lambda: sklearn_daml.PixelCNNOutlierDetector(**TINY_IMAGES), IMAGES
    ),
    "LLROutlierDetector": (lambda: sklearn_daml.LLROutlierDetector(**TINY_IMAGES), IMAGES),
    "AdversarialAEDetector": (
        lambda: sklearn_daml.AdversarialAEDetector(
            _classifier(), hidden_layer_kld={0: 2}, epochs=2, random_state=0  # int dict keys
        ),
        TABLE,
    ),
    "ModelDistillationDetector": (
        lambda: sklearn_daml.ModelDistillationDetector(_classifier(), epochs=2, random_state=0),
        TABLE,
    ),
    "ConformalOutlierDetector": (
        lambda: sklearn_daml.ConformalOutlierDetector(
            sklearn_daml.AEOutlierDetector(n_estimators=1, epochs=2, random_state=0),
            random_state=0,
        ),
        TABLE,
    ),
    "custom networks": (lambda: _custom_networks(), TABLE),
}
DETECTORS = [
    name
    for name in sklearn_daml.__all__
    if isinstance(getattr(sklearn_daml, name), type)
    and issubclass(getattr(sklearn_daml, name), BaseEstimator)
]


@pytest.fixture(scope="module")
def fitted():
    """``fitted(name)``: the detector of ``RECIPES[name]``, fitted once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            make, data = RECIPES[name]
            cache[name] = make().fit(data), data
        return cache[name]

    return get


def _saved(det, tmp_path, name="detector.daml"):
    path = tmp_path / name
    det.save(path)
    return path


def _rewrite(path, *, manifest=None, members=None):
    """Tamper with a saved file: edit its manifest and replace or add members."""
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    if manifest is not None:
        data = json.loads(contents["manifest.json"])
        manifest(data)
        contents["manifest.json"] = json.dumps(data).encode()
    contents.update(members or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _plain(value):
    """Whether ``value`` is made of Python's plain types only (comparable with ==)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return isinstance(value, (bool, int, float, str, type(None)))


# ----------------------------------------------------------------- round trip
def test_every_detector_has_a_cheap_recipe():
    missing = sorted(set(DETECTORS) - set(RECIPES))
    assert not missing, f"add a cheap fit of {missing} to RECIPES, so its save/load is tested"
    assert len(DETECTORS) >= 7


@pytest.mark.parametrize("name", [*DETECTORS, "custom networks"])
def test_round_trip_bit_identical(name, fitted, tmp_path):
    det, data = fitted(name)
    loaded = load(_saved(det, tmp_path))
    assert type(loaded) is type(det)
    np.testing.assert_array_equal(loaded.score_samples(data), det.score_samples(data))
    assert loaded.offset_ == det.offset_
    assert sorted(vars(loaded)) == sorted(vars(det))
    for key, value in vars(det).items():
        if _plain(value):
            assert loaded.__dict__[key] == value, key
            assert type(loaded.__dict__[key]) is type(value), key


def _same_scores_in_fresh_process(names, fitted, tmp_path):
    classes = []
    for i, name in enumerate(names):
        det, data = fitted(name)
        det.save(tmp_path / f"det{i}.daml")
        np.save(tmp_path / f"data{i}.npy", data)
        np.save(tmp_path / f"expected{i}.npy", det.score_samples(data))
        np.save(tmp_path / f"predicted{i}.npy", det.predict(data))
        classes.append(type(det).__name__)
    script = (
        "import sys, numpy as np, sklearn_daml\n"
        "d = sys.argv[1]\n"
        f"for i, name in enumerate({classes!r}):\n"
        "    det = sklearn_daml.load(f'{d}/det{i}.daml')\n"
        "    assert type(det).__name__ == name, (type(det), name)\n"
        "    data = np.load(f'{d}/data{i}.npy')\n"
        "    expected = np.load(f'{d}/expected{i}.npy')\n"
        "    np.testing.assert_array_equal(det.score_samples(data), expected)\n"
        "    np.testing.assert_array_equal(det.predict(data), np.load(f'{d}/predicted{i}.npy'))\n"
        "print('identical')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "identical"


def test_round_trip_in_fresh_process_bit_identical(fitted, tmp_path):
    _same_scores_in_fresh_process(["AEOutlierDetector", "custom networks"], fitted, tmp_path)


@pytest.mark.slow  # fits every detector and starts a second Python process (about a minute)
def test_every_detector_round_trips_in_fresh_process_bit_identical(fitted, tmp_path):
    _same_scores_in_fresh_process([*DETECTORS, "custom networks"], fitted, tmp_path)


def test_values_keep_their_types(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(TABLE, columns=["a", "b", "c", "d"])
    det = AEOutlierDetector(
        n_estimators=1, epochs=1, hidden_layer_sizes=np.array([6, 3]),
        optimizer=keras.optimizers.Adam(learning_rate=5e-4),
        random_state=np.random.RandomState(3),
    ).fit(frame)
    loaded = load(_saved(det, tmp_path))
    np.testing.assert_array_equal(loaded.feature_names_in_, det.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.hidden_layer_sizes, [6, 3])
    assert loaded.hidden_layer_sizes.dtype == det.hidden_layer_sizes.dtype
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert np.isclose(float(loaded.optimizer.learning_rate), 5e-4)
    assert loaded.random_state.randint(10**9) == det.random_state.randint(10**9)
    np.testing.assert_array_equal(loaded.score_samples(frame), det.score_samples(frame))


def test_unfitted_detector_round_trips(tmp_path):
    det = VAEOutlierDetector(latent_dim=3, cov_elbo="mse", hidden_layer_sizes=(8, 4))
    loaded = load(_saved(det, tmp_path))
    assert loaded.get_params() == det.get_params()
    with pytest.raises(NotFittedError):
        loaded.score_samples(TABLE)


def test_the_file_holds_no_pickle_and_names_the_versions(fitted, tmp_path):
    det, _ = fitted("VAEOutlierDetector")
    with zipfile.ZipFile(_saved(det, tmp_path)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
        for name in names:
            if name.endswith(".npy"):
                np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
    libraries = {"sklearn-daml", "keras", "tensorflow", "scikit-learn", "numpy"}
    assert set(manifest["versions"]) == libraries
    assert manifest["versions"]["keras"] == keras.__version__
    assert manifest["attributes"]["model_"]["kind"] == "keras"
    assert manifest["attributes"]["_elbo"]["kind"] == "object"  # the ELBO covariance
    assert all(re.fullmatch(r"manifest\.json|arrays/\d+\.npy|keras/\d+\.keras", n) for n in names)


# ------------------------------------------------------------- what is refused
class _Touch:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


@pytest.mark.parametrize("where", ["new attribute", "replaced array"])
def test_pickled_array_is_refused_unless_trusted(where, fitted, tmp_path):
    det, data = fitted("AEOutlierDetector")
    path = _saved(det, tmp_path)
    marker = tmp_path / "code-ran"
    payload = np.array([_Touch(marker)], dtype=object)
    if where == "new attribute":
        def edit(manifest):
            manifest["attributes"]["extra_"] = {"kind": "ndarray", "file": "arrays/99.npy"}

        _rewrite(path, manifest=edit, members={"arrays/99.npy": _npy(payload, allow_pickle=True)})
    else:
        with zipfile.ZipFile(path) as archive:
            file = json.loads(archive.read("manifest.json"))["attributes"]["member_mean_"]["file"]
        _rewrite(path, members={file: pickle.dumps(payload)})  # a raw pickle, not even .npy
    with pytest.raises(ValueError, match=r"(?s)Refusing to load.*'pickle'.*trusted=\['pickle'\]"):
        load(path)
    assert not marker.exists()
    if where == "new attribute":
        loaded = load(path, trusted=["pickle"])
        assert marker.exists()
        np.testing.assert_array_equal(loaded.score_samples(data), det.score_samples(data))


def _touching_lambda(path):
    """A lambda whose call creates ``path`` (Keras stores its bytecode)."""
    return lambda x: (open(path, "w").close(), x)[1]


def test_lambda_layer_is_refused_unless_trusted(tmp_path):
    det = AEOutlierDetector(
        n_estimators=1, epochs=1, latent_dim=1, random_state=0,
        encoder_net=keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]),
    ).fit(TABLE)
    path = _saved(det, tmp_path)
    marker = tmp_path / "code-ran"
    tampered = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Lambda(_touching_lambda(str(marker))),
        keras.layers.Dense(1),
    ])
    tampered.save(tmp_path / "tampered.keras")
    with zipfile.ZipFile(path) as archive:
        file = json.loads(archive.read("manifest.json"))["params"]["encoder_net"]["file"]
    _rewrite(path, members={file: (tmp_path / "tampered.keras").read_bytes()})
    marker.unlink(missing_ok=True)  # building the model above ran the lambda
    with pytest.raises(ValueError, match=r"(?s)'keras\.layers\.Lambda'.*bytecode.*encoder_net"):
        load(path)
    assert not marker.exists()
    loaded = load(path, trusted=["keras.layers.Lambda"])
    assert marker.exists()
    assert any(isinstance(layer, keras.layers.Lambda) for layer in loaded.encoder_net.layers)
    np.testing.assert_array_equal(loaded.score_samples(TABLE), det.score_samples(TABLE))


def _rename_first_dense(config):
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer.update(module="evil_package", registered_name="evil_package>Evil")
            return


def _tamper_keras_class(path, tmp_path):
    with zipfile.ZipFile(path) as archive:
        file = json.loads(archive.read("manifest.json"))["params"]["encoder_net"]["file"]
        with zipfile.ZipFile(io.BytesIO(archive.read(file))) as model_file:
            model_members = {n: model_file.read(n) for n in model_file.namelist()}
    config = json.loads(model_members["config.json"])
    _rename_first_dense(config)
    model_members["config.json"] = json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as model_file:
        for name, data in model_members.items():
            model_file.writestr(name, data)
    _rewrite(path, members={file: buffer.getvalue()})


def _tamper_estimator_class(path, tmp_path):
    def edit(manifest):
        manifest["estimator"] = {"module": "subprocess", "name": "Popen"}

    _rewrite(path, manifest=edit)


def _tamper_function(path, tmp_path):
    def edit(manifest):
        manifest["params"]["activation"] = {
            "kind": "keras_object",
            "config": {"module": "builtins", "class_name": "function",
                       "config": "evil_package>run", "registered_name": "function"},
        }

    _rewrite(path, manifest=edit)


def _tamper_object(path, tmp_path):
    def edit(manifest):
        manifest["attributes"]["extra_"] = {
            "kind": "object", "class": {"module": "os", "name": "PathLike"}, "state": {}
        }

    _rewrite(path, manifest=edit)


@pytest.mark.parametrize(
    "tamper, name",
    [
        (_tamper_keras_class, "evil_package>Evil"),
        (_tamper_estimator_class, "subprocess.Popen"),
        (_tamper_function, "evil_package>run"),
        (_tamper_object, "os.PathLike"),
    ],
    ids=["keras layer", "estimator", "function", "object"],
)
def test_unknown_class_is_refused(tamper, name, tmp_path):
    det = AEOutlierDetector(
        n_estimators=1, epochs=1, latent_dim=1,
        encoder_net=keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]),
    )
    path = _saved(det, tmp_path)
    tamper(path, tmp_path)
    with pytest.raises(ValueError, match=f"(?s)Refusing to load.*'{re.escape(name)}'"):
        load(path)


def test_a_class_must_be_defined_where_the_file_says(tmp_path):
    path = _saved(AEOutlierDetector(), tmp_path)

    def edit(manifest):  # zipfile.ZipFile is reachable from that module, not defined there
        manifest["attributes"]["extra_"] = {
            "kind": "object",
            "class": {"module": "sklearn_daml._persistence", "name": "zipfile.ZipFile"},
            "state": {},
        }

    _rewrite(path, manifest=edit)
    with pytest.raises(ValueError, match="not a class of sklearn-daml"):
        load(path)


def test_trusted_estimator_class_must_be_an_estimator(tmp_path):
    path = _saved(AEOutlierDetector(), tmp_path)
    _tamper_estimator_class(path, tmp_path)
    with pytest.raises(ValueError, match="not a scikit-learn estimator"):
        load(path, trusted=["subprocess.Popen"])


@keras.saving.register_keras_serializable(package="test_persistence")
class Scale(keras.layers.Layer):
    """A custom layer registered by another package than sklearn-daml."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="test_persistence")
def small_encoder(n_features, latent_dim):
    return keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(latent_dim)])


class SubclassedAE(AEOutlierDetector):
    """A user's subclass of a detector, in a module that is not sklearn-daml's."""


@pytest.mark.parametrize(
    "det, trust",
    [
        (
            AEOutlierDetector(
                encoder_net=keras.Sequential(
                    [keras.Input((4,)), Scale(0.5), keras.layers.Dense(2)]
                ),
                latent_dim=2,
            ),
            "test_persistence>Scale",
        ),
        (
            AEOutlierDetector(encoder_net=small_encoder, latent_dim=2),
            "test_persistence>small_encoder",
        ),
        (SubclassedAE(), f"{__name__}.SubclassedAE"),
    ],
    ids=["registered layer", "registered builder", "subclass"],
)
def test_user_code_loads_when_trusted(det, trust, tmp_path):
    det = clone(det).set_params(n_estimators=1, epochs=1, random_state=0).fit(TABLE)
    path = _saved(det, tmp_path)
    name = re.escape(trust)
    with pytest.raises(ValueError, match=f"(?s)'{name}'.*trusted=\\['{name}'\\]"):
        load(path)
    loaded = load(path, trusted=[trust])
    assert type(loaded) is type(det)
    np.testing.assert_array_equal(loaded.score_samples(TABLE), det.score_samples(TABLE))
    if trust.endswith("small_encoder"):
        assert loaded.encoder_net is small_encoder
    assert load(path, trusted=True).offset_ == det.offset_


# ---------------------------------------------------------------- at save time
def _local_builder():
    def encoder(n_features, latent_dim):
        return keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(latent_dim)])

    return encoder


def _my_relu(x):  # a module-level function, not registered with Keras
    return keras.activations.relu(x)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(activation=lambda x: x), r"parameter 'activation'.*lambda"),
        (dict(encoder_net=_local_builder()), r"parameter 'encoder_net'.*not registered"),
        (dict(activation=_my_relu), r"parameter 'activation'.*register_keras_serializable"),
    ],
    ids=["lambda", "local function", "unregistered function"],
)
def test_unsaveable_callable_is_named_at_save(params, match, tmp_path):
    with pytest.raises(TypeError, match=f"(?s)Cannot save {match}"):
        AEOutlierDetector(**params).save(tmp_path / "detector.daml")
    assert os.listdir(tmp_path) == []  # no file, no temporary left behind


@pytest.mark.parametrize("failure", ["bad parameter", "bad attribute after the model"])
def test_failed_save_leaves_the_existing_file_untouched(failure, fitted, tmp_path):
    det, data = fitted("AEOutlierDetector")
    path = _saved(det, tmp_path)
    before = path.read_bytes()
    broken = clone(det).set_params(activation=lambda x: x)
    if failure == "bad attribute after the model":
        broken = load(path)
        broken.extra_ = lambda x: x  # encoded after model_ was written
    with pytest.raises(TypeError, match="Cannot save"):
        broken.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]
    np.testing.assert_array_equal(load(path).score_samples(data), det.score_samples(data))


def test_save_replaces_an_existing_file(fitted, tmp_path):
    det, data = fitted("AEOutlierDetector")
    path = _saved(AEOutlierDetector(), tmp_path)
    det.save(path)
    np.testing.assert_array_equal(load(str(path)).score_samples(data), det.score_samples(data))


# ---------------------------------------------------------------- at load time
def test_version_mismatch_warns_naming_both_versions(tmp_path):
    path = _saved(AEOutlierDetector(), tmp_path)

    def edit(manifest):
        manifest["versions"]["keras"] = "3.0.0"

    _rewrite(path, manifest=edit)
    expected = f"saved with keras 3.0.0; this environment has keras {keras.__version__}"
    with pytest.warns(UserWarning, match=re.escape(expected)):
        load(path)


def test_same_versions_do_not_warn(tmp_path, recwarn):
    load(_saved(AEOutlierDetector(), tmp_path))
    assert not [w for w in recwarn if "saved with" in str(w.message)]


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not a zip file", "not a zip archive"),
        ("no manifest", "no readable manifest.json"),
        ("newer format", "format version 99"),
        ("unknown kind", "unknown kind 'marshal'"),
        ("missing member", "does not hold"),
    ],
)
def test_damaged_or_foreign_files_are_refused(content, match, tmp_path):
    path = _saved(AEOutlierDetector(), tmp_path)
    if content == "no manifest":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("model.pkl", b"")
    elif content == "newer format":
        _rewrite(path, manifest=lambda m: m.update(format_version=99))
    elif content == "unknown kind":
        _rewrite(path, manifest=lambda m: m["params"].update(verbose={"kind": "marshal"}))
    elif content == "missing member":
        missing = {"kind": "ndarray", "file": "x"}
        _rewrite(path, manifest=lambda m: m["params"].update(verbose=missing))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load(path)


def test_trusted_must_be_a_list_of_names(tmp_path):
    path = _saved(AEOutlierDetector(), tmp_path)
    with pytest.raises((TypeError, ValueError), match="trusted"):
        load(path, trusted="pickle")


# ------------------------------------------------------------------ pipelines
# A scikit-learn pipeline of transformers and a detector saves to the same
# format: each step is stored as data, and only sklearn-daml's classes and the
# listed scikit-learn ones load without being trusted.
def _pipeline_in_fresh_process(path, data, tmp_path):
    """Load ``path`` in a new Python process; return its scores and predictions on ``data``."""
    np.save(tmp_path / "data.npy", data)
    script = (
        "import sys, warnings, numpy as np, sklearn_daml\n"
        "from sklearn.exceptions import InconsistentVersionWarning\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('error', InconsistentVersionWarning)\n"
        "    pipe = sklearn_daml.load(sys.argv[1])\n"
        "data = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], pipe.score_samples(data))\n"
        "np.save(sys.argv[4], pipe.predict(data))\n"
        "print(type(pipe).__name__, [type(step).__name__ for _, step in pipe.steps])\n"
    )
    scores, predicted = tmp_path / "scores.npy", tmp_path / "predicted.npy"
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "data.npy"), str(scores),
         str(predicted)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip(), np.load(scores), np.load(predicted)


def test_pipeline_round_trips_in_fresh_process_bit_identical(tmp_path):
    pipe = make_pipeline(StandardScaler(), AEOutlierDetector(epochs=2, random_state=0))
    pipe.fit(TABLE)
    sklearn_daml.save(pipe, tmp_path / "pipeline.daml")
    described, scores, predicted = _pipeline_in_fresh_process(
        tmp_path / "pipeline.daml", TABLE, tmp_path
    )
    assert described == "Pipeline ['StandardScaler', 'AEOutlierDetector']"
    np.testing.assert_array_equal(scores, pipe.score_samples(TABLE))
    np.testing.assert_array_equal(predicted, pipe.predict(TABLE))


def test_column_transformer_on_a_dataframe_round_trips(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({
        "amount": rng.lognormal(size=80),
        "age": rng.normal(40, 10, size=80),
        "country": rng.choice(["fr", "de", "it", None], size=80),  # a missing category
        "channel": rng.choice(["web", "shop"], size=80),
    })
    pipe = make_pipeline(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), ["amount", "age"]),
                ("country", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                 ["country"]),
                ("rest", OneHotEncoder(sparse_output=False), make_column_selector("^ch")),
            ]
        ),
        AEOutlierDetector(epochs=2, random_state=0),
    ).fit(frame)
    sklearn_daml.save(pipe, tmp_path / "pipeline.daml")
    loaded = load(tmp_path / "pipeline.daml")
    unseen = frame.assign(country=["es"] * 40 + ["fr"] * 40)
    for data in (frame, unseen):
        np.testing.assert_array_equal(loaded.score_samples(data), pipe.score_samples(data))
        np.testing.assert_array_equal(loaded.predict(data), pipe.predict(data))
    columns = loaded[0]
    np.testing.assert_array_equal(columns.feature_names_in_, frame.columns)
    assert columns.feature_names_in_.dtype == object
    categories = columns.named_transformers_["country"].categories_[0]
    expected = pipe[0].named_transformers_["country"].categories_[0]
    assert categories.dtype == object
    assert [type(v) for v in categories] == [type(v) for v in expected]  # str, then the missing
    assert [v for v in categories if v == v] == [v for v in expected if v == v]
    assert columns.output_indices_ == pipe[0].output_indices_  # slices
    np.testing.assert_array_equal(
        columns.get_feature_names_out(), pipe[0].get_feature_names_out()
    )


def test_detector_alone_keeps_the_format_older_releases_read(fitted, tmp_path):
    det, _ = fitted("AEOutlierDetector")
    with zipfile.ZipFile(_saved(det, tmp_path)) as archive:
        assert json.loads(archive.read("manifest.json"))["format_version"] == 1
    sklearn_daml.save(make_pipeline(StandardScaler(), AEOutlierDetector()), tmp_path / "p.daml")
    with zipfile.ZipFile(tmp_path / "p.daml") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format_version"] == 2
    assert manifest["estimator"] == {"module": "sklearn.pipeline", "name": "Pipeline"}
    loaded = load(tmp_path / "p.daml")
    assert repr(loaded) == repr(make_pipeline(StandardScaler(), AEOutlierDetector()))


@pytest.mark.parametrize("inside", ["pipeline", "column transformer"])
def test_function_transformer_with_a_lambda_is_refused_at_save(inside, tmp_path):
    from sklearn.compose import make_column_transformer

    det = AEOutlierDetector(n_estimators=1, epochs=1, random_state=0)
    if inside == "pipeline":
        pipe = make_pipeline(FunctionTransformer(lambda x: x), det)
        step = r"steps\[0\] \('functiontransformer'\) of Pipeline"
    else:
        pipe = make_pipeline(
            make_column_transformer((FunctionTransformer(lambda x: x), [0, 1])), det
        )
        step = (r"transformers\[0\] \('functiontransformer'\) of "
                r"steps\[0\] \('columntransformer'\) of Pipeline")
    pipe.fit(TABLE)
    with pytest.raises(TypeError, match=f"(?s)Cannot save parameter 'func' of {step}.*lambda"
                                        ".*a function is code"):
        sklearn_daml.save(pipe, tmp_path / "pipeline.daml")
    assert os.listdir(tmp_path) == []


def test_estimator_of_another_library_is_refused_at_save(tmp_path):
    from sklearn.svm import OneClassSVM

    pipe = make_pipeline(StandardScaler(), OneClassSVM()).fit(TABLE)
    with pytest.raises(TypeError, match=r"Cannot save steps\[1\] \('oneclasssvm'\) of "
                                        r"Pipeline.*OneClassSVM is neither"):
        sklearn_daml.save(pipe, tmp_path / "pipeline.daml")
    with pytest.raises(TypeError, match=r"Cannot save OneClassSVM: .*OneClassSVM is"):
        sklearn_daml.save(OneClassSVM(), tmp_path / "svm.daml")
    assert os.listdir(tmp_path) == []


def test_scikit_learn_detectors_in_a_pipeline_round_trip(tmp_path):
    """IsolationForest and LocalOutlierFactor, drop-in replacements of the
    detectors, save in the same format: alone or as a pipeline's last step."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    for detector in (IsolationForest(random_state=0), LocalOutlierFactor(novelty=True)):
        pipe = make_pipeline(StandardScaler(), detector).fit(TABLE)
        sklearn_daml.save(pipe, tmp_path / "pipeline.daml")
        loaded = sklearn_daml.load(tmp_path / "pipeline.daml")
        np.testing.assert_array_equal(loaded.score_samples(TABLE), pipe.score_samples(TABLE))
        np.testing.assert_array_equal(loaded.predict(TABLE), pipe.predict(TABLE))


class MyScaler(StandardScaler):
    """A user's subclass of a listed scikit-learn class: code that is not scikit-learn's."""


def _scaler_step_named(module, name):
    def edit(manifest):
        step = manifest["params"]["steps"][0]["items"][1]
        assert step["kind"] == "estimator"
        step["class"] = {"module": module, "name": name}

    return edit


@pytest.mark.parametrize(
    "how, trust",
    [
        ("user subclass", f"{__name__}.MyScaler"),
        ("private module", "sklearn.preprocessing._data.StandardScaler"),
        ("module that runs code", "planted_module.StandardScaler"),
    ],
)
def test_class_outside_the_allow_list_is_refused_at_load_unless_trusted(how, trust, tmp_path,
                                                                        monkeypatch):
    scaler = MyScaler() if how == "user subclass" else StandardScaler()
    pipe = make_pipeline(scaler, AEOutlierDetector(n_estimators=1, epochs=1, random_state=0))
    pipe.fit(TABLE)
    path = tmp_path / "pipeline.daml"
    sklearn_daml.save(pipe, path)
    marker = tmp_path / "code-ran"
    if how != "user subclass":
        _rewrite(path, manifest=_scaler_step_named(*trust.rsplit(".", 1)))
    if how == "module that runs code":
        (tmp_path / "planted_module.py").write_text(
            f"open({str(marker)!r}, 'w').close()\n"
            "from sklearn.preprocessing import StandardScaler as _S\n"
            "class StandardScaler(_S):\n    pass\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
    name, step = re.escape(trust), re.escape(f"steps'[0] ({pipe.steps[0][0]!r})")
    with pytest.raises(
        ValueError, match=f"(?s)Refusing to load.*'{name}': a class.*{step}.*trusted=\\['{name}'\\]"
    ):
        load(path)
    assert not marker.exists() and "planted_module" not in sys.modules  # checked, not imported
    loaded = load(path, trusted=[trust])
    np.testing.assert_array_equal(loaded.score_samples(TABLE), pipe.score_samples(TABLE))
    if how == "module that runs code":
        assert marker.exists()  # trusted: imported, and its code ran
        sys.modules.pop("planted_module")


def _sklearn_recipes():
    """A cheap fit of every scikit-learn class that the format holds:
    ``name: (constructor, data)``."""
    from sklearn import (
        compose, decomposition, feature_selection, impute, kernel_approximation, pipeline,
        preprocessing, random_projection,
    )

    missing = TABLE.copy()
    missing[::7, 1] = np.nan
    missing[::5, 3] = np.nan
    words = np.random.RandomState(2).choice(["a", "b", "c"], size=(60, 2)).astype(object)
    words[::9, 0] = None
    return {
        "Pipeline": (lambda: pipeline.make_pipeline(
            impute.SimpleImputer(), preprocessing.StandardScaler()), missing),
        "FeatureUnion": (lambda: pipeline.make_union(
            decomposition.PCA(1), preprocessing.MinMaxScaler()), TABLE),
        "ColumnTransformer": (lambda: compose.ColumnTransformer(
            [("scaled", preprocessing.RobustScaler(), [0, 1]),
             ("projected", decomposition.PCA(1), slice(2, 4))],
            remainder="passthrough"), TABLE),
        "StandardScaler": (preprocessing.StandardScaler, TABLE),
        "MinMaxScaler": (preprocessing.MinMaxScaler, TABLE),
        "MaxAbsScaler": (preprocessing.MaxAbsScaler, TABLE),
        "RobustScaler": (preprocessing.RobustScaler, TABLE),
        "Normalizer": (preprocessing.Normalizer, TABLE),
        "Binarizer": (lambda: preprocessing.Binarizer(threshold=0.1), TABLE),
        "QuantileTransformer": (lambda: preprocessing.QuantileTransformer(
            n_quantiles=20, output_distribution="normal", random_state=0), TABLE),
        "PowerTransformer": (preprocessing.PowerTransformer, TABLE),
        "OneHotEncoder": (lambda: preprocessing.OneHotEncoder(
            handle_unknown="infrequent_if_exist", min_frequency=3, dtype=np.float32), words),
        "OrdinalEncoder": (lambda: preprocessing.OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1), words),
        "KBinsDiscretizer": (lambda: preprocessing.KBinsDiscretizer(
            n_bins=[2, 3, 4, 3], strategy="uniform"), TABLE),
        "PolynomialFeatures": (lambda: preprocessing.PolynomialFeatures(2), TABLE),
        "FunctionTransformer": (lambda: preprocessing.FunctionTransformer(
            np.log1p, inverse_func=np.expm1), np.abs(TABLE)),
        "SimpleImputer": (lambda: impute.SimpleImputer(strategy="median"), missing),
        "MissingIndicator": (impute.MissingIndicator, missing),
        "KNNImputer": (lambda: impute.KNNImputer(n_neighbors=3), missing),
        "PCA": (lambda: decomposition.PCA(2, whiten=True), TABLE),
        "IncrementalPCA": (lambda: decomposition.IncrementalPCA(2, batch_size=20), TABLE),
        "TruncatedSVD": (lambda: decomposition.TruncatedSVD(2, random_state=0), TABLE),
        "FastICA": (lambda: decomposition.FastICA(
            2, whiten="unit-variance", random_state=0, max_iter=500), TABLE),
        "VarianceThreshold": (lambda: feature_selection.VarianceThreshold(0.5), TABLE),
        "GaussianRandomProjection": (lambda: random_projection.GaussianRandomProjection(
            3, random_state=0), TABLE),
        "RBFSampler": (lambda: kernel_approximation.RBFSampler(
            n_components=5, random_state=0), TABLE),
        "Nystroem": (lambda: kernel_approximation.Nystroem(
            n_components=5, random_state=0), TABLE),
    }


def _dense(values):
    return values.toarray() if hasattr(values, "toarray") else np.asarray(values)


def test_every_listed_sklearn_class_has_a_recipe_and_is_documented():
    from sklearn_daml._persistence import SKLEARN_CLASSES

    listed = {name for names in SKLEARN_CLASSES.values() for name in names}
    tested_elsewhere = {"make_column_selector"}  # the DataFrame test
    assert sorted(listed - tested_elsewhere - set(_sklearn_recipes())) == []
    guide = (pathlib.Path(__file__).parents[1] / "docs/user_guide/persistence.rst").read_text()
    assert sorted(name for name in listed if f"``{name}``" not in guide) == []


@pytest.mark.parametrize("name", sorted(_sklearn_recipes()))
def test_listed_sklearn_class_round_trips(name, tmp_path):
    make, data = _sklearn_recipes()[name]
    est = make().fit(data)
    path = tmp_path / f"{name}.daml"
    sklearn_daml.save(est, path)
    with zipfile.ZipFile(path) as archive:  # no pickle anywhere
        for member in archive.namelist():
            if member.endswith(".npy"):
                np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
    loaded = load(path)
    assert type(loaded) is type(est)
    assert sorted(vars(loaded)) == sorted(vars(est))
    np.testing.assert_array_equal(_dense(loaded.transform(data)), _dense(est.transform(data)))
    assert repr(loaded) == repr(est)

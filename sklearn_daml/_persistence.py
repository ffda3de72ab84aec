"""Saving a detector, or a pipeline holding one, to one file that runs no
code when it is loaded.

Unpickling a file can run any code its author chose. The file written here
holds only data: a zip archive with

* ``manifest.json``: the format version, the versions of the libraries that
  wrote it, the estimator's class, its constructor parameters and its state
  (every fitted attribute, private ones included), as JSON; an estimator
  inside it (a step of a ``Pipeline``, a transformer of a
  ``ColumnTransformer``) is stored the same way, nested;
* ``arrays/*.npy``: NumPy arrays and scalars, written without pickle;
* ``keras/*.keras``: every Keras model or layer (a fitted network or a
  network given as a parameter), in Keras' own format.

What is stored is discovered, not listed per estimator: the parameters are
those of ``get_params(deep=False)`` and the state is what ``__getstate__``
returns, the same state pickle would store; loading builds the estimator from
its parameters and hands the state to ``__setstate__``, which rebuilds what
is not stored (the compiled scoring functions). A detector with state that
neither form holds drops it in ``__getstate__`` and rebuilds it in
``__setstate__``, as it would for pickle.

Loading accepts sklearn-daml's own classes, the scikit-learn classes of
``SKLEARN_CLASSES`` (pipelines and transformers whose state is arrays and
plain values), scikit-learn's detectors of ``SKLEARN_DETECTORS`` (their
trees are stored as checked arrays, a neighbours search tree is rebuilt from
the fitted rows), NumPy arrays of plain values and standard Keras objects,
and refuses everything that would run other code (another class, a
``Lambda`` layer's bytecode, a pickled array) unless the caller names it in
``trusted``. Saving refuses, naming it, what loading could not rebuild from
data alone: a function given to a scikit-learn estimator (a
``FunctionTransformer``'s lambda), an estimator of another library.
"""
import contextlib
import importlib
import io
import json
import math
import os
import platform
import re
import tempfile
import uuid
import warnings
import zipfile

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.neighbors import BallTree, KDTree
from sklearn.tree._tree import Tree
from sklearn.utils._param_validation import validate_params

from ._tensorflow import import_tensorflow
from ._version import __version__

tf = import_tensorflow()
import keras  # noqa: E402

FORMAT = "sklearn-daml detector"
# 2: estimators nested in an estimator (pipelines) and the values of their
# state (object arrays, slices, dtypes, NumPy types and ufuncs). A file that
# needs none of them is written as version 1, which older releases read.
# 3: scikit-learn detectors wrapped by an sklearn-daml estimator (their
# trees, a neighbours search tree rebuilt at load).
FORMAT_VERSION = 3
_MANIFEST = "manifest.json"
_OWN_PACKAGE = "sklearn_daml"
# the trust names of the two kinds of content that carry Python code
PICKLE = "pickle"
LAMBDA = "keras.layers.Lambda"
# Keras layers whose configuration carries code or a path to code
_CODE_LAYERS = {"Lambda": LAMBDA, "TorchModuleWrapper": "keras.layers.TorchModuleWrapper"}
# where Keras looks up a function saved by its bare name ("relu", "mse")
_KERAS_FUNCTION_MODULES = (
    "activations", "constraints", "initializers", "losses", "metrics", "optimizers",
    "regularizers",
)


# scikit-learn's classes that the format holds without being trusted, by the
# public module that exports them: building them runs only scikit-learn's
# code, and their fitted state is arrays and plain values. An estimator's class
# must be one of these itself (a subclass is the user's code, loaded only when
# trusted). FunctionTransformer is saved only without a function (the identity,
# which ColumnTransformer uses for "passthrough") or with a NumPy ufunc.
SKLEARN_CLASSES = {
    "sklearn.pipeline": ("Pipeline", "FeatureUnion"),
    "sklearn.compose": ("ColumnTransformer", "make_column_selector"),
    "sklearn.preprocessing": (
        "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer",
        "Binarizer", "QuantileTransformer", "PowerTransformer", "OneHotEncoder",
        "OrdinalEncoder", "KBinsDiscretizer", "PolynomialFeatures", "FunctionTransformer",
    ),
    "sklearn.impute": ("SimpleImputer", "MissingIndicator", "KNNImputer"),
    "sklearn.decomposition": ("PCA", "IncrementalPCA", "TruncatedSVD", "FastICA"),
    "sklearn.feature_selection": ("VarianceThreshold",),
    "sklearn.random_projection": ("GaussianRandomProjection",),
    "sklearn.kernel_approximation": ("RBFSampler", "Nystroem"),
}
# scikit-learn's detectors (what ConformalOutlierDetector wraps by default, and
# drop-in replacements in a pipeline) and the estimators their state holds:
# IsolationForest's fitted trees are stored as their node arrays, checked at
# load; LocalOutlierFactor's search tree is rebuilt from its fitted rows.
SKLEARN_DETECTORS = {
    "sklearn.ensemble": ("IsolationForest",),
    "sklearn.neighbors": ("LocalOutlierFactor",),
    "sklearn.tree": ("ExtraTreeRegressor",),
}
# a leaf of a scikit-learn tree has no children (sklearn.tree._tree.TREE_LEAF)
_TREE_LEAF = -1
# the Python types a dtype parameter may name (NumPy's scalar types are found
# by name in numpy)
_BUILTIN_TYPES = {t.__name__: t for t in (bool, int, float, complex, str, bytes, object)}


def _versions():
    return {
        "sklearn-daml": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


# ------------------------------------------------------------------ trust
def _is_own_module(module):
    return module == _OWN_PACKAGE or module.startswith(_OWN_PACKAGE + ".")


def _is_keras_module(module):
    return module == "keras" or module.startswith("keras.")


def _is_keras_function_name(name):
    return any(
        callable(getattr(getattr(keras, module, None), name, None))
        for module in _KERAS_FUNCTION_MODULES
    )


def _keras_config_type(config):
    """``(trust_name, kind)`` of one Keras object config, or ``None`` when it
    is data or a standard Keras object. ``kind`` is ``"registered"``,
    ``"code"`` or ``"unregistered"``."""
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        return repr(class_name), "unregistered"
    if class_name == "__lambda__":
        return LAMBDA, "code"
    if class_name.startswith("__") and class_name.endswith("__"):
        return None  # tensors, arrays, bytes, slices: data
    if class_name == "function":
        name = config.get("config")
        if not isinstance(name, str):
            return repr(name), "unregistered"
        if ">" in name:
            return (None if name.startswith(_OWN_PACKAGE + ">") else (name, "registered"))
        return None if _is_keras_function_name(name) else (name, "unregistered")
    registered = config.get("registered_name")
    module = config.get("module") or ""
    if isinstance(registered, str) and ">" in registered:
        if registered.startswith(_OWN_PACKAGE + ">") and _is_own_module(module):
            return None
        return registered, "registered"
    if _is_keras_module(module):
        if class_name in _CODE_LAYERS:
            return _CODE_LAYERS[class_name], "code"
        return None
    return (f"{module}.{class_name}" if module else class_name), "unregistered"


def _keras_types(config):
    """Every ``(trust_name, kind)`` found anywhere in a Keras config."""
    found = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                kind = _keras_config_type(node)
                if kind is not None:
                    found.append(kind)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _class_ref(cls):
    return {"module": cls.__module__, "name": cls.__qualname__}


def _resolve_class(ref):
    """The class ``ref`` names, which must be defined where ``ref`` says (not
    merely reachable from there, as ``sklearn_daml._base.np.ndarray`` is)."""
    obj = importlib.import_module(ref["module"])
    for part in ref["name"].split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type) or (obj.__module__, obj.__qualname__) != (
        ref["module"], ref["name"]
    ):
        raise TypeError(f"{ref['module']}.{ref['name']} is not a class defined there.")
    return obj


def _is_sklearn_ref(ref, classes=SKLEARN_CLASSES):
    """Whether ``ref`` names a class of ``classes`` by its public module."""
    return (
        isinstance(ref, dict)
        and isinstance(ref.get("module"), str)
        and isinstance(ref.get("name"), str)
        and ref["name"] in classes.get(ref["module"], ())
    )


def _public_sklearn_ref(cls, classes=SKLEARN_CLASSES):
    """The ref of ``cls`` in ``classes`` when ``cls`` is one of them itself
    (a subclass is not), else ``None``."""
    if cls.__module__.split(".")[0] != "sklearn":
        return None
    for module, names in classes.items():
        if cls.__name__ in names and getattr(
            importlib.import_module(module), cls.__name__, None
        ) is cls:
            return {"module": module, "name": cls.__name__}
    return None


def _is_daml_class(cls):
    """Whether ``cls`` is sklearn-daml's or a subclass of one of its classes
    (a user's detector), whose parameters may be Keras functions."""
    return any(_is_own_module(base.__module__) for base in cls.__mro__)


def _resolve(ref):
    """The class ``ref`` names: a listed scikit-learn class by its public
    module, any other class where it is defined."""
    if _is_sklearn_ref(ref) or _is_sklearn_ref(ref, SKLEARN_DETECTORS):
        return getattr(importlib.import_module(ref["module"]), ref["name"])
    return _resolve_class(ref)


def _trust_name(ref):
    return f"{ref.get('module')}.{ref.get('name')}"


def _sklearn_class_names():
    return ", ".join(
        name for classes in (SKLEARN_CLASSES, SKLEARN_DETECTORS)
        for names in classes.values() for name in names if name != "ExtraTreeRegressor"
    )


def _search_tree(estimator):
    """The search tree that a scikit-learn neighbours estimator
    (LocalOutlierFactor) builds at fit from its fitted rows, built again."""
    tree_class = {"kd_tree": KDTree, "ball_tree": BallTree}[estimator._fit_method]
    return tree_class(
        estimator._fit_X,
        estimator.leaf_size,
        metric=estimator.effective_metric_,
        **estimator.effective_metric_params_,
    )


def _same_values(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


def _is_rebuilt_search_tree(tree, estimator):
    """Whether building ``estimator``'s search tree again gives ``tree``: the
    same arrays, sizes, distance and weights (the query counters aside)."""
    try:
        rebuilt = _search_tree(estimator)
        state, again = tree.__getstate__(), rebuilt.__getstate__()
        # data, index, nodes, bounds, leaf size, levels, number of nodes; the
        # distance metric; the sample weights
        compared = (0, 1, 2, 3, 4, 5, 6, 12)
        metric, metric_again = state[11], again[11]
        return (
            type(rebuilt) is type(tree)
            and len(state) == len(again) == 13
            and all(_same_values(state[i], again[i]) for i in compared)
            and type(metric) is type(metric_again)
            and _same_values(metric.__getstate__(), metric_again.__getstate__())
        )
    except Exception:  # noqa: BLE001 - whatever fails, it cannot be rebuilt
        return False


def _tree_from(n_features, n_classes, n_outputs, state):
    """The scikit-learn tree that these sizes and arrays describe, checked
    first: every inner node's children come after it and inside the tree and
    its feature is one of ``n_features``, so that scoring, which reads the
    nodes unchecked, stays inside the arrays and ends."""
    if not (n_features >= 1 and n_outputs >= 1 and len(n_classes) == n_outputs
            and min(n_classes) >= 1):
        raise ValueError(f"has inconsistent sizes ({n_features}, {n_classes}, {n_outputs})")
    nodes = state.get("nodes") if isinstance(state, dict) else None
    if not (
        isinstance(nodes, np.ndarray) and nodes.ndim == 1 and nodes.dtype.names is not None
        and {"left_child", "right_child", "feature"} <= set(nodes.dtype.names)
    ):
        raise ValueError("has no array of nodes")
    n_nodes = nodes.shape[0]
    if state.get("node_count") != n_nodes:
        raise ValueError(f"counts {state.get('node_count')!r} nodes and holds {n_nodes}")
    node = np.arange(n_nodes)
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    inner = (
        (left > node) & (left < n_nodes) & (right > node) & (right < n_nodes)
        & (feature >= 0) & (feature < n_features)
    )
    if not np.all(np.where(left == _TREE_LEAF, right == _TREE_LEAF, inner)):
        raise ValueError("has nodes whose children or features are outside it")
    tree = Tree(n_features, np.asarray(n_classes, dtype=np.intp), n_outputs)
    tree.__setstate__(state)  # checks the arrays' dtypes and shapes
    return tree


def _estimator_label(where):
    """``"steps[0] ('scaler')"`` from ``"parameter 'steps'[0] ('scaler')"``."""
    return re.sub(r"^(?:parameter|attribute) '([^']*)'", r"\1", where)


# ------------------------------------------------------------------ save
class _Writer:
    """Encodes values as JSON, writing arrays and Keras objects as members."""

    def __init__(self, archive, workdir, owner):
        self.archive = archive
        self.workdir = workdir
        self.owner = owner
        self.in_sklearn = False  # encoding a scikit-learn class's parameters or state
        self.n_members = 0
        self.format_version = 1

    def _member(self, folder, suffix):
        self.n_members += 1
        return f"{folder}/{self.n_members}{suffix}"

    def _fail(self, where, value, why):
        return TypeError(f"Cannot save {where} of {self.owner}, {value!r}: {why}")

    def _needs_version(self, version):
        self.format_version = max(self.format_version, version)

    def encode(self, value, where):
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"kind": "float", "value": repr(value)}
        if type(value) is list:
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"kind": "tuple", "items": self._encode_items(value, where)}
        if type(value) is dict:
            return {
                "kind": "dict",
                "items": [
                    [self.encode(k, f"{where} (a key)"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ],
            }
        if type(value) is slice:
            return self._encode_slice(value, where)
        if isinstance(value, (np.ndarray, np.generic)):
            return self._encode_array(value, where)
        if isinstance(value, np.dtype):
            return self._encode_dtype(value, where)
        if isinstance(value, np.random.RandomState):
            return {"kind": "random_state", "state": self.encode(value.get_state(), where)}
        if isinstance(value, keras.layers.Layer):
            return self._encode_keras_file(value, where)
        if isinstance(value, type):
            return self._encode_type(value, where)
        if type(value) is Tree:
            return self._encode_tree(value, where)
        cls = type(value)
        if isinstance(value, BaseEstimator):
            return self._encode_estimator(value, where)
        if _is_keras_module(cls.__module__) or ">" in keras.saving.get_registered_name(cls):
            return self._encode_keras_object(value, where)
        if (_is_own_module(cls.__module__) or _public_sklearn_ref(cls)) and hasattr(
            value, "__dict__"
        ):
            return self._encode_object(value, where)
        if callable(value):
            if self.in_sklearn:
                return self._encode_ufunc(value, where)
            return self._encode_function(value, where)
        raise self._fail(
            where, value,
            f"objects of type {cls.__module__}.{cls.__qualname__} cannot be saved without "
            "pickle. Supported are None, bool, int, float, str, lists, tuples, dicts, NumPy "
            "arrays, RandomState, Keras models, registered Keras objects, sklearn-daml's "
            "detectors and the scikit-learn pipelines and transformers listed in the user "
            "guide.",
        )

    def _encode_items(self, value, where):
        """A tuple's items; in a named one, ``("scaler", StandardScaler(), ...)`` of
        a pipeline or a ColumnTransformer, the second is named by the first."""
        named = len(value) >= 2 and type(value[0]) is str
        return [
            self.encode(v, f"{where} ({value[0]!r})" if named and i == 1 else f"{where}[{i}]")
            for i, v in enumerate(value)
        ]

    def _encode_slice(self, value, where):
        """A slice of columns (``ColumnTransformer.output_indices_``)."""
        items = [value.start, value.stop, value.step]
        if not all(v is None or isinstance(v, (int, np.integer)) for v in items):
            raise self._fail(where, value, "a slice of other values than integers and None.")
        self._needs_version(2)
        return {"kind": "slice", "items": [None if v is None else int(v) for v in items]}

    def _encode_array(self, value, where):
        array = np.asarray(value)
        if array.dtype.hasobject:
            items = array.ravel().tolist()
            if isinstance(value, np.ndarray) and all(type(v) is str for v in items):
                return {"kind": "str_array", "shape": list(array.shape), "items": items}
            plain = (type(None), bool, int, float, str, np.ndarray, np.generic)
            if isinstance(value, np.ndarray) and all(
                isinstance(v, plain) and not (isinstance(v, np.ndarray) and v.dtype.hasobject)
                for v in items
            ):
                # categories with a missing value (['a', nan]), ragged bin edges
                self._needs_version(2)
                return {
                    "kind": "object_array",
                    "shape": list(array.shape),
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(items)],
                }
            raise self._fail(
                where, value,
                "an array of Python objects can only be stored with pickle (strings, "
                "numbers, None and arrays of numbers are fine).",
            )
        name = self._member("arrays", ".npy")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.archive.writestr(name, buffer.getvalue())
        return {"kind": "ndarray" if isinstance(value, np.ndarray) else "scalar", "file": name}

    def _encode_dtype(self, value, where):
        descr = np.lib.format.dtype_to_descr(value)
        if not isinstance(descr, str):
            raise self._fail(where, value, "a structured dtype cannot be saved.")
        self._needs_version(2)
        return {"kind": "dtype", "descr": descr}

    def _encode_type(self, value, where):
        """A dtype given as a type (``dtype=np.float64``), by its name."""
        if isinstance(value, type) and issubclass(value, np.generic) and getattr(
            np, value.__name__, None
        ) is value:
            self._needs_version(2)
            return {"kind": "type", "module": "numpy", "name": value.__name__}
        if _BUILTIN_TYPES.get(value.__name__) is value:
            self._needs_version(2)
            return {"kind": "type", "module": "builtins", "name": value.__name__}
        raise self._fail(
            where, value,
            "a class cannot be saved (NumPy's scalar types and Python's bool, int, float, "
            "complex, str, bytes and object can, as a dtype); pass an instance.",
        )

    def _encode_tree(self, value, where):
        """A fitted scikit-learn tree (``ExtraTreeRegressor.tree_``): its sizes
        and its arrays of nodes and values."""
        _, (n_features, n_classes, n_outputs), state = value.__reduce__()
        self._needs_version(3)
        return {
            "kind": "sklearn_tree",
            "n_features": int(n_features),
            "n_classes": [int(n) for n in n_classes],
            "n_outputs": int(n_outputs),
            "state": self.encode(state, where),
        }

    def _encode_ufunc(self, value, where):
        """A function given to a scikit-learn estimator: only a NumPy ufunc, by name."""
        if isinstance(value, np.ufunc) and getattr(np, value.__name__, None) is value:
            self._needs_version(2)
            return {"kind": "ufunc", "name": value.__name__}
        raise self._fail(
            where, value,
            "a function is code, and this format stores data only (NumPy ufuncs such as "
            "np.log1p are stored by name; FunctionTransformer without a function is the "
            "identity). Apply the function to the data before the pipeline; or, if whoever "
            "loads the file trusts you to run code on their machine, save it with "
            "joblib or pickle.",
        )

    def _check_keras_types(self, config, where, value):
        unregistered = sorted({n for n, kind in _keras_types(config) if kind == "unregistered"})
        if unregistered:
            raise self._fail(
                where, value,
                f"it holds {', '.join(map(repr, unregistered))}, which Keras cannot load: "
                "register custom layers and functions with "
                "@keras.saving.register_keras_serializable(package=...).",
            )

    def _encode_keras_file(self, value, where):
        name = self._member("keras", ".keras")
        local = os.path.join(self.workdir, os.path.basename(name))
        keras.saving.save_model(value, local)
        with zipfile.ZipFile(local) as model_file:
            config = json.loads(model_file.read("config.json"))
        self._check_keras_types(config, where, value)
        self.archive.write(local, name)
        return {"kind": "keras", "file": name}

    def _encode_keras_object(self, value, where):
        try:
            config = keras.saving.serialize_keras_object(value)
            json.dumps(config, allow_nan=False)
        except Exception as exc:  # noqa: BLE001 - whatever Keras raises, name the value
            raise self._fail(where, value, f"Keras cannot serialize it ({exc}).") from exc
        self._check_keras_types(config, where, value)
        return {"kind": "keras_object", "config": config}

    def _encode_function(self, value, where):
        """A function is saved by the name Keras finds it under, if any."""
        if getattr(value, "__name__", None) == "<lambda>":
            raise self._fail(
                where, value,
                "a lambda has no name to be found by at load (Keras would store its "
                "bytecode, which runs on load). Use a function defined at module level "
                "and registered with @keras.saving.register_keras_serializable(package=...).",
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                config = keras.saving.serialize_keras_object(value)
                found = keras.saving.deserialize_keras_object(config, safe_mode=True)
        except Exception:  # noqa: BLE001 - any failure means: not found by name
            found = None
        if found is not value:
            raise self._fail(
                where, value,
                "a function is saved by the name Keras registers it under, and this one is "
                "not registered. Define it at module level, decorate it with "
                "@keras.saving.register_keras_serializable(package='your_package') and import "
                "that module before loading; or pass a keras.Model (or a Keras built-in "
                "name such as 'relu') instead.",
            )
        return {"kind": "keras_object", "config": config}

    def _saved_class(self, value):
        """``(ref, None)``: the ref under which ``value``'s class is saved
        (sklearn-daml's classes where they are defined, listed scikit-learn
        classes by their public module, a user's subclass of either where it
        is defined, loaded only when trusted); ``(None, why)`` for any other."""
        cls = type(value)
        if "<locals>" in cls.__qualname__:
            return None, "its class is defined inside a function."
        if _is_own_module(cls.__module__):
            return _class_ref(cls), None
        public = _public_sklearn_ref(cls)
        if public is None:
            public = _public_sklearn_ref(cls, SKLEARN_DETECTORS)
            if public is not None:
                self._needs_version(3)
        if public is not None:
            self._needs_version(2)
            return public, None
        if any(
            _is_own_module(base.__module__) or _public_sklearn_ref(base)
            for base in cls.__mro__[1:]
        ):
            self._needs_version(2)
            return _class_ref(cls), None
        return None, (
            f"{cls.__module__}.{cls.__qualname__} is neither sklearn-daml's nor one of the "
            f"scikit-learn classes this format holds ({_sklearn_class_names()}), so it "
            "cannot be saved as data only. If whoever loads the file trusts you to run code on their machine, save "
            "it with joblib or pickle."
        )

    @contextlib.contextmanager
    def _inside(self, owner, cls):
        outer = self.owner, self.in_sklearn
        self.owner, self.in_sklearn = owner, not _is_daml_class(cls)
        try:
            yield
        finally:
            self.owner, self.in_sklearn = outer

    def encode_estimator_parts(self, estimator):
        """``(params, attributes)`` of an estimator, encoded."""
        params = estimator.get_params(deep=False)
        state = estimator.__getstate__()
        state = dict(state) if isinstance(state, dict) else dict(vars(estimator))
        if _is_daml_class(type(estimator)):
            state.pop("_sklearn_version", None)  # the manifest records every version
        if isinstance(state.get("_tree"), (KDTree, BallTree)):
            if not _is_rebuilt_search_tree(state["_tree"], estimator):
                raise self._fail(
                    "attribute '_tree'", state["_tree"],
                    "this search tree is not the one the estimator builds from its fitted "
                    "rows, so loading could not rebuild it. Refit the estimator on an array.",
                )
            state["_tree"] = None  # rebuilt at load
            self._needs_version(3)
        return (
            {k: self.encode(v, f"parameter {k!r}") for k, v in params.items()},
            {k: self.encode(v, f"attribute {k!r}") for k, v in state.items() if k not in params},
        )

    def _encode_estimator(self, value, where):
        label = _estimator_label(where)
        ref, why = self._saved_class(value)
        if ref is None:
            raise self._fail(label, value, why)
        self._needs_version(2)
        with self._inside(f"{label} of {self.owner}", type(value)):
            params, attributes = self.encode_estimator_parts(value)
        return {"kind": "estimator", "class": ref, "params": params, "attributes": attributes}

    def _encode_object(self, value, where):
        ref, why = self._saved_class(value)
        if ref is None:
            raise self._fail(where, value, why)
        state = value.__getstate__()
        if not isinstance(state, dict):
            state = dict(vars(value))
        return {
            "kind": "object",
            "class": ref,
            "state": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()},
        }


def _write(estimator, file):
    owner = type(estimator).__name__
    with tempfile.TemporaryDirectory() as workdir, zipfile.ZipFile(
        file, "w", zipfile.ZIP_DEFLATED
    ) as archive:
        writer = _Writer(archive, workdir, owner)
        ref, why = writer._saved_class(estimator)
        if ref is None:
            raise TypeError(f"Cannot save {owner}: {why}")
        with writer._inside(owner, type(estimator)):
            params, attributes = writer.encode_estimator_parts(estimator)
        manifest = {
            "format": FORMAT,
            "format_version": writer.format_version,
            "versions": _versions(),
            "python": platform.python_version(),
            "estimator": ref,
            "params": params,
            "attributes": attributes,
        }
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))


@validate_params(
    {"estimator": [BaseEstimator], "path": [str, os.PathLike]},
    prefer_skip_nested_validation=True,
)
def save(estimator, path):
    """Save a detector or a pipeline, fitted or not, to one file that loads
    without pickle.

    The file (a zip archive) holds the constructor parameters, every fitted
    attribute (arrays as ``.npy`` without pickle), each Keras model in the
    ``.keras`` format and a manifest with the versions of sklearn-daml,
    Keras, TensorFlow, scikit-learn and NumPy. A ``Pipeline``,
    ``ColumnTransformer`` or ``FeatureUnion`` is stored with each of its
    steps the same way. It is written beside ``path`` and then renamed over
    it, so a save that fails midway leaves an existing file at ``path``
    untouched. Load it with :func:`sklearn_daml.load`.

    Parameters
    ----------
    estimator : estimator instance
        A detector of sklearn-daml (``det.save(path)`` calls this), or a
        ``Pipeline``, ``ColumnTransformer`` or ``FeatureUnion`` (nested as
        deep as you like) of detectors and of scikit-learn's standard
        transformers: ``StandardScaler``, ``MinMaxScaler``,
        ``MaxAbsScaler``, ``RobustScaler``, ``Normalizer``, ``Binarizer``,
        ``QuantileTransformer``, ``PowerTransformer``, ``OneHotEncoder``,
        ``OrdinalEncoder``, ``KBinsDiscretizer``, ``PolynomialFeatures``,
        ``SimpleImputer``, ``MissingIndicator``, ``KNNImputer``, ``PCA``,
        ``IncrementalPCA``, ``TruncatedSVD``, ``FastICA``,
        ``VarianceThreshold``, ``GaussianRandomProjection``, ``RBFSampler``,
        ``Nystroem``, and ``FunctionTransformer`` without a function or
        with a NumPy ufunc (``np.log1p``); and scikit-learn's detectors
        ``IsolationForest`` and ``LocalOutlierFactor``, alone, in a
        pipeline or wrapped by ``ConformalOutlierDetector``.
    path : str or path-like
        File to write; replaced if it exists.

    Raises
    ------
    TypeError
        When something cannot be stored as data: a lambda or another
        function given to a scikit-learn step (``FunctionTransformer``), a
        function not registered with Keras given to a detector, an estimator
        of another class than those above. The message names the step and
        the parameter (``steps[0] ('functiontransformer')``); no file is
        written.

    See Also
    --------
    sklearn_daml.load : Load the file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_daml import AEOutlierDetector, load, save
    >>> X = np.random.RandomState(0).normal(size=(60, 3))
    >>> pipe = make_pipeline(
    ...     StandardScaler(), AEOutlierDetector(n_estimators=1, epochs=2, random_state=0)
    ... ).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(pipe, os.path.join(folder, "pipeline.daml"))
    ...     loaded = load(os.path.join(folder, "pipeline.daml"))
    >>> loaded
    Pipeline(steps=[('standardscaler', StandardScaler()),
                    ('aeoutlierdetector', AEOutlierDetector(...))])
    >>> bool(np.array_equal(loaded.score_samples(X), pipe.score_samples(X)))
    True
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write(estimator, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# ------------------------------------------------------------------ load
class _Reader:
    """Checks, then decodes, the value trees of a manifest."""

    def __init__(self, archive, path, workdir):
        self.archive = archive
        self.path = path
        self.workdir = workdir
        self.untrusted = {}  # trust name -> (kind, [where, ...])
        self.arrays = {}
        self.n_models = 0

    def _damaged(self, where, why):
        return ValueError(f"{self.path} is damaged: {where} {why}")

    def _read(self, name, where):
        try:
            return self.archive.read(name)
        except KeyError:
            raise self._damaged(where, f"refers to {name!r}, which the file does not hold.")

    def _flag(self, trust_name, kind, where):
        self.untrusted.setdefault(trust_name, (kind, []))[1].append(where)

    # ---- pass 1: what would loading run?
    def check(self, node, where):
        if node is None or type(node) in (bool, int, float, str):
            return
        if isinstance(node, list):
            for i, item in enumerate(node):
                self.check(item, f"{where}[{i}]")
            return
        if not isinstance(node, dict):
            raise self._damaged(where, f"holds {node!r}.")
        kind = node.get("kind")
        if kind == "float":
            return
        if kind == "tuple":
            items = node.get("items")
            if not isinstance(items, list):
                raise self._damaged(where, "is a tuple without items.")
            named = len(items) >= 2 and type(items[0]) is str
            for i, item in enumerate(items):
                self.check(item, f"{where} ({items[0]!r})" if named and i == 1 else f"{where}[{i}]")
        elif kind in ("dict", "random_state"):
            self.check(node.get("items", node.get("state")), where)
        elif kind == "slice":
            items = node.get("items")
            if not (
                isinstance(items, list) and len(items) == 3
                and all(v is None or type(v) is int for v in items)
            ):
                raise self._damaged(where, "is a slice of other values than three ints or None.")
        elif kind == "str_array":
            if not all(type(v) is str for v in node.get("items", [])):
                raise self._damaged(where, "is a string array holding other values.")
        elif kind == "object_array":
            for i, item in enumerate(node.get("items", [])):
                if isinstance(item, dict) and item.get("kind") not in (
                    "float", "ndarray", "scalar"
                ):
                    raise self._damaged(where, "is an object array holding other values.")
                self.check(item, f"{where}[{i}]")
        elif kind == "dtype":
            try:
                if not isinstance(node["descr"], str):
                    raise TypeError
                np.lib.format.descr_to_dtype(node["descr"])
            except (KeyError, TypeError, ValueError):
                raise self._damaged(where, f"is not a dtype: {node.get('descr')!r}.")
        elif kind == "type":
            if _decode_type(node) is None:
                raise self._damaged(
                    where, f"names {node.get('module')}.{node.get('name')}, which is not "
                    "a NumPy scalar type or a Python type of plain values."
                )
        elif kind == "ufunc":
            if not isinstance(getattr(np, str(node.get("name")), None), np.ufunc):
                raise self._damaged(where, f"names {node.get('name')!r}, not a NumPy ufunc.")
        elif kind in ("ndarray", "scalar"):
            self._check_array(node, where)
        elif kind == "keras":
            data = self._read(node.get("file"), where)
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as model_file:
                    config = json.loads(model_file.read("config.json"))
            except (zipfile.BadZipFile, KeyError, ValueError) as exc:
                raise self._damaged(where, f"is not a readable .keras file ({exc}).")
            self._check_keras(config, where)
        elif kind == "keras_object":
            self._check_keras(node.get("config"), where)
        elif kind == "object":
            self.check_class(node.get("class"), where)
            for key, value in (node.get("state") or {}).items():
                self.check(value, f"{where}.{key}")
        elif kind == "estimator":
            self.check_class(node.get("class"), where)
            for part in ("params", "attributes"):
                for key, value in (node.get(part) or {}).items():
                    self.check(value, f"{where}.{key}")
        elif kind == "sklearn_tree":
            n_classes = node.get("n_classes")
            if not (
                type(node.get("n_features")) is int and type(node.get("n_outputs")) is int
                and isinstance(n_classes, list) and n_classes
                and all(type(n) is int for n in n_classes)
            ):
                raise self._damaged(where, "is a tree without its sizes.")
            self.check(node.get("state"), where)
        else:
            raise self._damaged(
                where, f"has an entry of unknown kind {kind!r} (written by a newer sklearn-daml?)."
            )

    def check_class(self, ref, where):
        """Accept sklearn-daml's classes and the listed scikit-learn classes;
        flag any other."""
        if not isinstance(ref, dict):
            raise self._damaged(where, f"names no class ({ref!r}).")
        if _is_sklearn_ref(ref) or _is_sklearn_ref(ref, SKLEARN_DETECTORS):
            return
        if not _is_own_module(str(ref.get("module"))):
            self._flag(_trust_name(ref), "class", where)
            return
        try:
            _resolve_class(ref)
        except (ImportError, AttributeError, TypeError, KeyError):
            raise self._damaged(where, f"names {_trust_name(ref)}, not a class of sklearn-daml.")

    def _check_array(self, node, where):
        data = self._read(node.get("file"), where)
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            if "pickle" not in str(exc):
                raise self._damaged(where, f"is not a readable .npy array ({exc}).")
            self._flag(PICKLE, "pickle", where)
            return
        if not isinstance(array, np.ndarray):
            raise self._damaged(where, "is not a .npy array.")
        self.arrays[node["file"]] = array

    def _check_keras(self, config, where):
        for trust_name, kind in _keras_types(config):
            self._flag(trust_name, kind, where)

    def refuse_untrusted(self, trusted):
        if trusted is True:
            return
        names = set(trusted or ())
        refused = {n: v for n, v in self.untrusted.items() if n not in names}
        if not refused:
            return
        what = {
            "registered": "a Keras object registered by another package",
            "unregistered": "an object Keras does not know",
            "code": "Python bytecode, run on load",
            "pickle": "Python objects stored with pickle, which runs code on load",
            "class": "a class that is neither sklearn-daml's nor a listed scikit-learn one",
        }
        lines = [
            f"  - {name!r}: {what[kind]} (in {', '.join(dict.fromkeys(wheres))})"
            for name, (kind, wheres) in sorted(refused.items())
        ]
        raise ValueError(
            f"Refusing to load {self.path}: loading it would run code that is neither "
            "sklearn-daml's, Keras' nor that of a listed scikit-learn class:\n"
            + "\n".join(lines) + "\n"
            "Load it only if you trust whoever wrote it, with "
            f"trusted={sorted(refused)!r} (or trusted=True for anything); the classes "
            "must be importable and registered here."
        )

    # ---- pass 2: build the values
    def decode(self, node, safe_mode):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if isinstance(node, list):
            return [self.decode(item, safe_mode) for item in node]
        kind = node["kind"]
        if kind == "float":
            return float(node["value"])
        if kind == "tuple":
            return tuple(self.decode(node["items"], safe_mode))
        if kind == "dict":
            return {
                self.decode(k, safe_mode): self.decode(v, safe_mode) for k, v in node["items"]
            }
        if kind == "slice":
            return slice(*node["items"])
        if kind == "str_array":
            return np.array(node["items"], dtype=object).reshape(node["shape"])
        if kind == "object_array":
            array = np.empty(len(node["items"]), dtype=object)
            for i, item in enumerate(node["items"]):
                array[i] = self.decode(item, safe_mode)
            return array.reshape(node["shape"])
        if kind == "dtype":
            return np.lib.format.descr_to_dtype(node["descr"])
        if kind == "type":
            return _decode_type(node)
        if kind == "ufunc":
            return getattr(np, node["name"])
        if kind in ("ndarray", "scalar"):
            array = self.arrays.get(node["file"])
            if array is None:  # a pickled array the caller trusts
                array = np.load(io.BytesIO(self.archive.read(node["file"])), allow_pickle=True)
            return array if kind == "ndarray" else array[()]
        if kind == "random_state":
            random_state = np.random.RandomState()
            random_state.set_state(self.decode(node["state"], safe_mode))
            return random_state
        if kind == "keras":
            self.n_models += 1
            local = os.path.join(self.workdir, f"{self.n_models}.keras")
            with open(local, "wb") as file:
                file.write(self.archive.read(node["file"]))
            return keras.saving.load_model(local, safe_mode=safe_mode)
        if kind == "keras_object":
            return keras.saving.deserialize_keras_object(node["config"], safe_mode=safe_mode)
        if kind == "sklearn_tree":
            try:
                return _tree_from(
                    node["n_features"], node["n_classes"], node["n_outputs"],
                    self.decode(node["state"], safe_mode),
                )
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{self.path} is damaged: a tree of scikit-learn {exc}.")
        if kind == "estimator":
            cls = self.estimator_class(node["class"], "an estimator inside it")
            return _build(
                cls,
                {k: self.decode(v, safe_mode) for k, v in node["params"].items()},
                {k: self.decode(v, safe_mode) for k, v in node["attributes"].items()},
                self.path,
            )
        # kind == "object", checked in pass 1
        cls = _resolve(node["class"])
        obj = cls.__new__(cls)
        state = {k: self.decode(v, safe_mode) for k, v in node["state"].items()}
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj

    def estimator_class(self, ref, what):
        """The estimator class ``ref`` names (checked, or trusted, in pass 1)."""
        try:
            cls = _resolve(ref)
        except (ImportError, AttributeError, TypeError, KeyError) as exc:
            raise ValueError(
                f"{self.path} holds {what} of class {_trust_name(ref)}, which cannot be "
                f"found here ({exc})."
            ) from exc
        if not issubclass(cls, BaseEstimator):
            raise ValueError(
                f"{self.path} names {cls.__module__}.{cls.__qualname__} as {what}, which "
                "is not a scikit-learn estimator."
            )
        return cls


def _decode_type(node):
    """The type a ``"type"`` entry names, or ``None`` when it names another."""
    name = node.get("name")
    if not isinstance(name, str):
        return None
    if node.get("module") == "numpy":
        value = getattr(np, name, None)
        ok = isinstance(value, type) and issubclass(value, np.generic)
        return value if ok else None
    if node.get("module") == "builtins":
        return _BUILTIN_TYPES.get(name)
    return None


def _build(cls, params, attributes, path):
    """The estimator of class ``cls``, as its constructor and then
    ``__setstate__`` make it."""
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ValueError(
            f"{path} holds parameters that {cls.__name__} does not take ({exc}); it was "
            "saved by another version of its class."
        ) from exc
    estimator.__setstate__({**vars(estimator), **attributes})
    if getattr(estimator, "_fit_method", None) in ("kd_tree", "ball_tree") and (
        getattr(estimator, "_tree", False) is None
    ):
        estimator._tree = _search_tree(estimator)
    return estimator


def _warn_on_versions(path, saved):
    current = _versions()
    differ = [name for name in current if name in saved and saved[name] != current[name]]
    if differ:
        warnings.warn(
            f"{path} was saved with "
            + ", ".join(f"{name} {saved[name]}" for name in differ)
            + "; this environment has "
            + ", ".join(f"{name} {current[name]}" for name in differ)
            + ". The estimator is loaded, but its scores may differ: refit it, or load it "
            "with the versions that saved it.",
            UserWarning,
            stacklevel=4,  # the caller of load, past validate_params' wrapper
        )


def _trust_list(trusted):
    if trusted is None or trusted is False:
        return ()
    if trusted is True:
        return True
    if isinstance(trusted, str) or not all(isinstance(name, str) for name in trusted):
        raise TypeError(
            "trusted must be None, True or a list of the names that a refused load "
            f"reports (e.g. ['my_package>MyLayer']); got {trusted!r}."
        )
    return tuple(trusted)


@validate_params(
    {"path": [str, os.PathLike], "trusted": [None, "boolean", list, tuple]},
    prefer_skip_nested_validation=True,
)
def load(path, *, trusted=None):
    """Load a detector or pipeline saved with ``det.save(path)`` or
    :func:`sklearn_daml.save`, running no code from the file.

    Only sklearn-daml's own classes, the scikit-learn pipelines and
    transformers that :func:`sklearn_daml.save` lists (and the detectors it
    lists inside an sklearn-daml estimator), standard Keras layers and
    functions, and NumPy arrays of plain values are accepted; the Keras
    models are loaded with Keras' ``safe_mode``. Every class is checked
    before any is imported or built. A file that would run any other code on
    load (a class registered by another package, a ``Lambda`` layer, an
    array stored with pickle, a class from another module, another
    scikit-learn class) is refused with a ``ValueError`` that names each such
    content, unless ``trusted`` names it.

    Parameters
    ----------
    path : str or path-like
        A file written by ``save``.
    trusted : None, True or list of str, default=None
        Content to accept although it runs code: the names a refused load
        reports, such as ``"my_package>MyLayer"`` (a Keras object registered
        by your package), ``"my_module.MyDetector"`` or
        ``"sklearn.ensemble.IsolationForest"`` (a class),
        ``"keras.layers.Lambda"`` (Keras then loads with
        ``safe_mode=False``) or ``"pickle"``. ``True`` accepts anything.
        Trust only files from someone you would let run code on your
        machine.

    Returns
    -------
    estimator : estimator instance
        The detector or pipeline, fitted if it was saved fitted; its scores are
        bit-identical to those of the saved one with the same versions of
        the libraries.

    Warns
    -----
    UserWarning
        When the file was saved with other versions of sklearn-daml, Keras,
        TensorFlow, scikit-learn or NumPy; the message names both versions.

    See Also
    --------
    sklearn_daml.save : Save a detector or a pipeline.
    sklearn_daml.AEOutlierDetector.save : Save a detector.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_daml import AEOutlierDetector, load
    >>> X = np.random.RandomState(0).normal(size=(60, 3))
    >>> det = AEOutlierDetector(n_estimators=1, epochs=2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     det.save(os.path.join(folder, "detector.daml"))
    ...     loaded = load(os.path.join(folder, "detector.daml"))
    >>> bool(np.array_equal(loaded.score_samples(X), det.score_samples(X)))
    True
    """
    trusted = _trust_list(trusted)
    path = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(
            f"{path} is not a file saved by sklearn-daml (not a zip archive)."
        ) from exc
    with archive, tempfile.TemporaryDirectory() as workdir:
        try:
            manifest = json.loads(archive.read(_MANIFEST))
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"{path} is not a file saved by sklearn-daml (no readable {_MANIFEST})."
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a file saved by sklearn-daml.")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {version!r}; this sklearn-daml reads version "
                f"{FORMAT_VERSION} and older. Upgrade sklearn-daml to load it."
            )
        _warn_on_versions(path, manifest.get("versions") or {})
        reader = _Reader(archive, path, workdir)
        ref = manifest.get("estimator") or {}
        reader.check_class(ref, "the estimator")
        params, attributes = manifest.get("params") or {}, manifest.get("attributes") or {}
        for name, node in params.items():
            reader.check(node, f"parameter {name!r}")
        for name, node in attributes.items():
            reader.check(node, f"attribute {name!r}")
        reader.refuse_untrusted(trusted)

        cls = reader.estimator_class(ref, "its estimator")
        safe_mode = not (trusted is True or LAMBDA in trusted)
        params = {k: reader.decode(v, safe_mode) for k, v in params.items()}
        attributes = {k: reader.decode(v, safe_mode) for k, v in attributes.items()}
    return _build(cls, params, attributes, path)

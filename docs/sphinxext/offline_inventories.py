"""Intersphinx inventories written from the installed packages, so the docs build offline.

Intersphinx normally downloads each project's ``objects.inv`` at build time; this
project's docs must build with the package registry as the only network. Each
inventory below lists objects of the *installed* package (found by importing it)
and the address of their page on the project's own documentation site, following
that site's URL scheme. Links therefore point at the real online pages, and a
reference to an object that the installed package does not have stays unresolved
(and fails the nitpicky build).

- scikit-learn: every name in the ``__all__`` of its public modules (or, for a module
  without one, the public names it defines) and the public methods of its classes, at
  ``modules/generated/<module>.<name>.html``.
- NumPy: the callables and scalar types of the main namespace, the methods of
  ``ndarray``, and ``numpy.random``'s generators, at the pages NumPy generates for them.
- Keras: keras.io is not built with Sphinx and publishes no inventory. The table
  ``KERAS_PAGES`` maps the Keras objects these docs mention to their keras.io pages;
  every name in it is checked to exist in the installed Keras.

The files are written to ``docs/_build/inventories`` at the start of every build
(about two seconds) and are not kept in git.
"""

import importlib
import inspect
import pkgutil
import zlib
from pathlib import Path

SKLEARN_URL = "https://scikit-learn.org/stable/"
NUMPY_URL = "https://numpy.org/doc/stable/"
KERAS_URL = "https://keras.io/"

KERAS_PAGES = {
    "keras.Model": ("class", "api/models/model/#model-class"),
    "keras.Sequential": ("class", "api/models/sequential/#sequential-class"),
    "keras.Input": ("function", "api/layers/core_layers/input/#input-function"),
    "keras.Model.fit": ("method", "api/models/model_training_apis/#fit-method"),
    "keras.Model.compile": ("method", "api/models/model_training_apis/#compile-method"),
    "keras.Model.save": ("method", "api/models/model_saving_apis/model_saving_and_loading/#save-method"),
    "keras.layers.Layer": ("class", "api/layers/base_layer/#layer-class"),
    "keras.layers.Dense": ("class", "api/layers/core_layers/dense/#dense-class"),
    "keras.layers.LSTM": ("class", "api/layers/recurrent_layers/lstm/#lstm-class"),
    "keras.layers.Conv2D": ("class", "api/layers/convolution_layers/convolution2d/#conv2d-class"),
    "keras.layers.Conv2DTranspose": (
        "class",
        "api/layers/convolution_layers/convolution2d_transpose/#conv2dtranspose-class",
    ),
    "keras.layers.Dropout": ("class", "api/layers/regularization_layers/dropout/#dropout-class"),
    "keras.optimizers.Optimizer": ("class", "api/optimizers/"),
    "keras.optimizers.Adam": ("class", "api/optimizers/adam/#adam-class"),
    "keras.saving.load_model": (
        "function",
        "api/models/model_saving_apis/model_saving_and_loading/#loadmodel-function",
    ),
    "keras.saving.register_keras_serializable": (
        "function",
        "api/models/model_saving_apis/serialization_utils/#registerkerasserializable-function",
    ),
    "keras.utils.set_random_seed": ("function", "api/utils/python_utils/#setrandomseed-function"),
    "keras.ops": ("module", "api/ops/"),
}


def _write(path, project, version, entries):
    """Write a Sphinx inventory (version 2) with ``(name, role, uri)`` entries."""
    lines = sorted({f"{name} py:{role} 1 {uri} -" for name, role, uri in entries})
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    path.write_bytes(header.encode() + zlib.compress(("\n".join(lines) + "\n").encode()))


def _public_methods(cls):
    for name, member in vars(cls).items():
        if not name.startswith("_") and (callable(member) or isinstance(member, property)):
            yield name, "attribute" if isinstance(member, property) else "method"


def sklearn_entries():
    import sklearn

    for name in sklearn.__all__:  # get_config, show_versions...: documented at the top level
        obj = getattr(sklearn, name, None)
        defined_in = getattr(obj, "__module__", "") or ""
        if callable(obj) and not inspect.ismodule(obj) and defined_in.startswith("sklearn._"):
            yield f"sklearn.{name}", "function", f"modules/generated/sklearn.{name}.html#$"
    modules = [f"sklearn.{name}" for name in sklearn.__all__ if "." not in name]
    modules.append("sklearn.base")
    utils = importlib.import_module("sklearn.utils")
    modules += [
        f"sklearn.utils.{info.name}"
        for info in pkgutil.iter_modules(utils.__path__)
        if not info.name.startswith("_") and info.name != "tests"
    ]
    for module_name in modules:
        if module_name.startswith("sklearn.experimental"):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if not inspect.ismodule(module):
            continue
        api_page = module_name if module_name.count(".") == 1 else "sklearn.utils"
        yield module_name, "module", f"api/{api_page}.html#module-$"
        names = getattr(module, "__all__", None)
        if names is None:  # e.g. sklearn.base: the public names defined in the module
            names = [
                name
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and getattr(obj, "__module__", "").startswith(module_name)
            ]
        for name in names:
            try:
                obj = getattr(module, name)
            except (AttributeError, ImportError):  # experimental names need an opt-in import
                continue
            if inspect.ismodule(obj):
                continue
            full = f"{module_name}.{name}"
            page = f"modules/generated/{full}.html"
            if inspect.isclass(obj):
                yield full, "class", f"{page}#$"
                for member, role in _public_methods(obj):
                    yield f"{full}.{member}", role, f"{page}#$"
            elif callable(obj):
                yield full, "function", f"{page}#$"


def numpy_entries():
    import numpy as np

    for name in dir(np):
        if name.startswith("_"):
            continue
        obj = getattr(np, name)
        full = f"numpy.{name}"
        if inspect.isclass(obj) and issubclass(obj, np.generic):
            yield full, "class", "reference/arrays.scalars.html#$"
        elif inspect.isclass(obj):
            yield full, "class", f"reference/generated/{full}.html#$"
        elif callable(obj):
            yield full, "function", f"reference/generated/{full}.html#$"
    for member, role in _public_methods(np.ndarray):
        yield f"numpy.ndarray.{member}", role, f"reference/generated/numpy.ndarray.{member}.html#$"
    yield "numpy.random.RandomState", "class", "reference/random/legacy.html#$"
    yield "numpy.random.Generator", "class", "reference/random/generator.html#$"
    yield "numpy.random.default_rng", "function", "reference/random/generator.html#$"
    yield "numpy.nan", "data", "reference/constants.html#$"


def keras_entries():
    import keras

    for name, (role, uri) in KERAS_PAGES.items():
        obj = keras
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)  # AttributeError: the table names a missing object
        yield name, role, uri


def write_inventories(directory):
    """Write the three inventories into ``directory``; return intersphinx_mapping."""
    import keras
    import numpy
    import sklearn

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for key, project, module, url, entries in (
        ("sklearn", "scikit-learn", sklearn, SKLEARN_URL, sklearn_entries),
        ("numpy", "NumPy", numpy, NUMPY_URL, numpy_entries),
        ("keras", "Keras", keras, KERAS_URL, keras_entries),
    ):
        path = directory / f"{key}.inv"
        _write(path, project, module.__version__, entries())
        mapping[key] = (url, str(path))
    return mapping

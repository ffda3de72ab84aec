"""The package's imports point one way: detectors -> estimator bases ->
mechanisms -> Keras models -> numerical building blocks (-> the quiet
import of TensorFlow), and no module imports the package's ``__init__``.

Run as a script to print the import graph by layer::

    python tests/test_layers.py
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_daml"

# lower layers first; a module may import its own layer and those below it
LAYERS = {
    # the quiet import of TensorFlow, which every layer that touches it uses
    "foundation": ["_version", "_tensorflow"],
    "maths": ["models.gmm", "models.features"],
    "models": [
        "models._nets", "models.ensemble", "models.losses", "models.autoencoder", "models.seq2seq",
        "models.pixelcnn", "models.factory", "models",
    ],
    "mechanisms": [
        "_compiled", "_seeding", "_rows", "_weights", "_networks", "_dask",
        "_persistence", "_training", "_scoring", "_thresholds", "timeseries",
    ],
    "estimator bases": [
        "_base", "_autoencoder", "_ensemble", "_gmm", "_image", "_classifier", "_conformal",
    ],
    "detectors": [
        "_ae", "_vae", "_aegmm", "_vaegmm", "_seq2seq", "_pixelcnn", "_llr", "_adversarial",
        "_distillation",
    ],
}
RANK = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}
LAYER_OF = {module: name for name, modules in LAYERS.items() for module in modules}


def _module_name(path, root):
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def _resolve(parts, root):
    """The module that ``parts`` (a dotted path below the package) names:
    itself when it is a module or a package, else the module it is a name
    of (``__init__`` for a name of the package)."""
    path = root.joinpath(*parts)
    if parts and (path.with_suffix(".py").exists() or (path / "__init__.py").exists()):
        return ".".join(parts)
    return ".".join(parts[:-1]) or "__init__"


def _imports(path, root=None):
    """The package modules imported by the file at ``path``, wherever the
    import statement stands (function-level imports included)."""
    root = PACKAGE if root is None else root
    name = _module_name(path, root)
    package = list(path.relative_to(root).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(
                _resolve(alias.name.split(".")[1:], root)
                for alias in node.names
                if alias.name.split(".")[0] == "sklearn_daml"
            )
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".") if node.module else []
            if node.level == 0:
                if module[:1] != ["sklearn_daml"]:
                    continue
                base = module[1:]
            else:
                base = package[: len(package) - (node.level - 1)] + module
            if base == package[: len(base)] and len(base) < len(package) + 1 and not node.module \
                    or node.level == 0 and node.module == "sklearn_daml":
                # ``from . import x``: x is a submodule or a name of the package
                found.update(_resolve(base + [alias.name], root) for alias in node.names)
            else:
                found.add(_resolve(base, root))
    found.discard(name)
    return found


def import_graph():
    """``{module: set of package modules it imports}`` for every module."""
    return {_module_name(path, PACKAGE): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


GRAPH = import_graph()


def test_every_module_has_a_layer():
    assert set(GRAPH) - {"__init__"} == set(RANK)


@pytest.mark.parametrize("module", sorted(set(GRAPH) - {"__init__"}))
def test_imports_point_down(module):
    upward = {target for target in GRAPH[module] if RANK.get(target, len(LAYERS)) > RANK[module]}
    assert not upward, f"{module} ({LAYER_OF[module]}) imports a higher layer: {sorted(upward)}"


def test_nothing_imports_the_package_init():
    importers = sorted(module for module, targets in GRAPH.items() if "__init__" in targets)
    assert not importers


def test_the_graph_has_no_cycle():
    done, active = set(), set()

    def visit(module, path):
        assert module not in active, f"import cycle: {' -> '.join(path + [module])}"
        if module in done:
            return
        active.add(module)
        for target in sorted(GRAPH.get(module, ())):
            visit(target, path + [module])
        active.discard(module)
        done.add(module)

    for module in GRAPH:
        visit(module, [])


def test_the_check_sees_every_form_of_import(tmp_path):
    """Relative, absolute, package-level and function-level imports are found."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    (tmp_path / "_base.py").write_text("")
    (tmp_path / "models" / "gmm.py").write_text(
        "from .. import _base\n"
        "def f():\n    import sklearn_daml\n"
        "from sklearn_daml.models import x\n"
        "from .features import y\n"
    )
    assert _imports(tmp_path / "models" / "gmm.py", tmp_path) == {"_base", "__init__", "models"}
    (tmp_path / "_persistence.py").write_text("def f():\n    from . import __version__\n")
    assert _imports(tmp_path / "_persistence.py", tmp_path) == {"__init__"}


if __name__ == "__main__":
    for layer, modules in reversed(LAYERS.items()):
        print(f"{layer}:")
        for module in modules:
            print(f"  {module} -> {', '.join(sorted(GRAPH[module])) or '(nothing of the package)'}")
    print(f"__init__ -> {', '.join(sorted(GRAPH['__init__']))}")

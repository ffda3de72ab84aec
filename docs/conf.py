"""Sphinx configuration of the sklearn-daml documentation (built by ``make docs``)."""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "sphinxext"))

os.environ.setdefault("MPLBACKEND", "Agg")  # the gallery draws off screen

import sklearn_daml  # noqa: E402  (silences TensorFlow before autodoc imports it)
from offline_inventories import write_inventories  # noqa: E402

project = "sklearn-daml"
author = "sklearn-daml developers"
copyright = "sklearn-daml developers, BSD-3-Clause"
version = release = sklearn_daml.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "sphinxext", "auto_examples/*.ipynb", "**/*.py.md5"]
default_role = "literal"
nitpicky = True  # a reference that resolves nowhere is a warning, and -W makes it an error
nitpick_ignore_regex = [
    (r"py:.*", r"sklearn_daml\._.*"),  # private base classes of the estimators
]

# -- autodoc / autosummary / numpydoc ------------------------------------------
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
autodoc_inherit_docstrings = False  # Keras' own docstrings are not numpydoc
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_validation_checks = set()

# -- intersphinx, offline ------------------------------------------------------
# The inventories are written from the installed packages at every build (see
# docs/sphinxext/offline_inventories.py); nothing is downloaded.
intersphinx_mapping = write_inventories(DOCS / "_build" / "inventories")
intersphinx_timeout = 1

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(^|/)(?!plot_)[^/]*\.py$",  # helpers beside the examples stay out
    "doc_module": ("sklearn_daml",),
    "reference_url": {"sklearn_daml": None},
    "backreferences_dir": "gen_modules/backreferences",
    "inspect_global_variables": False,
    "min_reported_time": 1,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "capture_repr": ("_repr_html_",),
    "matplotlib_animations": False,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-daml {release}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "benchmarks": [], "design": []}
html_show_sourcelink = False
html_last_updated_fmt = None

myst_heading_anchors = 3


# -- the API listing covers every public object ----------------------------------
PUBLIC_MODULES = ("sklearn_daml", "sklearn_daml.models", "sklearn_daml.timeseries")
# Public objects whose docstring has no Examples section yet (each one is a to-do).
NO_EXAMPLES_YET = set()


def _check_api_listing(app):
    """Warn (an error under -W) for a public name missing from docs/api.rst, or
    without an Examples section in its docstring."""
    import importlib

    from sphinx.util import logging

    text = (DOCS / "api.rst").read_text()
    listed = set(re.findall(r"^\s+([A-Za-z_][A-Za-z0-9_]*)\s*$", text, flags=re.M))
    logger = logging.getLogger("sklearn_daml.api")
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name.startswith("__"):  # __version__
                continue
            if name not in listed:
                logger.warning(
                    f"{module_name}.{name} is public (__all__) but not listed in docs/api.rst"
                )
            doc = getattr(module, name).__doc__ or ""
            if f"{module_name}.{name}" not in NO_EXAMPLES_YET and "Examples\n" not in doc:
                logger.warning(f"{module_name}.{name}: the docstring has no Examples section")


# numpydoc renders the type after "name : " as reStructuredText. Types written as
# plain prose, "ndarray of shape (n_features_in_,)" or "(n, *conditional_shape)",
# then read as a link target or the start of emphasis; quote such words in type
# lines before numpydoc sees them (priority 400 runs before numpydoc's 500).
_TYPE_LINE = re.compile(r"^(\s*[\w*, ]+ : )(.*)$")
_PROSE_MARKUP = re.compile(r"(?<![`\w])(\*?[A-Za-z_]\w*_|\*[A-Za-z_]\w*)(?=[,) ]|$)")


def _quote_type_markup(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match and "`" not in match.group(2):
            lines[i] = match.group(1) + _PROSE_MARKUP.sub(r"``\1``", match.group(2))


def setup(app):
    app.connect("builder-inited", _check_api_listing)
    app.connect("autodoc-process-docstring", _quote_type_markup, priority=400)

"""Scoring of Dask collections: a fitted detector mapped over the blocks.

``score_samples``, ``decision_function`` and ``predict`` take a
``dask.array.Array`` (chunked along its first axis: rows, images or windows)
or a ``dask.dataframe.DataFrame`` and return a lazy ``dask.array.Array`` of
one value per row, computed block by block with the in-memory method, so the
results equal the in-memory ones bit for bit (a row's score does not depend
on the batch it is scored in).

The detector enters the task graph once, as a single key
(``dask.delayed(detector, pure=True)``), which every block task depends on:
a distributed scheduler sends it to each worker once instead of pickling it
into every task, as dask-ml's ``ParallelPostFit`` does for ``predict``.

Dask stays optional: a collection is recognised through the ``dask`` module
that its creator has already imported, so without Dask nothing here imports
it.
"""

import functools
import sys

import numpy as np


def is_dask_collection(X):
    """Whether ``X`` is a Dask collection, without importing Dask."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(X)


def dask_blocks(method):
    """Make a scoring method map itself over the blocks of a Dask input.

    Other inputs go to ``method`` unchanged.
    """

    @functools.wraps(method)
    def wrapper(self, X):
        if is_dask_collection(X):
            return map_over_blocks(self, method.__name__, X)
        return method(self, X)

    return wrapper


def _apply(block, estimator, method):
    """One block's result: the in-memory method of the fitted detector."""
    return getattr(estimator, method)(block)


def map_over_blocks(estimator, method, X):
    """Lazy ``dask.array.Array`` of ``estimator.<method>`` on each block of
    ``X``, one value per row.

    Parameters
    ----------
    estimator : fitted detector
    method : {"score_samples", "decision_function", "predict"}
    X : dask.array.Array or dask.dataframe.DataFrame

    Returns
    -------
    result : dask.array.Array of shape (n_samples,)
        Float64 scores, or int labels for ``predict``. The chunks follow the
        blocks of ``X`` (their sizes are unknown for a DataFrame).
    """
    import dask
    import dask.array as da
    import dask.dataframe as dd
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    meta = np.empty(0, dtype=int if method == "predict" else np.float64)
    fitted = dask.delayed(estimator, pure=True)
    if isinstance(X, da.Array):
        if X.ndim < 2:
            raise ValueError(
                f"Expected a 2-D dask array (or images and windows along the first "
                f"axis); got {X.ndim} dimension(s)."
            )
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
        return X.map_blocks(
            _apply, fitted, method, drop_axis=list(range(1, X.ndim)), meta=meta
        )
    if isinstance(X, dd.DataFrame):
        names = getattr(estimator, "feature_names_in_", None)
        if names is not None and list(X.columns) != list(names):
            raise ValueError(
                f"The dask DataFrame's columns {list(X.columns)} are not the feature "
                f"names seen at fit {list(names)}."
            )
        return X.map_partitions(_apply, fitted, method, meta=meta)
    raise TypeError(
        f"{type(estimator).__name__}.{method} takes a dask.array.Array or a "
        f"dask.dataframe.DataFrame among Dask collections; got {type(X).__name__}."
    )

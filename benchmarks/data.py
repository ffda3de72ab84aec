"""Loaders for the shared benchmark data (``../shared/data``)."""

import gzip
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def kddcup(data_dir=DATA_DIR):
    """KDDCUP99 10% as in DAGMM: one-hot columns 1-3 (118 features), min-max
    scaled; label 1 for the ``normal.`` rows (the outlier class), else 0.

    Returns ``None`` when the file is absent.
    """
    path = Path(data_dir) / "kddcup.data_10_percent.gz"
    if not path.exists():
        print(f"skipping KDDCUP99: {path} not found")
        return None
    with gzip.open(path, "rt") as fh:
        rows = [line.rstrip(".\n").split(",") for line in fh if line.strip()]
    table = np.array(rows, dtype=object)
    labels = (table[:, -1] == "normal").astype(int)
    columns = []
    for j in range(table.shape[1] - 1):
        col = table[:, j]
        if j in (1, 2, 3):
            levels = np.unique(col)
            columns.append((col[:, None] == levels[None, :]).astype(np.float64))
        else:
            columns.append(col.astype(np.float64)[:, None])
    X = np.hstack(columns)
    span = X.max(axis=0) - X.min(axis=0)
    X = (X - X.min(axis=0)) / np.where(span > 0, span, 1.0)
    return X, labels

"""Loaders for the shared benchmark data (``../shared/data``).

Every loader returns ``(X, y)`` with ``y = 1`` for outliers (the data sets'
own convention), or ``None`` with a message when the file is absent.
"""

import gzip
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

# the 31 ADBench tables of ../shared/data, named by their file names without
# ADBench's number, in the order of their names
_ADBENCH_FILES = [
    "1_ALOI.npz", "2_annthyroid.npz", "5_campaign.npz", "6_cardio.npz",
    "7_Cardiotocography.npz", "8_celeba.npz", "10_cover.npz", "11_donors.npz",
    "14_glass.npz", "15_Hepatitis.npz", "16_http.npz", "17_InternetAds.npz",
    "20_letter.npz", "21_Lymphography.npz", "22_magic.gamma.npz", "23_mammography.npz",
    "24_mnist.npz", "25_musk.npz", "28_pendigits.npz", "30_satellite.npz",
    "32_shuttle.npz", "33_skin.npz", "34_smtp.npz", "35_SpamBase.npz",
    "37_Stamps.npz", "38_thyroid.npz", "39_vertebral.npz", "41_Waveform.npz",
    "42_WBC.npz", "45_wine.npz", "46_WPBC.npz",
]
ADBENCH = dict(
    sorted(
        ((f.split("_", 1)[1].removesuffix(".npz"), f) for f in _ADBENCH_FILES),
        key=lambda item: item[0].lower(),
    )
)


def _missing(path):
    print(f"skipping {path.name}: {path} not found")


def adbench(name, data_dir=DATA_DIR):
    """One of the ADBench tables, as float64."""
    path = Path(data_dir) / ADBENCH[name]
    if not path.exists():
        return _missing(path)
    with np.load(path) as data:
        return data["X"].astype(np.float64), data["y"].astype(int)


def arrhythmia(data_dir=DATA_DIR):
    """ODDS Arrhythmia (452 x 274, 66 outliers)."""
    from scipy.io import loadmat

    path = Path(data_dir) / "arrhythmia.mat"
    if not path.exists():
        return _missing(path)
    data = loadmat(path)
    return data["X"].astype(np.float64), data["y"].ravel().astype(int)


def kddcup(data_dir=DATA_DIR, scale=True):
    """KDDCUP99 10% as in DAGMM: one-hot columns 1-3 (118 features); label 1
    for the ``normal.`` rows (the outlier class), else 0. With ``scale``,
    every column is min-max scaled over the whole file (as the speed
    benchmark uses it); Protocol D scales on its training half instead.
    """
    path = Path(data_dir) / "kddcup.data_10_percent.gz"
    if not path.exists():
        return _missing(path)
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
    if scale:
        span = X.max(axis=0) - X.min(axis=0)
        X = (X - X.min(axis=0)) / np.where(span > 0, span, 1.0)
    return X, labels

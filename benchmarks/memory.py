"""Peak memory while scoring (``run``: 2M rows in one call against 200k rows)
and while fitting on a memory-mapped file (``run_fit``: 2M and 20M rows).

Each scoring measurement runs in a fresh process that loads a pickled
detector, builds the input without temporaries, warms the scorer up on 1000
rows, and reads the resident set size before ``score_samples`` and its peak
after. The growth beyond the input and output arrays is what batching
bounds: it must not grow with the number of rows.

Each fit measurement writes the rows to a ``.npy`` file in a temporary
folder (deleted afterwards), and a fresh process maps it
(``np.load(mmap_mode="r")``), fits once on 1000 rows to warm TensorFlow up,
then fits on the whole map. The peak RSS counts the file's pages the fit
reads; what a whole copy would add is a second file's worth beyond it.

``run_sparse`` (``python -m benchmarks memory-sparse``) fits and scores a
CSR matrix of 50,000 x 20,000 at density 0.001 (8 GB dense, 12 MB sparse)
in a fresh process, built from its non-zeros, after a warm-up fit on 1000
of its rows: the fit and the scores read it a batch of densified rows at a
time, so the peak stays a few batches above the process's size.
"""

import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from sklearn_daml import AEGMMOutlierDetector, AEOutlierDetector, VAEGMMOutlierDetector

N_FEATURES = 118
CHILD = r"""
import json, pickle, resource, sys
import numpy as np
with open(sys.argv[1], "rb") as fh:
    detector = pickle.load(fh)
n_rows = int(sys.argv[2])
X = np.empty((n_rows, detector.n_features_in_))
rng = np.random.RandomState(0)
for start in range(0, n_rows, 100_000):
    X[start:start + 100_000] = rng.uniform(size=X[start:start + 100_000].shape)
detector.score_samples(X[:1000])

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()

before = rss()
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
scores = detector.score_samples(X)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak_before": peak_before, "peak": peak,
                  "input": X.nbytes, "output": scores.nbytes,
                  "finite": bool(np.all(np.isfinite(scores)))}))
"""


def _measure(path, n_rows):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(n_rows)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick=False):
    rows = [20_000, 200_000] if quick else [200_000, 1_000_000, 2_000_000]
    X = np.random.RandomState(0).uniform(size=(5000, N_FEATURES))
    detectors = {
        "AE": AEOutlierDetector(epochs=2, random_state=0),
        "AEGMM": AEGMMOutlierDetector(n_gmm=4, epochs=2, random_state=0),
        "VAEGMM": VAEGMMOutlierDetector(n_gmm=4, epochs=2, random_state=0),
    }
    results = {}
    mib = 2.0**20
    print(f"Peak RSS while scoring {N_FEATURES}-feature rows in one call (MiB)\n")
    print("| detector | rows | RSS before | peak | growth | input + output | growth beyond arrays |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, detector in detectors.items():
            path = Path(tmp) / f"{name}.pkl"
            path.write_bytes(pickle.dumps(detector.fit(X)))
            results[name] = {}
            for n_rows in rows:
                m = _measure(path, n_rows)
                # the input is in "before"; the output is allocated during the call
                growth = m["peak"] - m["before"]
                beyond = growth - m["output"]
                m.update(growth=growth, beyond_arrays=beyond)
                results[name][n_rows] = m
                print(
                    f"| {name} | {n_rows:,} | {m['before'] / mib:,.0f} | {m['peak'] / mib:,.0f} | "
                    f"{growth / mib:,.0f} | {(m['input'] + m['output']) / mib:,.0f} | "
                    f"{beyond / mib:,.0f} |",
                    flush=True,
                )
    return results


FIT_FEATURES = 8
CHILD_FIT = r"""
import json, resource, sys, time, warnings
import numpy as np
from sklearn_daml import AEGMMOutlierDetector

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()

X = np.load(sys.argv[1], mmap_mode="r")
detector = AEGMMOutlierDetector(
    hidden_layer_sizes=(16,), n_gmm=2, epochs=1, batch_size=65536, random_state=0
)
warnings.simplefilter("ignore")  # one epoch: early stopping warns it did not converge
detector.fit(X[:1000])
before = rss()
start = time.perf_counter()
detector.fit(X)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak, "file": X.nbytes, "seconds": seconds,
                  "finite": bool(np.isfinite(detector.offset_))}))
"""


def _write_rows(path, n_rows):
    """Standard normal rows written to a ``.npy`` file piece by piece."""
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, FIT_FEATURES))
    rng = np.random.RandomState(0)
    for start in range(0, n_rows, 1_000_000):
        X[start : start + 1_000_000] = rng.normal(size=X[start : start + 1_000_000].shape)
    X.flush()
    del X


def run_fit(quick=False):
    """Peak RSS of ``AEGMMOutlierDetector.fit`` on a memory-mapped file."""
    rows = [200_000, 2_000_000] if quick else [2_000_000, 20_000_000]
    results = {}
    mib = 2.0**20
    print(
        f"Peak RSS of AEGMMOutlierDetector.fit on a memory-mapped {FIT_FEATURES}-feature "
        "float64 file (MiB; one epoch, batch_size=65536, early stopping on)\n"
    )
    print("| rows | file | RSS before | peak | beyond the file | fit time (s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n_rows in rows:
            path = Path(tmp) / "X.npy"
            _write_rows(path, n_rows)
            out = subprocess.run(
                [sys.executable, "-c", CHILD_FIT, str(path)],
                check=True, capture_output=True, text=True,
            )
            path.unlink()
            m = json.loads(out.stdout.strip().splitlines()[-1])
            m["beyond_file"] = m["peak"] - m["before"] - m["file"]
            results[n_rows] = m
            print(
                f"| {n_rows:,} | {m['file'] / mib:,.0f} | {m['before'] / mib:,.0f} | "
                f"{m['peak'] / mib:,.0f} | {m['beyond_file'] / mib:,.0f} | {m['seconds']:,.0f} |",
                flush=True,
            )
    return results


SPARSE_DENSITY = 0.001
CHILD_SPARSE = r"""
import json, resource, sys, time, warnings
import numpy as np
import scipy.sparse as sp
from sklearn_daml import AEGMMOutlierDetector

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

n_rows, n_features, density = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = np.random.RandomState(0)
per_row = max(1, round(density * n_features))
# built from its non-zeros alone: the dense matrix never exists
X = sp.csr_matrix(
    (rng.uniform(size=n_rows * per_row),
     (np.repeat(np.arange(n_rows), per_row), rng.randint(0, n_features, size=n_rows * per_row))),
    shape=(n_rows, n_features),
)
X.sum_duplicates()
detector = AEGMMOutlierDetector(n_estimators=1, scaled_error=False, epochs=1, random_state=0)
warnings.simplefilter("ignore")
detector.fit(X[:1000])  # TensorFlow's first-use allocations
detector.score_samples(X[:1000])
before, peak_before = rss(), peak()
start = time.perf_counter()
detector.fit(X)
fit_seconds = time.perf_counter() - start
peak_fit = peak()
start = time.perf_counter()
scores = detector.score_samples(X)
score_seconds = time.perf_counter() - start
print(json.dumps({
    "sparse": X.data.nbytes + X.indices.nbytes + X.indptr.nbytes, "nnz": int(X.nnz),
    "dense": 8 * n_rows * n_features, "before": before, "peak_before": peak_before,
    "peak_fit": peak_fit, "peak": peak(), "fit_seconds": fit_seconds,
    "score_seconds": score_seconds, "finite": bool(np.all(np.isfinite(scores))),
}))
"""


def run_sparse(quick=False):
    """Peak RSS of ``fit`` and ``score_samples`` on a CSR matrix far larger
    dense than the machine's memory allows: ``AEGMMOutlierDetector``
    (``n_estimators=1``, ``scaled_error=False``, ``epochs=1``, otherwise its
    defaults) reads it a batch of densified rows at a time."""
    shapes = [(10_000, 5_000)] if quick else [(50_000, 20_000)]
    results = {}
    mib = 2.0**20
    print(
        "Peak RSS of AEGMMOutlierDetector(n_estimators=1, scaled_error=False, epochs=1) fit "
        f"and score_samples on a CSR matrix of density {SPARSE_DENSITY:g} (MiB)\n"
    )
    print(
        "| rows x features | non-zeros | sparse X | X dense | RSS before | peak during fit "
        "| peak during scoring | growth beyond RSS before | fit (s) | score (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_rows, n_features in shapes:
        out = subprocess.run(
            [sys.executable, "-c", CHILD_SPARSE, str(n_rows), str(n_features), str(SPARSE_DENSITY)],
            check=True, capture_output=True, text=True,
        )
        m = json.loads(out.stdout.strip().splitlines()[-1])
        m["growth"] = m["peak"] - m["before"]
        results[f"{n_rows}x{n_features}"] = m
        print(
            f"| {n_rows:,} x {n_features:,} | {m['nnz']:,} | {m['sparse'] / mib:,.0f} | "
            f"{m['dense'] / mib:,.0f} | {m['before'] / mib:,.0f} | {m['peak_fit'] / mib:,.0f} | "
            f"{m['peak'] / mib:,.0f} | {m['growth'] / mib:,.0f} | {m['fit_seconds']:,.0f} | "
            f"{m['score_seconds']:,.0f} |",
            flush=True,
        )
    return results

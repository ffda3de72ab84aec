"""Peak memory while scoring: 2M rows in one call against 200k rows.

Each measurement runs in a fresh process that loads a pickled detector,
builds the input without temporaries, warms the scorer up on 1000 rows, and
reads the resident set size before ``score_samples`` and its peak after.
The growth beyond the input and output arrays is what batching bounds: it
must not grow with the number of rows.
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

"""Scoring throughput of the tabular detectors with their defaults (run by
hand).

Each detector is fitted with its defaults (``random_state=0``) on the
contaminated Protocol U training split of a table (seed 0, standardized),
then ``score_samples`` is timed on 100,000 rows (the test rows repeated),
after one warm-up call; the single-row latency is the median of 50 calls.
IsolationForest is timed on the same rows as a yardstick for the machine.
One JSON line per table and detector, then a markdown table::

    python -m benchmarks.experiments.scoring_throughput LABEL [tables=thyroid,mnist] \
        [detectors=VAE,IF]

It uses only the estimators' public API, so the same file times an older
tree: put it into a ``git archive`` snapshot of that tree and run it there.
"""
import json
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .. import data
from ..speed import _median_latency
from ..quality import DETECTORS as DEEP

DETECTORS = {**DEEP, "IF": IsolationForest}
N_ROWS = 100_000
# the tables timed by default: a spread of widths (6 to 100 features)
TABLES = ["thyroid", "annthyroid", "cardio", "satellite", "pendigits", "mammography", "mnist", "shuttle"]


def main(argv):
    label, options = argv[0], {"tables": TABLES, "detectors": list(DETECTORS)}
    for arg in argv[1:]:
        key, value = arg.split("=", 1)
        if key not in options:
            raise SystemExit(f"unknown argument {arg!r}")
        options[key] = value.split(",")
    tables, detectors = options["tables"], {n: DETECTORS[n] for n in options["detectors"]}
    results = {}
    for table in tables:
        loaded = data.adbench(table)
        if loaded is None:
            continue
        X, y = loaded
        X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=0)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        X_score = np.tile(X_test, (1 + N_ROWS // len(X_test), 1))[:N_ROWS]
        for name, cls in detectors.items():
            detector = cls(random_state=0).fit(X_train)
            detector.score_samples(X_score[:1000])
            start = time.perf_counter()
            detector.score_samples(X_score)
            rows_per_s = N_ROWS / (time.perf_counter() - start)
            row = {
                "label": label,
                "table": table,
                "detector": name,
                "rows_per_s": rows_per_s,
                "single_row_ms": 1000 * _median_latency(detector.score_samples, X_score[:1], 50),
            }
            results[table, name] = row
            print(json.dumps(row), flush=True)
    print(f"\n{label}: score_samples rows/s on {N_ROWS:,} rows (single-row latency, ms)\n")
    print("| table | " + " | ".join(detectors) + " |")
    print("|---|" + "---:|" * len(detectors))
    for table in tables:
        cells = [
            f"{results[table, n]['rows_per_s']:,.0f} ({results[table, n]['single_row_ms']:.1f})"
            for n in detectors
            if (table, n) in results
        ]
        if cells:
            print(f"| {table} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])

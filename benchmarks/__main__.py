"""``python -m benchmarks quality|calibration|speed|memory|memmap-fit|memory-sparse|images|
series [--quick]``: print markdown tables and write JSON to ``benchmarks/results/``."""

import argparse
import json
import platform
from pathlib import Path

import sklearn

import sklearn_daml  # first: it imports TensorFlow quietly
from sklearn_daml._compiled import tf

import keras  # noqa: E402

from . import calibration, images, memory, quality, series, speed

RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = {
    "quality": quality.run,
    "calibration": calibration.run,
    "speed": speed.run,
    "memory": memory.run,
    "memmap-fit": memory.run_fit,
    "memory-sparse": memory.run_sparse,
    "images": images.run,
    "series": series.run,
}


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("which", choices=list(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="fewer seeds, less data, fewer epochs")
    parser.add_argument(
        "--protocol",
        action="append",
        choices=list(quality.REGIMES),
        help="quality, calibration: run only this regime (repeatable; default all: U, clean, D)",
    )
    parser.add_argument(
        "--table", action="append",
        help="quality, calibration: run only this table (repeatable; default all)",
    )
    parser.add_argument(
        "--method", action="append",
        help="quality, calibration: run only this method (repeatable; default all)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=METHOD:param=value,...",
        help="quality: add a detector with changed parameters (repeatable)",
    )
    parser.add_argument(
        "--report", action="store_true", help="quality: print the stored results, fit nothing"
    )
    parser.add_argument(
        "--baselines-only", action="store_true", help="series: leave out Seq2Seq (minutes per fit)"
    )
    args = parser.parse_args()
    kwargs = {}
    if args.which == "quality":
        kwargs = {
            "protocols": tuple(args.protocol or quality.REGIMES),
            "tables": args.table,
            "methods": args.method,
            "variants": tuple(args.variant),
            "report_only": args.report,
        }
    if args.which == "calibration":
        kwargs = {"protocols": tuple(args.protocol or calibration.REGIMES),
                  "tables": args.table, "methods": args.method}
    if args.which == "series":
        kwargs = {"baselines_only": args.baselines_only}
    results = BENCHMARKS[args.which](quick=args.quick, **kwargs)
    results["machine"] = {
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "sklearn_daml": sklearn_daml.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "scikit-learn": sklearn.__version__,
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = "".join(f"_{p}" for p in args.protocol or []) if args.which == "quality" else ""
    suffix = "_baselines" if args.which == "series" and args.baselines_only else suffix
    out = RESULTS / f"{args.which}{'_quick' if args.quick else ''}{suffix}.json"
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()

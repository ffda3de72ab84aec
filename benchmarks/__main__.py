"""``python -m benchmarks speed [--quick]``: print a table, write JSON."""

import argparse
import json
import platform
from pathlib import Path

import sklearn_daml

from . import speed

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("which", choices=["speed"])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer epochs")
    args = parser.parse_args()
    results = {"speed": speed.run}[args.which](quick=args.quick)
    results["machine"] = {"python": platform.python_version(), "sklearn_daml": sklearn_daml.__version__}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{args.which}{'_quick' if args.quick else ''}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()

"""Table of mean ROC-AUC/AP and fit time per variant and regime from the JSON
lines that ``variants.py`` prints:
``python -m benchmarks.experiments.summarize out1.jsonl out2.jsonl ...``."""
import json, sys, collections
import numpy as np
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.startswith("{")]
by = collections.defaultdict(list)
for r in rows:
    by[(r["name"], r["regime"], r["ds"])].append(r)
names = sorted({r["name"] for r in rows}, key=lambda n: [r["name"] for r in rows].index(n))
tabs = sorted({r["ds"] for r in rows}, key=lambda n: [r["ds"] for r in rows].index(n))
for regime in ["U", "C", "UC", "UR", "D"]:
    print(f"regime {regime}")
    print("name".ljust(28) + "".join(t[:7].rjust(8) for t in tabs) + "   mAUC    mAP  t")
    for n in names:
        cells, aucs, aps, ts = [], [], [], []
        for t in tabs:
            rs = by.get((n, regime, t), [])
            if not rs:
                cells.append("".rjust(8)); continue
            a = np.mean([r["auc"] for r in rs]); aucs.append(a); aps.append(np.mean([r["ap"] for r in rs]))
            ts.append(np.mean([r.get("t", 0) for r in rs]))
            cells.append(f"{a:.3f}".rjust(8))
        if aucs:
            print(n[:28].ljust(28) + "".join(cells) + f"  {np.mean(aucs):.3f}  {np.mean(aps):.3f} {np.mean(ts):.1f}" + ("" if len(aucs) == len(tabs) else f" ({len(aucs)})"))

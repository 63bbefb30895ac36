"""Peak memory of the worst allowed colorizations (not a unit test): each case runs in a fresh
process; it prints the process's RSS after loading the model (idle) and its peak RSS during one
colorization, and the difference against the 1.5 GB budget.

    python scripts/memory_budget.py                # the default cases at each model's largest render size
    python scripts/memory_budget.py --render-size 1024 --models photo
    python scripts/memory_budget.py --models runs/candidate.safetensors
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BUDGET_MB = 1536

CASE = r"""
import json, resource, sys, numpy as np, torch
from tinct import Colorizer, Hints
from tinct.hints import Point
torch.set_num_threads(2)
model, render, points, megapixels = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
kind = sys.argv[5] if len(sys.argv) > 5 else "colorize"
c = Colorizer(model)
render = c.max_render_size if render == "max" else int(render)  # "max": the model's largest allowed (the call checks)
side = int((megapixels * 1e6) ** 0.5)
rng = np.random.default_rng(0)
img = rng.integers(0, 255, (side * 3 // 4, side * 4 // 3, 3), dtype=np.uint8)
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
c(np.zeros((64, 64, 3), np.uint8))  # warm: lazy buffers, thread pools
idle = rss()
hints = None
if points:
    h, w = img.shape[:2]
    hints = Hints(points=[Point(int(rng.integers(0, w)), int(rng.integers(0, h)), (200, 40, 40)) for _ in range(points)])
if kind == "variants":  # the most alternatives the server allows, encoded as /api/v1/variants answers
    import base64
    from PIL import Image
    from tinct.serve.images import encode
    from tinct.serve.routes_api import VARIANT_PREVIEW
    from tinct.uncertainty import variants
    h, w = img.shape[:2]
    s = min(1.0, VARIANT_PREVIEW / max(h, w))  # previews, as the endpoint makes them
    small = np.asarray(Image.fromarray(img).resize((round(w * s), round(h * s)), Image.LANCZOS))
    hints = hints.resized((h, w), small.shape[:2]) if hints is not None else None
    urls = ["data:image/png;base64," + base64.b64encode(encode(o, "png")[0]).decode("ascii")
            for o in variants(c, small, 8, hints, render)]
elif kind == "variant":  # /api/v1/colorize's variant 7 of 8, the hints on top, at full size
    from tinct.uncertainty import variants
    variants(c, img, 8, hints, render, only=7)
elif kind == "confidence":
    c(img, hints=hints, render_size=render, confidence=True)
else:
    c(img, hints=hints, render_size=render)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"idle_mb": round(idle), "peak_mb": round(peak), "render": render}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render-size", type=int, default=None,
                    help="default: each model's largest allowed (Colorizer.max_render_size: 2048, line art 1024)")
    ap.add_argument("--models", nargs="+", default=["photo", "lineart", "art"],
                    help="shipped names or model files (a candidate before it ships)")
    ap.add_argument("--uncertainty", action="store_true",
                    help="also the confidence map and 8 alternatives (tinct.uncertainty) at the server's largest image")
    args = ap.parse_args()
    from tinct.modelfile import shipped_models

    render = str(args.render_size) if args.render_size else "max"
    cases = []
    for model in args.models:
        if model not in shipped_models() and not Path(model).is_file():
            print(f"skip {model}: not shipped here, and no such model file")
            continue
        cases += [(model, render, 0, 40.0, "colorize"), (model, render, 1000, 2.0, "colorize")]
        if args.uncertainty and model in ("photo", "art"):  # the requests that read the color distribution
            cases += [(model, render, 0, 40.0, "confidence"), (model, render, 0, 40.0, "variants"),
                      (model, render, 100, 2.0, "variants"), (model, render, 100, 40.0, "variant")]
    worst = 0
    for model, r, points, mp, kind in cases:
        res = subprocess.run([sys.executable, "-c", CASE, model, str(r), str(points), str(mp), kind],
                             capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{model} {kind} @ {r} px, {points} points, {mp:g} MP: FAILED {res.stderr.strip().splitlines()[-1:]}")
            worst = max(worst, 10**9)
            continue
        out = json.loads(res.stdout.strip().splitlines()[-1])
        extra = out["peak_mb"] - out["idle_mb"]
        worst = max(worst, extra)
        r = out["render"]
        print(f"{model} {kind} @ {r} px, {points:4d} points, {mp:4g} MP: idle {out['idle_mb']} MB, peak {out['peak_mb']} MB, "
              f"+{extra} MB ({'within' if extra <= BUDGET_MB else 'OVER'} the {BUDGET_MB} MB budget)")
    print(f"worst: +{worst} MB")
    return 0 if worst <= BUDGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())

"""The tinct modules one call of the shipped model passes through, in the order first entered:
``python scripts/call_path.py [--points N] [--palette]`` (default: 2 points on a 320x240 image)."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--points", type=int, default=2)
    ap.add_argument("--palette", action="store_true", help="a palette as well")
    args = ap.parse_args()
    from tinct import Colorizer, Hints
    from tinct.hints import Point

    c = Colorizer(args.model)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    hints = Hints(points=[Point(x=40 + 60 * i, y=120, rgb=(200, 40, 40)) for i in range(args.points)],
                  palette=[((40, 90, 160), 1.0)] if args.palette else None)
    order: list[str] = []

    def profile(frame, event, arg):
        if event == "call":
            name = frame.f_globals.get("__name__", "")
            if name.startswith("tinct") and name not in order:
                order.append(name)

    sys.setprofile(profile)
    c(img, hints)
    sys.setprofile(None)
    print(" -> ".join(order))
    print(f"{len(order)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())

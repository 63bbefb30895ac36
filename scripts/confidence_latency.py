"""What the confidence map, suggested colors and alternatives cost: the median time of a colorization
without and with ``confidence=True``, of ``tinct.uncertainty.suggest`` and of ``variants(..., 4)``
(the output and three alternatives), at three photo sizes, the runs
interleaved in one process so that both see the same machine; then the same through the HTTP API
as the page asks for a new picture (colorized, then the first suggested colors and the overlay
about it: /colorize keeps its prediction for them, :mod:`tinct.serve.predictions`).

    python scripts/confidence_latency.py [--model photo] [--runs 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tinct import uncertainty
from tinct.pipeline import Colorizer, set_threads


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="photo")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    set_threads(args.threads)
    col = Colorizer(args.model)
    rng = np.random.default_rng(0)
    for w, h in ((512, 384), (1024, 768), (2048, 1536)):
        yy, xx = np.mgrid[0:h, 0:w]
        gray = ((np.sin(xx / 37.0) + np.cos(yy / 23.0)) * 50 + 128 + rng.normal(0, 6, (h, w))).clip(0, 255)
        img = np.repeat(gray.astype(np.uint8)[:, :, None], 3, axis=2)
        col(img), col(img, confidence=True)  # warm-up
        plain, conf, sugg, alts = [], [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            col(img)
            t1 = time.perf_counter()
            col(img, confidence=True)
            t2 = time.perf_counter()
            uncertainty.suggest(col, img, w // 3, h // 2)
            t3 = time.perf_counter()
            uncertainty.variants(col, img, 4)
            t4 = time.perf_counter()
            plain.append(t1 - t0)
            conf.append(t2 - t1)
            sugg.append(t3 - t2)
            alts.append(t4 - t3)
        p, c, s, a = (float(np.median(v)) * 1000 for v in (plain, conf, sugg, alts))
        # what confidence=True adds, timed alone (the difference of two whole runs is within their noise)
        extras: dict = {}
        col(img, extras=extras)
        own = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            cmap = uncertainty.confidence(extras["logits"], col.model.bins, extras["ab"])
            uncertainty.upsample(cmap, (h, w))
            own.append(time.perf_counter() - t0)
        m = float(np.median(own)) * 1000
        print(f"{w}x{h}: colorize {p:.0f} ms, with the confidence map {c:.0f} ms ({100 * (c / p - 1):+.1f} %; "
              f"the map itself {m:.1f} ms, {100 * m / p:.1f} %), suggested colors at a point {s:.0f} ms "
              f"({s / p:.2f}x a colorization), the output and 3 alternatives {a:.0f} ms ({a / p:.2f}x)")
        server(args, img)
    return 0


def server(args, img: np.ndarray) -> None:
    """The page's requests for a new picture through the app (in process): /colorize, then the first
    /suggest and /confidence about it, median of ``runs`` rounds (each a new picture) after one warm
    round."""
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from tinct.serve import Settings, create_app

    def png(i: int) -> bytes:  # each round a new picture (one pixel differs): nothing known about it yet
        pic = img.copy()
        pic[0, 0] = (int(pic[0, 0].ravel()[0]) + 1 + i) % 256
        buf = io.BytesIO()
        Image.fromarray(pic).save(buf, "PNG")
        return buf.getvalue()

    h, w = img.shape[:2]
    app = create_app(Settings(models=(args.model,), default_model=args.model, torch_threads=args.threads,
                              allowed_hosts=("testserver",)))
    with TestClient(app) as client:
        def post(url, **fields):
            t0 = time.perf_counter()
            r = client.post(url, files={"image": ("photo.png", data, "image/png"),
                                        **{k: (None, str(v)) for k, v in fields.items()}})
            assert r.status_code == 200, r.text
            return time.perf_counter() - t0
        times = {"colorize": [], "suggest": [], "confidence": []}
        for i in range(args.runs + 1):
            data = png(i)
            c, s, o = post("/api/v1/colorize"), post("/api/v1/suggest", x=(37 * i) % w, y=(53 * i) % h), \
                post("/api/v1/confidence")
            if i:
                for k, v in zip(times, (c, s, o)):
                    times[k].append(v)
    c, s, o = (float(np.median(times[k])) * 1000 for k in ("colorize", "suggest", "confidence"))
    print(f"  through the HTTP API, a new picture: colorize {c:.0f} ms; then the first suggested colors {s:.0f} ms "
          f"({s / c:.2f}x); the overlay {o:.0f} ms ({o / c:.2f}x)")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    raise SystemExit(main())

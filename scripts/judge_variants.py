"""What in a model's colors the classifier test punishes: the benchmark's judge
(:mod:`tinct.bench.realism`, EfficientNet-Lite2) labels the originals, the gray inputs, the model's
colorizations and colors changed after the fact, the lightness always the original's: the model's
chroma scaled, its mean color alone as a uniform wash (and the original's), its mean taken out, the
original's colors faded, and the original's hues with the model's chroma and the other way round.

    python scripts/judge_variants.py ~/.cache/tinct/data/photo_v7/val/imagenette --every 2 \
        [--model photo] [--json out.json]

Only files whose names carry an Imagenette synset id count (:func:`tinct.bench.realism.label_of`);
the field's protocol (256x256 center crop, gray in). Prints top-1 / top-5 per variant."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tinct import color
from tinct.bench.field import gray_input, list_images, load_eval_image
from tinct.bench.realism import Judge, label_of
from tinct.pipeline import Colorizer


def variants(lab_true: torch.Tensor, lab_out: torch.Tensor) -> dict[str, torch.Tensor]:
    """ab maps (1, 2, H, W) to judge on the original's lightness, by name."""
    at, ao = lab_true[:, 1:], lab_out[:, 1:]
    mt, mo = at.mean((2, 3), keepdim=True), ao.mean((2, 3), keepdim=True)
    ct, co = at.norm(dim=1, keepdim=True), ao.norm(dim=1, keepdim=True)
    out = {"model": ao, "model mean color as a wash": mo.expand_as(ao), "model, mean taken out": ao - mo,
           "original mean color as a wash": mt.expand_as(at),
           "original hues, model chroma": at / ct.clamp_min(1e-3) * co,
           "model hues, original chroma": ao / co.clamp_min(1e-3) * ct}
    for s in (0.5, 1.5, 2.0, 3.0):
        out[f"model chroma x{s:g}"] = ao * s
    for s in (0.2, 0.35, 0.5):
        out[f"original chroma x{s:g}"] = at * s
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="folder of images named with Imagenette synset ids")
    ap.add_argument("--model", default="photo")
    ap.add_argument("--every", type=int, default=1, help="take every N-th labelled image")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if args.every < 1:
        raise SystemExit("--every must be at least 1")
    torch.set_num_threads(args.threads)
    files = [f for f in list_images(args.data, None) if label_of(f) is not None][:: args.every]
    if not files:
        raise SystemExit(f"no image in {args.data} has an ImageNet synset id in its name")
    colorizer, judge = Colorizer(args.model), Judge()
    hits: dict[str, list[tuple[bool, bool]]] = {}
    for path in tqdm(files, desc="judge", unit="img"):
        cls, rgb = label_of(path), load_eval_image(path, 256)
        gray = gray_input(rgb)
        lab_t, lab_o = (color.rgb_to_lab(color.to_tensor(x)) for x in (rgb, colorizer(gray)))
        hits.setdefault("original", []).append(judge(rgb, cls))
        hits.setdefault("gray", []).append(judge(gray, cls))
        for name, ab in variants(lab_t, lab_o).items():
            shown = color.to_uint8(color.lab_to_rgb(torch.cat([lab_t[:, :1], ab], 1)))
            hits.setdefault(name, []).append(judge(shown, cls))
    table = {k: {"top1": 100 * float(np.mean([a for a, _ in v])), "top5": 100 * float(np.mean([b for _, b in v]))}
             for k, v in hits.items()}
    print(f"{len(files)} images, model {args.model}")
    for name, r in table.items():
        print(f"{name:32s} top-1 {r['top1']:5.1f} %  top-5 {r['top5']:5.1f} %")
    if args.json:
        Path(args.json).write_text(json.dumps({"images": len(files), "model": args.model, "variants": table}, indent=2))


if __name__ == "__main__":
    main()

"""Training-step and inference speed of the shipped photo architecture, each setting against the
baseline in one run: plain fp32 (NCHW) against channels_last, and channels_last with bf16 autocast.

    python scripts/train_speed.py [--crop 224] [--batch 16] [--steps 6] [--threads 2]

A training step is what ``tinct train --hints`` does per step (forward with sampled hints, L1 on
the regression head + 0.2 x cross-entropy on the 313 bins, backward, Adam). Every setting starts
from the same weights and batch; its loss and gradients are compared with the baseline's
(relative L2 difference of the full gradient vector) so a faster setting that changes the
arithmetic beyond ``--tolerance`` is flagged. Inference: the shipped model's latency at 256 and
512 px in each memory format, and the largest ab difference. Prints a table and writes JSON
(``--json``)."""

from __future__ import annotations

import argparse
import json
import time

import torch

from tinct import color, losses
from tinct.hints import sample_training_hints
from tinct.modelfile import load_model
from tinct.modelfile import resolve_model
from tinct.train.loop import set_memory_format


def make_batch(n: int, crop: int, seed: int = 0) -> torch.Tensor:
    """Smooth random color images (N, 3, crop, crop) in [0, 1]: blobs of color, like photos' ab."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=g)
    rgb = torch.nn.functional.interpolate(low, size=(crop, crop), mode="bicubic", align_corners=False)
    return (rgb + 0.05 * torch.randn(rgb.shape, generator=g)).clamp(0, 1)


def step_fn(model, rgb, bf16: bool, channels_last: bool):
    lab = color.rgb_to_lab(rgb)
    l, ab = color.normalize_l(lab[:, :1]), color.normalize_ab(lab[:, 1:])
    gen = torch.Generator().manual_seed(1)
    ab_hint, mask, glob = sample_training_hints(ab, rgb, gen, p_none=0.5, p_global=0.2)
    if channels_last:
        l, ab_hint, mask = (t.contiguous(memory_format=torch.channels_last) for t in (l, ab_hint, mask))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(l, ab_hint=ab_hint, mask=mask, global_hint=glob)
    loss = losses.reconstruction(out["ab"].float(), ab, "l1") + 0.2 * losses.rebalanced_ce(
        out["logits"].float(), ab, model.bins, None)
    return loss


def train_setting(name, base_state, rgb, steps, bf16, channels_last):
    model, _ = load_model(resolve_model("photo"), role="colorizer")
    model.load_state_dict(base_state)
    model.fusion = None  # training trains the network; the fusion stage is trained apart
    set_memory_format(model, channels_last)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.0)  # lr 0: every timed step sees the same weights
    times, first_loss, grads = [], None, None
    for i in range(steps + 1):
        t0 = time.perf_counter()
        loss = step_fn(model, rgb, bf16, channels_last)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if i == 0:
            first_loss = float(loss.detach())
            grads = torch.cat([p.grad.flatten().float() for p in model.parameters() if p.grad is not None])
        opt.step()
        if i > 0:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"setting": name, "step_s": times[len(times) // 2], "loss": first_loss}, grads


@torch.inference_mode()
def latency(size, channels_last, repeats=5):
    model, _ = load_model(resolve_model("photo"), role="colorizer")
    set_memory_format(model, channels_last)
    l = color.normalize_l(color.rgb_to_lab(make_batch(1, size, seed=3))[:, :1])
    if channels_last:
        l = l.contiguous(memory_format=torch.channels_last)
    model.decode(model(l))
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ab = model.decode(model(l))
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2], ab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per setting (median reported)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=0.02, help="largest relative gradient difference accepted")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base_state = load_model(resolve_model("photo"), role="colorizer")[0].state_dict()
    rgb = make_batch(args.batch, args.crop)
    rows, ref = [], None
    for name, bf16, cl in (("fp32 NCHW (before)", False, False), ("fp32 channels_last", False, True),
                           ("bf16 autocast channels_last", True, True)):
        row, grads = train_setting(name, base_state, rgb, args.steps, bf16, cl)
        if ref is None:
            ref = (row, grads)
        row["speedup"] = ref[0]["step_s"] / row["step_s"]
        row["loss_rel_diff"] = abs(row["loss"] - ref[0]["loss"]) / abs(ref[0]["loss"])
        row["grad_rel_diff"] = float((grads - ref[1]).norm() / ref[1].norm())
        row["within_tolerance"] = row["grad_rel_diff"] <= args.tolerance
        rows.append(row)
        print(f"{name:30s} {row['step_s']:7.2f} s/step  {row['speedup']:5.2f}x  loss {row['loss']:.5f} "
              f"(rel diff {row['loss_rel_diff']:.1e})  grad rel diff {row['grad_rel_diff']:.1e}"
              f"{'' if row['within_tolerance'] else '  OUTSIDE TOLERANCE'}", flush=True)
    inf = []
    for size in (256, 512):
        t0, ab0 = latency(size, False)
        t1, ab1 = latency(size, True)
        diff = float((color.denormalize_ab(ab0) - color.denormalize_ab(ab1)).abs().max())
        inf.append({"size": size, "nchw_ms": t0 * 1e3, "channels_last_ms": t1 * 1e3, "speedup": t0 / t1,
                    "max_ab_diff": diff})
        print(f"inference {size} px: NCHW {t0 * 1e3:.0f} ms, channels_last {t1 * 1e3:.0f} ms ({t0 / t1:.2f}x), "
              f"max |ab| difference {diff:.2e}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"crop": args.crop, "batch": args.batch, "threads": args.threads, "train": rows,
                       "inference": inf}, f, indent=2)


if __name__ == "__main__":
    main()

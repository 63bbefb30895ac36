"""``tinct train-alternatives``: learn K alternative colorizations on a frozen colorizer
(:class:`tinct.uncertainty.heads.AlternativeHeads`, multiple-choice learning).

The colorizer runs without gradients; only the small heads learn, so a step costs about one
network pass. The run folder holds the training state (exact resume at any moment) and
``history.csv``: at every checkpoint, on the validation crops, the PSNR of the shown colors, of
each alternative and of the best of them per image (the oracle), and their colorfulness."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from tinct import color, metrics, uncertainty
from tinct.errors import TinctError
from tinct.imageio import atomic_path
from tinct.modelfile import load_fusion, load_model, resolve_model, save_model
from tinct.train.config import AlternativesConfig
from tinct.train.data import ColorImages, RunBatches, list_images
from tinct.train.report import append_csv
from tinct.uncertainty.heads import AlternativeHeads, as_colorful, multiple_choice_loss


@torch.no_grad()
def network_colors(model, rgb: torch.Tensor):
    """What the heads learn from, for (N, 3, H, W) sRGB in [0, 1]: the decoder's features, the shown
    normalized ab (the model's own decoding), the doubt (1 - confidence), the true normalized ab at
    the shown colors' size, and the raw L."""
    lab = color.rgb_to_lab(rgb)
    l_raw = lab[:, :1]
    out = model(color.normalize_l(l_raw))
    ab = model.decode(out).float()
    conf = uncertainty.confidence(out["logits"].float(), model.bins, color.denormalize_ab(ab))
    truth = color.resize_ab(color.normalize_ab(lab[:, 1:]), ab.shape[-2:])
    return out["features"].float(), ab, 1 - conf, truth, l_raw


def _rgb(l_raw: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    ab = color.denormalize_ab(color.resize_ab(ab, l_raw.shape[-2:]))
    return color.lab_to_rgb(torch.cat([l_raw, ab], 1))


@torch.no_grad()
def score(model, heads: AlternativeHeads, val: torch.Tensor) -> dict[str, float]:
    """Mean PSNR of the shown colors, of each alternative and of the best per image; mean CF of each."""
    rows = []
    for i in range(0, len(val), 8):
        rgb = val[i : i + 8]
        feats, ab, doubt, _, l_raw = network_colors(model, rgb)
        alts = color.denormalize_ab(heads.colors(feats, ab, doubt))
        shown, size = color.denormalize_ab(ab), ab.shape[-2:]
        l_small, gain_at = F.interpolate(l_raw, size=size, mode="area"), F.interpolate(doubt, size=size, mode="bilinear")
        outs = [ab] + [color.normalize_ab(torch.stack([as_colorful(l_small[n], alts[n, j], shown[n], gain_at[n])
                                                       for n in range(len(rgb))])) for j in range(heads.k)]
        for n in range(len(rgb)):
            truth = color.to_uint8(rgb[n : n + 1])
            imgs = [color.to_uint8(_rgb(l_raw[n : n + 1], o[n : n + 1])) for o in outs]
            rows.append([metrics.psnr(im, truth) for im in imgs] + [metrics.colorfulness(im) for im in imgs])
    t = torch.tensor(rows, dtype=torch.float64)
    k1 = heads.k + 1
    psnr, cf = t[:, :k1], t[:, k1:]
    res = {"psnr_shown": psnr[:, 0].mean().item(), "psnr_best": psnr.max(1).values.mean().item(),
           "cf_shown": cf[:, 0].mean().item()}
    for j in range(1, k1):
        res[f"psnr_{j}"], res[f"cf_{j}"] = psnr[:, j].mean().item(), cf[:, j].mean().item()
    return {k: round(v, 3) for k, v in res.items()}


def _resume_key(cfg: AlternativesConfig) -> dict:
    skip = {"threads", "quiet", "resume", "checkpoint_minutes", "workers", "steps"}
    return {k: v for k, v in vars(cfg).items() if k not in skip}


def train_alternatives(cfg: AlternativesConfig) -> dict[str, float]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if not 1 <= cfg.k <= 16 or cfg.steps < 1 or cfg.batch_size < 1 or not 0 <= cfg.relax < 1:
        raise TinctError("need 1 <= --k <= 16, --steps and --batch-size above 0, and 0 <= --relax < 1")
    base_path = resolve_model(cfg.base)
    if Path(cfg.out).resolve() == base_path.resolve():
        raise TinctError(f"--out {cfg.out} is the base model file; write the new model elsewhere")
    model, record = load_model(base_path, arch="effunet", role="colorizer")
    fusion = load_fusion(base_path)
    for p in model.parameters():
        p.requires_grad_(False)
    files = list_images(cfg.data)
    if not files:
        raise TinctError(f"no images in {cfg.data}")
    val_files = list_images(cfg.val_dir)[: cfg.val_max] if cfg.val_dir else []
    val = torch.stack([ColorImages(val_files, cfg.crop, train=False)[i] for i in range(len(val_files))]) if val_files else None
    run = Path(cfg.run or str(cfg.out) + ".run")
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    heads = AlternativeHeads(k=cfg.k, in_channels=model.logit_head[-1].in_channels, width=cfg.width)
    opt = torch.optim.Adam(heads.parameters(), lr=cfg.lr)
    ckpt_path, start = run / "checkpoint.pt", 0
    if cfg.resume:
        if not ckpt_path.exists():
            raise TinctError(f"--resume: no checkpoint {ckpt_path}")
        ckpt = torch.load(ckpt_path, weights_only=False)
        if ckpt["config"] != _resume_key(cfg):
            raise TinctError(f"--resume: {ckpt_path} was written with other settings")
        heads.load_state_dict(ckpt["heads"])
        opt.load_state_dict(ckpt["optimizer"])
        start = ckpt["step"]

    def checkpoint(step: int) -> None:
        with atomic_path(ckpt_path) as tmp:
            torch.save({"config": _resume_key(cfg), "heads": heads.state_dict(), "optimizer": opt.state_dict(),
                        "step": step}, tmp)
        if val is not None:
            append_csv(run / "history.csv", {"step": step, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                                             **score(model, heads, val)})

    data = ColorImages(files, cfg.crop, train=True)
    loader = DataLoader(data, batch_sampler=RunBatches(len(files), cfg.batch_size, cfg.steps, cfg.seed, start),
                        num_workers=cfg.workers)
    saved_at = time.monotonic()
    bar = tqdm(total=cfg.steps, initial=start, desc="train alternatives", unit="step", disable=cfg.quiet)
    for step, rgb in enumerate(loader, start):
        if time.monotonic() - saved_at > 60 * cfg.checkpoint_minutes:
            checkpoint(step)
            saved_at = time.monotonic()
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        feats, ab, doubt, truth, _ = network_colors(model, rgb)
        loss = multiple_choice_loss(heads.colors(feats, ab, doubt), truth, cfg.relax, shown=ab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    checkpoint(cfg.steps)
    scores = score(model, heads, val) if val is not None else {}
    provenance = dict(record.get("provenance", {}))
    provenance["alternatives"] = {"data": str(cfg.data), "steps": cfg.steps, "k": cfg.k, "relax": cfg.relax,
                                  "crop": cfg.crop, "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed,
                                  **scores}
    save_model(model, cfg.out, provenance=provenance, half=cfg.half, fusion=fusion, alternatives=heads)
    return scores

"""Train the fusion stage (:mod:`tinct.hints.fusion`) of a hint network, the network frozen.

Samples: for each training image (shorter side resized, center crop, as the hint benchmark) a hint
count is drawn log-uniformly in 1..``max_hints`` and the hints are sampled as the benchmark samples
them (``patch``-side squares around the center, colored with the truth's patch mean). Everything
the stage's CNN does not learn is computed once, exactly as the model computes it: the network's
colors (mapped by the points' fitted transform with ``fit``), its hint-free colors and features
for the ``guide``, the local and plain propagations and the reach, and the matched hints
(:func:`make_samples`). The CNN then learns on random crops of the samples, the loss taken on the
obeyed output ``r * propagated + (1 - r) * fused`` (``r = reach ** n``): ``mse`` over all pixels,
or ``logmse``, the mean over crops of each crop's log squared error (each image weighs as its PSNR
does in the benchmark's mean). The result is the base model file plus the stage, one file.

The samples (the sparse solves) cost most of the time; ``cache`` saves them and loads them again,
and ``shard`` = ``i/n`` makes the i-th of n interleaved shares of the images, so that n processes
precompute at once (``--steps 0``) and one training run then reads all the shares.

The training state (stage, optimizer, step, random state) is saved to ``OUT.ckpt.pt`` every
``checkpoint_minutes``, and the fused output's error on 64 held-out samples appended to
``OUT.history.csv``; ``resume`` continues from it exactly (the same batches and weights as an
uninterrupted run), so a long run can span several sittings.

``tinct train-fusion BASE.safetensors --data DIR --out FILE [--samples N --steps S] [--resume]``
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from tinct import color
from tinct.errors import ImageError, TinctError
from tinct.hints import sample_points
from tinct.hints.fit import count_points, fit_color_transform
from tinct.hints.fusion import HintFusion, match_hints, propagations
from tinct.imageio import atomic_path, load_square
from tinct.modelfile import load_model, save_model
from tinct.train.config import FusionConfig
from tinct.train.data import list_images
from tinct.train.report import append_csv




def _fit_strengths(cfg: FusionConfig) -> tuple[float, ...] | None:
    """The fusion stage's ``fit``: (gain, offset[, lightness]) or None."""
    if not any(cfg.fit):
        return None
    return (*cfg.fit, cfg.fit_lightness) if cfg.fit_lightness > 0 else tuple(cfg.fit)


@torch.no_grad()
def make_samples(base, files: list[Path], cfg: FusionConfig) -> torch.Tensor:
    """(S, 16, size, size) float16: L, net ab, propagated ab, hint ab, mask, true ab, plain Levin
    ab, the feature-matched hints (ab, confidence) (all normalized) and the hints' obeyed reach
    (``reach ** n`` for n points)."""
    rng = random.Random(cfg.seed)
    fit = _fit_strengths(cfg)
    order = files[:]
    rng.shuffle(order)
    shard, shards = _shard(cfg.shard)
    order = order[shard::shards]
    if shards > 1:  # each share draws its own hints
        rng = random.Random(f"{cfg.seed}/{shard}")
    out = []
    gen = torch.Generator().manual_seed(cfg.seed + 1000 * shard)
    bar = tqdm(total=cfg.samples, desc="fusion samples", unit="sample", disable=cfg.quiet)
    i = 0
    while len(out) < cfg.samples and i < 10 * cfg.samples:
        try:
            rgb = load_square(order[i % len(order)], cfg.size)  # the benchmark's resize and center crop
        except ImageError:
            continue  # an unreadable training file is skipped
        finally:
            i += 1
        lab = color.rgb_to_lab(color.to_tensor(rgb))
        l, ab = color.normalize_l(lab[:, :1]), color.normalize_ab(lab[:, 1:])
        k = max(1, round(math.exp(rng.uniform(0, math.log(cfg.max_hints)))))
        hint, mask = sample_points(ab[0], k, cfg.patch, gen)
        hint, mask = hint[None], mask[None]
        pred = base(l, hint, mask)
        net = color.resize_ab(base.decode(pred), (cfg.size, cfg.size))
        if fit:  # as the model does: the points' global color transform first
            net = fit_color_transform(net, hint, mask, fit, l=l, gate=True)
        free_ab = free_features = None
        if any(cfg.guide):  # as the model does: the network's colors and features without the points
            free = base(l)
            free_ab, free_features = color.resize_ab(base.decode(free), (cfg.size, cfg.size)), free["features"]
        prop, reach, plain = propagations(l, net, hint, mask, cfg.prior_weight, cfg.guide, guide_ab=free_ab,
                                          guide_features=free_features)
        parts = [l, net, prop, hint * mask, mask, ab, plain, match_hints(pred["features"], hint, mask, (cfg.size, cfg.size)),
                 reach ** count_points(mask).to(reach)]
        out.append(torch.cat(parts, dim=1).half())
        bar.update(1)
    bar.close()
    if not out:
        raise TinctError(f"no readable training image in {cfg.data}")
    return torch.cat(out)


def _shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n; ``""`` -> (0, 1)."""
    if not text:
        return 0, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise TinctError(f"--shard takes i/n, e.g. 0/2; got {text!r}") from None
    if not 0 <= i < n:
        raise TinctError(f"--shard i/n needs 0 <= i < n; got {text!r}")
    return i, n


SAMPLE_FIELDS = ("base", "data", "size", "patch", "max_hints", "prior_weight", "guide", "fit", "fit_lightness", "seed")
SAMPLE_FORMAT = 2  # 16 channels, every source (caches of the switchable stage are format 1)


def _sample_key(cfg: FusionConfig) -> dict:
    """The settings the precomputed samples depend on."""
    return {"sample_format": SAMPLE_FORMAT, **{k: list(v) if isinstance(v, tuple) else v for k, v in
                                               ((k, getattr(cfg, k)) for k in SAMPLE_FIELDS)}}


def load_or_make_samples(base, files: list[Path], cfg: FusionConfig) -> torch.Tensor:
    """:func:`make_samples`, or the samples of ``cfg.cache`` (every file of it, concatenated) when
    they exist; freshly made samples are saved to its first file."""
    paths = [Path(p) for p in cfg.cache.split(",") if p] if cfg.cache else []
    key = _sample_key(cfg)
    if paths and all(p.exists() for p in paths):
        parts = []
        for p in paths:
            saved = torch.load(p, weights_only=True, mmap=True)  # the shares are concatenated: no second copy
            diff = sorted(k for k in key if saved["key"].get(k) != key[k])
            if diff:
                raise TinctError(f"{p}: samples were made with other settings ({', '.join(diff)}); "
                                 "use the same settings or another --cache file")
            parts.append(saved["samples"])
        return torch.cat(parts)
    if len(paths) > 1:
        missing = ", ".join(str(p) for p in paths if not p.exists())
        raise TinctError(f"--cache: {missing} not found (make each share with --shard i/n --cache FILE)")
    data = make_samples(base, files, cfg)
    if paths:
        with atomic_path(paths[0]) as tmp:
            torch.save({"key": key, "samples": data}, tmp)
    return data


def _split(x: torch.Tensor):
    """A batch of samples -> L, net, local propagation, hint, mask, truth, plain Levin, matched hints
    (ab + confidence) and the obeyed reach (:func:`make_samples`' layout)."""
    x = x.float()
    return (x[:, :1], x[:, 1:3], x[:, 3:5], x[:, 5:7], x[:, 7:8], x[:, 8:10], x[:, 10:12], x[:, 12:15],
            x[:, 15:16])


def _output(fusion: HintFusion, l, net, lv, hint, mask, plain, matched, reach) -> torch.Tensor:
    """The stage's output as the model computes it (the mix, obeyed where the points reach; the
    stored reach is already raised to the number of points)."""
    fused = fusion.fuse(l, net, lv, hint, mask, plain, matched)
    return reach * lv + (1 - reach) * fused


def _loss(pred: torch.Tensor, truth: torch.Tensor, kind: str) -> torch.Tensor:
    """``mse``: the mean squared error; ``logmse``: the mean of each item's log squared error (as
    the benchmark averages PSNR, an image's error counts relative to its own size)."""
    if kind == "logmse":
        return torch.log(((pred - truth) ** 2).mean(dim=(1, 2, 3)) + 1e-6).mean()
    return F.mse_loss(pred, truth)


def _val_scores(fusion: HintFusion, val: torch.Tensor) -> dict[str, float]:
    """Mean squared ab error (normalized units) of the net, the propagation and the fusion on full samples."""
    se = {"net": 0.0, "propagated": 0.0, "plain": 0.0, "matched": 0.0, "fused": 0.0}
    with torch.no_grad():
        for j in range(0, len(val), 8):
            l, net, lv, hint, mask, ab, plain, matched, reach = _split(val[j : j + 8])
            fused = _output(fusion, l, net, lv, hint, mask, plain, matched, reach)
            preds = {"net": net, "propagated": lv, "fused": fused, "plain": plain, "matched": matched[:, :2]}
            for name in se:
                se[name] += float(((preds[name] - ab) ** 2).mean(dim=(1, 2, 3)).sum())
    return {k: v / len(val) for k, v in se.items()}


def _log_checkpoint(path: Path, step: int, fusion: HintFusion, val: torch.Tensor, before: dict) -> None:
    """Append the held-out samples' mean squared ab error of the fused output at a checkpoint (with
    the network's and the propagation's, which do not change) to the run's CSV."""
    fused = _val_scores(fusion, val[: min(len(val), 64)])["fused"]  # a fixed part: seconds, not minutes
    append_csv(path, {"step": step, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "mse_net": before["net"],
                      "mse_propagated": before["propagated"], "mse_fused_64": fused})


def _resume_key(cfg: FusionConfig) -> dict:
    """The settings a resumed run must share with the run it continues."""
    skip = {"threads", "quiet", "resume", "checkpoint_minutes", "cache", "shard"}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items() if k not in skip}


def _save_state(path: Path, cfg: FusionConfig, fusion, opt, gen, step: int, before: dict) -> None:
    """The training state before ``step``, written atomically (a run stopped at any moment resumes here)."""
    with atomic_path(path) as tmp:
        torch.save({"config": _resume_key(cfg), "fusion": fusion.state_dict(), "optimizer": opt.state_dict(),
                    "generator": gen.get_state(), "step": step, "before": before}, tmp)


def train_fusion(cfg: FusionConfig) -> dict[str, float]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.crop > cfg.size or cfg.samples < 2:
        raise TinctError("need --crop <= --size and at least 2 samples")
    if cfg.steps < 0 or (cfg.steps == 0 and not cfg.cache):
        raise TinctError("--steps 0 only precomputes samples, into --cache; give --cache FILE or steps above 0")
    from tinct.modelfile import resolve_model

    base_path = resolve_model(cfg.base)
    if Path(cfg.out).resolve() == base_path.resolve():
        raise TinctError(f"--out {cfg.out} is the base model file; write the fused model elsewhere")
    base, record = load_model(base_path, arch="effunet", role="colorizer")
    if not base.hints:
        raise TinctError(f"{cfg.base}: the fusion stage needs a hint model (hints=True)")
    if len(cfg.guide) != 2 or min(cfg.guide) < 0:
        raise TinctError(f"--guide takes two weights 0 or more (ab, features), got {cfg.guide}")
    if len(cfg.fit) != 2 or (any(cfg.fit) and min(cfg.fit) <= 0):
        raise TinctError(f"--fit takes two strengths above 0 (gain, offset), or 0,0 for none; got {cfg.fit}")
    if cfg.fit_lightness < 0 or (cfg.fit_lightness and not any(cfg.fit)):
        raise TinctError(f"--fit-lightness must be 0 or more, and needs --fit; got {cfg.fit_lightness}")
    if not 4 <= cfg.width <= 256:
        raise TinctError(f"--width must be 4-256 channels, got {cfg.width}")
    if cfg.loss not in ("mse", "logmse"):
        raise TinctError(f"--loss must be mse or logmse, got {cfg.loss!r}")
    _shard(cfg.shard)
    files = list_images(cfg.data)
    if not files:
        raise TinctError(f"no images in {cfg.data}")
    torch.manual_seed(cfg.seed)
    data = load_or_make_samples(base, files, cfg)
    if cfg.steps == 0:  # precompute only (a share of the samples, to train on later with --cache)
        return {"precomputed": len(data)}
    n_val = max(1, int(len(data) * cfg.val_fraction))
    val, train = data[:n_val], data[n_val:]
    if len(train) == 0:
        train = val
    fit = _fit_strengths(cfg)
    fusion = HintFusion(width=cfg.width, prior_weight=cfg.prior_weight, guide=cfg.guide, fit=fit)
    opt = torch.optim.Adam(fusion.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    before = _val_scores(fusion, val)
    ckpt_path, start = Path(str(cfg.out) + ".ckpt.pt"), 0
    if cfg.resume:
        if not ckpt_path.exists():
            raise TinctError(f"--resume: no checkpoint {ckpt_path}")
        ckpt = torch.load(ckpt_path, weights_only=False)
        if ckpt["config"] != _resume_key(cfg):
            raise TinctError(f"--resume: {ckpt_path} was written with other settings")
        fusion.load_state_dict(ckpt["fusion"])
        opt.load_state_dict(ckpt["optimizer"])
        gen.set_state(ckpt["generator"])
        start, before = ckpt["step"], ckpt["before"]
    saved_at = time.monotonic()
    bar = tqdm(range(start, cfg.steps), desc="train fusion", unit="step", disable=cfg.quiet, initial=start,
               total=cfg.steps)
    for step in bar:
        if time.monotonic() - saved_at > 60 * cfg.checkpoint_minutes:
            _save_state(ckpt_path, cfg, fusion, opt, gen, step, before)
            _log_checkpoint(Path(str(cfg.out) + ".history.csv"), step, fusion, val, before)
            saved_at = time.monotonic()
        for g in opt.param_groups:  # cosine decay to 0
            g["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        idx = torch.randint(0, len(train), (cfg.batch_size,), generator=gen)
        y, x = (int(v) for v in torch.randint(0, cfg.size - cfg.crop + 1, (2,), generator=gen))
        batch = train[idx, :, y : y + cfg.crop, x : x + cfg.crop]
        if torch.rand(1, generator=gen).item() < 0.5:
            batch = batch.flip(-1)
        l, net, lv, hint, mask, ab, plain, matched, reach = _split(batch)
        loss = _loss(_output(fusion, l, net, lv, hint, mask, plain, matched, reach), ab, cfg.loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.5f}")
    after = _val_scores(fusion, val)

    provenance = dict(record.get("provenance", {}))
    scores = {"val_samples": len(val), **{f"mse_{k}_before": round(v, 6) for k, v in before.items()},
              "mse_fused": round(after["fused"], 6)}
    provenance["fusion"] = {"samples": len(data), "steps": cfg.steps, "data": str(cfg.data), "seed": cfg.seed,
                            "max_hints": cfg.max_hints, "patch": cfg.patch, "size": cfg.size,
                            "prior_weight": cfg.prior_weight, "guide": list(cfg.guide), "fit": list(fit or []),
                            "loss": cfg.loss,
                            **scores}
    save_model(base, cfg.out, provenance=provenance, half=cfg.half, fusion=fusion)  # the base's own stage is replaced
    ckpt_path.unlink(missing_ok=True)  # finished: nothing left to resume
    return scores

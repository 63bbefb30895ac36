"""The training loop: any zoo colorizer, reconstruction / classification / GAN losses, per-epoch
validation table (D_loss, G_loss, MAE as in the VGG16-GAN report), sample grids, checkpoints that
resume exactly, and a self-describing exported model. Runs under torchrun (DDP, gloo) as is."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from tinct import color, losses
from tinct.errors import TinctError
from tinct.hints import sample_training_hints
from tinct.imageio import atomic_path
from tinct.modelfile import load_model, save_model
from tinct.registry import create_model, get_spec
from tinct.train.config import PRESETS, RECON_LOSSES, TrainConfig, TrainResult
from tinct.train.data import ColorImages, RunBatches, list_images, split
from tinct.train.report import append_csv, save_grid, table_row


def resolve_loss(cfg: TrainConfig, spec) -> tuple[str, float, str | None, float]:
    """(reconstruction loss, its weight, GAN objective or None, GAN weight)."""
    name = cfg.loss or spec.default_loss
    if name in PRESETS:
        rec, lam, gan = PRESETS[name]
        return rec, cfg.lambda_rec if cfg.lambda_rec is not None else lam, gan, 1.0
    if name not in RECON_LOSSES:
        raise TinctError(f"unknown loss {name!r}; use one of {', '.join(RECON_LOSSES + tuple(PRESETS))}")
    lam = cfg.lambda_rec if cfg.lambda_rec is not None else 1.0
    return name, lam, ("vanilla" if cfg.gan_weight > 0 else None), cfg.gan_weight


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Constant, then linear decay to 0 from ``lr_decay_start * steps`` (a function of the step,
    so a resumed run follows the same schedule)."""
    start = int(cfg.lr_decay_start * cfg.steps)
    if step < start:
        return cfg.lr
    return cfg.lr * max(0.0, (cfg.steps - step) / max(1, cfg.steps - start))


def init_weights(model: torch.nn.Module, path: str, arch: str) -> None:
    """Load starting weights from a shipped model name, a model file or a checkpoint; they must fit
    ``model`` exactly, except that a hint fusion stage is dropped when ``model`` has none (it was
    fitted to the old network's colors: retrain it with ``tinct train-fusion``)."""
    from tinct.modelfile import resolve_model, shipped_models

    p = resolve_model(path) if str(path) in shipped_models() else Path(path)
    if not p.is_file():
        raise TinctError(f"--init: file not found: {p}")
    if p.suffix == ".safetensors":
        state = load_model(p, arch=arch)[0].state_dict()
    else:
        try:
            ck = torch.load(p, map_location="cpu", weights_only=True)  # a user's file: tensors and plain data only
        except Exception as exc:  # noqa: BLE001  any unreadable file is one clear error
            raise TinctError(f"--init: {p} is not a model file or checkpoint ({type(exc).__name__})") from None
        state = ck.get("model") if isinstance(ck, dict) else None
        if state is None:
            raise TinctError(f"--init: {p} holds no model weights")
    state = {k: v for k, v in state.items() if not k.startswith("fusion.")}  # a checkpoint of a fused model
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise TinctError(f"--init: weights in {p} do not fit {arch!r}: {str(exc).splitlines()[0]}") from None


def class_prior(files: list[Path], bins: torch.Tensor, n: int = 400, seed: int = 0) -> torch.Tensor:
    """Smoothed empirical distribution of the training images' ab over ``bins``."""
    ds = ColorImages(files, 64, train=False)
    counts = torch.zeros(bins.shape[0])
    gen = torch.Generator().manual_seed(seed)
    for i in torch.randperm(len(files), generator=gen)[: min(n, len(files))].tolist():
        ab = color.rgb_to_lab(ds[i][None])[:, 1:]
        counts += torch.bincount(color.nearest_bin(ab, bins).flatten(), minlength=bins.shape[0]).float()
    return losses.smoothed_prior(counts, bins)


def set_memory_format(model: torch.nn.Module, channels_last: bool) -> torch.nn.Module:
    """Put a network's 4-D weights in channels_last (NHWC) order, or back to NCHW. On CPUs,
    depthwise and 1x1 convolutions run 2.5-3x faster in NHWC; the arithmetic is the same."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for p in model.parameters():
        if p.dim() == 4:
            p.data = p.data.contiguous(memory_format=fmt)
    return model


def _split_lab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lab = color.rgb_to_lab(rgb)
    return color.normalize_l(lab[:, :1]), color.normalize_ab(lab[:, 1:])


def lineart_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A line-art batch (N, 4, H, W: sRGB + drawing) -> (the drawing's normalized L, the target's
    normalized Lab (N, 3, H, W), the target sRGB)."""
    rgb, lines = x[:, :3], x[:, 3:4]
    l_in = color.normalize_l(color.rgb_to_l(lines.expand(-1, 3, -1, -1)))
    return l_in, torch.cat(_split_lab(rgb), 1), rgb


def histogram_loss(logits: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the automatic-hint head's 512-bin histogram against the target's."""
    return -(color.rgb_histogram(rgb) * torch.log_softmax(logits, 1)).sum(1).mean()


def _hint_free(hk: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """Per image of the batch, 1 where it was given no hint at all (the automatic output), else 0;
    None when the batch has no hint inputs (every image is automatic)."""
    if not hk:
        return None
    free = hk["mask"].flatten(1).sum(1) == 0
    if "global_hint" in hk:
        free = free & (hk["global_hint"].abs().flatten(1).sum(1) == 0)
    return free.float()


def _full_ab(model, out: dict[str, torch.Tensor], size) -> torch.Tensor:
    """The prediction the discriminator and the metrics see: normalized ab at input size."""
    ab = model.decode(out)
    return color.resize_ab(ab, size)


@torch.no_grad()
def evaluate(model, val_rgb: torch.Tensor, hints: bool) -> dict[str, float]:
    """MAE of normalized ab, PSNR of the colorized crops and of the gray baseline, and the mean a and
    b of the outputs minus the originals' (a cast shows there; no hints). For a line-art model the
    "gray" baseline is the drawing itself and the output is its own Lab."""
    was_training = model.training
    model.eval()
    if model.output_kind == "lab":
        l, target, val_rgb = lineart_batch(val_rgb)
        ab = target[:, 1:]
        lab = torch.cat([model(l[i : i + 8])["lab"] for i in range(0, len(l), 8)]).clamp(-1, 1)
        pred = lab[:, 1:]
        rgb_pred = color.lab_to_rgb(torch.cat([color.denormalize_l(lab[:, :1]), color.denormalize_ab(pred)], 1))
    else:
        l, ab = _split_lab(val_rgb)
        pred = torch.cat([_full_ab(model, model(l[i : i + 8]), l.shape[-2:]) for i in range(0, len(l), 8)])
        rgb_pred = color.lab_to_rgb(torch.cat([color.denormalize_l(l), color.denormalize_ab(pred)], 1))
    model.train(was_training)
    gray = color.lab_to_rgb(torch.cat([color.denormalize_l(l), torch.zeros_like(ab)], 1))

    def psnr(x):
        q = lambda t: (t * 255).round()
        mse = ((q(x) - q(val_rgb)) ** 2).flatten(1).mean(1).clamp(min=1e-10)
        return float((10 * torch.log10(255.0**2 / mse)).mean())

    bias = (color.denormalize_ab(pred) - color.denormalize_ab(ab)).mean((0, 2, 3))  # a color cast, in Lab units
    cf, cf_true = float(losses.colorfulness(rgb_pred).mean()), float(losses.colorfulness(val_rgb).mean())
    return {"val_MAE": float((pred - ab).abs().mean()), "val_PSNR": psnr(rgb_pred), "gray_PSNR": psnr(gray),
            "a_bias": float(bias[0]), "b_bias": float(bias[1]), "val_CF": cf, "val_dCF": abs(cf - cf_true)}


def train(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.data``; returns the exported model file and the history."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    main = rank == 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    spec = get_spec(cfg.model)
    if spec.role != "colorizer" or not spec.cls.trainable:
        raise TinctError(f"{cfg.model!r} is not a trainable colorizer")
    rec_kind, lam, gan_kind, gan_w = resolve_loss(cfg, spec)
    lab_out = spec.cls.output_kind == "lab"  # line art: drawings in, whole images out
    for name, value, low, high in (("--cf-weight", cfg.cf_weight, 0.0, 100.0), ("--cf-enhance", cfg.cf_enhance, 1.0, 3.0),
                                   ("--cast-weight", cfg.cast_weight, 0.0, 100.0),
                                   ("--semantic-weight", cfg.semantic_weight, 0.0, 100.0),
                                   ("--min-colorfulness", cfg.min_colorfulness, 0.0, 150.0),
                                   ("--tone", cfg.tone, 0.0, 1.0)):
        if not (math.isfinite(value) and low <= value <= high):
            raise TinctError(f"{name} must be between {low:g} and {high:g}, got {value}")
    if (cfg.cf_weight > 0 or cfg.cast_weight > 0 or cfg.semantic_weight > 0) and lab_out:
        raise TinctError("--cf-weight, --cast-weight and --semantic-weight are for networks that color a photo's "
                         "lightness, not line art")
    if cfg.tone > 0 and not lab_out:
        raise TinctError("--tone gives training drawings the manga look: it is for line-art models")
    if not 0 <= cfg.critic_steps <= cfg.steps:
        raise TinctError(f"--critic-steps must be between 0 and --steps ({cfg.steps}), got {cfg.critic_steps}")
    if cfg.critic_steps and not gan_kind:
        raise TinctError("--critic-steps trains a critic: it needs --gan-weight or a GAN loss (pix2pix, wgan-gp)")
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)

    files = list_images(cfg.data)
    if cfg.max_images:
        files = files[: cfg.max_images]
    if cfg.val_dir:
        train_files, val_files = files, list_images(cfg.val_dir)[: cfg.val_max]
    else:
        train_files, val_files = split(files, cfg.val_fraction, cfg.val_max, cfg.seed)
    if not train_files or not val_files:
        raise TinctError(f"need at least 2 readable images in {cfg.data}")

    torch.manual_seed(cfg.seed)
    kwargs = dict(cfg.model_kwargs)
    if cfg.hints:
        kwargs["hints"] = True
    model = create_model(cfg.model, **kwargs)
    if cfg.init and not cfg.resume:
        init_weights(model, cfg.init, cfg.model)
    trainable = list(model.parameters())
    if cfg.hint_only:
        if not (cfg.hints and (cfg.init or cfg.resume) and model.hint_weights):
            raise TinctError("--hint-only needs --hints, --init (or --resume) and a model with hint inputs (effunet)")
        trainable = model.hint_parameters()  # the rest frozen: the automatic output cannot change
    disc = None
    if gan_kind:
        disc_name = cfg.disc or spec.discriminator or "patchgan"
        if get_spec(disc_name).role != "discriminator":
            raise TinctError(f"{disc_name!r} is not a discriminator")
        dkw = {**({"in_channels": 4} if lab_out else {}), **cfg.disc_kwargs}  # it sees (L, ab) or (drawing, Lab)
        disc = create_model(disc_name, **dkw)
    opt_g = torch.optim.Adam(trainable, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999)) if disc else None
    semantic = losses.SemanticConsistency() if cfg.semantic_weight > 0 else None
    if semantic is not None and cfg.channels_last:
        semantic.to(memory_format=torch.channels_last)
    weights = None
    if "cls" in rec_kind:
        if not model.has_distribution:
            raise TinctError(f"loss {rec_kind!r} needs a model with a bin head, {cfg.model!r} has none")
        if not 0.0 <= cfg.rebalance <= 1.0:
            raise TinctError(f"--rebalance must be between 0 and 1, got {cfg.rebalance}")
        weights = losses.rebalance_weights(class_prior(train_files, model.bins, seed=cfg.seed), cfg.rebalance)

    start, history = 0, []
    ckpt_path = run / "checkpoint.pt"
    if cfg.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ck["model"])
        opt_g.load_state_dict(ck["opt_g"])
        if disc:
            disc.load_state_dict(ck["disc"])
            opt_d.load_state_dict(ck["opt_d"])
        start, history = ck["step"], ck["history"]
        torch.set_rng_state(ck["torch_rng"])
    elif cfg.resume:
        raise TinctError(f"--resume: no checkpoint in {run}")
    set_memory_format(model, cfg.channels_last)
    if disc is not None:
        set_memory_format(disc, cfg.channels_last)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

    gmodel = model
    if world > 1:
        gmodel = torch.nn.parallel.DistributedDataParallel(model)
        if disc:
            disc = torch.nn.parallel.DistributedDataParallel(disc)
    epoch_steps = cfg.epoch_steps or max(1, min(len(train_files) // (cfg.batch_size * world), math.ceil(cfg.steps / 5)))
    sampler = RunBatches(len(train_files), cfg.batch_size, cfg.steps, cfg.seed, start, rank, world)
    loader = DataLoader(ColorImages(train_files, cfg.crop, lineart=lab_out, min_colorfulness=cfg.min_colorfulness,
                                    tone=cfg.tone),
                        batch_sampler=sampler,
                        num_workers=cfg.workers)
    val_set = ColorImages(val_files, cfg.crop, train=False, lineart=lab_out, tone=cfg.tone)
    val_rgb = torch.stack([val_set[i] for i in range(len(val_files))])
    if main:
        (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    acc = {"D_loss": 0.0, "G_loss": 0.0, "rec": 0.0, "D_acc": 0.0, "n": 0}
    t0 = time.time()
    bar = tqdm(total=cfg.steps, initial=start, disable=cfg.quiet or not main, desc=f"train {cfg.model}", unit="step")
    model.train(not cfg.hint_only)  # frozen batch norms keep their statistics with --hint-only
    for step, rgb in enumerate(loader, start):
        for opt in (opt_g, opt_d):
            for group in getattr(opt, "param_groups", []):
                group["lr"] = learning_rate(cfg, step)
        if lab_out:
            l, target, rgb = lineart_batch(rgb)
            ab = target[:, 1:]
            if model.auto_hint:  # half the steps train the automatic hint's use
                model.use_auto = step % 2 == 1
        else:
            l, ab = _split_lab(rgb)
            target = ab
        hk = {}
        if cfg.hints or (lab_out and model.hints):
            gen = torch.Generator().manual_seed(cfg.seed * 7919 + step * world + rank)
            # with --hint-only an image without points trains nothing but the global-hint layer;
            # line art gets the report's histogram hint half of the time
            ab_hint, mask, glob = sample_training_hints(ab, rgb, gen, p_none=0.1 if cfg.hint_only else 0.5,
                                                        p_global=0.5 if lab_out else 0.2)
            hk = {"ab_hint": ab_hint.contiguous(memory_format=fmt), "mask": mask.contiguous(memory_format=fmt)}
            if model.global_hint_dim:
                hk["global_hint"] = glob
        critic_only = disc is not None and step < cfg.critic_steps  # NoGAN: the generator frozen
        if critic_only:
            model.eval()
            with torch.no_grad():
                out = gmodel(l.contiguous(memory_format=fmt), **hk)
            model.train(not cfg.hint_only)
        else:
            out = gmodel(l.contiguous(memory_format=fmt), **hk)
        d_loss = torch.zeros(())
        if disc:
            fake = out["lab"] if lab_out else _full_ab(model, out, l.shape[-2:])
            opt_d.zero_grad(set_to_none=True)
            d_real, d_fake = disc(l, target), disc(l, fake.detach())
            if gan_kind == "wgan-gp":
                d_loss = losses.d_loss_wgan(d_real, d_fake) + 10.0 * losses.gradient_penalty(disc, l, target, fake.detach())
            else:
                d_loss = losses.d_loss_vanilla(d_real, d_fake)
            d_loss.backward()
            opt_d.step()
            # share of the critic's patches right about real and colorized (0.5 = it cannot tell)
            acc["D_acc"] += float(((d_real > 0).float().mean() + (d_fake < 0).float().mean()) / 2)
        if critic_only:
            acc["D_loss"] += float(d_loss.detach())
            acc["n"] += 1
            bar.update(1)
            bar.set_postfix(D=f"{float(d_loss.detach()):.3f}", critic="only")
        else:
            rec, aux = torch.zeros(()), torch.zeros(())
            if lab_out:
                rec = losses.reconstruction(out["lab"], target, "l1" if rec_kind == "l1+cls" else rec_kind)
                if "hist_logits" in out:  # the automatic hint's head (it reads detached features)
                    aux = cfg.cls_weight * histogram_loss(out["hist_logits"], rgb)
            elif rec_kind in ("l1", "l2", "huber", "l1+cls"):
                pred = out["ab"] if "ab" in out else model.decode(out)
                rec = losses.reconstruction(pred, ab, "l1" if rec_kind == "l1+cls" else rec_kind)
            if "cls" in rec_kind and not lab_out:
                rec = rec + cfg.cls_weight * losses.rebalanced_ce(out["logits"], ab, model.bins, weights)
            if cfg.cf_weight > 0 or cfg.cast_weight > 0 or semantic is not None:  # terms on the decoding that ships
                # the hinge and the cast term on the automatic outputs only: a hinted image's colors are the hints'
                free = _hint_free(hk)
                shown = _full_ab(model, out, l.shape[-2:])
                if cfg.cf_weight > 0 or semantic is not None:
                    l_raw = color.denormalize_l(l)
                    pred_rgb = color.lab_to_rgb(torch.cat([l_raw, color.denormalize_ab(shown)], 1))
                if cfg.cf_weight > 0:  # the colorfulness hinge
                    gray_rgb = color.lab_to_rgb(torch.cat([l_raw, torch.zeros_like(ab)], 1))
                    aux = aux + cfg.cf_weight * losses.colorfulness_hinge(pred_rgb, rgb, gray_rgb, cfg.cf_enhance, free)
                if semantic is not None:  # on every output: hinted pictures should read as their class too
                    aux = aux + cfg.semantic_weight * semantic(pred_rgb, rgb)
                if cfg.cast_weight > 0:
                    aux = aux + cfg.cast_weight * losses.cast(shown, ab, free)
            g_loss = lam * rec + aux
            if disc:
                for p in disc.parameters():
                    p.requires_grad_(False)
                d_fake = disc(l, fake)
                g_loss = g_loss + gan_w * (losses.g_loss_wgan(d_fake) if gan_kind == "wgan-gp" else losses.g_loss_vanilla(d_fake))
                for p in disc.parameters():
                    p.requires_grad_(True)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            g_loss, d_loss, rec = g_loss.detach(), d_loss.detach(), rec.detach()
            if not all(math.isfinite(float(v)) for v in (g_loss, d_loss)):
                raise TinctError(f"training diverged at step {step} (loss is not finite); try a lower --lr")
            acc["D_loss"] += float(d_loss)
            acc["G_loss"] += float(g_loss)
            acc["rec"] += float(rec)
            acc["n"] += 1
            bar.update(1)
            bar.set_postfix(G=f"{float(g_loss):.3f}", D=f"{float(d_loss):.3f}" if disc else "-")
        done = step + 1
        if main and (done % epoch_steps == 0 or done == cfg.steps):
            n = max(acc["n"], 1)
            row = {"epoch": len(history) + 1, "step": done, "D_loss": acc["D_loss"] / n if disc else float("nan"),
                   "D_acc": acc["D_acc"] / n if disc else float("nan"),
                   "G_loss": acc["G_loss"] / n, "rec_loss": acc["rec"] / n, **evaluate(model, val_rgb, cfg.hints),
                   "lr": learning_rate(cfg, step), "beta1": cfg.beta1, "seconds": round(time.time() - t0, 1)}
            history.append(row)
            acc = dict.fromkeys(acc, 0.0)
            tqdm.write(table_row(row, header=len(history) == 1)) if not cfg.quiet else None
            save_grid(model, val_rgb[:6], run / "samples" / f"epoch_{row['epoch']:03d}.png")
            _checkpoint(ckpt_path, model, disc, opt_g, opt_d, done, history)
            if cfg.keep_checkpoints:  # the network of this step, kept beside the rolling checkpoint
                with atomic_path(run / f"ckpt_{done}.pt") as tmp:
                    torch.save({"model": model.state_dict(), "step": done}, tmp)
            (run / "history.json").write_text(json.dumps(history, indent=2))
            append_csv(run / "history.csv", row)
    bar.close()
    final = history[-1] if history else {}
    model_path = run / "model.safetensors"
    if main:
        provenance = {"data": str(Path(cfg.data).resolve()), "images": len(train_files), "val_images": len(val_files),
                      "steps": cfg.steps, "batch_size": cfg.batch_size * world, "crop": cfg.crop, "loss": rec_kind,
                      "lambda_rec": lam, "gan": gan_kind, "gan_weight": gan_w if gan_kind else 0.0,
                      "disc": disc.arch if disc is not None else None, "hints": cfg.hints,
                      "lr": learning_rate(cfg, step), "beta1": cfg.beta1, "seed": cfg.seed, "world_size": world,
                      "metrics": {k: final[k] for k in ("val_MAE", "val_PSNR", "gray_PSNR") if k in final},
                      "seconds": round(time.time() - t0, 1)}
        save_model(model, model_path, provenance=provenance, half=cfg.half)
    if world > 1:
        dist.barrier()
    return TrainResult(model_path=model_path, history=history, final=final, run_dir=run)


def _checkpoint(path: Path, model, disc, opt_g, opt_d, step: int, history: list) -> None:
    unwrap = lambda m: getattr(m, "module", m)
    state = {"model": model.state_dict(), "opt_g": opt_g.state_dict(), "step": step, "history": history,
             "torch_rng": torch.get_rng_state()}
    if disc is not None:
        state["disc"] = unwrap(disc).state_dict()
        state["opt_d"] = opt_d.state_dict()
    with atomic_path(path) as tmp:
        torch.save(state, tmp)

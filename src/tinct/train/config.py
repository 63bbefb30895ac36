"""Training options (their docstrings are the ``tinct train --help`` text) and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECON_LOSSES = ("l1", "l2", "huber", "cls", "l1+cls")
PRESETS = {  # loss name -> (reconstruction loss, reconstruction weight, GAN objective)
    "pix2pix": ("l1", 100.0, "vanilla"),
    "wgan-gp": ("l1", 100.0, "wgan-gp"),
}


@dataclass
class TrainConfig:
    model: str
    """architecture from the zoo (tinct models)"""
    data: str
    """folder of color training images (searched recursively)"""
    out: str = "runs/train"
    """run folder: checkpoints, sample grids, metrics, the exported model"""
    steps: int = 1000
    """optimizer steps in total"""
    batch_size: int = 16
    crop: int = 128
    """square training crop side (random crop + flip; the validation crop is central)"""
    lr: float = 2e-4
    beta1: float = 0.5
    """Adam beta1 (pix2pix's 0.5)"""
    lr_decay_start: float = 1.0
    """fraction of the steps after which the learning rate falls linearly to 0 (pix2pix's schedule; 1 = constant)"""
    loss: str | None = None
    """l1, l2, huber, cls, l1+cls, pix2pix or wgan-gp (default: the architecture's own)"""
    disc: str | None = None
    """discriminator for GAN losses (default: the architecture's, else patchgan)"""
    gan_weight: float = 0.0
    """add a non-saturating GAN term with this weight to a non-GAN loss (0 = none)"""
    critic_steps: int = 0
    """steps at the start in which only the critic learns, on the frozen generator's outputs, before the GAN term reaches the generator (DeOldify's NoGAN: the critic already tells real colors from colorized ones when the joint phase starts); needs --gan-weight or a GAN loss"""
    lambda_rec: float | None = None
    """weight of the reconstruction loss (pix2pix: lambda = 100)"""
    cls_weight: float = 1.0
    """weight of the rebalanced classification loss in l1+cls"""
    rebalance: float = 0.5
    """class rebalancing of the classification loss, Zhang et al.'s lambda: 0.5 theirs (rare colors weigh more), 1 = none (a calibrated distribution)"""
    cf_weight: float = 0.0
    """weight of the colorfulness hinge: per image given no hint (the automatic output), how far the decoded output's colorfulness falls short of its original's (saturated by --cf-enhance), over 100; an output as colorful as its target costs nothing (0 = off)"""
    cf_enhance: float = 1.2
    """saturation of the hinge's targets: gray + s (rgb - gray), DDColor's color_enhance (the other losses keep the true colors)"""
    cast_weight: float = 0.0
    """weight of the cast term: per image given no hint, the L1 distance between the decoded output's mean normalized ab and the original's (a color cast over the whole picture costs; 0 = off)"""
    semantic_weight: float = 0.0
    """weight of the semantic term: per image, the KL divergence of a frozen ImageNet classifier's class distribution (EfficientNet-Lite0, temperature 2) on the decoded output from the one on the original (ChromaGAN's class-distribution term): colors that make a picture look like another class cost (0 = off)"""
    min_colorfulness: float = 0.0
    """skip training images whose colorfulness (Hasler-Suesstrunk) is below this (BigColor and DDColor drop those under 15)"""
    tone: float = 0.0
    """line art only: the share of training drawings given the manga look (black fills and screentone dots, tinct.lineart.screentone)"""
    keep_checkpoints: bool = False
    """also keep each checkpoint's network as ckpt_STEP.pt in the run folder (no optimizer state), so that any step can be scored and packaged later (scripts/package_model.py --network-from)"""
    channels_last: bool = True
    """train in channels_last (NHWC) memory order: the same arithmetic, 2-3x faster depthwise and 1x1 convolutions on CPUs"""
    hints: bool = False
    """train with SIGGRAPH17-style sampled hints (the model gets hint inputs)"""
    val_dir: str | None = None
    """validation folder (default: a held-out split of --data)"""
    val_fraction: float = 0.02
    val_max: int = 64
    """at most this many validation images"""
    epoch_steps: int | None = None
    """steps per reported epoch (default: one pass over the data, at most steps/5)"""
    seed: int = 0
    threads: int | None = None
    """torch threads (default: torch's)"""
    workers: int = 1
    """data-loading worker processes"""
    resume: bool = False
    """continue from the run folder's checkpoint"""
    init: str | None = None
    """start from these weights (a model file or a run's checkpoint.pt) with a fresh optimizer and schedule: fine-tuning"""
    hint_only: bool = False
    """with --hints and --init: train only the weights the hints feed (effunet: hint stem, global-hint layer, the last decoder stage on the hint channels); the output without hints stays bit for bit as it was"""
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    disc_kwargs: dict[str, Any] = field(default_factory=dict)
    """options of the discriminator, as JSON (e.g. {"ndf": 32})"""
    half: bool = False
    """export fp16 weights"""
    max_images: int | None = None
    """use at most this many training images"""
    quiet: bool = False


@dataclass
class TrainResult:
    model_path: Path
    history: list[dict[str, float]]
    final: dict[str, float]
    run_dir: Path


@dataclass
class FusionConfig:
    base: str
    """hint model (a shipped name such as photo, or a file; effunet with hints) to add the fusion stage to"""
    data: str
    """folder of color training images"""
    out: str
    """model file to write"""
    samples: int = 1500
    """training samples (image + hint draw) to precompute"""
    size: int = 256
    """sample side (the benchmark's 256)"""
    patch: int = 6
    """side of the square hint patches"""
    max_hints: int = 500
    """hint counts are drawn log-uniformly in 1..max_hints"""
    prior_weight: float = 1e-4
    """weight of the network's colors in the propagation (0 = plain Levin: a lone hint paints everything)"""
    guide: tuple[float, float] = (0.0, 0.0)
    """(ab weight, feature weight): the propagations also stop at edges of the network's colors and features"""
    fit: tuple[float, float] = (0.0, 0.0)
    """(gain, offset) prior strengths in hints: from the second point on, map the network's colors by a global color transform fitted to the points (0,0 = off)"""
    fit_lightness: float = 0.0
    """prior strength of a lightness-dependent cast in that transform (0 = none)"""
    loss: str = "mse"
    """mse (squared ab error over all pixels) or logmse (mean over crops of the log of each crop's squared error: each image counts as its PSNR does)"""
    cache: str = ""
    """file(s) of precomputed samples, comma-separated: loaded if they exist (and match these settings), else computed and saved to the first"""
    shard: str = ""
    """i/n: precompute only the i-th of n interleaved shares of the shuffled images (run n at once, then train with --cache on all n files)"""
    steps: int = 2000
    """optimizer steps (cosine learning-rate decay); 0 = only precompute the samples into --cache"""
    batch_size: int = 8
    crop: int = 128
    """random crop of a sample used per training item"""
    lr: float = 1e-3
    width: int = 32
    """channels of the fusion stage's layers"""
    val_fraction: float = 0.1
    """share of the samples held out to score network, Levin and fusion"""
    seed: int = 0
    threads: int | None = None
    """torch threads (default: torch's)"""
    half: bool = False
    """store float16 weights"""
    checkpoint_minutes: float = 10.0
    """save the training state (stage, optimizer, step, random state) to OUT.ckpt.pt this often"""
    resume: bool = False
    """continue exactly from OUT.ckpt.pt (same settings; the samples are loaded from --cache again)"""
    quiet: bool = False


@dataclass
class AlternativesConfig:
    base: str
    """colorizer with a color distribution (a shipped name such as photo, or a file; effunet) to add learned alternatives to"""
    data: str
    """folder of color training images (searched recursively)"""
    out: str
    """model file to write (the base's network and hint stage, with the alternatives added)"""
    run: str = ""
    """run folder for the checkpoint and the validation figures (history.csv); default OUT's name + .run"""
    val_dir: str = ""
    """folder of validation images (center crops) scored at every checkpoint"""
    val_max: int = 48
    k: int = 3
    """alternatives learned (the variants beside the shown colorization)"""
    width: int = 64
    """channels of the alternatives' layers"""
    relax: float = 0.05
    """share of the loss every alternative takes, beside the one closest to the true colors"""
    steps: int = 4000
    """optimizer steps (cosine learning-rate decay)"""
    batch_size: int = 8
    crop: int = 224
    """square training crop (the working size the colorizer runs at)"""
    lr: float = 1e-3
    seed: int = 0
    workers: int = 1
    """data-loading processes"""
    threads: int | None = None
    """torch threads (default: torch's)"""
    half: bool = False
    """store float16 weights"""
    checkpoint_minutes: float = 10.0
    """save the training state and score the validation images this often"""
    resume: bool = False
    """continue exactly from the run folder's checkpoint (same settings)"""
    quiet: bool = False

"""Training losses: reconstruction (L1, L2, Huber), Zhang et al.'s class-rebalanced
classification loss over the 313 ab bins, and the GAN objectives (pix2pix's non-saturating
adversarial loss and WGAN-GP). Networks never own these; the trainer combines them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinct import color


def match_size(target: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Area-downsample a target map to the spatial size of a prediction."""
    if target.shape[-2:] == like.shape[-2:]:
        return target
    return F.interpolate(target, size=like.shape[-2:], mode="area")


def reconstruction(pred_ab: torch.Tensor, target_ab: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean pixel loss between normalized ab maps (the target is resized to the prediction)."""
    target_ab = match_size(target_ab, pred_ab)
    if kind == "l1":
        return F.l1_loss(pred_ab, target_ab)
    if kind == "l2":
        return F.mse_loss(pred_ab, target_ab)
    if kind == "huber":
        return F.smooth_l1_loss(pred_ab, target_ab, beta=1 / 11)
    raise ValueError(f"unknown reconstruction loss {kind!r}")


def smoothed_prior(counts: torch.Tensor, bins: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """Empirical bin distribution smoothed by a Gaussian of ``sigma`` ab units (Zhang et al.)."""
    p = counts.double() / counts.sum().clamp(min=1)
    d2 = torch.cdist(bins.double(), bins.double()) ** 2
    k = torch.exp(-d2 / (2 * sigma**2))
    k = k / k.sum(dim=1, keepdim=True)
    p = k @ p
    return (p / p.sum()).float()


def rebalance_weights(prior: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """w ~ ((1 - lam) p + lam / Q)^-1, normalized so that E_p[w] = 1 (Zhang et al. 2016, eq. 4)."""
    q = prior.numel()
    w = 1.0 / ((1 - lam) * prior + lam / q)
    return w / (prior * w).sum()


def rebalanced_ce(logits: torch.Tensor, target_ab: torch.Tensor, bins: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Multinomial cross-entropy against soft-encoded ground truth, each pixel weighted by the
    rebalancing weight of its nearest bin. ``target_ab`` normalized, resized to the logits."""
    ab = color.denormalize_ab(match_size(target_ab, logits))
    z = color.encode_ab_soft(ab, bins)
    ce = -(z * F.log_softmax(logits, dim=1)).sum(dim=1)
    if weights is not None:
        ce = ce * weights.to(ce)[z.argmax(dim=1)]
    return ce.mean()


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Differentiable Hasler & Suesstrunk colorfulness (N,) of sRGB batches (N, 3, H, W) in [0, 1],
    on the 0-255 scale of :func:`tinct.metrics.colorfulness`."""
    r, g, b = (rgb * 255.0).unbind(1)
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    spread = (rg.var(1, unbiased=False) + yb.var(1, unbiased=False) + 1e-6).sqrt()
    return spread + 0.3 * (rg.mean(1) ** 2 + yb.mean(1) ** 2 + 1e-6).sqrt()


def _batch_mean(per_image: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-image values, or their ``weight``-weighted mean (0 when every weight is 0)."""
    if weight is None:
        return per_image.mean()
    return (per_image * weight).sum() / weight.sum().clamp(min=1.0)


def colorfulness_hinge(pred_rgb: torch.Tensor, target_rgb: torch.Tensor, gray_rgb: torch.Tensor,
                       enhance: float = 1.2, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of ``max(0, CF(target enhanced) - CF(prediction)) / 100``: only an output
    less colorful than its own (saturated: ``gray + enhance (target - gray)``, DDColor's
    color_enhance) original is pushed, so a gray wall is not asked to turn red. ``weight`` (N,):
    per image (e.g. 1 for the images given no hints, 0 for the others)."""
    with torch.no_grad():
        goal = colorfulness((gray_rgb + enhance * (target_rgb - gray_rgb)).clamp(0, 1))
    return _batch_mean((goal - colorfulness(pred_rgb)).clamp(min=0) / 100.0, weight)


def cast(pred_ab: torch.Tensor, target_ab: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of the L1 distance between each image's mean (normalized) ab and its
    original's: a color cast over the whole picture, which per-pixel losses let average out.
    ``weight`` (N,): per image, as in :func:`colorfulness_hinge`."""
    return _batch_mean((pred_ab.mean(dim=(2, 3)) - target_ab.mean(dim=(2, 3))).abs().sum(1), weight)


class SemanticConsistency(torch.nn.Module):
    """``(pred_rgb, target_rgb, weight=None) ->`` the batch mean of ``T^2 KL(p_target || p_pred)``,
    where ``p`` is a frozen ImageNet classifier's class distribution at temperature ``T``
    (EfficientNet-Lite0 with its bundled weights, eval mode; ChromaGAN's class-distribution term):
    colors that make a picture look like another class cost, colors it does not notice do not.
    RGB in [0, 1], (N, 3, H, W); the classifier sees them at 224 px. Never the benchmark's judge
    (:mod:`tinct.bench.realism` uses EfficientNet-Lite2)."""

    SIZE = 224

    def __init__(self, temperature: float = 2.0):
        super().__init__()
        from tinct.models.efficientnet_lite import EfficientNetLite0, efficientnet_lite0

        self.net = efficientnet_lite0(pretrained=True).eval()
        self.normalize = EfficientNetLite0.normalize
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.temperature = temperature

    def train(self, mode: bool = True) -> "SemanticConsistency":
        return super().train(False)  # frozen: batch norms keep their ImageNet statistics

    def _log_p(self, rgb: torch.Tensor) -> torch.Tensor:
        if rgb.shape[-2:] != (self.SIZE, self.SIZE):
            rgb = F.interpolate(rgb, size=(self.SIZE, self.SIZE), mode="bilinear", align_corners=False)
        return F.log_softmax(self.net(self.normalize(rgb)).float() / self.temperature, dim=1)

    def forward(self, pred_rgb: torch.Tensor, target_rgb: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            target = self._log_p(target_rgb)
        kl = (target.exp() * (target - self._log_p(pred_rgb))).sum(1) * self.temperature ** 2
        return _batch_mean(kl, weight)


# ---- GAN objectives. D outputs logits (vanilla) or critic scores (wgan-gp). ----
def d_loss_vanilla(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """pix2pix discriminator loss, halved as in the reference implementation."""
    real = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
    fake = F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    return 0.5 * (real + fake)


def g_loss_vanilla(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log D(G(x))."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def d_loss_wgan(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    return d_fake.mean() - d_real.mean()


def g_loss_wgan(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.mean()


def gradient_penalty(disc, l: torch.Tensor, real_ab: torch.Tensor, fake_ab: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (||grad D(x_hat)|| - 1)^2 on random interpolates."""
    eps = torch.rand(real_ab.shape[0], 1, 1, 1, generator=gen).to(real_ab)
    x = (eps * real_ab + (1 - eps) * fake_ab).requires_grad_(True)
    score = disc(l, x)
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

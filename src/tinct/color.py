"""All of tinct's color math: sRGB <-> CIE Lab (D65) in torch, the network scaling constants,
the quantized ab gamut, and recombining a low-resolution ab prediction with full-resolution L.

Every function is pure, batched over a leading ``N`` dimension (``(N, C, H, W)`` tensors) and
differentiable. Networks never see raw Lab: they see ``L`` scaled to [-1, 1] and predict ``ab``
scaled to about [-1, 1]; the scaling lives here and nowhere else.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# ---- network scaling constants (the only place they are defined) ----
L_CENTER = 50.0  # L in [0, 100]  ->  (L - 50) / 50  in [-1, 1]
L_SCALE = 50.0
AB_SCALE = 110.0  # ab in about [-110, 110]  ->  ab / 110  in about [-1, 1]

# ---- CIE constants (D65 white, sRGB primaries) ----
_WHITE_D65 = (0.95047, 1.0, 1.08883)
_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ)
_EPS = 216.0 / 24389.0  # 0.008856
_KAPPA = 24389.0 / 27.0  # 903.3


def normalization() -> dict[str, float]:
    """The scaling a model file records so that a model is read back with the same constants."""
    return {"l_center": L_CENTER, "l_scale": L_SCALE, "ab_scale": AB_SCALE}


def normalize_l(l: torch.Tensor) -> torch.Tensor:
    return (l - L_CENTER) / L_SCALE


def denormalize_l(l: torch.Tensor) -> torch.Tensor:
    return l * L_SCALE + L_CENTER


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_SCALE


def denormalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab * AB_SCALE


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def _matmul_channels(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", m.to(dtype=x.dtype, device=x.device), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], shape (N, 3, H, W)  ->  Lab with L in [0, 100]."""
    xyz = _matmul_channels(_RGB_TO_XYZ, srgb_to_linear(rgb))
    white = torch.tensor(_WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    t = xyz / white
    f = torch.where(t > _EPS, t.clamp(min=_EPS) ** (1 / 3), (_KAPPA * t + 16) / 116)
    l = 116 * f[:, 1:2] - 16
    a = 500 * (f[:, 0:1] - f[:, 1:2])
    b = 200 * (f[:, 1:2] - f[:, 2:3])
    return torch.cat([l, a, b], dim=1)


def lab_to_rgb(lab: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Lab (N, 3, H, W) -> sRGB in [0, 1] (clamped to the gamut unless ``clamp=False``)."""
    l, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (l + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    f = torch.cat([fx, fy, fz], dim=1)
    f3 = f**3
    t = torch.where(f3 > _EPS, f3, (116 * f - 16) / _KAPPA)
    white = torch.tensor(_WHITE_D65, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    rgb = linear_to_srgb(_matmul_channels(_XYZ_TO_RGB, t * white))
    return rgb.clamp(0.0, 1.0) if clamp else rgb


def rgb_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """The L channel (N, 1, H, W) of an sRGB image; a gray input has R = G = B."""
    return rgb_to_lab(rgb)[:, :1]


def gray_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """The image with its color removed (ab = 0), as sRGB: the field's gray baseline."""
    l = rgb_to_l(rgb)
    return lab_to_rgb(torch.cat([l, torch.zeros_like(l), torch.zeros_like(l)], dim=1))


def resize_ab(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of an ab map to ``size = (H, W)``."""
    if tuple(ab.shape[-2:]) == tuple(size):
        return ab
    return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


def recombine(l_full: torch.Tensor, ab_low: torch.Tensor) -> torch.Tensor:
    """Full-resolution L (N, 1, H, W), raw units, with a low-resolution raw ab (N, 2, h, w):
    upsample ab, stack, convert. Returns sRGB in [0, 1] at the resolution of ``l_full``."""
    ab = resize_ab(ab_low, tuple(l_full.shape[-2:]))
    return lab_to_rgb(torch.cat([l_full, ab], dim=1))


# ---- uint8 numpy helpers (the pipeline contract is uint8 in, uint8 out) ----
def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 (or HxW) numpy -> (1, 3, H, W) float32 in [0, 1]."""
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> HxWx3 uint8, rounded."""
    return (rgb[0].clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


# ---- the quantized ab gamut (Zhang et al. 2016) ----
AB_GRID = 10.0  # bin width in ab units


# The 313 kept bins as a 23x23 bit mask (a-major, from a = -110), precomputed by
# derive_ab_bins() below; tests check that the two agree.
_AB_BIN_MASK = (
    "7c0007f8003ff001fff007ffe01fffc07fff81ffff03fffe0ffffc3ffff0ffffe1ffffc7ffff0ffffe3ffffc7ffff8ffffe1ffffc0ff000000000"
)


@functools.lru_cache(maxsize=1)
def _ab_bins_np() -> np.ndarray:
    bits = bin(int(_AB_BIN_MASK, 16))[2:].zfill(23 * 23)
    keep = np.array([c == "1" for c in bits])
    centers = np.arange(-110, 120, AB_GRID)
    aa, bb = np.meshgrid(centers, centers, indexing="ij")
    return np.stack([aa.ravel()[keep], bb.ravel()[keep]], axis=1).astype(np.float32)


def derive_ab_bins() -> np.ndarray:
    """Centers of the 10x10 ab bins kept as classes, Zhang et al.'s 313 "in-gamut" bins.

    A bin of the 10-unit grid over [-110, 110]^2 is kept when some point within 11.5 ab units of
    its center (a 9x9 sample of that square) is an sRGB color at some L in 0.5..99.5. That is the
    sRGB gamut dilated by about one bin, which gives exactly the 313 classes of the paper.
    """
    centers = np.arange(-110, 120, AB_GRID)
    aa, bb = np.meshgrid(centers, centers, indexing="ij")
    offs = np.linspace(-11.5, 11.5, 9)
    oa, ob = np.meshgrid(offs, offs, indexing="ij")
    a = (aa[..., None, None] + oa).reshape(aa.size, -1)
    b = (bb[..., None, None] + ob).reshape(aa.size, -1)
    keep = np.zeros(aa.size, dtype=bool)
    for lv in np.arange(0.5, 100.0, 1.0):
        lab = torch.tensor(np.stack([np.full_like(a, lv), a, b]), dtype=torch.float64)[None]
        rgb = lab_to_rgb(lab, clamp=False)[0]
        keep |= ((rgb >= 0) & (rgb <= 1)).all(dim=0).any(dim=1).numpy()
    return np.stack([aa.ravel()[keep], bb.ravel()[keep]], axis=1).astype(np.float32)


def ab_bins() -> torch.Tensor:
    """(Q, 2) raw-ab centers of the in-gamut bins, Q = 313 for sRGB/D65 as in Zhang et al."""
    return torch.from_numpy(_ab_bins_np().copy())


def encode_ab_soft(ab: torch.Tensor, bins: torch.Tensor, k: int = 5, sigma: float = 5.0) -> torch.Tensor:
    """Soft-encode raw ab (N, 2, H, W) onto ``bins`` (Q, 2): Gaussian weights over the ``k``
    nearest bins, as Zhang et al. 2016. Returns (N, Q, H, W) summing to 1 over Q."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, bins.to(flat)) ** 2
    dk, ik = d2.topk(k, dim=1, largest=False)
    wk = torch.softmax(-dk / (2 * sigma**2), dim=1)
    out = torch.zeros(flat.shape[0], bins.shape[0], dtype=ab.dtype, device=ab.device)
    out.scatter_(1, ik, wk)
    return out.view(n, h, w, -1).permute(0, 3, 1, 2)


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Index (N, H, W) of the nearest bin of each raw ab pixel."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    return torch.cdist(flat, bins.to(flat)).argmin(dim=1).view(n, h, w)


ANNEAL_BLOCK = 1 << 23  # logits decoded at once by annealed_mean (32 MB of float32)


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float = 0.38,
                  log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """Decode (N, Q, H, W) bin logits to raw ab (N, 2, H, W) by the annealed mean of Zhang et al.
    ``temperature`` 1 is the mean (muted), towards 0 the mode (vivid); 0.38 is the paper's.
    ``log_prior`` (N, Q), when given, is added to the annealed log-probabilities: a color prior
    (from a palette or reference image) that reweights every pixel's distribution."""
    n, q, h, w = logits.shape
    if logits.requires_grad or logits.numel() <= ANNEAL_BLOCK:
        return _annealed_mean(logits, bins, temperature, log_prior)
    out = logits.new_empty(n, 2, h, w)  # large inputs row block by row block: bounded memory, same numbers
    rows = max(1, ANNEAL_BLOCK // (n * q * w))
    for y in range(0, h, rows):
        out[:, :, y:y + rows] = _annealed_mean(logits[:, :, y:y + rows], bins, temperature, log_prior)
    return out


def _annealed_mean(logits, bins, temperature, log_prior):
    z = logits / max(temperature, 1e-3)
    if log_prior is not None:
        z = z + log_prior[:, :, None, None].to(z)
    p = torch.softmax(z, dim=1)
    return torch.einsum("nqhw,qc->nchw", p, bins.to(p))


CHROMA_GAIN_MAX = 4.0  # raise_chroma multiplies chroma by at most this (a near-gray pixel's hue is noise)


def chroma_target(logits: torch.Tensor, bins: torch.Tensor, quantile: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(chroma, sureness), each (N, 1, H, W), from bin logits (N, Q, H, W) read as the network's
    distribution (temperature 1): ``chroma`` is the ``quantile`` of the chroma of the ab it predicts
    there (Larsson et al. 2016 take chroma from the median); ``sureness`` in [0, 1] is how much
    the hues agree: the length of the mean ab over the mean chroma (1 = every probable color on one
    hue; 0 = opposite hues cancel). A vivid decoding that is wrong only where the hue is unsure
    raises chroma towards ``chroma`` by ``sureness``."""
    p = torch.softmax(logits.float(), dim=1)
    c = bins.to(p).norm(dim=1)
    order = torch.argsort(c)
    cum = torch.cumsum(p[:, order], dim=1)
    idx = (cum < quantile).sum(dim=1, keepdim=True).clamp_(max=c.numel() - 1)
    chroma = c[order][idx]
    mean = torch.einsum("nqhw,qc->nchw", p, bins.to(p))
    sure = mean.norm(dim=1, keepdim=True) / torch.einsum("nqhw,q->nhw", p, c)[:, None].clamp(min=1e-6)
    return chroma, sure.clamp_(0.0, 1.0)


def raise_chroma(ab: torch.Tensor, chroma: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Raw ab (N, 2, H, W) with its chroma moved up towards ``chroma`` by ``weight`` (both N, 1, h, w,
    resized to ab's size), its hue kept; chroma never falls."""
    if chroma.shape[-2:] != ab.shape[-2:]:
        chroma = F.interpolate(chroma, size=ab.shape[-2:], mode="bilinear", align_corners=False)
        weight = F.interpolate(weight, size=ab.shape[-2:], mode="bilinear", align_corners=False)
    now = ab.norm(dim=1, keepdim=True)
    new = now + weight * (chroma - now).clamp(min=0.0)
    return ab * (new / now.clamp(min=1e-3)).clamp(max=CHROMA_GAIN_MAX)


def histogram_ab_prior(hist: torch.Tensor, bins: torch.Tensor, sigma: float = 10.0, floor: float = 0.02) -> torch.Tensor:
    """(N, bins^3) RGB histogram -> (N, Q) distribution over the ab ``bins``: every RGB bin center
    spreads its mass over nearby ab bins (Gaussian, ``sigma`` ab units), then ``floor`` of the
    mass is spread evenly, so no color is ruled out."""
    per_channel = round(hist.shape[1] ** (1 / 3))
    centers = histogram_bin_colors(per_channel).to(hist)
    ab = rgb_to_lab(centers.T[None, :, :, None])[0, 1:, :, 0].T  # (bins^3, 2)
    d2 = torch.cdist(ab, bins.to(ab)) ** 2
    spread = torch.softmax(-d2 / (2 * sigma**2), dim=1)  # (bins^3, Q)
    prior = hist @ spread
    prior = prior / prior.sum(dim=1, keepdim=True).clamp(min=1e-8)
    return (1 - floor) * prior + floor / bins.shape[0]


def rgb_histogram(rgb: torch.Tensor, bins_per_channel: int = 8, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalized joint RGB histogram (N, bins^3), the 512-bin color hint of the line-art report.
    ``rgb`` in [0, 1], (N, 3, H, W); ``mask`` (N, 1, H, W) optionally restricts the pixels counted."""
    n = rgb.shape[0]
    q = (rgb.clamp(0, 1) * (bins_per_channel - 1e-4)).long()
    idx = (q[:, 0] * bins_per_channel + q[:, 1]) * bins_per_channel + q[:, 2]
    weights = torch.ones_like(idx, dtype=rgb.dtype) if mask is None else mask[:, 0].to(rgb.dtype)
    hist = torch.zeros(n, bins_per_channel**3, dtype=rgb.dtype, device=rgb.device)
    hist.scatter_add_(1, idx.view(n, -1), weights.reshape(n, -1))
    return hist / hist.sum(dim=1, keepdim=True).clamp(min=1e-8)


def match_histogram(lab: torch.Tensor, hist: torch.Tensor, strength: float = 1.0,
                    bins_per_channel: int = 8) -> torch.Tensor:
    """Move each image's L, a and b toward the distribution of the colors of ``hist`` (N, bins^3,
    an RGB histogram as :func:`rgb_histogram` makes): per channel, every pixel takes the value of
    the same rank (quantile) in the histogram's colors, mixed in by ``strength`` (0 = unchanged).
    Order is kept within a channel, so dark lines stay the darkest pixels. ``lab`` raw (N, 3, H, W);
    rows of ``hist`` that are all zero leave their image unchanged."""
    n = lab.shape[0]
    centers = histogram_bin_colors(bins_per_channel).to(lab)
    step = 0.25 / bins_per_channel  # 8 points per bin, at the quarter points of its cube
    offs = torch.tensor([[x, y, z] for x in (-step, step) for y in (-step, step) for z in (-step, step)]).to(lab)
    pts = (centers[:, None] + offs[None]).reshape(-1, 3).clamp(0, 1)
    target = rgb_to_lab(pts.T[None, :, :, None])[0, :, :, 0]  # (3, M)
    out = lab.clone()
    flat = lab.flatten(2)  # (N, 3, P)
    p = flat.shape[-1]
    q = (torch.arange(p, dtype=lab.dtype, device=lab.device) + 0.5) / p
    for i in range(n):
        w = hist[i].clamp(min=0).repeat_interleave(offs.shape[0])
        if float(w.sum()) <= 0:
            continue
        for ch in range(3):
            order = torch.argsort(target[ch])
            cdf = torch.cumsum(w[order], 0)
            cdf = cdf / cdf[-1]
            quantiles = target[ch][order][torch.searchsorted(cdf, q).clamp(max=cdf.numel() - 1)]
            ranks = torch.empty(p, dtype=torch.long, device=lab.device)
            ranks[torch.argsort(flat[i, ch])] = torch.arange(p, device=lab.device)
            matched = quantiles[ranks]
            out[i, ch] = (strength * matched + (1 - strength) * flat[i, ch]).view_as(lab[i, ch])
    return out


def histogram_bin_colors(bins_per_channel: int = 8) -> torch.Tensor:
    """sRGB centers (bins^3, 3) of the histogram bins of :func:`rgb_histogram`."""
    c = (torch.arange(bins_per_channel, dtype=torch.float32) + 0.5) / bins_per_channel
    r, g, b = torch.meshgrid(c, c, c, indexing="ij")
    return torch.stack([r.ravel(), g.ravel(), b.ravel()], dim=1)


# ---- fast full-resolution paths for uint8 images (look-up tables and OpenCV; used by the pipeline) ----
@functools.lru_cache(maxsize=1)
def _luts() -> tuple[np.ndarray, np.ndarray]:
    v = torch.arange(256, dtype=torch.float64) / 255.0
    lin = srgb_to_linear(v)
    l_gray = 116 * torch.where(lin > _EPS, lin.clamp(min=_EPS) ** (1 / 3), (_KAPPA * lin + 16) / 116) - 16
    return lin.float().numpy(), l_gray.float().numpy()


def l_from_uint8(rgb: np.ndarray) -> np.ndarray:
    """CIE L (H, W) float32 of an HxWx3 uint8 sRGB image, by table look-up (fast at 12 MP)."""
    lin, l_gray = _luts()
    r, g, b = cv2.split(np.ascontiguousarray(rgb))
    if cv2.norm(r, g, cv2.NORM_INF) == 0 and cv2.norm(g, b, cv2.NORM_INF) == 0:
        return cv2.LUT(r, l_gray)
    y = (cv2.LUT(r, lin) * np.float32(0.212671) + cv2.LUT(g, lin) * np.float32(0.715160)
         + cv2.LUT(b, lin) * np.float32(0.072169))
    return np.where(y > _EPS, 116 * np.cbrt(y) - 16, _KAPPA * y).astype(np.float32)


def lab_to_uint8(l: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """L, a and b planes (H, W), float32 raw units -> HxWx3 uint8 sRGB, gamut-clamped: :func:`lab_to_rgb`
    then :func:`to_uint8`, in OpenCV's vectorized kernels (D65, sRGB; within one level of them).
    ``out``: a contiguous HxWx3 uint8 array to write into."""
    rgb = cv2.cvtColor(cv2.merge([l, a, b]), cv2.COLOR_Lab2RGB)  # clamped to [0, 1]
    return cv2.convertScaleAbs(rgb, dst=out, alpha=255.0)  # rounded to the nearest level


# ---- 16-bit full-resolution paths (archival scans; computed, not looked up) ----
def l_from_uint16(rgb: np.ndarray) -> np.ndarray:
    """CIE L (H, W) float32 of an HxWx3 uint16 sRGB image (every one of the 65536 levels counts)."""
    lin = srgb_to_linear(torch.from_numpy(rgb.astype(np.float32) / np.float32(65535.0)))
    y = lin[..., 0] * 0.212671 + lin[..., 1] * 0.715160 + lin[..., 2] * 0.072169
    return torch.where(y > _EPS, 116 * y.clamp(min=_EPS) ** (1 / 3) - 16, _KAPPA * y).numpy().astype(np.float32)


def lab_to_uint16(l: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """L, a and b planes (H, W) float32 -> HxWx3 uint16 sRGB, gamut-clamped (:func:`lab_to_rgb`,
    rounded to 16 bits; computed exactly, not with OpenCV's 8-bit-grade tables)."""
    lab = torch.from_numpy(np.stack([l, a, b]))[None]
    rgb = (lab_to_rgb(lab)[0].permute(1, 2, 0) * 65535.0 + 0.5).to(torch.int32).numpy()
    if out is None:
        return rgb.astype(np.uint16)
    out[...] = rgb  # cast into the caller's array, no extra copy
    return out

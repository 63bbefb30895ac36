"""Line drawings from images: plain functions, uint8 RGB or gray in, uint8 gray out (dark lines on
white). The random one takes a ``numpy.random.Generator``.

- :func:`canny`: Canny edges (OpenCV) on the gray image, thresholds ``low``/``high``, dilated to
  ``width`` pixels: the line art of seed report 002.
- :func:`xdog`: eXtended Difference of Gaussians (Winnemoeller et al. 2012):
  ``d = (1 + p) G_sigma(I) - p G_{k sigma}(I)`` on I in [0, 1], white where ``d >= eps`` and
  ``1 + tanh(phi (d - eps))`` below: pen-like strokes on the dark side of edges, flat areas white.
- :func:`pencil`: a pencil look for any drawing: lighter gray strokes whose pressure varies over
  the page, broken in places, with a soft graphite edge (as real sketches are drawn).
- :func:`scan_noise`: paper tone, a slight blur and grain, as a scanned drawing has.
- :func:`screentone`: a manga look: the image's darkest tones as solid black, its middle tones as
  screens of regular dots (a few discrete densities, as tone sheets come), the lines over them.
"""

from __future__ import annotations

import numpy as np

from tinct.errors import TinctError


def _gray(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise TinctError(f"expected an HxW or HxWx3 uint8 image, got {a.dtype} {a.shape}")
    if a.ndim == 2:
        return a
    if a.shape[2] == 1:
        return a[..., 0]
    rgb = a[..., :3].astype(np.float32)
    return np.clip(rgb @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5, 0, 255).astype(np.uint8)


def _check(name: str, value: float, low: float, high: float) -> float:
    if not (np.isfinite(value) and low <= value <= high):
        raise TinctError(f"{name} must be between {low:g} and {high:g}, got {value}")
    return float(value)


def canny(img: np.ndarray, low: float = 80, high: float = 160, width: int = 1) -> np.ndarray:
    """Canny edges as dark lines (0) on white (255), ``width`` pixels wide (1-5)."""
    import cv2

    _check("low", low, 0, 1000)
    _check("high", high, low, 1000)
    width = int(_check("width", width, 1, 5))
    edges = cv2.Canny(_gray(img), low, high)
    if width > 1:
        edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width)))
    return 255 - edges


def xdog(img: np.ndarray, sigma: float = 0.6, k: float = 4.5, p: float = 20.0, eps: float = 0.02,
         phi: float = 20.0) -> np.ndarray:
    """XDoG lines (see the module docstring), uint8 gray."""
    import cv2

    _check("sigma", sigma, 0.1, 10)
    _check("k", k, 1.01, 10)
    _check("p", p, 0.0, 100)
    _check("eps", eps, -1.0, 1.0)
    _check("phi", phi, 0.1, 1e4)
    i = _gray(img).astype(np.float32) / 255.0
    d = (1 + p) * cv2.GaussianBlur(i, (0, 0), sigma) - p * cv2.GaussianBlur(i, (0, 0), sigma * k)
    e = np.where(d >= eps, 1.0, 1.0 + np.tanh(phi * (d - eps)))
    return np.clip(e * 255 + 0.5, 0, 255).astype(np.uint8)


def _smooth_field(shape: tuple[int, int], cell: float, gen: np.random.Generator) -> np.ndarray:
    """Uniform noise on a grid of ``cell``-pixel cells, smoothly upsampled to ``shape`` (0-1)."""
    import cv2

    h, w = shape
    small = gen.random((max(2, round(h / cell)) + 1, max(2, round(w / cell)) + 1)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def pencil(lines: np.ndarray, gen: np.random.Generator, darkness: float = 0.55, breaks: float = 0.25,
           softness: float = 0.6) -> np.ndarray:
    """A pencil look for a drawing (uint8 gray, dark lines on white): its ink is scaled to about
    ``darkness`` (0.1-1; the darkest strokes of real sketches are 0.4-0.7 of black) by a pressure
    that varies smoothly over the page (0.6-1.4 x), strokes fade to a fifth where a finer random
    field falls below ``breaks`` (0-0.9, the share of broken stroke), and a Gaussian blur of
    ``softness`` pixels (0-3) gives the graphite's soft edge. Paper stays white."""
    import cv2

    darkness = _check("darkness", darkness, 0.1, 1.0)
    breaks = _check("breaks", breaks, 0.0, 0.9)
    softness = _check("softness", softness, 0.0, 3.0)
    a = np.asarray(lines)
    if a.dtype != np.uint8 or a.ndim != 2:
        raise TinctError(f"expected an HxW uint8 drawing, got {a.dtype} {a.shape}")
    ink = 1.0 - a.astype(np.float32) / 255.0
    size = max(a.shape)
    pressure = darkness * (0.6 + 0.8 * _smooth_field(a.shape, size / 3, gen))
    broken = np.clip((_smooth_field(a.shape, 6.0, gen) - breaks) / 0.1 + 0.2, 0.2, 1.0)
    ink = np.clip(ink * pressure * broken, 0.0, 1.0)
    if softness > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), softness)
    return np.clip(255.0 * (1.0 - ink) + 0.5, 0, 255).astype(np.uint8)


def scan_noise(lines: np.ndarray, gen: np.random.Generator, grain: float = 4.0) -> np.ndarray:
    """A scanned look: paper tone (white becomes 225-255), a slight blur, Gaussian grain of std
    up to ``grain`` levels."""
    import cv2

    x = lines.astype(np.float32)
    paper = gen.uniform(225, 255)
    x = x * (paper / 255.0)
    if gen.random() < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), gen.uniform(0.3, 0.8))
    x = x + gen.normal(0, gen.uniform(0, grain), x.shape)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def screentone(lines: np.ndarray, img: np.ndarray, gen: np.random.Generator | None = None, black: float = 0.08,
               toned: float = 0.4, period: float = 5.0, angle: float = 45.0, levels: int = 2) -> np.ndarray:
    """A manga look for the drawing ``lines`` (uint8 gray, dark lines on white) of ``img`` (uint8 RGB
    or gray, same size): the darkest ``black`` share of the image's (smoothed) tones becomes solid
    black (gray levels up to 90 at most), the next ones up to the ``toned`` share (0-0.9, up to
    level 210) are covered by a screen of round dots, ``period`` pixels apart (3-12) on a grid
    turned by ``angle`` degrees, in ``levels`` (1-4) discrete densities (10-45 % ink, darker tones
    denser), and the lines stay over them. ``gen`` (optional)
    shifts the screen's phase."""
    import cv2

    black = _check("black", black, 0.0, 0.5)
    toned = _check("toned", toned, black, 0.9)
    period = _check("period", period, 3.0, 12.0)
    angle = _check("angle", angle, -180.0, 180.0)
    levels = int(_check("levels", levels, 1, 4))
    a = np.asarray(lines)
    g = _gray(img).astype(np.float32)
    if a.dtype != np.uint8 or a.ndim != 2 or g.shape != a.shape:
        raise TinctError(f"expected an HxW uint8 drawing the size of its image, got {a.dtype} {a.shape} "
                         f"and {g.shape}")
    g = cv2.GaussianBlur(g, (0, 0), 2.0)
    lo, hi = np.quantile(g, [black, toned]) if black > 0 else (g.min() - 1, np.quantile(g, toned))
    lo, hi = min(lo, 90.0), min(hi, 210.0)  # a light picture keeps its white: tones only where it is dark
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.deg2rad(angle)
    phase = gen.random(2) if gen is not None else np.zeros(2)
    u = (xx * np.cos(t) + yy * np.sin(t)) / period + phase[0]
    v = (-xx * np.sin(t) + yy * np.cos(t)) / period + phase[1]
    d2 = (u - np.round(u)) ** 2 + (v - np.round(v)) ** 2  # squared distance to the nearest dot center, cells
    step = (hi - lo) / levels if hi > lo else 1.0
    level = np.clip(np.floor((hi - g) / step), 0, levels - 1)  # 0: the lightest toned band
    cover = 0.10 + 0.35 * (level + 1) / levels  # share of each cell inked
    dots = ((g <= hi) & (d2 < cover / np.pi)) | (g <= lo)
    return np.where(dots, np.uint8(0), a).astype(np.uint8)


def random_lineart(img: np.ndarray, gen: np.random.Generator, p_xdog: float = 0.5, p_noise: float = 0.5,
                   p_pencil: float = 0.3, p_tone: float = 0.0) -> np.ndarray:
    """A training line drawing of ``img``: XDoG with probability ``p_xdog`` else Canny, their
    settings drawn at random (Canny thresholds 40-120 / 1.5-3x, width 1-2; XDoG sigma 0.3-0.9,
    p 17-22, eps 0.005-0.05, phi 5-50), then with probability ``p_pencil`` the pencil look
    (darkness 0.3-0.8, breaks 0-0.4, softness 0.3-1.0), else with probability ``p_tone`` the manga
    look (:func:`screentone`: black 0-12 %, toned up to 20-55 %, period 4-8 px, angle 30-60, 1-3
    densities), then scan noise with probability ``p_noise``."""
    if gen.random() < p_xdog:
        out = xdog(img, sigma=gen.uniform(0.3, 0.9), p=gen.uniform(17, 22), eps=gen.uniform(0.005, 0.05),
                   phi=gen.uniform(5, 50))
    else:
        low = gen.uniform(40, 120)
        out = canny(img, low, low * gen.uniform(1.5, 3.0), int(gen.integers(1, 3)))
    if gen.random() < p_pencil:
        out = pencil(out, gen, gen.uniform(0.3, 0.8), gen.uniform(0.0, 0.4), gen.uniform(0.3, 1.0))
    elif p_tone > 0 and gen.random() < p_tone:
        out = screentone(out, img, gen, gen.uniform(0.0, 0.12), gen.uniform(0.2, 0.55), gen.uniform(4.0, 8.0),
                         gen.uniform(30.0, 60.0), int(gen.integers(1, 4)))
    return scan_noise(out, gen) if gen.random() < p_noise else out

"""Whether a picture is a line drawing (ink or pencil lines on paper) rather than a photo, so that a
drawing given to a photo model can be pointed to a line-art model.

:func:`looks_like_drawing` is a rule of thumb on the picture's gray (at most 512 px on its longer
side): little color, most of it paper (within ``PAPER_SPREAD`` gray levels of the paper's
brightness around it), and between ``MIN_LINES`` and ``MAX_LINES`` of it lines
(:func:`tinct.lineart.regions.line_mask`). A photo has many tones between its darkest and
lightest; a drawing has paper and lines.
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 512  # px: the longer side the rule looks at
MAX_CHROMA = 6.0  # mean |rgb - gray| above which a picture has color of its own
PAPER_SPREAD = 16  # gray levels below the local paper brightness that still count as paper
MIN_PAPER = 0.75  # share of the non-line pixels that must be paper
MIN_LINES, MAX_LINES = 0.005, 0.6  # share of line pixels (screentone dots and black fills count)
DRAWING_NOTE = "the line-art model 'lineart' paints drawings area by area, in flat colors"
COLOR_NOTE = "the line-art model repaints a drawing from its gray, so these colors are replaced"


def unsuited(rgb: np.ndarray, line_art: bool) -> bool:
    """Whether the picture does not suit the model: a line drawing for a model that colors a photo's
    lightness (:func:`looks_like_drawing`), colors of its own for a line-art model (:func:`has_color`)."""
    return has_color(rgb) if line_art else looks_like_drawing(rgb)


def note(line_art: bool, many: bool = False) -> str:
    """What to say after the picture's name (or "N inputs") when :func:`unsuited` is true."""
    if line_art:
        return f"{'have colors of their own' if many else 'has colors of its own'}: {COLOR_NOTE}"
    return f"{'look like line drawings' if many else 'looks like a line drawing'}: {DRAWING_NOTE}"


def _uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 or uint16 picture, got {img.dtype}")
    return img


def _small(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(1.0, SIDE / max(h, w))
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


def _chroma(rgb3: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean |rgb - gray|, gray as float) of an HxWx3 float32 picture."""
    gray = rgb3 @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(np.abs(rgb3 - gray[..., None]).mean()), gray


def has_color(rgb: np.ndarray) -> bool:
    """True when the HxWx3 picture (uint8 or uint16) has colors of its own (mean |rgb - gray| above
    ``MAX_CHROMA``): a drawing already colored, which a line-art model would repaint."""
    img = _uint8(_small(np.asarray(rgb)))
    return img.ndim == 3 and _chroma(img[..., :3].astype(np.float32))[0] > MAX_CHROMA


def looks_like_drawing(rgb: np.ndarray) -> bool:
    """True when the HxWx3 or HxW picture (uint8 or uint16) looks like a line drawing on paper."""
    from tinct.lineart.regions import line_mask

    img = np.asarray(rgb)
    if min(img.shape[:2]) < 16:
        return False
    img = _uint8(_small(img))
    if img.ndim == 3:
        chroma, gray_f = _chroma(img[..., :3].astype(np.float32))
        if chroma > MAX_CHROMA:
            return False
        gray = gray_f.round().clip(0, 255).astype(np.uint8)
    else:
        gray = img
    lines = line_mask(gray)
    share = float(lines.mean())
    if not MIN_LINES <= share <= MAX_LINES:
        return False
    paper_level = cv2.dilate(gray, np.ones((15, 15), np.uint8))  # the brightest gray around each pixel
    paper = (paper_level.astype(np.int16) - gray) <= PAPER_SPREAD
    return float(paper[~lines].mean()) >= MIN_PAPER

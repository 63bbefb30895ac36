"""Reading and writing images. (Minimal first version; hardened in the image-input work.)"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tinct.errors import ImageError


def as_rgb(image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image or numpy array -> (HxWx3 uint8 RGB, HxW uint8 alpha or None)."""
    if isinstance(image, Image.Image):
        alpha = np.asarray(image.getchannel("A")) if "A" in image.getbands() else None
        return np.asarray(image.convert("RGB")), alpha
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected an HxW, HxWx3 or HxWx4 array, got shape {arr.shape}")
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif arr.dtype.kind == "f":
        arr = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ImageError(f"unsupported array dtype {arr.dtype}")
    alpha = arr[:, :, 3] if arr.shape[2] == 4 else None
    rgb = np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr[:, :, :3]
    return np.ascontiguousarray(rgb), alpha

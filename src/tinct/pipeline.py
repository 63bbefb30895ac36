"""The one inference path. The CLI, the Python API, the HTTP API and the web page all call
:class:`Colorizer`; nothing else runs a colorization model on a user's image.

Contract (as DDColor's pipeline and richzhang's ``base_color``): uint8 RGB in, uint8 RGB out at
the input's full resolution. The network predicts ab at a working size (``render_size``, the
longer side, as DeOldify's render_factor); that ab is upsampled onto the full-resolution L. A
line-art model (``output_kind`` "lab") also predicts lightness: the ratio of its L to the
working-size drawing's L is upsampled and multiplies the full-resolution drawing (an artist's
"multiply" layer: paint under the ink), so fills take their tone and the lines stay as dark and
as sharp as they were drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from tinct import cancel, color, uncertainty
from tinct.errors import HintError, TinctError
from tinct.hints import Hints, to_tensors
from tinct.imageio import as_rgb, like_input
from tinct.modelfile import load_alternatives, load_fusion, load_model, resolve_model
from tinct.rendersize import DEFAULT_RENDER_SIZE, MAX_RENDER_SIZE, check_render_size, working_size

DEFAULT_MODEL = "photo"
ORIENTATION = 0x0112  # the EXIF orientation tag
STRIP_PIXELS = 500_000  # full-resolution recombination runs in cache-sized strips of about this many pixels


BACKENDS = ("torch", "onnx")
RELIGHT_EPS, RELIGHT_MAX = 1.0, 4.0  # L units added before the ratio of painted to drawn L, and its cap


def set_threads(n: int) -> None:
    """CPU threads for the network (torch) and the full-resolution image work (OpenCV) alike."""
    torch.set_num_threads(n)
    cv2.setNumThreads(n)


class Colorizer:
    """Colorize images with one model: ``Colorizer("photo")(image, hints=None) -> image``.

    ``image`` is a PIL image or a numpy array (HxW, HxWx3 or HxWx4; uint8, uint16 or float in
    [0, 1]); the result is of the same kind (PIL in, PIL out; numpy in, uint8 numpy out; uint16
    in, uint16 out: a 16-bit scan keeps its 16 bits), full resolution, alpha kept. A color input is
    colorized from its lightness alone.

    A model file holds a network and, for hint networks, a hint fusion stage; this class composes
    them. Every call runs :meth:`predict` (working-size lightness -> :meth:`predict_tensors`) and
    then :meth:`finish` (the colors put back on the full-resolution lightness).
    """

    def __init__(self, model: str | os.PathLike | torch.nn.Module = DEFAULT_MODEL, render_size: int | None = None,
                 temperature: float | None = None, device: str = "cpu", backend: str = "torch",
                 onnx_file: str | os.PathLike | None = None, fusion: torch.nn.Module | None = None,
                 alternatives: torch.nn.Module | None = None):
        """``model``: a shipped name, a model file, or a network (then ``fusion`` is its hint
        fusion stage and ``alternatives`` its learned alternatives, if any). ``render_size``: the working size (longer side; default the
        model's own, else 256); ``temperature``: the annealed mean's (default the model's)."""
        self.path: Path | None = None  # the model file, when loaded from one
        if isinstance(model, torch.nn.Module):
            self.model, self.fusion, self.alternatives = model.eval(), fusion, alternatives
            self.record = {"arch": model.arch or "?", "provenance": {}}
            self.name = model.arch or "model"
        else:
            path = resolve_model(model)
            self.model, self.record = load_model(path, role="colorizer", device=device)
            self.fusion = load_fusion(path, device=device)
            self.alternatives = load_alternatives(path, device=device)
            self.name, self.path = path.stem, path
        cancel.guard(self.model)  # an abandoned request stops at the next layer
        for stage in (self.fusion, self.alternatives):
            if stage is not None:
                cancel.guard(stage)
        self.max_render_size = min(MAX_RENDER_SIZE, self.model.max_render_size)  # within the memory budget
        self.render_size = self._size(render_size if render_size is not None
                                      else self.model.render_size or DEFAULT_RENDER_SIZE)
        self.temperature = temperature
        self.device = torch.device(device)
        if backend not in BACKENDS:
            raise TinctError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend, self.onnx = backend, None
        if onnx_file is not None and backend != "onnx":
            raise TinctError("an ONNX graph (onnx_file) needs backend='onnx'")
        if backend == "onnx":  # the hint-free network on onnxruntime; hints still go through torch
            if self.path is None:
                raise TinctError("the ONNX backend needs a model file or a shipped model name")
            from tinct.export.onnx import OnnxNetwork, cached_export

            graph = Path(onnx_file) if onnx_file is not None else cached_export(self.path)
            if not graph.is_file():
                raise TinctError(f"{graph}: no such ONNX graph (tinct export MODEL -o FILE.onnx)")
            self.onnx = OnnxNetwork(graph, self.path, threads=torch.get_num_threads())

    # what the model can do (class attributes of tinct.models.base.ColorNet)
    @property
    def supports_hints(self) -> bool:
        """Whether the model takes point and grid hints."""
        return self.model.hints

    @property
    def supports_global_hints(self) -> bool:
        """Whether the model takes a palette or reference image."""
        return self.model.global_hint_dim > 0

    @property
    def supports_confidence(self) -> bool:
        """Whether the model predicts a distribution over colors (a 313-bin head) to be sure or unsure with."""
        return self.model.has_distribution and self.output_kind == "ab"

    @property
    def output_kind(self) -> str:
        """"ab" (colors the input's lightness) or "lab" (line art: paints lightness too)."""
        return self.model.output_kind

    def __call__(self, image, hints: Hints | None = None, render_size: int | None = None, confidence: bool = False,
                 extras: dict | None = None):
        """The colorized image; with ``confidence``, ``(image, confidence)``: an HxW float32 map in
        [0, 1] of how sure the model is of each pixel's color (:mod:`tinct.uncertainty`). A dict
        given as ``extras`` receives what :meth:`predict_tensors` puts there, and the halves of the
        colorization: ``l_full`` and ``ab`` (:meth:`predict`), so that questions about the same
        picture need no second network pass (the server's :mod:`tinct.serve.predictions`)."""
        if confidence and not self.supports_confidence:
            raise TinctError(f"model {self.name!r} gives no color distribution, so no confidence map "
                             "(models with a 313-bin head, such as 'photo' and 'art', do)")
        if extras is None and confidence:
            extras = {}
        if isinstance(image, Image.Image) and image.getexif().get(ORIENTATION, 1) != 1:
            image = ImageOps.exif_transpose(image)  # upright, as the CLI and the server read files
        if isinstance(image, np.ndarray) and image.dtype == np.uint16:  # 16 bits in, 16 bits out
            rgb, alpha = split_uint16(image)
        else:
            rgb, alpha = as_rgb(image)
        deep = rgb.dtype == np.uint16
        l_full, ab = self.predict(rgb, hints, render_size, extras)
        if extras is not None:
            extras["l_full"], extras["ab"] = l_full, ab
        out = self.finish(l_full, ab, depth=16 if deep else 8)
        if deep:
            result = np.dstack([out, alpha]) if alpha is not None else out
        else:
            result = like_input(image, out, alpha)
        if not confidence:
            return result
        h, w = out.shape[:2]
        return result, uncertainty.upsample(extras["confidence"], (h, w))[0, 0].numpy()

    def predict(self, image: np.ndarray | torch.Tensor, hints: Hints | None = None, render_size: int | None = None,
                extras: dict | None = None, regions: bool = True):
        """The first half of a colorization: (full-resolution raw L (1, 1, H, W), predicted raw ab
        (1, 2, h', w') at the working size). ``image``: HxWx3 uint8 or uint16 RGB, or its
        :func:`lightness` (a folder run computes it while decoding). A line-art model's painted
        lightness, one per area its lines enclose with half the network's shading kept inside
        (:func:`tinct.lineart.regions.flat_shading`), is already multiplied into the returned L,
        and its ab is painted region by region at the drawing's size (:meth:`paint_regions`)
        unless ``regions`` is False (video steadies the working-size paint first, then paints).
        Video steadies the ab between the halves; ``extras``: see :meth:`predict_tensors` (for line
        art it also receives the drawing's ``areas``, for :meth:`paint_regions`)."""
        l_full = image if isinstance(image, torch.Tensor) else lightness(image)
        cancel.check()
        h, w = l_full.shape[-2:]
        work = working_size((h, w), self.render_size if render_size is None else self._size(render_size))
        l_work = F.interpolate(l_full, size=work, mode="bilinear", align_corners=False, antialias=True)
        cancel.check()
        tensors = {}
        if hints is not None and not isinstance(hints, Hints):
            raise HintError(f"hints must be a tinct.Hints, got {type(hints).__name__}")
        if hints is not None and not hints.is_empty():
            self.check_hints(hints)
            tensors = dict(zip(("ab_hint", "mask", "global_hint"), to_tensors(hints, (h, w), tuple(work))))
        ab, l_pred = self.predict_tensors(l_work, **tensors, extras=extras)
        areas = _Areas(l_full) if self.model.fills_regions else None  # line art: the areas its lines enclose
        if areas is not None and extras is not None:
            extras["areas"] = areas
        if areas is not None and regions:  # a flat color per area, hints fill theirs
            ab = areas.paint(ab, tensors.get("ab_hint"), tensors.get("mask"))
        if l_pred is not None:  # line art: the painted lightness multiplies the drawing
            l_seen = (F.interpolate(l_work, size=l_pred.shape[-2:], mode="area") if l_pred.shape != l_work.shape
                      else l_work)
            ratio = ((l_pred + RELIGHT_EPS) / (l_seen + RELIGHT_EPS)).clamp_(0.0, RELIGHT_MAX)
            _relight_strips(l_full, ratio if areas is None else areas.shading(ratio))
        return l_full, ab

    def paint_regions(self, l_drawing: torch.Tensor, ab: torch.Tensor, areas: "_Areas | None" = None) -> torch.Tensor:
        """A line drawing's working-size raw ab painted region by region (one flat color per area its
        lines enclose) on its full-resolution raw L (1, 1, H, W) as read, before any relighting;
        ``areas``: the ones :meth:`predict` found on it (its ``extras``), else they are found here."""
        return (areas or _Areas(l_drawing)).paint(ab, None, None)

    def check_hints(self, hints: Hints | None) -> None:
        """A HintError unless this model takes every kind of hint ``hints`` holds (None: none)."""
        if hints is None:
            return
        if not self.supports_hints and not hints.is_empty():
            raise HintError(f"model {self.name!r} takes no hints; use a hint model such as 'photo'")
        if hints.has_global and not self.supports_global_hints:
            raise HintError(f"model {self.name!r} takes no palette or reference image")

    @torch.inference_mode()
    def predict_tensors(self, l_work: torch.Tensor, ab_hint: torch.Tensor | None = None,
                        mask: torch.Tensor | None = None, global_hint: torch.Tensor | None = None,
                        extras: dict | None = None):
        """(raw ab (N, 2, h', w'), raw L (N, 1, h', w') or None) for raw L and rendered hint tensors
        (normalized ab). The whole story of a hinted call: the network with the hints as inputs
        (one pass); where the user placed points, the hint stage: for a hint network its fusion
        stage (with a guide, a second, hint-free network pass; two sparse solves); line art is then
        painted region by region by :meth:`predict`. A dict given as ``extras`` receives the
        network's bin ``logits`` and the working-size ``confidence`` (N, 1, h, w) of the colors
        returned (:mod:`tinct.uncertainty`), and with points ``hint_mask``, the pixels of the returned
        colors that the points touch (bool, their size). Given with the key ``alternatives`` (any
        value) and a model file with learned alternatives, it receives there their changes of the
        returned colors, raw ab (N, K, 2, h, w) at the logits' size (:mod:`tinct.uncertainty.heads`);
        None when there are none."""
        given = (("ab_hint", ab_hint), ("mask", mask), ("global_hint", global_hint))
        kw = {k: v.to(self.device) for k, v in given if v is not None}
        if kw and not self.supports_hints:
            raise HintError(f"model {self.name!r} takes no hints; use a hint model such as 'photo'")
        l_in = color.normalize_l(l_work).to(self.device)
        cancel.check()
        out = self.onnx(l_in) if self.onnx is not None and not kw else self.model(l_in, **kw)
        cancel.check()
        ab = self.model.decode(out, self.temperature)
        if mask is not None and self.fusion is not None:
            guide_ab = guide_features = None
            if self.fusion.guided:  # edges of the scene as the network sees it without the points
                free = self.model(l_in)
                guide_ab, guide_features = self.model.decode(free), free["features"]
            ab = self.fusion(l_in, ab, kw["ab_hint"], kw["mask"], out["features"], guide_ab, guide_features)
        ab = color.denormalize_ab(ab).float().cpu()
        if extras is not None and "logits" in out:
            extras["logits"] = out["logits"].float().cpu()
            extras["confidence"] = uncertainty.confidence(extras["logits"], self.model.bins, ab)
            if mask is not None:  # where the user gave the color, it is sure
                marked = lambda size: F.interpolate(mask.float().cpu(), size=size, mode="area") > 0  # noqa: E731
                extras["confidence"][marked(extras["confidence"].shape[-2:])] = 1.0
                extras["hint_mask"] = marked(ab.shape[-2:])
            if "alternatives" in extras:
                extras["alternatives"] = None
                if self.alternatives is not None and "features" in out:
                    doubt = 1 - extras["confidence"].to(self.device)
                    delta = self.alternatives(out["features"], color.normalize_ab(ab).to(self.device), doubt)
                    extras["alternatives"] = color.denormalize_ab(delta).float().cpu()
        l_pred = self.model.decode_l(out)
        return ab, None if l_pred is None else color.denormalize_l(l_pred).float().cpu()

    @staticmethod
    def finish(l_full: torch.Tensor, ab: torch.Tensor, depth: int = 8) -> np.ndarray:
        """The second half: ab upsampled onto the full-resolution L, as uint8 RGB (``depth`` 16: uint16)."""
        return _recombine_strips(l_full, ab, depth)

    def _size(self, value) -> int:
        """A working size given by a user for this model (see :func:`check_render_size`)."""
        size = check_render_size(value)
        if size > self.max_render_size:
            raise TinctError(f"render size must be at most {self.max_render_size} for model {self.name!r} "
                             f"(its memory budget), got {size}")
        return size


def lightness(rgb: np.ndarray) -> torch.Tensor:
    """The full-resolution raw L (1, 1, H, W) of a uint8 or uint16 RGB image: what the network sees."""
    l = color.l_from_uint16(rgb) if rgb.dtype == np.uint16 else color.l_from_uint8(rgb)
    return torch.from_numpy(l)[None, None]


def split_uint16(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A uint16 array (HxW, HxWx1, HxWx2, HxWx3 or HxWx4) -> (HxWx3 uint16 RGB, HxW uint16 alpha or None)."""
    arr = image[:, :, None] if image.ndim == 2 else image
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or 0 in arr.shape[:2]:
        raise TinctError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 array (channels last), got shape {image.shape}")
    c = arr.shape[2]
    alpha = np.ascontiguousarray(arr[:, :, c - 1]) if c in (2, 4) else None
    rgb = np.repeat(arr[:, :, :1], 3, axis=2) if c in (1, 2) else np.ascontiguousarray(arr[:, :, :3])
    return rgb, alpha


class _RowUpsampler:
    """Rows of the bilinear upsampling of a small map (N=1, C, h, w) to (H, W), as
    ``F.interpolate(mode="bilinear", align_corners=False)`` (edges clamped) makes it, without making
    the rest: the columns once (OpenCV), then each strip of rows from its two nearest source rows."""

    def __init__(self, low: torch.Tensor, h: int, w: int):
        small = low[0].float().numpy()  # (C, h', w')
        self.cols = [cv2.resize(np.ascontiguousarray(c), (w, c.shape[0]), interpolation=cv2.INTER_LINEAR)
                     for c in small]  # C planes (h', W)
        self.h = h

    def rows(self, y0: int, y1: int) -> list[np.ndarray]:
        """The C planes of rows y0..y1, each (y1 - y0, W) float32: the strip's weights on its few
        source rows as one small matrix product per plane (one pass over the output, in BLAS)."""
        n = self.cols[0].shape[0]
        sy = np.maximum((np.arange(y0, y1, dtype=np.float64) + 0.5) * (n / self.h) - 0.5, 0.0)
        i0 = np.minimum(sy.astype(np.int64), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        f = (sy - i0).astype(np.float32)
        lo, hi = int(i0[0]), int(i1[-1]) + 1
        weights = np.zeros((y1 - y0, hi - lo), np.float32)
        r = np.arange(y1 - y0)
        np.add.at(weights, (r, i0 - lo), 1 - f)
        np.add.at(weights, (r, i1 - lo), f)  # the last row's two sources are one: its weights add up
        return [weights @ c[lo:hi] for c in self.cols]


def _strips(h: int, w: int):
    """(y0, y1) row ranges of about :data:`STRIP_PIXELS` pixels (at least 8 rows) covering an HxW image."""
    rows = max(8, STRIP_PIXELS // max(w, 1))
    return ((y, min(h, y + rows)) for y in range(0, h, rows))


REGION_PIXELS = 4_000_000  # line art is painted region by region at most at this size (memory, time)


class _Areas:
    """The areas a drawing's lines enclose (:func:`tinct.lineart.regions.drawing_areas`), found once
    on its full-resolution raw L (1, 1, H, W) as read, before any relighting, at the drawing's size
    or at most ``REGION_PIXELS`` (a larger drawing's areas are found on it shrunk; its colors are put
    back on the full-resolution lines by :meth:`Colorizer.finish`)."""

    def __init__(self, l_full: torch.Tensor):
        from tinct.lineart.regions import drawing_areas

        h, w = l_full.shape[-2:]
        s = min(1.0, (REGION_PIXELS / (h * w)) ** 0.5)
        self.size = (max(1, round(h * s)), max(1, round(w * s)))
        l = l_full if s == 1.0 else F.interpolate(l_full, size=self.size, mode="area")
        self.l = l[0, 0].numpy().copy()
        self.found = drawing_areas(self.l)

    def paint(self, ab: torch.Tensor, ab_hint: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        """Raw ab (1, 2, h, w) at the areas' size: the working-size raw ``ab`` painted region by region
        (:func:`tinct.lineart.regions.paint_regions`), with the rendered hints (normalized) if any."""
        from tinct.lineart.regions import paint_regions

        paint = color.resize_ab(ab, self.size)[0].permute(1, 2, 0).numpy()
        hint_ab = hint_mask = None
        if mask is not None and bool((mask > 0.5).any()):
            hint_mask = F.interpolate(mask.float(), size=self.size, mode="nearest")[0, 0].numpy() > 0.5
            hint_ab = color.denormalize_ab(F.interpolate(ab_hint.float(), size=self.size, mode="nearest"))[0]
            hint_ab = hint_ab.permute(1, 2, 0).numpy()
        flat = paint_regions(self.l, paint, hint_ab, hint_mask, areas=self.found)
        return torch.from_numpy(flat).permute(2, 0, 1)[None]

    def shading(self, ratio: torch.Tensor) -> torch.Tensor:
        """The working-size lightness ratio (1, 1, h', w') at the areas' size, flat area by area
        (:func:`tinct.lineart.regions.flat_shading`)."""
        from tinct.lineart.regions import flat_shading

        up = F.interpolate(ratio, size=self.size, mode="bilinear", align_corners=False)[0, 0].numpy()
        _, lines, labels = self.found
        return torch.from_numpy(flat_shading(up, lines, labels))[None, None]


def _relight_strips(l_full: torch.Tensor, ratio_low: torch.Tensor) -> None:
    """Multiply the full-resolution L by the upsampled working-size lightness ratio, in place. Ink
    (L below that of :data:`tinct.lineart.regions.INK_GRAY`: lines, black fills) may be darkened
    but never brightened: a black area stays black, not a dim patch of its neighbour's color."""
    from tinct.lineart.regions import INK_GRAY

    ink_l = float(color.l_from_uint8(np.full((1, 1, 3), INK_GRAY, np.uint8))[0, 0])
    _, _, h, w = l_full.shape
    l, up = l_full[0, 0].numpy(), _RowUpsampler(ratio_low, h, w)
    for y0, y1 in _strips(h, w):
        ratio = up.rows(y0, y1)[0]
        np.minimum(ratio, 1.0, out=ratio, where=l[y0:y1] < ink_l)
        np.clip(l[y0:y1] * ratio, 0.0, 100.0, out=l[y0:y1])


def _recombine_strips(l_full: torch.Tensor, ab_low: torch.Tensor, depth: int = 8) -> np.ndarray:
    """Upsample ab onto full-resolution L and convert to uint8 (``depth`` 16: uint16) RGB, strip by strip."""
    _, _, h, w = l_full.shape
    out = np.empty((h, w, 3), dtype=np.uint16 if depth == 16 else np.uint8)
    convert = color.lab_to_uint16 if depth == 16 else color.lab_to_uint8
    l, up = l_full[0, 0].numpy(), _RowUpsampler(ab_low, h, w)
    for y0, y1 in _strips(h, w):
        cancel.check()
        convert(l[y0:y1], *up.rows(y0, y1), out=out[y0:y1])
    return out

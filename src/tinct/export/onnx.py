"""ONNX export and an ONNX Runtime backend for the automatic (hint-free) path of a colorizer.

:func:`export_onnx` traces the network of a model file from the normalized L (N, 1, H, W; any
N, and H, W multiples of 32) to its raw outputs (``ab`` / ``logits`` for photo models, ``lab`` /
``hist_logits`` for line art), and records in the graph's metadata which outputs those are and the
SHA-256 of the model file it came from. The decoding (annealed mean, line-art lightness) stays in
the model's own Python code, so both backends decode alike.

:class:`OnnxNetwork` runs such a graph with onnxruntime. :class:`tinct.pipeline.Colorizer` uses it
with ``backend="onnx"`` for colorizations without hints; hints (whose fusion stage solves sparse
systems) go through PyTorch. The PyTorch path stays the reference. With calibration images the
export is quantized to int8 (``tinct export MODEL -o F.onnx --int8 DIR``; run with
``--backend onnx --onnx F.onnx``): calibrate on images like the ones to be colorized.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from tinct import __version__
from tinct.errors import TinctError
from tinct.modelfile import file_sha256

OPSET = 17
META_KEY = "tinct"


class _Plain(torch.nn.Module):
    """The network without hints, its outputs as a tuple in ``keys`` order."""

    def __init__(self, model: torch.nn.Module, keys: tuple[str, ...]):
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, l: torch.Tensor):
        out = self.model(l)
        return tuple(out[k] for k in self.keys)


def export_onnx(model: str | os.PathLike, out: str | os.PathLike, calibrate: list | None = None,
                size: int = 256) -> Path:
    """Export the hint-free network of ``model`` (a shipped name or a model file) to ``out``.
    ``calibrate``: image files; the graph is then quantized to int8 (static, QDQ, per-channel
    weights), its activation ranges measured on those images' lightness at ``size`` px."""
    try:
        import onnx
    except ImportError:
        raise TinctError("ONNX export needs the onnx package: pip install 'tinct[onnx]'") from None
    from tinct.modelfile import load_model
    from tinct.pipeline import resolve_model

    path = resolve_model(model)
    net, record = load_model(path, role="colorizer")
    probe = torch.zeros(1, 1, 64, 64)
    with torch.inference_mode():
        keys = tuple(k for k, v in net(probe).items() if isinstance(v, torch.Tensor))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constants
            torch.onnx.export(_Plain(net, keys), (probe,), tmp, input_names=["l"], output_names=list(keys),
                              dynamic_axes={"l": {0: "n", 2: "h", 3: "w"}, **{k: {0: "n"} for k in keys}},
                              opset_version=OPSET, dynamo=False)
        import onnx

        if calibrate:
            _quantize(tmp, calibrate, size)
        graph = onnx.load(tmp)
        meta = {"model_sha256": file_sha256(path), "model": path.stem, "arch": record["arch"], "outputs": list(keys),
                "tinct_version": __version__}
        if calibrate:
            meta["int8"] = {"calibration_images": len(calibrate), "size": size}
        entry = graph.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(meta)
        onnx.save(graph, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _quantize(path: str, images: list, size: int) -> None:
    """Quantize the float graph at ``path`` in place to int8 (static QDQ, per-channel weights,
    min-max activation ranges over ``images``)."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from tinct import color
    from tinct.imageio import load_image
    from tinct.pipeline import working_size

    def feeds():
        for f in images:
            rgb = load_image(f).rgb
            l_full = torch.from_numpy(color.l_from_uint8(rgb))[None, None]
            l = torch.nn.functional.interpolate(l_full, size=working_size(rgb.shape[:2], size), mode="bilinear",
                                                align_corners=False, antialias=True)
            yield {"l": color.normalize_l(l).numpy().astype(np.float32)}

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = feeds()

        def get_next(self):
            return next(self.it, None)

    pre = f"{path}.pre.onnx"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quant_pre_process(path, pre, skip_symbolic_shape=True)
            quantize_static(pre, path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
    finally:
        for leftover in (pre, "augmented_model.onnx"):
            if os.path.exists(leftover):
                os.unlink(leftover)


class OnnxNetwork:
    """An exported graph under onnxruntime: ``net(l) -> {output name: tensor}``."""

    def __init__(self, path: str | os.PathLike, model_file: str | os.PathLike | None = None, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise TinctError("the ONNX backend needs onnxruntime: pip install 'tinct[onnx]'") from None
        self.path = Path(path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001  onnxruntime raises its own types
            raise TinctError(f"{self.path}: not a usable ONNX graph ({str(exc).splitlines()[0][:160]})") from None
        meta = json.loads(self.session.get_modelmeta().custom_metadata_map.get(META_KEY, "{}") or "{}")
        if not meta.get("outputs"):
            raise TinctError(f"{self.path}: not a tinct ONNX export (tinct export MODEL -o FILE.onnx)")
        if model_file is not None and meta.get("model_sha256") != file_sha256(Path(model_file)):
            raise TinctError(f"{self.path} was exported from another model file than {model_file}; export it again")
        self.outputs = list(meta["outputs"])
        self.meta = meta

    def __call__(self, l: torch.Tensor) -> dict[str, torch.Tensor]:
        res = self.session.run(self.outputs, {"l": np.ascontiguousarray(l.detach().cpu().numpy(), dtype=np.float32)})
        return {k: torch.from_numpy(v) for k, v in zip(self.outputs, res)}


def cached_export(model_file: str | os.PathLike) -> Path:
    """The ONNX export of a model file, made once and kept in the user's cache (by file hash)."""
    model_file = Path(model_file)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinct" / "onnx"
    out = base / f"{model_file.stem}-{file_sha256(model_file)[:16]}-{__version__}.onnx"
    if not out.is_file():
        export_onnx(model_file, out)
    return out

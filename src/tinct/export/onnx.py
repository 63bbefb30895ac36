"""ONNX export and an ONNX Runtime backend for the automatic (hint-free) path of a colorizer.

:func:`export_onnx` traces the network of a model file from the normalized L (N, 1, H, W; any
N, and H, W multiples of 32) to its raw outputs (``ab`` / ``logits`` for photo models, ``lab`` /
``hist_logits`` for line art), and records in the graph's metadata which outputs those are and the
SHA-256 of the model file it came from. The decoding (annealed mean, line-art lightness) stays in
the model's own Python code, so both backends decode alike.

:class:`OnnxNetwork` runs such a graph with onnxruntime. :class:`tinct.pipeline.Colorizer` uses it
with ``backend="onnx"`` for colorizations without hints; hints (whose fusion stage solves sparse
systems) go through PyTorch. The PyTorch path stays the reference.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from tinct import __version__
from tinct.errors import TinctError
from tinct.imageio import atomic_path
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


def export_onnx(model: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Export the hint-free network of ``model`` (a shipped name or a model file) to ``out``."""
    try:
        import onnx
    except ImportError:
        raise TinctError("ONNX export needs the onnx package: pip install 'tinct[onnx]'") from None
    from tinct.modelfile import load_model
    from tinct.modelfile import resolve_model

    path = resolve_model(model)
    net, record = load_model(path, role="colorizer")
    probe = torch.zeros(1, 1, 64, 64)
    with torch.inference_mode():
        # the decoder features only feed the hint stage, which runs in PyTorch
        keys = tuple(k for k, v in net(probe).items() if isinstance(v, torch.Tensor) and k != "features")
    out = Path(out)
    with atomic_path(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constants
            torch.onnx.export(_Plain(net, keys), (probe,), tmp, input_names=["l"], output_names=list(keys),
                              dynamic_axes={"l": {0: "n", 2: "h", 3: "w"}, **{k: {0: "n"} for k in keys}},
                              opset_version=OPSET, dynamo=False)
        graph = onnx.load(tmp)
        meta = {"model_sha256": file_sha256(path), "model": path.stem, "arch": record["arch"], "outputs": list(keys),
                "tinct_version": __version__}
        entry = graph.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(meta)
        onnx.save(graph, str(tmp))
    return out


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

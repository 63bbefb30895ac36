"""ONNX export and the ONNX Runtime backend: outputs within one level of PyTorch's, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from conftest import random_rgb  # noqa: E402
from tinct import Colorizer, Hints  # noqa: E402
from tinct.cli import main  # noqa: E402
from tinct.errors import TinctError  # noqa: E402
from tinct.export.onnx import OnnxNetwork, export_onnx  # noqa: E402
from tinct.modelfile import save_model  # noqa: E402
from tinct.registry import create_model  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("m")
    torch.manual_seed(0)
    photo = save_model(create_model("effunet", pretrained=False, width=8, hints=True), d / "photo8.safetensors")
    torch.manual_seed(1)
    line = save_model(create_model("lineart_unet", pretrained=False, width=8), d / "line8.safetensors")
    return photo, line


@pytest.mark.parametrize("which", [0, 1])
def test_onnx_backend_matches_torch(files, which):
    path = files[which]
    ref, fast = Colorizer(path, render_size=96), Colorizer(path, render_size=96, backend="onnx")
    assert fast.onnx is not None and fast.onnx.meta["model"] == path.stem
    for seed, (h, w) in enumerate([(80, 120), (150, 100)]):
        img = random_rgb(h, w, seed=seed)
        a, b = ref(img).astype(int), fast(img).astype(int)
        assert a.shape == b.shape and np.abs(a - b).max() <= 1, np.abs(a - b).max()
    # hints go through torch on both
    hints = Hints(palette=[((200, 30, 30), 1.0)])
    assert np.array_equal(ref(random_rgb(64, 64), hints), fast(random_rgb(64, 64), hints))


def test_export_command_and_errors(files, tmp_path, capsys):
    out = tmp_path / "photo.onnx"
    assert main(["export", str(files[0]), "-o", str(out)]) == 0
    net = OnnxNetwork(out, files[0])
    assert net.outputs == ["ab", "logits"] and net.meta["arch"] == "effunet"
    assert main(["export", str(files[0]), "-o", str(out)]) == 2  # no silent overwrite
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(TinctError, match="another model file"):
        OnnxNetwork(out, files[1])
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(TinctError, match="not a usable ONNX graph"):
        OnnxNetwork(bad)
    with pytest.raises(TinctError, match="backend must be one of"):
        Colorizer(files[0], backend="tensorrt")
    # the CLI path, end to end
    src = tmp_path / "in.png"
    Image.fromarray(random_rgb(64, 96)).convert("L").save(src)
    assert main(["colorize", str(src), "-o", str(tmp_path / "o.png"), "--model", str(files[0]),
                 "--backend", "onnx", "--render-size", "64"]) == 0
    export_onnx(files[1], tmp_path / "line.onnx")
    assert OnnxNetwork(tmp_path / "line.onnx").outputs == ["hist", "hist_logits", "lab"]


def test_a_given_onnx_graph_is_used_and_checked(files, tmp_path, capsys):
    """``--backend onnx --onnx FILE`` (and ``onnx_file=``) run an exported graph instead of the cached
    export; a missing one, one without ``--backend onnx``, or one of another model is one line."""
    graph = tmp_path / "p32.onnx"
    assert main(["export", str(files[0]), "-o", str(graph)]) == 0
    ref = Colorizer(files[0], render_size=96)
    given = Colorizer(files[0], render_size=96, backend="onnx", onnx_file=graph)
    assert given.onnx.path == graph
    img = random_rgb(80, 120, seed=3)
    assert np.abs(ref(img).astype(int) - given(img).astype(int)).max() <= 1
    src = tmp_path / "in.png"
    Image.fromarray(img).convert("L").save(src)
    assert main(["colorize", str(src), "-o", str(tmp_path / "o.png"), "--model", str(files[0]), "--backend", "onnx",
                 "--onnx", str(graph), "--render-size", "96"]) == 0
    capsys.readouterr()
    assert main(["colorize", str(src), "-o", str(tmp_path / "o2.png"), "--onnx", str(graph)]) == 2
    err = capsys.readouterr().err
    assert "--onnx needs" in err and "Traceback" not in err
    with pytest.raises(TinctError, match="no such ONNX graph"):
        Colorizer(files[0], backend="onnx", onnx_file=tmp_path / "missing.onnx")
    with pytest.raises(TinctError, match="another model file"):
        Colorizer(files[1], backend="onnx", onnx_file=graph)

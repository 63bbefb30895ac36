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


def test_int8_export_is_quantized_close_and_used_by_the_cli(files, tmp_path, capsys):
    """``tinct export --int8 DIR``: a static int8 graph calibrated on DIR's images (integer
    weights in the file, a quarter of the float size), whose colors stay close to PyTorch's; the
    CLI runs it with ``--backend onnx --onnx FILE``; bad options are one line."""
    import onnx

    cal = tmp_path / "cal"
    cal.mkdir()
    for i in range(6):
        Image.fromarray(random_rgb(96, 128, seed=10 + i)).save(cal / f"c{i}.png")
    f32, i8 = tmp_path / "p32.onnx", tmp_path / "p8.onnx"
    assert main(["export", str(files[0]), "-o", str(f32)]) == 0
    assert main(["export", str(files[0]), "-o", str(i8), "--int8", str(cal), "--calibration-images", "4"]) == 0
    graph = onnx.load(i8)
    assert sum(t.data_type == onnx.TensorProto.INT8 for t in graph.graph.initializer) > 10
    assert i8.stat().st_size < 0.5 * f32.stat().st_size
    assert OnnxNetwork(i8, files[0]).meta["int8"] == {"calibration_images": 4, "size": 256}
    ref, fast = Colorizer(files[0], render_size=96), Colorizer(files[0], render_size=96, backend="onnx", onnx_file=i8)
    img = random_rgb(80, 120, seed=3)
    a, b = ref(img).astype(float), fast(img).astype(float)
    assert 0 < np.abs(a - b).mean() < 6  # quantized (not the float graph), but close
    src = tmp_path / "in.png"
    Image.fromarray(img).convert("L").save(src)
    assert main(["colorize", str(src), "-o", str(tmp_path / "o.png"), "--model", str(files[0]), "--backend", "onnx",
                 "--onnx", str(i8), "--render-size", "96"]) == 0
    capsys.readouterr()
    for argv, match in [(["colorize", str(src), "-o", str(tmp_path / "o2.png"), "--onnx", str(i8)], "--onnx needs"),
                        (["export", str(files[0]), "-o", str(tmp_path / "x.onnx"), "--int8", str(tmp_path / "nope")],
                         "not a folder"),
                        (["export", str(files[0]), "-o", str(tmp_path / "x.onnx"), "--int8", str(cal),
                          "--calibration-images", "0"], "calibration-images")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err
    with pytest.raises(TinctError, match="no such ONNX graph"):
        Colorizer(files[0], backend="onnx", onnx_file=tmp_path / "missing.onnx")

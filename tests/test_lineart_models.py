"""Line-art colorizers: the "lab" output kind on the one inference path, training on drawings made
on the fly, the histogram and automatic hints, and ``tinct bench --lineart`` (generated drawings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import Colorizer, color
from tinct.cli import main
from tinct.errors import TinctError
from tinct.models.base import ColorNet
from tinct.registry import create_model
from tinct.train.data import ColorImages


class FlatPaint(ColorNet):
    """A "lab" network that paints everything L 70, a 20, b -30: what the pipeline does with it is exact."""

    output_kind = "lab"
    render_size = 64

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))

    def _forward(self, l, ab_hint, mask, global_hint):
        lab = torch.tensor([70.0, 20.0, -30.0]).view(1, 3, 1, 1).expand(l.shape[0], 3, *l.shape[-2:])
        return {"lab": torch.cat([color.normalize_l(lab[:, :1]), color.normalize_ab(lab[:, 1:])], 1) + self.p}

    def decode(self, out, temperature=None):
        return out["lab"][:, 1:]

    def decode_l(self, out):
        return out["lab"][:, :1]


def drawing(h=200, w=260) -> np.ndarray:
    """White paper with one-pixel black lines: a rectangle and a diagonal."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[40, 30:220] = img[160, 30:220] = 0
    img[40:161, 30] = img[40:161, 219] = 0
    for i in range(100):
        img[50 + i, 60 + i] = 0
    return img


def test_lab_model_fills_areas_and_keeps_full_resolution_lines():
    c = Colorizer(FlatPaint())
    assert c.render_size == 64 and c.output_kind == "lab"  # the model's own working size
    out = c(drawing())
    lab = color.rgb_to_lab(color.to_tensor(out))[0]
    fill = lab[:, 100, 150]  # inside the rectangle, far from lines
    assert abs(float(fill[0]) - 70) < 1.5 and abs(float(fill[1]) - 20) < 2 and abs(float(fill[2]) + 30) < 2
    line = lab[0, 160, 30:220]  # the one-pixel line, working at 64 px for a 260 px drawing
    assert float(line.max()) < 15, "lines stay dark at full resolution"
    assert float(lab[0, 161, 100]) > 55  # the row next to the line is fill, not a smear


def test_black_fills_stay_black():
    """Ink is never brightened by the painted lightness nor tinted by a neighbour's color: a black
    fill (a manga character's hair) and a page's black border stay neutral black."""
    img = drawing()
    img[60:140, 120:200] = 8  # a black fill inside the rectangle
    img[:, :12] = 0  # a black page border
    paint = FlatPaint()
    paint.fills_regions = True  # as every shipped line-art model
    lab = color.rgb_to_lab(color.to_tensor(Colorizer(paint)(img)))[0]
    for region in (lab[:, 70:130, 130:190], lab[:, :, :8]):
        assert float(region[0].max()) < 4.0  # as dark as drawn (gray 8 is L 2.4)
        assert float(region[1:].abs().max()) < 2.0  # no dim patch of the paint's color
    fill = lab[:, 100, 80]  # the paint elsewhere is unchanged
    assert abs(float(fill[0]) - 70) < 1.5 and abs(float(fill[1]) - 20) < 2


def test_photo_models_keep_their_lightness(make_rgb):
    """An "ab" model's output has the input's L exactly as before (no relighting)."""
    model = create_model("cnn4", width=8).eval()
    img = make_rgb(64, 64)
    out = Colorizer(model, render_size=64)(img)
    assert Colorizer(model).render_size == 256
    l_in = color.rgb_to_lab(color.to_tensor(img))[:, 0]
    l_out = color.rgb_to_lab(color.to_tensor(out))[:, 0]
    assert float((l_in - l_out).abs().mean()) < 1.0


def tiny(name):
    torch.manual_seed(0)
    kw = {"pretrained": False, "width": 8} if name == "lineart_unet" else {"width": 8}
    return create_model(name, **kw).eval()


@pytest.mark.parametrize("name", ["lineart_unet", "lineart_cnn"])
def test_histogram_and_point_hints_change_the_output(name):
    c = Colorizer(tiny(name), render_size=64)
    assert c.supports_hints and c.supports_global_hints
    l = torch.full((1, 1, 64, 64), 90.0)  # raw L of light paper
    plain = c.predict_tensors(l)
    red = c.predict_tensors(l, global_hint=torch.cat([torch.eye(512)[448:449], torch.ones(1, 1)], 1))
    assert plain[1] is not None and plain[1].shape == (1, 1, 64, 64)
    assert not torch.allclose(plain[0], red[0]), "the histogram hint reaches the output"


def test_automatic_hint_is_used_only_when_no_histogram_is_given():
    model = tiny("lineart_unet")
    with torch.no_grad():  # make the automatic histogram matter
        model.hist_head[2].bias.copy_(torch.linspace(-5, 5, 512))
    c = Colorizer(model, render_size=64)
    l = torch.full((1, 1, 64, 64), 90.0)
    auto = c.predict_tensors(l)[0]
    model.use_auto = False
    none = c.predict_tensors(l)[0]
    model.use_auto = True
    assert not torch.allclose(auto, none)
    given = torch.cat([torch.eye(512)[7:8], torch.ones(1, 1)], 1)
    with_hint = c.predict_tensors(l, global_hint=given)[0]
    model.use_auto = False
    assert torch.allclose(with_hint, c.predict_tensors(l, global_hint=given)[0]), "a given histogram wins"
    model.use_auto = True


def test_automatic_hint_temperature_is_a_stored_option(tmp_path):
    from tinct.modelfile import load_model, save_model

    model = tiny("lineart_unet")
    with torch.no_grad():
        model.hist_head[2].bias.copy_(torch.linspace(-5, 5, 512))
    c = Colorizer(model, render_size=64)
    l = torch.full((1, 1, 64, 64), 90.0)
    sharp = c.predict_tensors(l)[0]
    model.auto_temperature = 3.0
    flat = c.predict_tensors(l)[0]
    assert not torch.allclose(sharp, flat)
    given = torch.cat([torch.eye(512)[7:8], torch.ones(1, 1)], 1)
    model.auto_temperature = 1.0
    with_hint = c.predict_tensors(l, global_hint=given)[0]
    model.auto_temperature = 3.0
    assert torch.allclose(with_hint, c.predict_tensors(l, global_hint=given)[0]), "only the automatic hint changes"
    stored = create_model("lineart_unet", pretrained=False, width=8, auto_temperature=3.0).eval()
    stored.load_state_dict(model.state_dict())
    save_model(stored, tmp_path / "m.safetensors")
    loaded, record = load_model(tmp_path / "m.safetensors")
    assert record["kwargs"]["auto_temperature"] == 3.0 and loaded.auto_temperature == 3.0
    assert torch.allclose(Colorizer(loaded, render_size=64).predict_tensors(l)[0], flat, atol=1e-5)
    with pytest.raises(ValueError):
        create_model("lineart_unet", pretrained=False, width=8, auto_temperature=0.0)


def test_training_pairs_carry_a_seeded_drawing(tmp_path, make_rgb):
    for i in range(3):
        Image.fromarray(make_rgb(80, 90, seed=i)).save(tmp_path / f"{i}.png")
    files = sorted(tmp_path.glob("*.png"))
    ds = ColorImages(files, 64, lineart=True)
    a, b = ds[(1, 42)], ds[(1, 42)]
    assert a.shape == (4, 64, 64) and torch.equal(a, b)
    assert not torch.equal(a[3], ds[(1, 43)][3])
    val = ColorImages(files, 64, train=False, lineart=True)
    assert torch.equal(val[0], val[0])
    manga = ColorImages(files, 64, lineart=True, tone=1.0)  # every drawing with the manga look
    assert (manga[(1, 42)][3] < 0.05).float().mean() > (a[3] < 0.05).float().mean() + 0.02  # black fills, dots


def test_train_tone_is_checked(tmp_path, capsys, make_rgb):
    Image.fromarray(make_rgb(80, 90, seed=0)).save(tmp_path / "0.png")
    base = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--steps", "1", "--quiet"]
    assert main([*base, "--model", "lineart_unet", "--tone", "1.5"]) == 2
    assert "--tone must be between 0 and 1" in capsys.readouterr().err
    assert main([*base, "--model", "effunet", "--tone", "0.3"]) == 2
    assert "for line-art models" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny line-art models trained a few steps through ``tinct train`` (GAN and L2)."""
    from conftest import random_rgb

    root = tmp_path_factory.mktemp("lineart")
    data = root / "data"
    data.mkdir()
    for i in range(10):
        Image.fromarray(random_rgb(72, 72, seed=i)).save(data / f"{i}.png")
    paths = {}
    for name, extra in (("lineart_unet", ["--disc-kwargs", '{"ndf": 8}']), ("lineart_cnn", [])):
        kw = '{"pretrained": false, "width": 8}' if name == "lineart_unet" else '{"width": 8}'
        out = root / name
        assert main(["train", "--model", name, "--data", str(data), "--out", str(out), "--steps", "4",
                     "--batch-size", "2", "--crop", "64", "--threads", "1", "--workers", "0", "--quiet",
                     "--model-kwargs", kw, *extra]) == 0
        paths[name] = out / "model.safetensors"
        history = json.loads((out / "history.json").read_text())
        assert np.isfinite(history[-1]["val_PSNR"])
        assert (out / "samples").is_dir()
    cfg = json.loads((root / "lineart_unet" / "config.json").read_text())
    assert cfg["loss"] is None and cfg["disc_kwargs"] == {"ndf": 8}  # pix2pix, the architecture's own
    return data, paths


def test_trained_lineart_model_runs_on_every_interface(trained, tmp_path):
    _, paths = trained
    Image.fromarray(drawing()[::2, ::2].copy()).save(tmp_path / "sketch.png")
    out = tmp_path / "color.png"
    assert main(["colorize", str(tmp_path / "sketch.png"), "-o", str(out), "--model", str(paths["lineart_unet"]),
                 "--palette", "#ff0000,#00ff00"]) == 0
    with Image.open(out) as im:
        assert im.size == (130, 100) and im.mode == "RGB"
    c = Colorizer(paths["lineart_cnn"])
    assert c.render_size == 512 and c(Image.open(tmp_path / "sketch.png")).size == (130, 100)


def test_lineart_bench_rows_and_sheet(trained, tmp_path, capsys):
    data, paths = trained
    assert main(["bench", "lineart", "--models", f"gan={paths['lineart_unet']}", f"cnn={paths['lineart_cnn']}",
                 "--data", str(data), "--size", "64", "--limit", "3", "--sheet-count", "2", "--out",
                 str(tmp_path / "b"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "b" / "lineart_bench.json").read_text())
    kinds = {(r["model"], r["drawing"], r["hint"]) for r in report["rows"]}
    assert len(kinds) == 3 * 4 + 3 * 3  # three drawings each (Canny, XDoG, manga); the CNN has no automatic hint
    assert all(r["images"] == 3 and np.isfinite(r["psnr"]) for r in report["rows"])
    assert all(0.0 <= r["flat_share"] <= 1.0 for r in report["rows"])  # the colorist's figures, measured
    # both line-art models are painted region by region: without points every area is one flat color
    assert all(r["flat_share"] > 0.9 for r in report["rows"] if r["hint"] != "10 points")
    out = capsys.readouterr().out
    assert "seed report's rows" in out and "flat %" in out and "crossing %" in out
    with Image.open(tmp_path / "b" / "lineart_sheet.png") as sheet:
        assert sheet.width == 64 * (1 + 4 + 3 + 1)
    with pytest.raises(TinctError, match="not a line-art model"):
        from tinct.lineart.bench import run_lineart_bench

        model = create_model("cnn4", width=8)
        from tinct.modelfile import save_model

        run_lineart_bench(data, [str(save_model(model, tmp_path / "p.safetensors"))], tmp_path / "c", 64, 1,
                          progress=False)


def test_video_of_drawings_is_painted_whole():
    """A line-art model on the video path: every frame's fills take the model's lightness and colors."""
    from tinct.video import VideoColorizer

    import tinct.lineart.regions as regions_mod

    clip = [drawing()[::2, ::2].copy() for _ in range(3)]
    paint = FlatPaint()
    paint.fills_regions = True  # as every shipped line-art model
    found, real = [], regions_mod.drawing_areas
    regions_mod.drawing_areas = lambda *a, **k: found.append(1) or real(*a, **k)
    try:
        out = list(VideoColorizer(paint).frames(clip))
    finally:
        regions_mod.drawing_areas = real
    assert len(out) == 3 and len(found) == 3  # each frame's areas found once, for its lightness and colors
    for frame in out:
        lab = color.rgb_to_lab(color.to_tensor(frame))[0]
        assert abs(float(lab[0, 50, 75]) - 70) < 2 and abs(float(lab[1, 50, 75]) - 20) < 3
        assert float(lab[0, 80, 40]) < 20  # the bottom line of the rectangle stays dark


def test_a_point_fills_the_area_its_lines_enclose():
    """A point hint inside the rectangle colors the rectangle, not the paper outside it."""
    from tinct.hints import Hints, Point

    class Filled(FlatPaint):  # FlatPaint whose points fill their areas (tinct.hints.fill), as line art's do
        fills_regions = True

    Filled.hints = True
    c = Colorizer(Filled(), render_size=128)
    img = np.full((128, 128, 3), 255, np.uint8)
    img[40:100, 30] = img[40:100, 100] = img[40, 30:101] = img[100, 30:101] = 0  # a closed box
    out = c(img, Hints(points=[Point(x=65, y=70, rgb=(30, 200, 30))]))
    lab = color.rgb_to_lab(color.to_tensor(out))[0]
    inside, outside = lab[1:, 80, 50], lab[1:, 15, 15]
    assert float(inside[0]) < -20, "green fills the box"
    assert abs(float(outside[0]) - 20) < 4 and abs(float(outside[1]) + 30) < 4, "the paper outside keeps its paint"


def test_line_art_models_have_a_smaller_largest_working_size(tmp_path, capsys):
    """Line-art networks keep full-resolution features: their largest working size is 1024 (the
    memory budget), said in one line by the Python API and the CLI; photo models keep 2048."""
    from tinct.modelfile import save_model
    from tinct.pipeline import MAX_RENDER_SIZE

    c = Colorizer(tiny("lineart_cnn"))
    assert c.max_render_size == 1024 < MAX_RENDER_SIZE and Colorizer(tiny("lineart_cnn"), render_size=1024).render_size == 1024
    with pytest.raises(TinctError, match="at most 1024"):
        Colorizer(tiny("lineart_cnn"), render_size=1536)
    with pytest.raises(TinctError, match="at most 1024"):
        c(drawing(), render_size=2048)
    assert Colorizer(FlatPaint()).max_render_size == MAX_RENDER_SIZE
    path = save_model(tiny("lineart_cnn"), tmp_path / "la.safetensors")
    Image.fromarray(drawing()).save(tmp_path / "d.png")
    code = main(["colorize", str(tmp_path / "d.png"), "-o", str(tmp_path / "o.png"), "--model", str(path),
                 "--render-size", "2048"])
    err = capsys.readouterr().err
    assert code == 2 and "at most 1024" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1

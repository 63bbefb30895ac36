"""The one inference path: types in and out, full resolution, alpha, strips, hints."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tinct import color, modelfile, pipeline
from tinct.errors import ModelFileError, TinctError
from tinct.hints import Hints, Point
from tinct.modelfile import save_model
from tinct.pipeline import Colorizer, working_size
from tinct.registry import create_model


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    torch.manual_seed(0)
    m = create_model("effunet", pretrained=False, width=8, hints=True)
    # give the hint paths weight so hints change the output of the untrained net
    for p in list(m.hint_stem.parameters()) + list(m.global_fc.parameters()):
        torch.nn.init.normal_(p, std=0.5)
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    save_model(m, path, provenance={"note": "test"})
    return path


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:90, 0:130]
    img = np.stack([xx * 1.9, yy * 2.5, 255 - xx * 1.5], -1) + rng.normal(0, 8, (90, 130, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_pil_in_pil_out_full_resolution_and_luminance_kept(tiny_model_path, photo):
    c = Colorizer(tiny_model_path, render_size=64)
    gray = Image.fromarray(photo).convert("L")
    out = c(gray)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == gray.size
    l_in = color.rgb_to_l(color.to_tensor(np.asarray(gray.convert("RGB"))))
    l_out = color.rgb_to_l(color.to_tensor(np.asarray(out)))
    assert (l_in - l_out).abs().median() < 1.0


def test_numpy_in_numpy_out_and_alpha_kept(tiny_model_path, photo):
    c = Colorizer(tiny_model_path, render_size=64)
    out = c(photo)
    assert isinstance(out, np.ndarray) and out.shape == photo.shape and out.dtype == np.uint8
    rgba = np.dstack([photo, np.arange(90 * 130).reshape(90, 130) % 256]).astype(np.uint8)
    out = c(rgba)
    assert out.shape == (90, 130, 4) and np.array_equal(out[:, :, 3], rgba[:, :, 3])
    pil = c(Image.fromarray(rgba, "RGBA"))
    assert pil.mode == "RGBA" and np.array_equal(np.asarray(pil)[:, :, 3], rgba[:, :, 3])
    out16 = c((photo.astype(np.uint16) * 257)[:, :, 0])
    assert out16.shape == (90, 130, 3)


def test_color_input_is_colorized_from_luminance_only(tiny_model_path, photo):
    c = Colorizer(tiny_model_path, render_size=64)
    gray = color.to_uint8(color.gray_rgb(color.to_tensor(photo)))
    a, b = c(photo), c(gray)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 2.5  # only L (rounded) differs


def test_strips_equal_one_pass(tiny_model_path, photo, monkeypatch):
    c = Colorizer(tiny_model_path, render_size=64)
    one = c(photo)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 1000)
    assert np.array_equal(one, c(photo))


def test_working_size_multiple_of_32_and_render_size_used():
    assert working_size((3000, 4000), 256) == (192, 256)
    assert working_size((100, 30), 256) == (256, 64)
    assert working_size((10, 10), 256) == (256, 256)


def test_hints_reach_the_network(tiny_model_path, photo):
    c = Colorizer(tiny_model_path, render_size=64)
    base = c(photo)
    hinted = c(photo, hints=Hints(points=[Point(65, 45, (255, 0, 0), size=8)]))
    assert not np.array_equal(base, hinted)
    pal = c(photo, hints=Hints(palette=[((0, 200, 0), 1.0)]))
    assert not np.array_equal(base, pal)


def test_hints_refused_by_models_without_hint_input(tmp_path, photo):
    path = tmp_path / "nohints.safetensors"
    save_model(create_model("effunet", pretrained=False, width=8), path)
    with pytest.raises(TinctError, match="takes no hints"):
        Colorizer(path, render_size=64)(photo, hints=Hints(points=[Point(1, 1, (255, 0, 0))]))


def test_bad_model_and_options(tmp_path):
    with pytest.raises(ModelFileError, match="unknown model"):
        Colorizer("no-such-model")
    with pytest.raises(ModelFileError, match="not found"):
        Colorizer(tmp_path / "missing.safetensors")
    with pytest.raises(TinctError, match="render size"):
        Colorizer(create_model("cnn4"), render_size=8)


@pytest.mark.skipif(not modelfile.shipped_models(), reason="no shipped model yet")
def test_shipped_default_model_colorizes_and_point_hint_is_local():
    skdata = pytest.importorskip("skimage.data")
    img = np.asarray(Image.fromarray(skdata.astronaut()).resize((256, 256)))
    gray = np.asarray(Image.fromarray(img).convert("L"))
    c = Colorizer()
    out = c(gray)
    lab = color.rgb_to_lab(color.to_tensor(out))
    chroma = lab[:, 1:].norm(dim=1)
    assert chroma.mean() > 5  # really colorizes: not a gray or near-gray output
    if c.supports_hints:
        hinted = c(gray, hints=Hints(points=[Point(200, 200, (0, 220, 0), size=6)]))
        assert not np.array_equal(hinted, out)  # the hint reaches the shipped network


def test_python_api_checks_every_number_and_type(tiny_model_path, photo):
    """Per-call render sizes, hints of the wrong type, bad point numbers and huge or NaN palette
    weights are TinctErrors, never raw torch or Python errors."""
    c = Colorizer(tiny_model_path, render_size=64)
    for bad in (0, 10**6, "256", 64.0, True):
        with pytest.raises(TinctError, match="render size"):
            c(photo, render_size=bad)
    with pytest.raises(TinctError, match="tinct.Hints"):
        c(photo, hints={"points": [(1, 1, "#ff0000")]})
    for point in (Point(x=float("nan"), y=1, rgb=(1, 2, 3)), Point(x=1, y=1, rgb=(300, 0, 0)),
                  Point(x=1, y=1, rgb=(1, 2, 3), size=10**6), Point(x="1", y=1, rgb=(1, 2, 3))):
        with pytest.raises(TinctError):
            c(photo, hints=Hints(points=[point]))
    for weight in (float("nan"), float("inf"), -1.0, "2"):
        with pytest.raises(TinctError, match="weight"):
            c(photo, hints=Hints(palette=[((255, 0, 0), weight)]))
    huge = c(photo, hints=Hints(palette=[((255, 0, 0), 1e308), ((0, 0, 255), 1e308)]))
    same = c(photo, hints=Hints(palette=[((255, 0, 0), 1.0), ((0, 0, 255), 1.0)]))
    assert np.abs(huge.astype(int) - same.astype(int)).max() <= 1


def test_pil_images_are_turned_upright_as_files_are(tiny_model_path, photo):
    c = Colorizer(tiny_model_path, render_size=64)
    im = Image.fromarray(photo)
    exif = im.getexif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise for display
    im.info["exif"] = exif.tobytes()
    im.getexif()[0x0112] = 6
    out = c(im)
    assert out.size == (photo.shape[0], photo.shape[1])  # width and height swapped: upright
    np.testing.assert_array_equal(np.asarray(out), np.asarray(c(Image.fromarray(photo).transpose(Image.Transpose.ROTATE_270))))


def test_render_size_is_capped_by_the_memory_budget(tmp_path, capsys):
    """4096 px needed +5.9 GB over the idle process (scripts/memory_budget.py); the largest working
    size is 2048 everywhere (Python, CLI, server settings), each refusal one clear line."""
    from PIL import Image

    from tinct.cli import main
    from tinct.errors import TinctError
    from tinct.pipeline import MAX_RENDER_SIZE, check_render_size
    from tinct.serve import settings as server_settings

    assert MAX_RENDER_SIZE == server_settings.MAX_RENDER_SIZE == 2048
    assert check_render_size(2048) == 2048
    with pytest.raises(TinctError, match="2048"):
        check_render_size(4096)
    Image.new("L", (40, 30), 128).save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--render-size", "4096"]) == 2
    err = capsys.readouterr().err
    assert "2048" in err and "memory" in err and "Traceback" not in err
    with pytest.raises(TinctError, match="max render size"):
        server_settings.Settings(max_render_size=4096)


@pytest.mark.parametrize("low,full", [((6, 8), (50, 70)), ((32, 32), (20, 13)), ((7, 5), (7, 5)), ((1, 3), (9, 4))])
def test_row_upsampler_is_bilinear_interpolation(low, full):
    """The strips' upsampling equals F.interpolate(bilinear, align_corners=False), up or down."""
    small = torch.randn(1, 2, *low) * 40
    want = F.interpolate(small, size=full, mode="bilinear", align_corners=False)[0].numpy()
    up = pipeline._RowUpsampler(small, *full)
    got = np.stack([np.concatenate([up.rows(y, min(full[0], y + 3))[c] for y in range(0, full[0], 3)]) for c in range(2)])
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-3

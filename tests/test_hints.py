"""User hints (tinct.hints), the SIGGRAPH17 hint benchmark (tinct.bench.hints) and what one hint does (tinct.bench.hint_effects)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import color
from tinct.bench import hint_effects
from tinct.bench import hints as bench_hints
from tinct.errors import HintError, ImageError, TinctError
from tinct.hints import (
    GRID_CELLS,
    Hints,
    Point,
    grid_hint_from_truth,
    parse_color,
    rgb_to_ab,
    sample_points,
    sample_training_hints,
    to_tensors,
)
from tinct.modelfile import save_model
from tinct.models.base import ColorNet
from tinct.pipeline import Colorizer
from tinct.registry import create_model


# ---------------------------------------------------------------- parse_color, rgb_to_ab
@pytest.mark.parametrize("text,rgb", [("#ff8000", (255, 128, 0)), ("FF8000", (255, 128, 0)),
                                      ("255,128,0", (255, 128, 0)), (" 1, 2 ,3 ", (1, 2, 3)), ("#000000", (0, 0, 0))])
def test_parse_color(text, rgb):
    assert parse_color(text) == rgb


@pytest.mark.parametrize("text", ["", "red", "#ff80", "#ff80001", "#gg8000", "256,0,0", "-1,0,0", "1,2", "a,b,c", "1.5,2,3"])
def test_parse_color_errors(text):
    with pytest.raises(HintError, match="bad color"):
        parse_color(text)


def test_rgb_to_ab():
    skc = pytest.importorskip("skimage.color")
    rgb = np.array([[[255, 0, 0], [0, 128, 255]], [[128, 128, 128], [20, 200, 40]]], dtype=np.uint8)
    ab = rgb_to_ab(rgb)
    assert ab.shape == (2, 2, 2)
    np.testing.assert_allclose(ab.numpy() * color.AB_SCALE, skc.rgb2lab(rgb)[..., 1:], atol=0.05)
    assert rgb_to_ab((255, 0, 0)).shape == (2,) and rgb_to_ab((90, 90, 90)).abs().max() < 1e-3


# ---------------------------------------------------------------- to_tensors
def test_point_lands_at_the_scaled_place_with_its_color():
    rgb = (200, 40, 60)
    ab_hint, mask, glob = to_tensors(Hints(points=[Point(x=40, y=20, rgb=rgb, size=3)]), (128, 96), (64, 48))
    assert ab_hint.shape == (1, 2, 64, 48) and mask.shape == (1, 1, 64, 48) and glob is None
    # full-resolution pixel (40, 20) is working pixel (20, 10): a 3x3 patch centered on it
    expected = torch.zeros(64, 48)
    expected[9:12, 19:22] = 1
    torch.testing.assert_close(mask[0, 0], expected)
    ab = ab_hint[0, :, 10, 20]
    torch.testing.assert_close(ab, rgb_to_ab(rgb))
    assert not ab_hint[0, :, mask[0, 0] == 0].any()
    # back to RGB with the color's own lightness gives the color
    l = color.rgb_to_l(torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255)
    back = color.to_uint8(color.lab_to_rgb(torch.cat([l, color.denormalize_ab(ab).view(1, 2, 1, 1)], 1)))
    assert np.abs(back[0, 0].astype(int) - rgb).max() <= 1


def test_single_pixel_points_are_exact():
    """Same size, size-1 patches: every point paints exactly its own pixel (odd coordinates too)."""
    pts = [Point(x=x, y=y, rgb=(255, 0, 0), size=1) for x, y in [(11, 7), (12, 8), (0, 0), (31, 23)]]
    _, mask, _ = to_tensors(Hints(points=pts), (24, 32), (24, 32))
    assert mask.sum() == 4 and all(mask[0, 0, p.y, p.x] == 1 for p in pts)


@pytest.mark.parametrize("x,y", [(96, 5), (5, 128), (-1, 5), (5, -0.5), (200, 300)])
def test_points_outside_the_image_are_refused(x, y):
    with pytest.raises(HintError, match="outside"):
        to_tensors(Hints(points=[Point(x=x, y=y, rgb=(1, 2, 3))]), (128, 96), (64, 48))


def test_no_hints_render_empty():
    for hints in (None, Hints()):
        ab_hint, mask, glob = to_tensors(hints, (50, 60), (32, 32))
        assert not ab_hint.any() and not mask.any() and glob is None


def random_grid(alpha: bool) -> np.ndarray:
    rng = np.random.default_rng(1)
    g = rng.integers(0, 256, (GRID_CELLS, GRID_CELLS, 4 if alpha else 3), dtype=np.uint8)
    if alpha:
        g[..., 3] = 255
        g[3, 5, 3] = 0  # this cell gives no hint
    return g


def test_grid_rendering():
    grid = random_grid(alpha=True)
    ab_hint, mask, _ = to_tensors(Hints(grid=grid), (300, 300), (224, 224))
    cell, size = 224 // GRID_CELLS, 224 // GRID_CELLS // 2  # 16-pixel cells, 8-pixel patches
    assert mask.sum() == (GRID_CELLS**2 - 1) * size * size
    ab = rgb_to_ab(grid[..., :3])
    for i, j in [(0, 0), (13, 13), (7, 2), (3, 5)]:
        y, x = i * cell + cell // 2, j * cell + cell // 2
        if (i, j) == (3, 5):
            assert mask[0, 0, i * cell : (i + 1) * cell, j * cell : (j + 1) * cell].sum() == 0
        else:
            patch = mask[0, 0, i * cell : (i + 1) * cell, j * cell : (j + 1) * cell]
            assert patch.sum() == size * size and patch[4:12, 4:12].all()  # centered in the cell
            torch.testing.assert_close(ab_hint[0, :, y, x], ab[i, j])


def test_grid_from_truth_matches_the_user_grid():
    """Training renders a grid exactly where inference does (same patches, cell-mean colors)."""
    ab = torch.rand(2, 224, 224) - 0.5
    t_hint, t_mask = grid_hint_from_truth(ab)
    _, u_mask, _ = to_tensors(Hints(grid=random_grid(alpha=False)), (224, 224), (224, 224))
    torch.testing.assert_close(t_mask, u_mask[0])
    torch.testing.assert_close(t_hint[:, 8, 8], ab[:, :16, :16].mean(dim=(1, 2)))


def test_bad_grid_is_refused():
    with pytest.raises(HintError):
        to_tensors(Hints(grid=np.zeros((4, 4), dtype=np.uint8)), (64, 64), (64, 64))


# ---------------------------------------------------------------- global hints
def test_palette_and_reference_histograms():
    _, _, glob = to_tensors(Hints(palette=[((255, 0, 0), 2.0), ((0, 0, 255), 1.0)]), (64, 64), (64, 64))
    assert glob.shape == (1, 513) and glob[0, -1] == 1
    torch.testing.assert_close(glob[0, :512].sum(), torch.tensor(1.0))
    assert sorted(glob[0, :512][glob[0, :512] > 0].tolist()) == pytest.approx([1 / 3, 2 / 3])
    ref = np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    _, _, g2 = to_tensors(Hints(reference=ref), (64, 64), (64, 64))
    assert g2[0, -1] == 1 and abs(float(g2[0, :512].sum()) - 1) < 1e-5
    _, _, g3 = to_tensors(Hints(reference=ref, palette=[((0, 255, 0), 1.0)]), (64, 64), (64, 64))
    assert g3[0, -1] == 1 and abs(float(g3[0, :512].sum()) - 1) < 1e-5
    for bad in ([((1, 2, 3), -1.0)], [((1, 2, 3), 0.0)]):
        with pytest.raises(HintError):
            to_tensors(Hints(palette=bad), (64, 64), (64, 64))


# ---------------------------------------------------------------- sampling
def test_sample_points_reproducible_and_patch_means():
    ab = torch.rand(2, 40, 50) - 0.5
    a1, m1 = sample_points(ab, 7, 5, torch.Generator().manual_seed(3))
    a2, m2 = sample_points(ab, 7, 5, torch.Generator().manual_seed(3))
    a3, _ = sample_points(ab, 7, 5, torch.Generator().manual_seed(4))
    assert torch.equal(a1, a2) and torch.equal(m1, m2) and not torch.equal(a1, a3)
    assert m1.shape == (1, 40, 50) and not a1[:, m1[0] == 0].any()
    for seed in range(20):  # one point: a full square whose color is the truth's mean there
        a, m = sample_points(ab, 1, 5, torch.Generator().manual_seed(seed), sigma_frac=1.0)
        sel = m[0] > 0
        assert sel.sum() == 25  # even where the center falls at the border
        torch.testing.assert_close(a[:, sel].mean(dim=1), ab[:, sel].mean(dim=1))
        assert (a[:, sel] == a[:, sel][:, :1]).all()
    a0, m0 = sample_points(ab, 0, 5, torch.Generator().manual_seed(0))
    assert not a0.any() and not m0.any()


def test_sample_training_hints():
    gen = torch.Generator().manual_seed(0)
    rgb = torch.rand(4, 3, 32, 32)
    ab = color.normalize_ab(color.rgb_to_lab(rgb)[:, 1:])
    ab_hint, mask, glob = sample_training_hints(ab, rgb, gen)
    assert ab_hint.shape == (4, 2, 32, 32) and mask.shape == (4, 1, 32, 32) and glob.shape == (4, 513)
    _, mask, glob = sample_training_hints(ab, rgb, gen, p_none=1.0, p_grid=0.0, p_global=0.0)
    assert not mask.any() and not glob.any()
    _, mask, glob = sample_training_hints(ab, rgb, gen, p_none=0.0, p_grid=0.0, p_global=1.0)
    assert (mask.sum(dim=(1, 2, 3)) > 0).all() and (glob[:, -1] == 1).all()
    torch.testing.assert_close(glob[:, :512].sum(dim=1), torch.ones(4))
    r1 = sample_training_hints(ab, rgb, torch.Generator().manual_seed(9))
    r2 = sample_training_hints(ab, rgb, torch.Generator().manual_seed(9))
    assert all(torch.equal(x, y) for x, y in zip(r1, r2))


# ---------------------------------------------------------------- the benchmark
def make_images(folder, n: int = 3, size: int = 64) -> None:
    """Colorful test images: a hue gradient with a differently colored disc, lightness texture."""
    folder.mkdir()
    yy, xx = np.mgrid[0:size, 0:size] / size
    for k in range(n):
        a = 45 * np.cos(2 * np.pi * (k / n + 0.2 * xx))
        b = 45 * np.sin(2 * np.pi * (k / n + 0.2 * xx))
        disc = (yy - 0.4) ** 2 + (xx - 0.6) ** 2 < 0.05
        a, b = np.where(disc, -b, a), np.where(disc, a, b)
        l = 55 + 15 * np.sin(6 * yy) + np.where(disc, 15, 0)
        lab = torch.tensor(np.stack([l, a, b]), dtype=torch.float32)[None]
        Image.fromarray(color.to_uint8(color.lab_to_rgb(lab))).save(folder / f"img{k}.png")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    make_images(root / "imgs")
    net = create_model("effunet", pretrained=False, width=8, hints=True)
    eff = save_model(net, root / "tiny.safetensors", provenance={"note": "random weights"})
    res = bench_hints.run_hint_bench(root / "imgs", ["levin", eff], root / "out", size=64, counts=(0, 1, 5),
                                     progress=False)
    return root, res


def test_hint_bench_runs_and_writes(bench):
    root, res = bench
    assert set(res["methods"]) == {"levin", "tiny", bench_hints.GRAY}
    levin = res["methods"]["levin"]["psnr"]
    assert levin[0] < levin[1] < levin[2]  # Levin gets better with every hint
    assert levin[0] == pytest.approx(res["methods"][bench_hints.GRAY]["psnr"][0])  # no hints = gray
    assert all(math.isfinite(v) for v in res["methods"]["tiny"]["psnr"])
    assert res["reference"][bench_hints.SIGGRAPH17_LABEL] == [24.43, 25.37, 27.39]
    assert len(res["methods"]["levin"]["per_image"]) == 3 and res["protocol"]["patch"] == 6
    out = root / "out"
    assert json.loads((out / "hints_bench.json").read_text())["methods"]["levin"]["psnr"] == levin
    table = (out / "hints_bench.md").read_text()
    assert "| levin | " in table and "| SIGGRAPH17 (paper, ImageNet) | 24.43 | 25.37 | 27.39 |" in table
    with Image.open(out / "hints_curve.png") as im:
        assert im.format == "PNG" and im.width > 200


def test_hint_bench_is_reproducible(bench, tmp_path):
    root, res = bench
    again = bench_hints.run_hint_bench(root / "imgs", ["levin"], tmp_path, size=64, counts=(0, 1, 5), progress=False)
    assert again["methods"]["levin"]["per_image"] == res["methods"]["levin"]["per_image"]


def test_hint_bench_in_worker_processes_scores_the_same(bench, tmp_path):
    root, res = bench
    par = bench_hints.run_hint_bench(root / "imgs", ["levin", root / "tiny.safetensors"], tmp_path, size=64,
                                     counts=(0, 1, 5), progress=False, jobs=2)
    for name in ("levin", "tiny", bench_hints.GRAY):
        assert par["methods"][name]["per_image"] == res["methods"][name]["per_image"]
    with pytest.raises(TinctError, match="jobs"):
        bench_hints.run_hint_bench(root / "imgs", ["levin"], tmp_path, size=64, counts=(0,), progress=False, jobs=0)


def test_hint_bench_errors(tmp_path):
    with pytest.raises(ImageError):
        bench_hints.run_hint_bench(tmp_path / "missing", ["levin"], tmp_path / "o", progress=False)
    with pytest.raises(Exception, match="unknown model"):
        bench_hints.open_method("no-such-model")


def test_pil_curve_fallback(bench):
    _, res = bench
    png = bench_hints._plot_pil(res["protocol"]["counts"], {k: v["psnr"] for k, v in res["methods"].items()})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- what a hint does
class LocalHintNet(ColorNet):
    """Test model: spreads each hint over a 9x9 neighborhood and nowhere else."""

    hints = True

    def _forward(self, l, ab_hint, mask, global_hint):
        if mask is None:
            return {"ab": l.new_zeros(l.shape[0], 2, *l.shape[2:])}
        num = torch.nn.functional.avg_pool2d(ab_hint * mask, 9, 1, 4)
        den = torch.nn.functional.avg_pool2d(mask, 9, 1, 4)
        return {"ab": num / den.clamp(min=1e-6)}


def test_point_effect_and_side_by_side(tmp_path):
    img = np.full((64, 64, 3), 120, dtype=np.uint8)
    point = Point(x=20, y=30, rgb=(220, 60, 40), size=3)
    res = hint_effects.point_effect(Colorizer(LocalHintNet(), render_size=64), img, point, radius=10, return_images=True)
    assert res["inside"] > 5 and res["outside"] < 0.5 and res["ratio"] > 10
    assert res["region_pixels"] == pytest.approx(math.pi * 100, rel=0.05)
    # Levin spreads a single hint everywhere: the same measure says so
    lev = hint_effects.point_effect(Colorizer(create_model("levin")), img, point, radius=10)
    assert lev["ratio"] == pytest.approx(1.0, abs=0.05) and lev["outside"] > 5
    path = hint_effects.save_side_by_side(tmp_path / "pair.png", [res["images"]["before"], res["images"]["after"]],
                                         ["before", "after"], marks=[(point.x, point.y)])
    with Image.open(path) as im:
        assert im.size == (64 * 2 + 8, 64 + 18)
    with pytest.raises(ImageError):
        hint_effects.save_side_by_side(tmp_path / "bad.png", [img, img[:10]])


def test_reference_shift(bench):
    p = np.full(512, 1 / 512)
    q = np.zeros(512)
    q[0] = 1
    assert hint_effects.histogram_distances(p, p) == pytest.approx({"chi2": 0, "l1": 0, "hellinger": 0}, abs=1e-6)
    far = hint_effects.histogram_distances(np.eye(2)[0], np.eye(2)[1])
    assert far == pytest.approx({"chi2": 1, "l1": 2, "hellinger": 1})
    root, _ = bench
    image = np.asarray(Image.open(root / "imgs" / "img0.png"))
    reference = np.asarray(Image.open(root / "imgs" / "img1.png"))
    res = hint_effects.reference_shift(Colorizer(root / "tiny.safetensors"), image, reference)
    assert set(res["before"]) == {"rgb_chi2", "rgb_l1", "rgb_hellinger", "ab_chi2", "ab_l1", "ab_hellinger"}
    assert all(0 <= v <= 2 for v in res["before"].values()) and set(res["closer"]) == set(res["before"])
    with pytest.raises(HintError):  # Levin has no use for a reference image
        hint_effects.reference_shift(Colorizer(create_model("levin")), image, reference)


def test_hint_bench_merge_adds_an_earlier_runs_rows(bench, tmp_path, capsys):
    root, res = bench
    tiny_only = bench_hints.run_hint_bench(root / "imgs", [root / "tiny.safetensors"], tmp_path / "t", size=64,
                                           counts=(0, 1, 5), progress=False)
    merged = bench_hints.merge_results(tiny_only, res)
    assert merged["methods"]["levin"] == res["methods"]["levin"]
    assert merged["methods"]["tiny"] == tiny_only["methods"]["tiny"]  # this run's rows win
    other = bench_hints.run_hint_bench(root / "imgs", ["levin"], tmp_path / "o", size=64, counts=(0, 2),
                                       progress=False)
    with pytest.raises(TinctError, match="another protocol"):
        bench_hints.merge_results(other, res)
    # the command line: --merge writes the merged table
    code = bench_hints.main([str(root / "imgs"), "--models", str(root / "tiny.safetensors"), "--out",
                             str(tmp_path / "cli"), "--size", "64", "--counts", "0,1,5", "--merge",
                             str(root / "out" / "hints_bench.json")])
    assert code == 0
    assert "| levin | " in (tmp_path / "cli" / "hints_bench.md").read_text()
    code = bench_hints.main([str(root / "imgs"), "--models", "levin", "--out", str(tmp_path / "cli2"), "--size",
                             "64", "--counts", "0,1", "--merge", str(tmp_path / "nothing.json")])
    assert code == 2 and "not a readable hint-bench JSON" in capsys.readouterr().err


def test_a_worker_whose_parent_dies_exits(tmp_path):
    """A benchmark worker orphaned by a killed parent does not idle on."""
    import subprocess
    import sys
    import time

    grandchild = ("import sys, time; from tinct.bench.hints import _exit_with_parent; "
                  "_exit_with_parent(int(sys.argv[1]), 0.05); time.sleep(60)")
    middle = ("import os, subprocess, sys; p = subprocess.Popen([sys.executable, '-c', %r, str(os.getpid())], "
              "stdout=subprocess.DEVNULL); print(p.pid, flush=True)" % grandchild)
    out = subprocess.run([sys.executable, "-c", middle], capture_output=True, text=True, timeout=60)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        raise AssertionError("the orphaned worker kept running")

"""Where the model is guessing: the confidence map and suggested colors, through Python and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import color, uncertainty
from tinct.cli import main
from tinct.errors import TinctError
from tinct.hints import Hints
from tinct.hints.user import Point
from tinct.pipeline import Colorizer


def _logits_for(pixels: list[dict[int, float]], bins: torch.Tensor) -> torch.Tensor:
    """(1, Q, 1, len(pixels)) logits putting the given probabilities on the given bins."""
    p = torch.full((1, bins.shape[0], 1, len(pixels)), 1e-9)
    for i, probs in enumerate(pixels):
        for q, v in probs.items():
            p[0, q, 0, i] = v
    return p.log()


def _bin(bins, a, b):
    return int(((bins - torch.tensor([a, b])) ** 2).sum(1).argmin())


def test_confidence_is_the_mass_near_the_shown_color():
    bins = color.ab_bins()
    red, blue = _bin(bins, 50, 30), _bin(bins, 0, -50)
    logits = _logits_for([{red: 1.0}, {red: 0.5, blue: 0.5}, {red: 0.2, blue: 0.8}], bins)
    shown = bins[red].view(1, 2, 1, 1).expand(1, 2, 1, 3)
    conf = uncertainty.confidence(logits, bins, shown)[0, 0, 0]
    assert conf[0] == pytest.approx(1.0, abs=1e-4) and conf[1] == pytest.approx(0.5, abs=1e-3)
    assert conf[2] == pytest.approx(0.2, abs=1e-3)


def test_suggestions_are_distinct_modes_best_first():
    bins = color.ab_bins()
    red, red2, blue, green = _bin(bins, 50, 30), _bin(bins, 60, 30), _bin(bins, 0, -50), _bin(bins, -50, 40)
    p = torch.softmax(_logits_for([{red: 0.3, red2: 0.2, blue: 0.35, green: 0.15}], bins)[0, :, 0, 0], 0)
    s = uncertainty.suggestions(p, bins, k=5)
    assert len(s) == 3  # the two reds are one suggestion
    (ab0, p0), (ab1, p1), (ab2, p2) = s
    assert p0 == pytest.approx(0.5, abs=1e-3) and 50 <= ab0[0] <= 60  # red first: 0.3 + 0.2
    assert p1 == pytest.approx(0.35, abs=1e-3) and ab1[1] < -40 and p2 == pytest.approx(0.15, abs=1e-3)
    with pytest.raises(ValueError):
        uncertainty.suggestions(p, bins, k=0)


@pytest.fixture(scope="module")
def photo():
    return Colorizer("photo")


def test_colorizer_returns_the_map_on_request_without_changing_the_output(photo, make_rgb):
    rgb = make_rgb(90, 120, seed=3)
    plain = photo(rgb)
    out, conf = photo(rgb, confidence=True)
    assert np.array_equal(out, plain)
    assert conf.shape == (90, 120) and conf.dtype == np.float32 and 0 <= conf.min() and conf.max() <= 1
    assert conf.std() > 0.01  # it varies over the picture
    pil, conf_pil = photo(Image.fromarray(rgb), confidence=True)
    assert isinstance(pil, Image.Image) and np.allclose(conf_pil, conf)
    hinted, conf_h = photo(rgb, hints=Hints(points=[Point(x=60, y=45, rgb=(20, 200, 40), size=5)]), confidence=True)
    assert conf_h[45, 60] == pytest.approx(1.0, abs=1e-3)  # where the user gave the color, it is sure


def test_no_distribution_no_confidence(tmp_path, make_rgb):
    from tinct.modelfile import save_model
    from tinct.registry import create_model

    path = save_model(create_model("unet", base=8, depth=3), tmp_path / "unet.safetensors")
    with pytest.raises(TinctError, match="no confidence map"):
        Colorizer(path)(make_rgb(32, 32), confidence=True)


def test_cli_writes_the_map_beside_the_output(tmp_path, make_rgb, capsys):
    src = tmp_path / "old.png"
    Image.fromarray(make_rgb(48, 64, seed=1)).convert("L").save(src)
    out, conf = tmp_path / "old_color.png", tmp_path / "old_conf.png"
    assert main(["colorize", str(src), "-o", str(out), "--confidence", str(conf)]) == 0
    assert Image.open(conf).size == Image.open(out).size == (64, 48)
    assert "confidence map" in capsys.readouterr().out
    # an existing map is not overwritten, a folder is refused, a non-PNG path is refused
    assert main(["colorize", str(src), "-o", str(tmp_path / "b.png"), "--confidence", str(conf)]) == 2
    assert main(["colorize", str(tmp_path), "-o", str(tmp_path / "outdir"), "--confidence", str(tmp_path / "c.png")]) == 2
    assert main(["colorize", str(src), "-o", str(tmp_path / "d.png"), "--confidence", str(tmp_path / "c.jpg")]) == 2
    assert main(["colorize", str(src), "-o", str(tmp_path / "e.png"), "--confidence", str(src)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "one input file" in err and "ending in .png" in err and "overwrite the input" in err
    assert "Traceback" not in err and not (tmp_path / "b.png").exists()


def test_suggested_colors_at_a_point(photo, make_rgb):
    rgb = make_rgb(80, 100, seed=5)
    s = uncertainty.suggest(photo, rgb, 50, 40, k=4)
    assert 1 <= len(s) <= 4 and all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c, _ in s)
    probs = [p for _, p in s]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    lum = color.rgb_to_lab(torch.tensor(rgb[40, 50], dtype=torch.float32).view(1, 3, 1, 1) / 255)[0, 0, 0, 0]
    for c, _ in s:  # each suggestion keeps the pixel's lightness
        l = color.rgb_to_lab(torch.tensor(c, dtype=torch.float32).view(1, 3, 1, 1) / 255)[0, 0, 0, 0]
        assert abs(float(l - lum)) < 6
    for bad in ({"x": -1, "y": 0}, {"x": 100, "y": 0}, {"x": float("nan"), "y": 0}, {"x": 0, "y": 0, "k": 0},
                {"x": 0, "y": 0, "k": 1000}):
        with pytest.raises(TinctError):
            uncertainty.suggest(photo, rgb, **{"k": 3, **bad})


def test_variants_differ_where_unsure_and_agree_where_sure(photo):
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:96, 0:128]
    gray = ((np.sin(xx / 9.0) + np.cos(yy / 7.0)) * 40 + 120 + rng.normal(0, 4, (96, 128))).clip(0, 255).astype(np.uint8)
    gray = np.repeat(gray[:, :, None], 3, axis=2)
    outs = uncertainty.variants(photo, gray, 4)
    assert len(outs) == 4 and np.array_equal(outs[0], photo(gray))  # the first is the usual output
    _, conf = photo(gray, confidence=True)
    lab = [color.rgb_to_lab(torch.from_numpy(o).permute(2, 0, 1)[None].float() / 255)[0, 1:].numpy() for o in outs]
    spread = np.mean([np.sqrt(((lab[0] - x) ** 2).sum(0)) for x in lab[1:]], axis=0)
    unsure, sure = conf <= np.quantile(conf, 0.25), conf >= np.quantile(conf, 0.75)
    assert spread[unsure].mean() > 1.5 * spread[sure].mean()
    pil = uncertainty.variants(photo, Image.fromarray(gray), 2)
    assert all(isinstance(p, Image.Image) for p in pil)
    for bad in (0, 9, 2.5, True):
        with pytest.raises(TinctError):
            uncertainty.variants(photo, gray, bad)


def test_hints_apply_on_top_of_a_chosen_variant(photo):
    """A chosen alternative is the base later hints edit: the point's color stands, and elsewhere the
    alternative's changes stay on top of what the hints did."""
    import skimage.data
    from tinct.hints import Hints, Point

    rgb = np.asarray(Image.fromarray(skimage.data.coffee()).resize((224, 160), Image.BICUBIC))
    gray = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None], 3, axis=2)
    yy, xx = np.mgrid[0:160, 0:224]
    first, _, alt, _ = uncertainty.variants(photo, gray, 4)
    assert np.array_equal(uncertainty.variants(photo, gray, 4, only=2)[0], alt)  # one alone is the same
    lab = lambda im: color.rgb_to_lab(torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255)[0, 1:].numpy()
    for x, y, c in ((30, 30, (200, 40, 40)), (180, 120, (40, 160, 60))):
        hints = Hints(points=[Point(x=x, y=y, rgb=c, size=6)])
        hinted, on_top = photo(gray, hints), uncertainty.variants(photo, gray, 4, hints, only=2)[0]
        at_point = np.sqrt(((lab(on_top) - lab(hinted)) ** 2).sum(0))[y - 3 : y + 3, x - 3 : x + 3]
        assert at_point.mean() < 1.0  # the user's color stands
        change = np.sqrt(((lab(alt) - lab(first)) ** 2).sum(0))
        far = (change > 5) & ((yy - y) ** 2 + (xx - x) ** 2 > 60**2)
        kept = np.sqrt(((lab(on_top) - lab(hinted) - (lab(alt) - lab(first))) ** 2).sum(0))
        assert far.sum() > 1000 and kept[far].mean() < 0.2 * change[far].mean()  # the alternative stays
    with pytest.raises(TinctError, match="variant must be"):
        uncertainty.variants(photo, gray, 4, only=4)


def test_cli_writes_the_alternatives_beside_the_output(tmp_path, make_rgb, capsys):
    src = tmp_path / "old.png"
    Image.fromarray(make_rgb(48, 64, seed=2)).convert("L").save(src)
    out = tmp_path / "old_color.png"
    assert main(["colorize", str(src), "-o", str(out), "--variants", "3"]) == 0
    alts = [tmp_path / "old_color_alt1.png", tmp_path / "old_color_alt2.png"]
    assert out.exists() and all(a.exists() for a in alts)
    assert "2 alternatives" in capsys.readouterr().out
    assert main(["colorize", str(src), "-o", str(tmp_path / "x.png"), "--variants", "1"]) == 2
    assert main(["colorize", str(tmp_path), "-o", str(tmp_path / "d"), "--variants", "3"]) == 2
    assert main(["colorize", str(src), "-o", str(out), "--variants", "3", "--overwrite"]) == 0
    err = capsys.readouterr().err
    assert "between 2 and 8" in err and "one input file" in err and "Traceback" not in err
    # --variant K: that alternative as the output, then with a hint on top of it
    chosen = tmp_path / "chosen.png"
    assert main(["colorize", str(src), "-o", str(chosen), "--variants", "3", "--variant", "2", "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(chosen)), np.asarray(Image.open(alts[1])))
    plain = tmp_path / "plain.png"
    assert main(["colorize", str(src), "-o", str(plain), "--variant", "0", "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(out)))
    hinted = tmp_path / "hinted.png"
    assert main(["colorize", str(src), "-o", str(hinted), "--variants", "3", "--variant", "2",
                 "--hint", "10,10,#2040ff", "--overwrite"]) == 0
    assert "alternative 2 of 3 with the hints on top" in capsys.readouterr().out
    assert not np.array_equal(np.asarray(Image.open(hinted)), np.asarray(Image.open(chosen)))
    assert main(["colorize", str(src), "-o", str(tmp_path / "y.png"), "--variant", "4"]) == 2
    assert main(["colorize", str(tmp_path), "-o", str(tmp_path / "e"), "--variant", "1"]) == 2
    err = capsys.readouterr().err
    assert "--variant must be between 0 and 3" in err and "--variant takes one input file" in err

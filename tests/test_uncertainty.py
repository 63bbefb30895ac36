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


def test_learned_alternatives_keep_the_shown_colors_where_the_model_is_sure():
    from tinct.uncertainty.heads import AlternativeHeads, multiple_choice_loss

    torch.manual_seed(0)
    heads = AlternativeHeads(k=3, in_channels=16, width=8)
    feats, ab = torch.randn(2, 16, 6, 8), torch.randn(2, 2, 12, 16) * 0.3
    doubt = torch.zeros(2, 1, 6, 8)
    doubt[:, :, :, 4:] = 1.0  # sure on the left half, guessing on the right
    alts = heads.colors(feats, ab, doubt)
    assert alts.shape == (2, 3, 2, 12, 16)
    assert torch.equal(alts[..., :, :6], ab[:, None, :, :, :6].expand(-1, 3, -1, -1, -1))
    assert (alts[..., :, 10:] - ab[:, None, :, :, 10:]).abs().mean() > 1e-3
    # the multiple-choice loss: per picture the closest head takes 1 - relax of the weight
    truth = torch.zeros(1, 2, 4, 4)
    cand = torch.stack([torch.full((2, 4, 4), v) for v in (0.1, 0.5, 0.9)])[None].requires_grad_(True)
    loss = multiple_choice_loss(cand, truth, relax=0.3)
    assert loss.item() == pytest.approx(0.7 * 0.1 + 0.1 * (0.1 + 0.5 + 0.9))
    loss.backward()
    grads = cand.grad.abs().sum((0, 2, 3, 4))
    assert grads[0] > 7 * grads[1] and grads[1] == pytest.approx(grads[2])
    # the shown colors compete: where they are best, every head learns only through relax
    better = multiple_choice_loss(cand, truth, relax=0.3, shown=torch.full((1, 2, 4, 4), 0.05))
    worse = multiple_choice_loss(cand, truth, relax=0.3, shown=torch.full((1, 2, 4, 4), 0.2))
    assert better.item() == pytest.approx(0.1 * (0.1 + 0.5 + 0.9)) and worse.item() == pytest.approx(loss.item())
    # an alternative less colorful than the shown colors is made as colorful where the model guesses
    from tinct.uncertainty.heads import CF_MARGIN, as_colorful, colorfulness

    l = torch.full((1, 8, 10), 60.0)
    shown = torch.zeros(2, 8, 10)
    shown[0, :, :5], shown[1, :, 5:] = 30.0, -25.0  # two colors
    one_hue = torch.zeros(2, 8, 10)
    one_hue[0] = 30.0  # the same chroma on the left, one hue everywhere: less colorful
    d = torch.zeros(1, 8, 10)
    d[:, 4:] = 1.0
    assert colorfulness(l, one_hue) < colorfulness(l, shown)
    raised = as_colorful(l, one_hue, shown, d)
    assert colorfulness(l, raised) >= CF_MARGIN * colorfulness(l, shown) - 1e-3
    assert torch.equal(raised[:, :4], one_hue[:, :4])  # where the model is sure, untouched
    assert torch.equal(as_colorful(l, shown * 1.5, shown, d), shown * 1.5)  # colorful enough: as it is
    tempered = AlternativeHeads(k=3, in_channels=16, width=8, scale=0.5, power=2.0)
    tempered.load_state_dict(heads.state_dict())
    half_doubt = torch.full((2, 1, 6, 8), 0.5)
    assert torch.allclose(tempered(feats, ab, half_doubt), heads(feats, ab, half_doubt) * 0.5 * 0.5)
    for bad in ({"k": 0}, {"k": 17}, {"width": 2}, {"scale": 0}, {"power": 9}):
        with pytest.raises(ValueError):
            AlternativeHeads(**{"k": 3, "in_channels": 16, "width": 8, **bad})


def _train_alternatives_args(tmp_path, base, out, steps=4):
    return ["train-alternatives", str(base), "--data", str(tmp_path / "imgs"), "--val-dir", str(tmp_path / "imgs"),
            "--val-max", "3", "--k", "2", "--width", "8", "--steps", str(steps), "--batch-size", "2", "--crop", "48",
            "--workers", "0", "--threads", "1", "--checkpoint-minutes", "0", "--quiet", "--out", str(out)]


def test_train_alternatives_writes_a_model_file_that_resumes_exactly(tmp_path, make_rgb, monkeypatch, capsys):
    """``tinct train-alternatives`` on a tiny network: the model file carries the network, its hint
    stage and the alternatives; the variants use the learned ones; a run stopped midway and resumed
    ends with the same weights; every checkpoint's figures are in the run's history.csv."""
    import tinct.train.alternatives as training
    from tinct.modelfile import load_alternatives, read_record, save_model
    from tinct.registry import create_model

    (tmp_path / "imgs").mkdir()
    for i in range(5):
        Image.fromarray(make_rgb(56, 64, seed=10 + i)).save(tmp_path / "imgs" / f"{i}.png")
    torch.manual_seed(0)
    base = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "base.safetensors")
    whole = tmp_path / "whole.safetensors"
    assert main(_train_alternatives_args(tmp_path, base, whole)) == 0
    assert "best per image" in capsys.readouterr().out
    history = (tmp_path / "whole.safetensors.run" / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,time,psnr_shown,psnr_best") and len(history) == 1 + 4 + 1
    record = read_record(whole)
    assert record["alternatives"]["kwargs"] == {"k": 2, "in_channels": 16, "width": 8, "scale": 1.0, "power": 1.0}
    assert record["provenance"]["alternatives"]["steps"] == 4
    col = Colorizer(whole)
    assert col.alternatives is not None and Colorizer(base).alternatives is None
    # the run stopped at step 3, then resumed: the same weights as the run in one go
    calls = {"n": 0}
    real_loss = training.multiple_choice_loss

    def stop_at_third(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_loss(*a, **kw)
    monkeypatch.setattr(training, "multiple_choice_loss", stop_at_third)
    parts = tmp_path / "parts.safetensors"
    assert main(_train_alternatives_args(tmp_path, base, parts)) != 0  # "interrupted"
    monkeypatch.setattr(training, "multiple_choice_loss", real_loss)
    assert main(_train_alternatives_args(tmp_path, base, parts) + ["--resume"]) == 0
    a, b = load_alternatives(whole).state_dict(), load_alternatives(parts).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # variants 1..K are the learned ones: they change the picture only where the model guesses
    gray = np.repeat(np.asarray(Image.fromarray(make_rgb(48, 64, seed=3)).convert("L"))[:, :, None], 3, axis=2)
    outs = uncertainty.variants(col, gray, 4)
    plain = uncertainty.variants(Colorizer(base), gray, 4)
    assert np.array_equal(outs[0], plain[0]) and np.array_equal(outs[3], plain[3])
    assert not np.array_equal(outs[1], plain[1])
    assert main(_train_alternatives_args(tmp_path, base, base)) == 2  # never over its own base
    assert "base model file" in capsys.readouterr().err

"""The learned hint fusion stage (network colors + Levin propagation) and its trainer."""

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import color
from tinct.cli import main
from tinct.errors import TinctError
from tinct.hints import Hints, Point
from tinct.modelfile import load_fusion, load_model, read_record, save_model
from tinct.hints.fusion import HintFusion, guide_for, hint_density, match_hints, propagate
from tinct.pipeline import Colorizer
from tinct.registry import create_model
from tinct.train.fusion import FusionConfig, train_fusion

TINY = {"pretrained": False, "width": 8, "hints": True}


def _inputs(n=1, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    l = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    ab_hint = torch.zeros(n, 2, size, size)
    mask = torch.zeros(n, 1, size, size)
    ab_hint[:, 0, 10:14, 20:24], ab_hint[:, 1, 10:14, 20:24] = 0.4, -0.2
    mask[:, :, 10:14, 20:24] = 1
    return l, ab_hint, mask


def test_hint_density_grows_with_hints():
    mask = torch.zeros(1, 1, 64, 64)
    d0 = hint_density(mask)
    mask[:, :, 30:34, 30:34] = 1
    d1 = hint_density(mask)
    assert d0.shape == (1, 3, 64, 64) and float(d0.abs().max()) == 0
    assert 0 < float(d1.max()) <= 1
    assert float(d1[0, 0, 32, 32]) > float(d1[0, 0, 0, 0])  # denser near the hint
    assert torch.allclose(d1[0, 2], d1[0, 2, 0, 0].expand(64, 64))  # the overall density is flat


def _sources(l, net, ab_hint, mask):
    """The local propagation, its reach, plain Levin and (zero-feature) matched hints."""
    lv, reach = propagate(l, net, ab_hint, mask, return_reach=True)
    plain = propagate(l, net, ab_hint, mask, 0.0)
    matched = match_hints(torch.ones(l.shape[0], 4, 16, 16), ab_hint, mask, l.shape[-2:])
    return lv, reach, plain, matched


def test_untrained_fusion_is_the_even_mix_and_keeps_hints():
    """Untrained, the four-source mix is almost the even net/local mix (the other two sources start
    nearly off, bias -6); all of the weight on one source gives that source."""
    l, ab_hint, mask = _inputs()
    net = torch.full((1, 2, 64, 64), 0.1)
    lv, _, plain, matched = _sources(l, net, ab_hint, mask)
    f = HintFusion()
    fused = f.fuse(l, net, lv, ab_hint, mask, plain, matched)
    free = mask[0, 0] < 0.5
    assert torch.allclose(fused[0][:, free], (0.5 * lv + 0.5 * net)[0][:, free], atol=2e-3)
    assert torch.equal(fused[:, :, mask[0, 0] > 0.5], ab_hint[:, :, mask[0, 0] > 0.5])
    # plain Levin reaches every pixel with the hint's color; the prior-weighted one fades
    assert float((plain[0, 0][free] - 0.4).abs().max()) < 1e-6 and float(lv[0, 0, 60, 60]) < 0.35
    with torch.no_grad():
        f.out.bias[:4] = torch.tensor([-20.0, -20.0, 20.0, -20.0])
    assert torch.allclose(f.fuse(l, net, lv, ab_hint, mask, plain, matched), plain, atol=1e-5)


def test_the_colorizer_fuses_only_with_point_hints():
    """The network and its fusion stage are composed in the Colorizer: without point hints the
    stage does not run; an image without points in a batch keeps the network's colors."""
    torch.manual_seed(0)
    net = create_model("effunet", **TINY).eval()
    plain, fused = Colorizer(net), Colorizer(net, fusion=HintFusion())
    l, ab_hint, mask = _inputs(n=2)
    raw_l = color.denormalize_l(l)
    # no point hints: the fusion stage is not run, the output is the network's
    assert torch.equal(fused.predict_tensors(raw_l)[0], plain.predict_tensors(raw_l)[0])
    # hints on image 0 only: image 1 keeps the network colors (resized to the hint size)
    mask[1] = 0
    out = color.normalize_ab(fused.predict_tensors(raw_l, ab_hint, mask)[0])
    base = color.resize_ab(color.normalize_ab(plain.predict_tensors(raw_l, ab_hint, mask)[0]), (64, 64))
    assert out.shape == (2, 2, 64, 64)
    assert torch.allclose(out[1], base[1], atol=1e-5)
    assert torch.allclose(out[0][:, 10:14, 20:24], ab_hint[0][:, 10:14, 20:24], atol=1e-5)
    assert not torch.allclose(out[0], base[0])


@pytest.fixture(scope="module")
def fusion_setup(tmp_path_factory, ):
    from conftest import random_rgb

    d = tmp_path_factory.mktemp("fusion")
    data = d / "images"
    data.mkdir()
    for i in range(6):
        Image.fromarray(random_rgb(80, 96, seed=i)).save(data / f"im{i}.png")
    (data / "broken.jpg").write_bytes(b"not a jpeg")  # unreadable files are skipped
    torch.manual_seed(0)
    base = create_model("effunet", **TINY)
    base_path = save_model(base, d / "base.safetensors")
    out = d / "fused.safetensors"
    scores = train_fusion(FusionConfig(base=str(base_path), data=str(data), out=str(out), samples=6, size=64,
                                       crop=32, steps=40, batch_size=4, max_hints=50, lr=3e-3, quiet=True))
    return base_path, out, scores, data


def test_train_fusion_writes_a_fused_model(fusion_setup):
    base_path, out, scores, _ = fusion_setup
    assert {"mse_plain_before", "mse_matched_before"} <= set(scores)
    record = read_record(out)
    assert record["fusion"]["kwargs"]["prior_weight"] == 1e-4
    assert load_fusion(out).out.out_channels == 6
    assert record["kwargs"]["width"] == 8 and record["kwargs"]["temperature"] == 0.4  # every argument recorded
    assert record["provenance"]["fusion"]["samples"] == 6
    # a 40-step training of a random tiny network on 5 samples, scored on 1: only a sanity bound
    # (the shipped stage's held-out figures are in the model card)
    assert scores["mse_fused"] < 1.25 * max(scores["mse_net_before"], scores["mse_propagated_before"])
    model, _ = load_model(out)
    base, _ = load_model(base_path)
    for k, v in base.state_dict().items():  # the base network is unchanged
        assert torch.equal(model.state_dict()[k], v)
    assert any(float(p.detach().abs().sum()) > 0 for p in load_fusion(out).out.parameters())  # the fusion trained


def test_train_fusion_resumes_exactly(fusion_setup, tmp_path, monkeypatch):
    """Stopped at any step and resumed from its checkpoint, the run ends with the weights of a run
    that was never stopped."""
    import tinct.train.fusion as tf

    base_path, _, _, data = fusion_setup
    cache = str(tmp_path / "samples.pt")
    cfg = lambda out, **kw: FusionConfig(**{**dict(base=str(base_path), data=str(data), out=str(tmp_path / out),
                                                   samples=6, size=64, crop=32, steps=12, batch_size=4,
                                                   max_hints=50, lr=3e-3, quiet=True, cache=cache,
                                                   checkpoint_minutes=0.0), **kw})
    train_fusion(cfg("whole.safetensors"))
    assert not (tmp_path / "whole.safetensors.ckpt.pt").exists()  # finished: nothing left to resume
    calls, real_loss = [0], tf._loss

    def stop_at_step_7(*a):
        calls[0] += 1
        if calls[0] == 8:
            raise KeyboardInterrupt
        return real_loss(*a)

    monkeypatch.setattr(tf, "_loss", stop_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        train_fusion(cfg("parts.safetensors"))
    monkeypatch.setattr(tf, "_loss", real_loss)
    assert torch.load(tmp_path / "parts.safetensors.ckpt.pt", weights_only=False)["step"] == 7
    rows = (tmp_path / "parts.safetensors.history.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and [int(r.split(",")[0]) for r in rows[1:]] == list(range(8))
    with pytest.raises(TinctError, match="other settings"):
        train_fusion(cfg("parts.safetensors", resume=True, lr=1e-3))
    train_fusion(cfg("parts.safetensors", resume=True))
    whole, parts = load_fusion(tmp_path / "whole.safetensors"), load_fusion(tmp_path / "parts.safetensors")
    for (k, v), w in zip(whole.state_dict().items(), parts.state_dict().values()):
        assert torch.equal(v, w), k
    with pytest.raises(TinctError, match="no checkpoint"):
        train_fusion(cfg("never.safetensors", resume=True))


def test_fused_model_through_the_pipeline(fusion_setup, make_rgb):
    _, out, _, _ = fusion_setup
    c = Colorizer(out)
    img = make_rgb(96, 128, seed=3)
    auto = c(img)
    hinted = c(img, Hints(points=[Point(40, 30, (220, 30, 30), size=6)]))
    assert hinted.shape == img.shape and hinted.dtype == np.uint8
    assert np.array_equal(auto, Colorizer(out)(img))  # deterministic
    assert not np.array_equal(auto, hinted)
    # the hinted pixel is red-ish: the hint color is kept exactly at the working size
    r, g, b = (int(v) for v in hinted[30, 40])
    assert r > g and r > b


def test_cli_train_fusion(fusion_setup, tmp_path, capsys):
    base_path, _, _, data = fusion_setup
    out = tmp_path / "cli.safetensors"
    code = main(["train-fusion", str(base_path), "--data", str(data), "--out", str(out), "--samples", "3",
                 "--size", "64", "--crop", "32", "--steps", "2", "--batch-size", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "fused" in captured.out and out.exists()
    # writing over the base is refused with one line
    code = main(["train-fusion", str(base_path), "--data", str(data), "--out", str(base_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "is the base model file" in err and "Traceback" not in err


def test_cli_train_fusion_width_is_recorded_and_checked(fusion_setup, tmp_path, capsys):
    base_path, _, _, data = fusion_setup
    out = tmp_path / "wide.safetensors"
    args = ["train-fusion", str(base_path), "--data", str(data), "--samples", "3", "--size", "64", "--crop", "32",
            "--steps", "2", "--batch-size", "2", "--quiet"]
    assert main([*args, "--out", str(out), "--width", "12"]) == 0, capsys.readouterr().err
    assert read_record(out)["fusion"]["kwargs"]["width"] == 12
    assert load_fusion(out).out.in_channels == 12  # the file describes its own stage
    assert read_record(fusion_setup[1])["fusion"]["kwargs"]["width"] == 32  # the default
    capsys.readouterr()
    code = main([*args, "--out", str(tmp_path / "bad.safetensors"), "--width", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--width must be 4-256" in err and not (tmp_path / "bad.safetensors").exists()


def test_cli_train_fusion_refuses_a_model_without_hints(tmp_path, capsys, fusion_setup):
    _, _, _, data = fusion_setup
    plain = save_model(create_model("effunet", pretrained=False, width=8), tmp_path / "plain.safetensors")
    code = main(["train-fusion", str(plain), "--data", str(data), "--out", str(tmp_path / "x.safetensors"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "needs a hint model" in err


def test_hint_bench_scores_the_network_alone_too(fusion_setup, tmp_path):
    from conftest import random_rgb
    from tinct.bench.hints import run_hint_bench

    _, fused, _, _ = fusion_setup
    data = tmp_path / "val"
    data.mkdir()
    for i in range(2):
        Image.fromarray(random_rgb(64, 80, seed=10 + i)).save(data / f"v{i}.png")
    res = run_hint_bench(data, [str(fused)], tmp_path / "out", size=64, counts=(0, 20), progress=False)
    rows = res["methods"]
    assert set(rows) >= {"fused", "fused (network only)"}
    assert rows["fused"]["psnr"][0] == rows["fused (network only)"]["psnr"][0]  # no hints: the same network
    assert rows["fused"]["psnr"][1] != rows["fused (network only)"]["psnr"][1]
    assert "fused (network only)" in (tmp_path / "out" / "hints_bench.md").read_text()


def test_prior_weight_falls_as_hints_get_denser():
    from tinct.hints.fusion import ONE_HINT_DENSITY, effective_prior_weight

    mask = np.zeros((256, 256))
    mask[100:106, 100:106] = 1  # one 6x6 hint
    assert effective_prior_weight(mask, 1e-4) == pytest.approx(1e-4)
    mask[:60, :60] = 1  # 100 hints' worth
    d = float(mask.mean())
    assert effective_prior_weight(mask, 1e-4) == pytest.approx(1e-4 * ONE_HINT_DENSITY / d)
    assert effective_prior_weight(np.zeros((8, 8)), 1e-4) == 1e-4


def test_large_working_sizes_are_fused_at_a_capped_size(monkeypatch):
    from tinct.hints import fusion as fz

    calls = []
    real = fz.propagate

    def spy(l, *args, **kw):
        calls.append(tuple(l.shape[-2:]))
        return real(l, *args, **kw)

    monkeypatch.setattr(fz, "propagate", spy)
    monkeypatch.setattr(fz, "MAX_PIXELS", 32 * 32)
    l, ab_hint, mask = _inputs(n=2)
    mask[1] = 0  # image 1 has no hints: it keeps the network's colors at full size
    net = torch.rand(2, 2, 64, 64) * 0.2
    out = HintFusion()(l, net, ab_hint, mask, torch.randn(2, 8, 16, 16))
    assert calls == [(32, 32), (32, 32)]  # the local and the plain propagation, at the capped size
    assert out.shape == (2, 2, 64, 64)
    assert torch.equal(out[1], net[1])
    assert torch.allclose(out[0][:, 10:14, 20:24], ab_hint[0][:, 10:14, 20:24])


def test_match_hints_finds_the_same_surface_across_the_image():
    # features: left and right halves are two "materials"; a hint on each half's top row
    feats = torch.zeros(1, 4, 16, 16)
    feats[:, 0, :, :8], feats[:, 1, :, 8:] = 1.0, 1.0
    ab_hint, mask = torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64)
    ab_hint[:, 0, 0:4, 0:4], ab_hint[:, 1, 0:4, 60:64] = 0.5, -0.5
    mask[:, :, 0:4, 0:4], mask[:, :, 0:4, 60:64] = 1, 1
    m = match_hints(feats, ab_hint, mask, (64, 64), temperature=0.05)
    assert m.shape == (1, 3, 64, 64)
    # the bottom of each half (far from either hint) takes its own half's hint color
    assert abs(float(m[0, 0, 60, 4]) - 0.5) < 1e-3 and abs(float(m[0, 1, 60, 4])) < 1e-3
    assert abs(float(m[0, 1, 60, 58]) + 0.5) < 1e-3 and abs(float(m[0, 0, 60, 58])) < 1e-3
    assert abs(float(m[0, 2, 60, 4]) - 1.0) < 1e-5  # identical features: full confidence
    # no hints: no color, no confidence
    assert float(match_hints(feats, ab_hint, torch.zeros_like(mask), (64, 64)).abs().max()) == 0


def test_reach_is_one_at_the_hints_and_fades_with_distance():
    l, ab_hint, mask = _inputs()
    l = torch.zeros_like(l)  # flat: the reach falls with distance only
    net = torch.zeros(1, 2, 64, 64)
    ab, reach = propagate(l, net, ab_hint, mask, return_reach=True)
    assert torch.equal(ab, propagate(l, net, ab_hint, mask))
    assert reach.shape == (1, 1, 64, 64) and float(reach.min()) >= 0 and float(reach.max()) <= 1
    assert float(reach[0, 0, 12, 22]) == 1.0  # a hint pixel
    near, far = float(reach[0, 0, 12, 30]), float(reach[0, 0, 60, 60])
    assert 1.0 > near > far > 0
    # plain Levin reaches everything; no hints reach nothing
    assert torch.equal(propagate(l, net, ab_hint, mask, 0.0, return_reach=True)[1], torch.ones(1, 1, 64, 64))
    assert float(propagate(l, net, ab_hint, torch.zeros_like(mask), return_reach=True)[1].max()) == 0


def test_the_points_win_where_they_reach():
    """out = r * propagated + (1 - r) * mix with r = reach ** n for n points."""
    l, ab_hint, mask = _inputs()
    net = torch.full((1, 2, 64, 64), -0.3)
    feats = torch.ones(1, 4, 16, 16)
    lv, reach, plain, matched = _sources(l, net, ab_hint, mask)
    f = HintFusion()
    with torch.no_grad():
        mixed = f.fuse(l, net, lv, ab_hint, mask, plain, matched)
        obeyed = f(l, net, ab_hint, mask, feats)
    assert torch.allclose(obeyed, reach * lv + (1 - reach) * mixed, atol=1e-5)
    y, x = 12, 25  # next to the hint: the propagation (the hint's color) wins
    assert abs(float(obeyed[0, 0, y, x] - lv[0, 0, y, x])) < abs(float(mixed[0, 0, y, x] - lv[0, 0, y, x]))
    two = mask.clone()
    two[:, :, 50:54, 50:54] = 1  # a second point: the obeyed weight is reach ** 2
    r2 = propagate(l, net, ab_hint, two, return_reach=True)[1]
    assert torch.allclose(HintFusion.obeyed(mixed, lv, r2, two), r2**2 * lv + (1 - r2**2) * mixed)


def test_guide_stops_the_propagation_at_the_networks_color_edges():
    """Flat L; the network sees two surfaces (left / right halves of different colors). Unguided,
    a hint on the left leaks right; guided by the network's colors it stays on its side."""
    l, ab_hint, mask = _inputs()
    l = torch.zeros_like(l)
    net = torch.zeros(1, 2, 64, 64)
    net[:, 1, :, 32:] = 0.3  # another surface on the right
    unguided = propagate(l, net, ab_hint, mask)
    guided = propagate(l, net, ab_hint, mask, guide=guide_for(net, None, (10000, 0)))
    a_hint = float(ab_hint[0, 0][mask[0, 0] > 0.5].mean())
    assert float(unguided[0, 0, :, 40:].mean()) > 0.5 * a_hint  # the hint paints the other surface
    assert float(guided[0, 0, :, 40:].abs().mean()) < 0.05 * abs(a_hint)  # the guide keeps it off
    assert guide_for(net, None, None) is None and guide_for(net, None, (0, 0)) is None
    with pytest.raises(ValueError, match="features"):
        guide_for(net, None, (0, 1))
    feats = torch.randn(1, 8, 16, 16)
    g = guide_for(net, feats, (100, 4))
    assert g.shape == (1, 10, 64, 64) and torch.allclose(g[:, :2], net * 10)
    assert torch.allclose(g[:, 2:].norm(dim=1).max(), torch.tensor(2.0), atol=1e-4)  # unit features, times 2


def test_train_fusion_with_a_guide(fusion_setup, tmp_path):
    base_path, _, _, data = fusion_setup
    out = tmp_path / "guided.safetensors"
    scores = train_fusion(FusionConfig(base=str(base_path), data=str(data), out=str(out), samples=6, size=64,
                                       crop=32, steps=40, batch_size=4, max_hints=50, lr=3e-3,
                                       guide=(1000.0, 10.0), quiet=True))
    assert np.isfinite(scores["mse_fused"])
    record = read_record(out)
    assert record["fusion"]["kwargs"]["guide"] == [1000.0, 10.0]
    assert record["provenance"]["fusion"]["guide"] == [1000.0, 10.0]
    c = Colorizer(out)
    assert c.fusion.guide == (1000.0, 10.0) and c.fusion.guided
    l, ab_hint, mask = _inputs()
    raw_l = color.denormalize_l(l)
    calls = []
    forward = c.model.forward
    c.model.forward = lambda *a, **k: calls.append(sorted(k)) or forward(*a, **k)
    ab = color.normalize_ab(c.predict_tensors(raw_l, ab_hint, mask)[0])
    # two network passes: with the points, and without them (the guide: the scene as the network sees it)
    assert calls == [["ab_hint", "mask"], []] and torch.isfinite(ab).all()
    assert torch.allclose(ab[:, :, mask[0, 0] > 0.5], ab_hint[:, :, mask[0, 0] > 0.5], atol=1e-5)
    # the guide changes the output (the propagations see the network's edges)
    c.fusion.guide = (0.0, 0.0)
    calls.clear()
    assert not torch.allclose(color.normalize_ab(c.predict_tensors(raw_l, ab_hint, mask)[0]), ab)
    assert calls == [["ab_hint", "mask"]]  # unguided: one pass


def test_training_scores_what_the_model_outputs():
    """The training loss is taken on r * propagated + (1 - r) * mix, as the model runs."""
    from tinct.train.fusion import _output

    l, ab_hint, mask = _inputs()
    net = torch.full((1, 2, 64, 64), -0.3)
    feats = torch.ones(1, 4, 16, 16)
    lv, reach, plain, matched = _sources(l, net, ab_hint, mask)
    fusion = HintFusion()
    with torch.no_grad():
        assert torch.allclose(_output(fusion, l, net, lv, ab_hint, mask, plain, matched, reach),
                              fusion(l, net, ab_hint, mask, feats), atol=1e-5)
        assert torch.equal(_output(fusion, l, net, lv, ab_hint, mask, plain, matched, torch.ones_like(reach)), lv)


def test_cli_guide_is_checked(tmp_path, capsys, fusion_setup):
    base_path, _, _, data = fusion_setup
    with pytest.raises(SystemExit) as e:
        main(["train-fusion", str(base_path), "--data", str(data), "--out", str(tmp_path / "x.safetensors"),
              "--guide", "1,-2"])
    assert e.value.code == 2 and "--guide" in capsys.readouterr().err


def test_a_guided_fusion_at_a_capped_size_pools_its_guide(monkeypatch):
    from tinct.hints import fusion as fz

    seen = []
    real = fz.affinities

    def spy(l, guide=None):
        seen.append((tuple(l.shape[-2:]), None if guide is None else tuple(guide.shape)))
        return real(l, guide)

    monkeypatch.setattr(fz, "affinities", spy)
    monkeypatch.setattr(fz, "MAX_PIXELS", 32 * 32)
    l, ab_hint, mask = _inputs()
    net = torch.rand(1, 2, 64, 64) * 0.2
    feats = torch.randn(1, 8, 16, 16)
    out = HintFusion(guide=(100, 4))(l, net, ab_hint, mask, feats, guide_ab=torch.zeros(1, 2, 32, 32),
                                     guide_features=feats)
    assert seen == [((32, 32), (1, 10, 32, 32))]
    assert out.shape == (1, 2, 64, 64) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="features"):
        HintFusion(guide=(0, 1))(l, net, ab_hint, mask)
    with pytest.raises(ValueError, match="guide"):
        HintFusion(guide=(1, -1))


def test_train_fusion_with_a_fit_records_it_and_trains_on_fitted_colors(fusion_setup, tmp_path, monkeypatch):
    from tinct.train import fusion as tf

    calls = []
    real = tf.fit_color_transform

    def spy(net, hint, mask, strength, l=None, gate=False):
        calls.append((strength, l is not None, gate))
        return real(net, hint, mask, strength, l=l, gate=gate)

    monkeypatch.setattr(tf, "fit_color_transform", spy)
    base_path, _, _, data = fusion_setup
    out = tmp_path / "fitted.safetensors"
    scores = train_fusion(FusionConfig(base=str(base_path), data=str(data), out=str(out), samples=4, size=64,
                                       crop=32, steps=5, batch_size=2, max_hints=50, fit=(0.3, 0.5),
                                       fit_lightness=0.2, quiet=True))
    # every sample's net colors were fitted, with L for the lightness term
    assert np.isfinite(scores["mse_fused"]) and calls == [((0.3, 0.5, 0.2), True, True)] * 4
    record = read_record(out)
    assert record["fusion"]["kwargs"]["fit"] == [0.3, 0.5, 0.2] and record["provenance"]["fusion"]["fit"] == [0.3, 0.5, 0.2]
    assert load_fusion(out).fit == (0.3, 0.5, 0.2)


def test_cli_fit_is_checked(tmp_path, capsys, fusion_setup):
    base_path, _, _, data = fusion_setup
    for extra in (["--fit", "0,0.3"], ["--fit-lightness", "0.3"]):
        code = main(["train-fusion", str(base_path), "--data", str(data), "--out", str(tmp_path / "x.safetensors"),
                     *extra])
        err = capsys.readouterr().err
        assert code != 0 and "--fit" in err and "Traceback" not in err


def test_samples_store_the_reach_raised_to_the_number_of_points(fusion_setup, monkeypatch):
    """The samples carry reach ** n (n points), as the model obeys."""
    from tinct.hints.fit import count_points
    from tinct.train import fusion as tf

    base_path, _, _, data = fusion_setup
    base, _ = load_model(base_path)
    seen = []
    real = tf.propagations

    def spy(*a, **kw):
        out = real(*a, **kw)
        seen.append(out[1])
        return out

    monkeypatch.setattr(tf, "propagations", spy)
    files = sorted(p for p in data.iterdir() if p.suffix == ".png")
    samples = tf.make_samples(base, files, FusionConfig(base=str(base_path), data=str(data), out="", samples=3,
                                                        size=64, max_hints=50, quiet=True))
    assert samples.shape[1] == 16
    *_, mask, _, _, _, reach = tf._split(samples)
    n = count_points(mask)
    assert n.max() > 1  # some sample has several points, so its reach is faded
    raw = torch.cat(seen)
    assert torch.allclose(reach, raw ** n, atol=1e-2)  # stored as float16


def test_logmse_counts_each_item_by_its_own_error():
    from tinct.train.fusion import _loss

    truth = torch.zeros(2, 2, 4, 4)
    pred = truth.clone()
    pred[0] += 0.1  # error 0.01
    pred[1] += 0.01  # error 0.0001
    assert torch.isclose(_loss(pred, truth, "mse"), torch.tensor((0.01 + 0.0001) / 2))
    assert torch.isclose(_loss(pred, truth, "logmse"),
                         torch.tensor((np.log(0.01 + 1e-6) + np.log(0.0001 + 1e-6)) / 2, dtype=torch.float32))
    # halving the small item's error is worth as much as halving the large one's (as mean PSNR counts)
    a, b = pred.clone(), pred.clone()
    a[0] = 0.1 / 2**0.5
    b[1] = 0.01 / 2**0.5
    assert torch.isclose(_loss(a, truth, "logmse"), _loss(b, truth, "logmse"), atol=1e-2)
    assert _loss(a, truth, "mse") < _loss(b, truth, "mse") - 0.002  # while the plain mean cares for the large one


def test_samples_cache_and_shards(fusion_setup, tmp_path, capsys):
    """--steps 0 precomputes a share into --cache; training loads all shares; other settings are refused."""
    base_path, _, _, data = fusion_setup
    args = ["train-fusion", str(base_path), "--data", str(data), "--samples", "2", "--size", "64",
            "--max-hints", "20", "--crop", "32", "--batch-size", "2", "--quiet"]
    caches = [tmp_path / "s0.pt", tmp_path / "s1.pt"]
    for i, c in enumerate(caches):
        code = main([*args, "--out", str(tmp_path / "unused.safetensors"), "--steps", "0", "--shard", f"{i}/2",
                     "--cache", str(c)])
        assert code == 0 and c.exists() and "2 samples written" in capsys.readouterr().out
    assert not (tmp_path / "unused.safetensors").exists()
    s0, s1 = (torch.load(c, weights_only=True)["samples"] for c in caches)
    assert s0.shape[0] == s1.shape[0] == 2 and not torch.equal(s0, s1)  # different images and hints
    out = tmp_path / "fused.safetensors"
    code = main([*args, "--out", str(out), "--steps", "2", "--cache", ",".join(map(str, caches))])
    assert code == 0 and read_record(out)["provenance"]["fusion"]["samples"] == 4
    capsys.readouterr()
    code = main([*args, "--out", str(out), "--steps", "2", "--prior-weight", "0.01",
                 "--cache", str(caches[0])])
    err = capsys.readouterr().err
    assert code == 2 and "prior_weight" in err and "Traceback" not in err
    for bad in (["--shard", "2/2"], ["--steps", "0"], ["--loss", "l2"]):
        code = main([*args, "--out", str(out), *bad])
        err = capsys.readouterr().err
        assert code == 2 and err.strip() and "Traceback" not in err


def test_a_confined_lone_point_changes_little_far_from_it():
    """With ``confine``, one point's change fades with the distance from it (and its reach): far
    away the output is the network's, near it the point's color; plain Levin (which paints the
    whole picture) gets no say far off. Two or three points are each confined the same way; four
    or more are left as fused; hint pixels keep their color."""
    l, ab_hint, mask = _inputs()
    l = torch.zeros_like(l)  # flat: nothing stops the propagations
    net = torch.full((1, 2, 64, 64), -0.3)
    feats = torch.ones(1, 4, 16, 16)
    loose, tight = HintFusion(), HintFusion(confine=(0.2, 0.0))
    with torch.no_grad():
        for f in (loose, tight):
            f.out.bias[:4] = torch.tensor([-20.0, -20.0, 20.0, -20.0])  # all weight on plain Levin
        a, b = loose(l, net, ab_hint, mask, feats), tight(l, net, ab_hint, mask, feats)
    change = lambda out: (out - net).abs().sum(1)[0]  # noqa: E731
    far, near = (slice(48, 64), slice(48, 64)), (slice(9, 15), slice(18, 26))
    assert float(change(a)[far].mean()) > 0.5  # the loose stage repaints the far corner
    assert float(change(b)[far].mean()) < 0.02 * float(change(a)[far].mean())
    assert float(change(b)[near].mean()) > 0.5 * float(change(a)[near].mean())
    assert torch.equal(b[:, :, mask[0, 0] > 0.5], ab_hint[:, :, mask[0, 0] > 0.5])
    two = mask.clone()
    two[:, :, 50:54, 50:54] = 1
    hint2 = ab_hint.clone()
    hint2[:, 0, 50:54, 50:54] = 0.4
    with torch.no_grad():
        a2, b2 = loose(l, net, hint2, two, feats), tight(l, net, hint2, two, feats)
    corner = (slice(50, 64), slice(0, 8))  # far from both points
    assert float(change(b2)[corner].mean()) < 0.05 * float(change(a2)[corner].mean())
    assert float(change(b2)[50:54, 44:50].mean()) > 0.3 * float(change(a2)[50:54, 44:50].mean())  # near the second
    four = two.clone()
    hint4 = hint2.clone()
    for y, x in ((2, 56), (56, 2)):
        four[:, :, y : y + 3, x : x + 3] = 1
        hint4[:, 1, y : y + 3, x : x + 3] = -0.4
    with torch.no_grad():
        assert torch.equal(loose(l, net, hint4, four, feats), tight(l, net, hint4, four, feats))
    # a point that agrees with what the network saw may speak for the whole picture
    agreeing = HintFusion(confine=(0.2, 40.0))
    with torch.no_grad():
        agreeing.out.bias[:4] = torch.tensor([-20.0, -20.0, 20.0, -20.0])
        close = agreeing(l, net, ab_hint, mask, feats, guide_ab=ab_hint)  # saw the point's own color
        seen = -ab_hint  # without the point the network saw the opposite color (with it: ``net``)
        far_off = agreeing(l, net, ab_hint, mask, feats, guide_ab=seen)
    assert torch.allclose(close, a, atol=1e-5)
    # far off, the picture is the one the network saw without the point, not its answer to the point
    assert float((far_off - seen).abs().sum(1)[0][far].mean()) < 0.05 * float(change(a)[far].mean())
    assert float(change(far_off)[far].mean()) > 0.5
    with pytest.raises(ValueError, match="confine"):
        HintFusion(confine=-1)

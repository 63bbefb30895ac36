"""The same checks over every registered architecture (timm style), with its tiny config:
forward, output shapes, no NaN, backward, decode, save/load round trip; plus per-model checks
(PatchGAN receptive field, VGG16 weight loading, default config sizes)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import random_rgb
from tinct import color
from tinct.errors import HintError, ModelFileError, TinctError
from tinct.modelfile import load_model, model_record, save_model
from tinct.models.base import ColorNet, Discriminator
from tinct.registry import create_model, get_spec, list_models

ALL = [s.name for s in list_models()]
COLORIZERS = [s.name for s in list_models("colorizer")]
DISCRIMINATORS = [s.name for s in list_models("discriminator")]


def takes_hints_option(name: str) -> bool:
    """Whether the architecture can be built with or without hints (``hints=`` kwarg)."""
    return "hints" in inspect.signature(get_spec(name).cls.__init__).parameters


# (name, hints): both variants where the model has the option, else its fixed config (None)
COLORIZER_VARIANTS = [(n, h) for n in COLORIZERS for h in ((False, True) if takes_hints_option(n) else (None,))]


def build(name: str, seed: int = 0, hints: bool | None = None, **overrides):
    kw = dict(get_spec(name).tiny)
    if hints is not None:
        kw["hints"] = hints
    kw.update(overrides)
    torch.manual_seed(seed)
    return create_model(name, **kw)


def trainable(model: torch.nn.Module) -> bool:
    return getattr(model, "trainable", True) and any(True for _ in model.parameters())


def lab_batch(n: int = 2, h: int = 64, w: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized L (n, 1, h, w) and ab (n, 2, h, w) of generated color images."""
    rgb = torch.cat([color.to_tensor(random_rgb(h, w, seed=i)) for i in range(n)])
    lab = color.rgb_to_lab(rgb)
    return color.normalize_l(lab[:, :1]), color.normalize_ab(lab[:, 1:])


def hint_kwargs(model: ColorNet, ab: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """A few random hint points (true colors of the image) and, where taken, a global hint."""
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(ab.shape[0], 1, *ab.shape[-2:], generator=g) < 0.02).float()
    kw = {"ab_hint": ab * mask, "mask": mask}
    if model.global_hint_dim:
        kw["global_hint"] = torch.rand(ab.shape[0], model.global_hint_dim, generator=g)
    return kw


def out_scale(out: dict[str, torch.Tensor], h: int) -> int:
    """The downscale factor of the finest output map (1 = input resolution)."""
    return min(h // v.shape[-2] for v in out.values() if v.ndim == 4)


def check_grads(model: torch.nn.Module) -> None:
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert params
    for n, p in params:
        assert p.grad is not None, f"no gradient reaches {n}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient in {n}"
        assert p.grad.abs().sum() > 0, f"zero gradient in {n}"


def test_zoo_is_complete():
    expected = {"cnn4", "encdec", "unet", "resenc", "vgg16gan", "vgg16d", "patchgan", "cic", "effunet",
                "lineart_unet", "lineart_cnn"}
    assert expected <= set(ALL)
    for s in list_models():
        assert s.role in ("colorizer", "discriminator")
        assert s.summary and s.source
        base = ColorNet if s.role == "colorizer" else Discriminator
        assert issubclass(s.cls, base), s.name
        if s.discriminator is not None:
            assert get_spec(s.discriminator).role == "discriminator"


@pytest.mark.parametrize("name,hints", COLORIZER_VARIANTS)
def test_colorizer_forward_backward(name, hints):
    model = build(name, hints=hints).train()
    l, ab = lab_batch()
    kw = hint_kwargs(model, ab) if model.hints else {}
    out = model(l, **kw)
    assert isinstance(out, dict) and out
    if model.output_kind == "lab":  # line art: the whole image, and the automatic hint's histogram
        assert set(out) <= {"lab", "hist_logits", "hist"} and out["lab"].shape[1] == 3
        assert model.decode_l(out).shape == (2, 1, 64, 64)
    else:  # the decoder features feed a hint stage (effunet's)
        assert set(out) <= {"ab", "logits", "features"} and model.decode_l(out) is None
    for key, v in out.items():
        assert v.shape[0] == 2 and torch.isfinite(v).all(), key
    if "ab" in out:
        assert out["ab"].shape[1] == 2
    if "logits" in out:
        assert out["logits"].shape[1] == model.bins.shape[0] == 313
    scale = out_scale(out, 64)
    assert scale in (1, 2, 4)
    pred = model.decode(out)
    target = F.interpolate(ab, size=pred.shape[-2:], mode="bilinear", align_corners=False)
    if not trainable(model):  # e.g. a hint-propagation solver with no weights
        return
    loss = F.mse_loss(pred, target) + sum(v.pow(2).mean() for v in out.values())
    loss.backward()
    check_grads(model)


@pytest.mark.parametrize("name,hints", COLORIZER_VARIANTS)
def test_colorizer_decode_and_sizes(name, hints):
    """Eval mode on a non-square input divisible by 32: decode gives sane ab at a fixed fraction."""
    model = build(name, hints=hints).eval()
    l, ab = lab_batch(2, 64, 96)
    kw = hint_kwargs(model, ab) if model.hints else {}
    with torch.no_grad():
        out = model(l, **kw)
        pred = model.decode(out)
    scale = 64 // pred.shape[-2]
    assert scale in (1, 2, 4) and scale >= out_scale(out, 64)
    assert pred.shape == (2, 2, 64 // scale, 96 // scale)
    assert torch.isfinite(pred).all()
    assert pred.abs().max() <= 1.01  # normalized ab: raw ab within +-111
    if "logits" in out:  # the temperature is a decode-time knob
        cold = model.decode(out, temperature=0.1)
        assert cold.shape == pred.shape and cold.abs().max() <= 1.01
        assert not torch.allclose(cold, model.decode(out, temperature=1.0))


@pytest.mark.parametrize("name", list(filter(takes_hints_option, COLORIZERS)))
def test_colorizer_hint_contract(name):
    """A model built without hints refuses them; a hint model runs without any hint given."""
    l, ab = lab_batch(1)
    plain = build(name, hints=False).eval()
    with pytest.raises(HintError):
        plain(l, ab_hint=ab, mask=torch.ones_like(l))
    hinted = build(name, hints=True).eval()
    with torch.no_grad():
        assert all(torch.isfinite(v).all() for v in hinted(l).values())


@pytest.mark.parametrize("name", DISCRIMINATORS)
@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_discriminator_forward_backward(name, size):
    model = build(name).train()
    l, ab = lab_batch(2, *size)
    logits = model(l, ab)
    assert logits.shape[0] == 2 and logits.shape[1] == 1 and torch.isfinite(logits).all()
    loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    loss.backward()
    check_grads(model)


def _round_trip(model, tmp_path, l, ab, kw):
    model.train()
    with torch.no_grad():  # move BatchNorm running stats away from their initial values
        model(l, **kw) if isinstance(model, ColorNet) else model(l, ab)
    model.eval()
    path = save_model(model, tmp_path / "m.safetensors", provenance={"test": True})
    loaded, record = load_model(path, arch=model.arch, role=get_spec(model.arch).role)
    assert record["arch"] == model.arch and record["provenance"] == {"test": True}
    assert not loaded.training
    with torch.no_grad():
        if isinstance(model, ColorNet):
            a, b = model(l, **kw), loaded(l, **kw)
            assert a.keys() == b.keys()
            for k in a:
                assert torch.equal(a[k], b[k]), k
            assert torch.equal(model.decode(a), loaded.decode(b))
        else:
            assert torch.equal(model(l, ab), loaded(l, ab))


@pytest.mark.parametrize("name,hints", COLORIZER_VARIANTS)
def test_colorizer_save_load_round_trip(name, hints, tmp_path):
    model = build(name, hints=hints)
    l, ab = lab_batch()
    _round_trip(model, tmp_path, l, ab, hint_kwargs(model, ab) if model.hints else {})


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminator_save_load_round_trip(name, tmp_path):
    l, ab = lab_batch()
    _round_trip(build(name), tmp_path, l, ab, {})


def test_unknown_model_fails_loudly():
    with pytest.raises(TinctError, match="unknown model 'nope'.*cnn4"):
        create_model("nope")
    with pytest.raises(TinctError, match="bad options for model 'cnn4'"):
        create_model("cnn4", no_such_option=3)
    with pytest.raises(TinctError, match="depth"):
        create_model("unet", depth=9)


def test_models_cli_lists_every_name(capsys):
    from tinct.cli import main

    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for name in ALL:
        assert f"  {name} " in text, name


def test_default_configs_sizes():
    """Default (non-tiny) configs build, with parameter counts of the papers' order; not run."""
    expected = {  # name: (min, max) parameters
        "cnn4": (1e5, 1e6),
        "encdec": (3e6, 15e6),
        "unet": (3e6, 15e6),
        "resenc": (3e6, 15e6),
        "cic": (20e6, 40e6),  # Zhang et al.: ~32M
        "vgg16gan": (20e6, 40e6),  # 14.7M of VGG16 convs + decoder
        "vgg16d": (15e6, 35e6),
        "patchgan": (2.5e6, 3e6),  # pix2pix 70x70 PatchGAN: 2.77M
        "lineart_unet": (4e6, 10e6),  # shipped models stay under 10M
        "lineart_cnn": (1e6, 10e6),
    }
    counts = {}
    for name, (lo, hi) in expected.items():
        kw = {"pretrained": False} if "pretrained" in get_spec(name).cls.init_only_kwargs else {}
        counts[name] = n = sum(p.numel() for p in create_model(name, **kw).parameters())
        assert lo <= n <= hi, f"{name}: {n} parameters"
    assert counts["unet"] > counts["encdec"]  # same widths, plus the skip channels


# ---- PatchGAN: 70x70 receptive field ----
def test_patchgan_receptive_field_is_70():
    from tinct.models.patchgan import receptive_field

    model = create_model("patchgan").eval()
    assert receptive_field(model.net) == 70
    tiny = build("patchgan").eval()  # probe: which input pixels move one output logit
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    out = tiny._forward(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    out[0, 0, i, j].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = torch.nonzero(touched.any(dim=1)).flatten()
    cols = torch.nonzero(touched.any(dim=0)).flatten()
    assert len(rows) == rows.max() - rows.min() + 1 == 70
    assert len(cols) == cols.max() - cols.min() + 1 == 70


def test_patchgan_patch_grid():
    model = build("patchgan").eval()
    l, ab = lab_batch(1, 256, 256)
    with torch.no_grad():
        assert model(l, ab).shape == (1, 1, 30, 30)  # pix2pix's 30x30 patch grid at 256x256


# ---- VGG16 weights for vgg16gan / vgg16d ----
VGG16_SHAPES = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256),
                (512, 256), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A torchvision-layout VGG16 state dict of random tensors (features.* only)."""
    from tinct.models.vgg16gan import TORCHVISION_CONV_INDEX

    g = torch.Generator().manual_seed(1)
    state = {}
    for idx, (cout, cin) in zip(TORCHVISION_CONV_INDEX, VGG16_SHAPES):
        state[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.05
        state[f"features.{idx}.bias"] = torch.randn(cout, generator=g) * 0.05
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(state, path)
    return path, state


def test_vgg16gan_loads_vgg16_weights(vgg16_file):
    from tinct.models.vgg16gan import TORCHVISION_CONV_INDEX, vgg16_convs

    path, state = vgg16_file
    model = create_model("vgg16gan", hints=True, vgg16_weights=str(path))
    convs = vgg16_convs(model.encoder)
    assert len(convs) == 13
    first = convs[0].weight
    assert first.shape == (64, 4, 3, 3)
    assert torch.allclose(first[:, 0], state["features.0.weight"].mean(dim=1))
    assert torch.equal(first[:, 1:], torch.zeros_like(first[:, 1:]))  # hint channels start at 0
    assert torch.equal(convs[0].bias, state["features.0.bias"])
    for conv, idx in list(zip(convs, TORCHVISION_CONV_INDEX))[1:]:
        assert torch.equal(conv.weight, state[f"features.{idx}.weight"])
        assert torch.equal(conv.bias, state[f"features.{idx}.bias"])
    # the weights file is an init-only option: not recorded, not needed to rebuild
    record = model_record(model)
    assert "vgg16_weights" not in record["kwargs"] and record["kwargs"] == {"width": 1, "hints": True}


def test_vgg16d_loads_vgg16_weights(vgg16_file):
    from tinct.models.vgg16gan import TORCHVISION_CONV_INDEX, vgg16_convs

    path, state = vgg16_file
    model = create_model("vgg16d", vgg16_weights=str(path))
    for conv, idx in zip(vgg16_convs(model.features), TORCHVISION_CONV_INDEX):
        assert torch.equal(conv.weight, state[f"features.{idx}.weight"])
        assert torch.equal(conv.bias, state[f"features.{idx}.bias"])
    fresh = create_model("vgg16d")
    assert not torch.equal(vgg16_convs(fresh.features)[5].weight, state["features.12.weight"])


@pytest.mark.parametrize("name", ["vgg16gan", "vgg16d"])
def test_vgg16_weights_errors(name, vgg16_file, tmp_path):
    path, state = vgg16_file
    with pytest.raises(ModelFileError, match="not found"):
        create_model(name, vgg16_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(ModelFileError, match="shape"):
        create_model(name, width=16, vgg16_weights=str(path))
    partial = {k: v for k, v in state.items() if not k.startswith("features.28.")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ModelFileError, match="features.28.weight"):
        create_model(name, vgg16_weights=str(tmp_path / "partial.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelFileError, match="not a torch state dict"):
        create_model(name, vgg16_weights=str(tmp_path / "junk.pth"))


def test_cic_bins_and_resolution():
    model = build("cic").eval()
    assert torch.equal(model.bins, color.ab_bins())
    assert model.prefer_bins and model.default_temperature == 0.38
    l, _ = lab_batch(1, 96, 64)
    with torch.no_grad():
        out = model(l)
    assert set(out) == {"logits"} and out["logits"].shape == (1, 313, 24, 16)
    # the annealed mean stays inside the hull of the bins
    ab = color.denormalize_ab(model.decode(out))
    assert np.all(ab.abs().numpy() <= 110.0 + 1e-3)


def test_effunet_global_prior_moves_colors_toward_the_palette():
    from tinct.hints import global_from_histogram, palette_histogram

    torch.manual_seed(0)
    m = create_model("effunet", pretrained=False, width=8, hints=True, global_prior=1.0, blend=0.5).eval()
    l = torch.rand(1, 1, 64, 64) * 2 - 1
    g = global_from_histogram(palette_histogram([((30, 180, 40), 1.0)]))  # green
    with torch.no_grad():
        auto = m.decode(m(l))
        steered = m.decode(m(l, global_hint=g))
        off = create_model("effunet", pretrained=False, width=8, hints=True, blend=0.5).eval()
        off.load_state_dict(m.state_dict())
        unsteered = off.decode(off(l, global_hint=g))
    assert float(steered[:, 0].mean()) < float(auto[:, 0].mean()) - 0.05  # green: a* falls
    assert float(steered[:, 0].mean()) < float(unsteered[:, 0].mean()) - 0.05

"""Model files: strict loading refuses every kind of wrong or damaged file with a one-line
ModelFileError; half-precision files load back as float32."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tinct import color
from tinct.errors import ModelFileError, TinctError
from tinct.modelfile import FORMAT_VERSION, META_KEY, load_model, read_record, save_model
from tinct.models.cnn4 import CNN4
from tinct.registry import create_model


def _l_batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(2, 3, 64, 64, generator=g)
    return color.normalize_l(color.rgb_to_l(rgb))


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = create_model("unet", base=8, depth=3, hints=True)
    path = save_model(model.eval(), tmp_path / "unet.safetensors", provenance={"steps": 3})
    return model, path


def _rewrite(src, dst, tensors=None, record=None, metadata=None) -> None:
    """Copy a model file with changed tensors / record / raw metadata."""
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    if record is not None:
        meta[META_KEY] = json.dumps(record)
    if metadata is not None:
        meta = metadata
    save_file(load_file(str(src)) if tensors is None else tensors, str(dst), metadata=meta)


def test_record_is_self_describing(model_file):
    _, path = model_file
    rec = read_record(path)
    assert rec["arch"] == "unet" and rec["role"] == "colorizer" and rec["output"] == "ab"
    assert rec["kwargs"] == {"base": 8, "depth": 3, "hints": True}
    assert rec["format_version"] == FORMAT_VERSION and rec["dtype"] == "float32"
    assert rec["normalization"] == color.normalization() and rec["provenance"] == {"steps": 3}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_output_kind_must_match(model_file, tmp_path):
    """A file says what it outputs; a file whose architecture now outputs something else is refused."""
    _, path = model_file
    rec = read_record(path)
    rec["output"] = "lab"
    bad = tmp_path / "lab.safetensors"
    _rewrite(path, bad, record=rec)
    with pytest.raises(ModelFileError, match="made for 'lab' output"):
        load_model(bad)


def test_other_arch_refused(model_file):
    _, path = model_file
    with pytest.raises(ModelFileError, match="holds a 'unet' model, expected 'cnn4'"):
        load_model(path, arch="cnn4")
    with pytest.raises(ModelFileError, match="expected a discriminator"):
        load_model(path, role="discriminator")
    model, _ = load_model(path, arch="unet", role="colorizer")
    assert model.arch == "unet"


def test_tampered_format_version_refused(model_file, tmp_path):
    _, path = model_file
    rec = read_record(path)
    rec["format_version"] = FORMAT_VERSION + 98
    bad = tmp_path / "future.safetensors"
    _rewrite(path, bad, record=rec)
    with pytest.raises(ModelFileError, match=f"format {FORMAT_VERSION + 98}.*reads formats {FORMAT_VERSION}"):
        load_model(bad)


def test_every_constructor_argument_is_recorded_and_the_fusion_stage_is_its_own_component(tmp_path):
    """A file says exactly how its network was built (every argument, the defaults filled in) and,
    apart, how its hint fusion stage was; each comes back as it went in."""
    from tinct.hints.fusion import HintFusion
    from tinct.modelfile import load_fusion

    torch.manual_seed(0)
    model = create_model("effunet", pretrained=False, width=8, hints=True).eval()
    fusion = HintFusion(width=16, guide=(10.0, 3.0), fit=(0.1, 0.2), confine=(0.25, 40.0))
    torch.nn.init.normal_(fusion.out.weight)
    path = save_model(model, tmp_path / "eff.safetensors", fusion=fusion)
    rec = read_record(path)
    assert rec["format_version"] == FORMAT_VERSION == 3
    assert rec["kwargs"] == {"width": 8, "hints": True, "temperature": 0.4, "blend": 0.5, "global_prior": 0.0,
                             "render_size": None}
    assert rec["fusion"] == {"kwargs": {"width": 16, "prior_weight": 1e-4, "guide": [10.0, 3.0], "fit": [0.1, 0.2],
                                        "confine": [0.25, 40.0]}}
    loaded, again = load_model(path)[0], load_fusion(path)
    assert again.kwargs == fusion.kwargs and torch.equal(again.out.weight, fusion.out.weight)
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model.decode(model(x)), loaded.decode(loaded(x)))
    plain = save_model(model, tmp_path / "plain.safetensors")
    assert read_record(plain)["fusion"] is None and load_fusion(plain) is None
    with pytest.raises(ModelFileError, match="needs a network with hint inputs"):
        save_model(create_model("effunet", pretrained=False, width=8), tmp_path / "x.safetensors", fusion=fusion)
    # a stage's tensors that do not fit its settings are refused, as a network's are
    rec["fusion"]["kwargs"]["width"] = 8
    _rewrite(path, tmp_path / "bad.safetensors", record=rec)
    with pytest.raises(ModelFileError, match="do not fit the fusion stage"):
        load_fusion(tmp_path / "bad.safetensors")


def test_other_normalization_refused(model_file, tmp_path):
    _, path = model_file
    rec = read_record(path)
    rec["normalization"] = {**rec["normalization"], "ab_scale": 128.0}
    bad = tmp_path / "scale.safetensors"
    _rewrite(path, bad, record=rec)
    with pytest.raises(ModelFileError, match="other color scaling"):
        load_model(bad)


def test_damaged_metadata_refused(model_file, tmp_path):
    _, path = model_file
    bad = tmp_path / "json.safetensors"
    _rewrite(path, bad, metadata={META_KEY: "{not json"})
    with pytest.raises(ModelFileError, match="damaged tinct metadata"):
        load_model(bad)
    _rewrite(path, bad, metadata={META_KEY: json.dumps({"format": "something-else"})})
    with pytest.raises(ModelFileError, match="not a tinct model file"):
        load_model(bad)


def test_safetensors_without_metadata_refused(tmp_path):
    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(3)}, str(bare))
    with pytest.raises(ModelFileError, match="without tinct metadata"):
        load_model(bare)


def test_truncated_file_refused(model_file, tmp_path):
    _, path = model_file
    data = path.read_bytes()
    for n in (len(data) // 2, len(data) - 1, 7):
        cut = tmp_path / f"cut{n}.safetensors"
        cut.write_bytes(data[:n])
        with pytest.raises(ModelFileError, match="not a safetensors model file"):
            load_model(cut)


def test_missing_or_non_model_file_refused(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found"):
        load_model(tmp_path / "nothing.safetensors")
    with pytest.raises(ModelFileError, match="model file not found"):
        load_model(tmp_path)  # a directory
    text = tmp_path / "notes.safetensors"
    text.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError, match="not a safetensors model file"):
        load_model(text)


def test_weights_that_do_not_fit_refused(model_file, tmp_path):
    _, path = model_file
    tensors = load_file(str(path))
    bad = tmp_path / "bad.safetensors"
    key = "head.weight"
    for changed in (
        {**tensors, key: torch.zeros(3, *tensors[key].shape[1:])},  # wrong shape
        {k: v for k, v in tensors.items() if k != key},  # missing tensor
        {**tensors, "extra.weight": torch.zeros(2)},  # unexpected tensor
    ):
        _rewrite(path, bad, tensors=changed)
        with pytest.raises(ModelFileError, match="do not fit architecture 'unet'"):
            load_model(bad)


def test_unknown_arch_in_file_refused(model_file, tmp_path):
    _, path = model_file
    rec = read_record(path)
    rec["arch"] = "nope"
    bad = tmp_path / "nope.safetensors"
    _rewrite(path, bad, record=rec)
    with pytest.raises(TinctError, match="'nope'"):
        load_model(bad)


def test_only_zoo_models_can_be_saved(tmp_path):
    with pytest.raises(ModelFileError, match="create_model"):
        save_model(CNN4(width=4), tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


def test_half_precision_round_trip(model_file, tmp_path):
    model, full = model_file
    half = save_model(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    with safe_open(str(half), framework="pt") as f:
        assert f.get_tensor("head.weight").dtype == torch.float16
    loaded, rec = load_model(half)
    assert rec["dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    l = _l_batch()
    with torch.no_grad():
        a, b = model.eval()(l)["ab"], loaded(l)["ab"]
    assert b.dtype == torch.float32
    assert torch.allclose(a, b, atol=2e-2) and not torch.equal(a, b)

"""The maintenance scripts in scripts/ run for real on tiny model files."""

import subprocess
import sys
from pathlib import Path

import torch

from tinct.modelfile import load_model, read_record, save_model
from tinct.registry import create_model

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "package_model.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_package_model_sets_decoding_and_copies_a_fusion_stage(tmp_path):
    torch.manual_seed(0)
    base = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "base.safetensors")
    torch.manual_seed(1)
    donor_model = create_model("effunet", pretrained=False, width=8, hints=True, fusion=True)
    torch.nn.init.normal_(donor_model.fusion.out.weight)
    donor = save_model(donor_model, tmp_path / "donor.safetensors")
    out = tmp_path / "shipped.safetensors"
    r = _run(base, out, "--temperature", "0.45", "--blend", "0.4", "--global-prior", "3", "--fusion-from", donor,
             "--half", "--note", "packaged in a test")
    assert r.returncode == 0, r.stderr
    record = read_record(out)
    assert record["dtype"] == "float16"
    assert {k: record["kwargs"][k] for k in ("temperature", "blend", "global_prior", "fusion")} == {
        "temperature": 0.45, "blend": 0.4, "global_prior": 3.0, "fusion": True}
    assert "packaged in a test" in record["provenance"]["notes"]
    shipped, _ = load_model(out)
    base_model, _ = load_model(base)
    assert torch.allclose(shipped.fusion.out.weight, donor_model.fusion.out.weight.half().float())
    assert torch.allclose(shipped.ab_head.weight, base_model.ab_head.weight.half().float())
    assert shipped.global_prior == 3.0 and shipped.default_temperature == 0.45


def test_package_model_refuses_a_donor_without_fusion(tmp_path):
    base = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "base.safetensors")
    r = _run(base, tmp_path / "x.safetensors", "--fusion-from", base)
    assert r.returncode != 0 and "has no fusion stage" in r.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_package_model_averages_two_weight_sets(tmp_path):
    torch.manual_seed(0)
    a = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "a.safetensors")
    torch.manual_seed(1)
    b = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "b.safetensors")
    out = tmp_path / "mean.safetensors"
    r = _run(a, out, "--average-with", b)
    assert r.returncode == 0, r.stderr
    ma, mb, mm = (load_model(p)[0] for p in (a, b, out))
    assert torch.allclose(mm.ab_head.weight, (ma.ab_head.weight + mb.ab_head.weight) / 2)
    assert "averaged_with" in read_record(out)["provenance"]
    other = save_model(create_model("cnn4"), tmp_path / "c.safetensors")
    r = _run(a, tmp_path / "x.safetensors", "--average-with", other)
    assert r.returncode != 0 and "not the same architecture" in r.stderr

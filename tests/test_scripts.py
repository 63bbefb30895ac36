"""The maintenance scripts in scripts/ run for real on tiny model files."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tinct.hints.fusion import HintFusion
from tinct.modelfile import load_fusion, load_model, read_record, save_model
from tinct.registry import create_model

pytestmark = pytest.mark.slow  # script, torchrun and Ray tests: the full run, not the quick lane

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "package_model.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_package_model_sets_decoding_and_copies_a_fusion_stage(tmp_path):
    torch.manual_seed(0)
    base = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "base.safetensors")
    torch.manual_seed(1)
    donor_stage = HintFusion(width=16)
    torch.nn.init.normal_(donor_stage.out.weight)
    donor = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "donor.safetensors",
                       fusion=donor_stage)
    out = tmp_path / "shipped.safetensors"
    r = _run(base, out, "--temperature", "0.45", "--blend", "0.4", "--global-prior", "3", "--fusion-from", donor,
             "--half", "--note", "packaged in a test")
    assert r.returncode == 0, r.stderr
    record = read_record(out)
    assert record["dtype"] == "float16"
    assert {k: record["kwargs"][k] for k in ("temperature", "blend", "global_prior")} == {
        "temperature": 0.45, "blend": 0.4, "global_prior": 3.0}
    assert "packaged in a test" in record["provenance"]["notes"]
    # every constructor argument is written out, those never passed too
    assert record["kwargs"]["width"] == 8 and record["kwargs"]["render_size"] is None
    assert "pretrained" not in record["kwargs"]
    shipped, _ = load_model(out)
    base_model, _ = load_model(base)
    assert record["fusion"]["kwargs"]["width"] == 16  # the donor's stage, at its own width
    assert torch.allclose(load_fusion(out).out.weight, donor_stage.out.weight.half().float())
    assert torch.allclose(shipped.ab_head.weight, base_model.ab_head.weight.half().float())
    assert shipped.global_prior == 3.0 and shipped.default_temperature == 0.45



def test_package_model_sets_and_clears_the_hint_fit(tmp_path):
    fused = _tiny(tmp_path / "fused.safetensors", fusion=True)
    r = _run(fused, tmp_path / "fit3.safetensors", "--fit", "0.1,0.2,0.3")
    assert r.returncode == 0, r.stderr
    assert load_fusion(tmp_path / "fit3.safetensors").fit == (0.1, 0.2, 0.3)
    r = _run(fused, tmp_path / "fit.safetensors", "--fit", "0.1,0.2")
    assert r.returncode == 0, r.stderr
    assert read_record(tmp_path / "fit.safetensors")["fusion"]["kwargs"]["fit"] == [0.1, 0.2]
    assert load_fusion(tmp_path / "fit.safetensors").fit == (0.1, 0.2)
    r = _run(tmp_path / "fit.safetensors", tmp_path / "off.safetensors", "--fit", "none")
    assert r.returncode == 0 and load_fusion(tmp_path / "off.safetensors").fit is None
    for bad in ("0,0.2", "1", "a,b", "1,1,1,1"):
        r = _run(fused, tmp_path / "bad.safetensors", "--fit", bad)
        assert r.returncode != 0 and "--fit takes" in r.stderr and "Traceback" not in r.stderr
    base = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "base.safetensors")
    r = _run(base, tmp_path / "bad.safetensors", "--fit", "0.1,0.1")
    assert r.returncode != 0 and "needs a model with a fusion stage" in r.stderr
    assert not (tmp_path / "bad.safetensors").exists()

def test_package_model_keeps_or_copies_the_learned_alternatives(tmp_path):
    from tinct.modelfile import load_alternatives
    from tinct.uncertainty.heads import AlternativeHeads

    torch.manual_seed(0)
    heads = AlternativeHeads(k=2, in_channels=16, width=8)
    donor = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "donor.safetensors",
                       alternatives=heads)
    base = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "base.safetensors")
    r = _run(base, tmp_path / "with.safetensors", "--alternatives-from", donor, "--half")
    assert r.returncode == 0, r.stderr
    got = load_alternatives(tmp_path / "with.safetensors")
    assert got.k == 2 and torch.allclose(got.context.weight, heads.context.weight.half().float())
    r = _run(tmp_path / "with.safetensors", tmp_path / "again.safetensors", "--temperature", "0.3")
    assert r.returncode == 0 and load_alternatives(tmp_path / "again.safetensors") is not None  # kept
    r = _run(tmp_path / "with.safetensors", tmp_path / "soft.safetensors", "--alternatives-temper", "0.7,1.5")
    assert r.returncode == 0, r.stderr
    soft = load_alternatives(tmp_path / "soft.safetensors")
    assert (soft.scale, soft.power) == (0.7, 1.5) and torch.equal(soft.context.weight, got.context.weight)
    r = _run(base, tmp_path / "x.safetensors", "--alternatives-temper", "0.7,1.5")
    assert r.returncode != 0 and "needs a model with learned alternatives" in r.stderr
    r = _run(tmp_path / "with.safetensors", tmp_path / "x.safetensors", "--alternatives-temper", "0,9")
    assert r.returncode != 0 and "SCALE,POWER" in r.stderr and "Traceback" not in r.stderr
    r = _run(base, tmp_path / "x.safetensors", "--alternatives-from", base)
    assert r.returncode != 0 and "has no learned alternatives" in r.stderr and "Traceback" not in r.stderr


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


def _script(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def _tiny(path, fusion=False, **kw):
    from tinct.hints.fusion import HintFusion

    torch.manual_seed(0)
    net = create_model("effunet", pretrained=False, width=8, hints=True, **kw)
    return save_model(net, path, fusion=HintFusion() if fusion else None)


def test_package_model_takes_a_runs_network_and_records_its_recipe(tmp_path):
    import json

    fused = _tiny(tmp_path / "fused.safetensors", fusion=True)
    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(5)
    trained = create_model("effunet", pretrained=False, width=8, hints=True)
    torch.save({"model": trained.state_dict(), "step": 600}, run / "ckpt_600.pt")
    (run / "config.json").write_text(json.dumps({"steps": 800, "crop": 224, "lr": 1e-4, "seed": 12, "out": "x"}))
    out = tmp_path / "shipped.safetensors"
    r = _run(fused, out, "--network-from", run / "ckpt_600.pt", "--render-size", "224")
    assert r.returncode == 0, r.stderr
    shipped, record = load_model(out)
    assert torch.equal(shipped.ab_head.weight, trained.ab_head.weight)  # the run's network
    assert load_fusion(out) is not None  # the source file's fusion stage kept
    origin = record["provenance"]["network_from"]
    assert origin["step"] == 600
    assert origin["recipe"] == {"steps": 800, "crop": 224, "lr": 1e-4, "seed": 12}
    assert record["kwargs"]["render_size"] == 224
    other = tmp_path / "other.pt"
    torch.save({"model": create_model("effunet", pretrained=False, width=16, hints=True).state_dict()}, other)
    r = _run(fused, tmp_path / "bad.safetensors", "--network-from", other)
    assert r.returncode != 0 and "do not match" in r.stderr and not (tmp_path / "bad.safetensors").exists()


def _gray_png(path, seed, h=60, w=80):
    from PIL import Image

    from conftest import random_rgb

    Image.fromarray(random_rgb(h, w, seed=seed)).convert("L").save(path)
    return path


def test_bw_report_writes_a_sheet_and_the_mean_colorfulness(tmp_path):
    import json

    from PIL import Image

    folder = tmp_path / "bw"
    folder.mkdir()
    for i in range(3):
        _gray_png(folder / f"old{i}.png", i)
    model = _tiny(tmp_path / "m.safetensors")
    r = _script("bw_report.py", folder, "--model", model, "--out", tmp_path / "sheet.jpg", "--columns", "2")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["images"] == 3
    assert report["mean_cf_input"] < 1e-6 < report["mean_cf_output"]  # gray in, color out
    with Image.open(tmp_path / "sheet.jpg") as im:
        assert im.format == "JPEG" and im.width > 2 * 180


def test_hint_demo_reports_point_effect_and_reference_shift(tmp_path):
    import json

    model = _tiny(tmp_path / "fused.safetensors", fusion=True, global_prior=3.0)
    img = _gray_png(tmp_path / "img.png", 1, 96, 128)
    ref = _gray_png(tmp_path / "ref_gray.png", 2)
    from PIL import Image

    Image.new("RGB", (50, 40), (20, 60, 200)).save(tmp_path / "ref.png")  # a blue scene
    from conftest import random_rgb

    Image.fromarray(random_rgb(90, 120, seed=3)).save(tmp_path / "color.png")
    r = _script("hint_demo.py", "--model", model, "--image", img, "--point", "40,30,#1f9e3a,4", "--radius", "12",
                "--reference", tmp_path / "ref.png", "--ref-image", ref, "--out-point", tmp_path / "p.png",
                "--out-reference", tmp_path / "r.png", "--fit-image", tmp_path / "color.png", "--fit-points", "5",
                "--out-fit", tmp_path / "f.png")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["points"]["hint_patches"] >= 1 and set(res["points"]) >= {"automatic", "points", "points, no fit"}
    from PIL import Image as _Image

    with _Image.open(tmp_path / "f.png") as im:
        assert im.width > 5 * 256
    assert res["point"]["inside"] > res["point"]["outside"]  # the propagation keeps a lone hint local
    assert res["reference"]["after"]["ab_chi2"] < res["reference"]["before"]["ab_chi2"]
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "r.png").stat().st_size > 0


def test_before_after_strip(tmp_path):
    from PIL import Image

    model = _tiny(tmp_path / "m.safetensors")
    r = _script("before_after.py", "--model", model, "--out", tmp_path / "ba.png")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "ba.png") as im:
        assert im.format == "PNG" and im.width > 6 * 200


def test_bench_large_prints_the_table(tmp_path):
    model = _tiny(tmp_path / "m.safetensors")
    r = _script("bench_large.py", "--model", model, "--megapixels", "0.3", "--runs", "1", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "| tinct colorize |" in r.stdout and "ratio tinct / baseline" in r.stdout


def test_package_model_records_purpose_and_benchmark_for_line_art(tmp_path):
    torch.manual_seed(0)
    src = save_model(create_model("lineart_unet", pretrained=False, width=8), tmp_path / "line.safetensors")
    out = tmp_path / "lineart.safetensors"
    r = _run(src, out, "--half", "--purpose", "line drawings", "--metrics", '{"psnr": 13.1}')
    assert r.returncode == 0, r.stderr
    rec = read_record(out)
    assert rec["purpose"] == "line drawings" and rec["provenance"]["benchmark"] == {"psnr": 13.1}
    assert rec["output"] == "lab" and rec["kwargs"]["hist_match"] == 0.7 and rec["dtype"] == "float16"
    model, _ = load_model(out)
    assert model.output_kind == "lab"
    again = tmp_path / "again.safetensors"
    assert _run(out, again, "--half").returncode == 0
    assert read_record(again)["purpose"] == "line drawings"  # kept when repackaged
    assert _run(out, again, "--hist-match", "0.85").returncode == 0
    assert read_record(again)["kwargs"]["hist_match"] == 0.85 and load_model(again)[0].hist_match == 0.85


def test_package_model_sets_the_confinement_and_hint_locality_measures_it(tmp_path):
    import json

    from PIL import Image

    fused = _tiny(tmp_path / "fused.safetensors", fusion=True)
    r = _run(fused, tmp_path / "local.safetensors", "--confine", "0.25,40")
    assert r.returncode == 0, r.stderr
    assert read_record(tmp_path / "local.safetensors")["fusion"]["kwargs"]["confine"] == [0.25, 40.0]
    assert load_fusion(tmp_path / "local.safetensors").confine == (0.25, 40.0)
    for bad in ("0,40", "0.25", "x,y", "0.25,-1"):
        r = _run(fused, tmp_path / "bad.safetensors", "--confine", bad)
        assert r.returncode != 0 and "--confine takes" in r.stderr and "Traceback" not in r.stderr
    folder = tmp_path / "bw"
    folder.mkdir()
    for i in range(2):
        _gray_png(folder / f"old{i}.png", i)
    r = _script("hint_locality.py", folder, "--model", tmp_path / "local.safetensors", "--compare", fused,
                "--clicks", "2", "--sheet", tmp_path / "sheet.png")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["trials"] == 4 and out["points"] == 1 and out["mean_near"] >= 0 and 0 <= out["share_ratio_at_most_0.25"] <= 1
    with Image.open(tmp_path / "sheet.png") as im:
        assert im.width == 3 * 256  # no hint | the compared model | the model


def test_video_scripts_run_on_a_small_clip(tmp_path):
    import json

    from clips import frames, write_clip

    model = _tiny(tmp_path / "m.safetensors")
    folder = tmp_path / "clips"
    write_clip(folder / "a.mp4", frames(6, 64, 96), audio=True)
    r = _script("video_speed.py", folder, "--model", model, "--threads", "1")
    assert r.returncode == 0, r.stderr
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["frames"] == 6 and last["fps_steadied"] > 0 and last["fps_per_frame"] > 0
    r = _script("bw_film.py", folder / "a.mp4", "--model", model, "--strip", tmp_path / "strip.jpg")
    assert r.returncode == 0, r.stderr
    film = json.loads(r.stdout.strip().splitlines()[-1])
    assert film["frames"] == 6 and film["still_flicker_steadied"] >= 0 and (tmp_path / "strip.jpg").is_file()


def test_make_scans_writes_gray_scans_with_exif_and_icc(tmp_path):
    import numpy as np
    from PIL import Image

    (tmp_path / "photos").mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(80, 60), (60, 90)]):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(tmp_path / "photos" / f"{i}.jpg")
    r = _script("make_scans.py", tmp_path / "photos", "-o", tmp_path / "scans", "--count", "5", "--long-side", "400")
    assert r.returncode == 0, r.stderr
    scans = sorted((tmp_path / "scans").glob("*.jpg"))
    assert len(scans) == 2 and "2 scans" in r.stdout
    with Image.open(scans[0]) as a, Image.open(scans[1]) as b:
        assert (a.mode, a.size, b.size) == ("L", (400, 300), (300, 400))
        assert a.getexif()[0x0132] == "1962:05:01 10:00:00" and a.info.get("icc_profile")
    bad = _script("make_scans.py", tmp_path / "photos", "-o", tmp_path / "s2", "--count", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_import_loops_finds_a_loop_and_none_in_tinct(tmp_path):
    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    top = _script("import_loops.py", tmp_path / "src")
    inner = _script("import_loops.py", tmp_path / "src", "--all")
    assert "0 import loop(s)" in top.stdout and "pkg.a <-> pkg.b" in inner.stdout and "pkg.c" not in inner.stdout
    ours = _script("import_loops.py", Path(__file__).parents[1] / "src", "--all")
    assert ours.returncode == 0 and ours.stdout.startswith("0 import loop(s)"), ours.stdout


def test_call_path_lists_the_stages_of_a_hinted_call(tmp_path):
    model = _tiny(tmp_path / "fused.safetensors", fusion=True)
    r = _script("call_path.py", "--model", model, "--points", "2")
    assert r.returncode == 0, r.stderr
    path = r.stdout.splitlines()[0].split(" -> ")
    assert path[0] == "tinct.pipeline" and path.index("tinct.models.effunet") < path.index("tinct.hints.fusion")
    plain = _script("call_path.py", "--model", model, "--points", "0")
    assert "tinct.hints.fusion" not in plain.stdout


def test_layers_speed_times_the_three_paths(tmp_path):
    import json

    torch.manual_seed(0)
    model = save_model(create_model("lineart_cnn", width=8), tmp_path / "sketch.safetensors")
    r = _script("layers_speed.py", "--model", model, "--size", "64", "--runs", "1", "--threads", "1")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["size"] == 64 and min(out["paint_s"], out["regions_s"], out["layers_s"]) > 0
    assert out["regions_ratio"] > 0 and out["layers_ratio"] > 0

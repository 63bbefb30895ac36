"""``tinct bench`` on generated images with a tiny model file (no shared data needed)."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinct import bench, color, metrics
from tinct.bench import report as bench_report
from tinct.cli import main
from tinct.errors import TinctError
from tinct.modelfile import read_record, save_model
from tinct.registry import create_model, get_spec, list_models

SIZE = 64  # benchmark size in these tests (multiple of the 32-pixel stride)


@pytest.fixture(autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture
def images(tmp_path) -> Path:
    """6 smooth color images of 96x80 (W x H) with different hues."""
    d = tmp_path / "imgs"
    d.mkdir()
    y, x = np.mgrid[0:80, 0:96]
    for i in range(6):
        rgb = np.stack([(x * 2 + 40 * i) % 256, (y * 3 + 25 * i) % 256, (x + y + 60 * i) % 256], axis=2)
        Image.fromarray(rgb.astype(np.uint8)).save(d / f"img{i}.png")
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_model(create_model("effunet", pretrained=False, width=8), tmp_path / "tiny.safetensors")


def _row(report, label):
    return next(r for r in report["rows"] if r["label"] == label)


def test_center_crop_resize_follows_the_protocol():
    img = Image.fromarray(np.arange(80 * 96 * 3, dtype=np.uint32).reshape(80, 96, 3).astype(np.uint8))
    out = bench.center_crop_resize(img, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    expected = np.asarray(img.resize((77, 64), Image.BICUBIC))[:, 6:70]  # shorter side 80 -> 64, then center
    np.testing.assert_array_equal(out, expected)


def test_parse_model_spec():
    assert bench.parse_model_spec("photo") == ("file", "photo", "photo")
    assert bench.parse_model_spec("runs/a/model.safetensors") == ("file", "model", "runs/a/model.safetensors")
    assert bench.parse_model_spec("mine=runs/a/model.safetensors") == ("file", "mine", "runs/a/model.safetensors")
    assert bench.parse_model_spec("arch:cic") == ("arch", "arch:cic", {"name": "cic"})
    assert bench.parse_model_spec("arch:unet:base=8,depth=3") == ("arch", "arch:unet:base=8,depth=3",
                                                                    {"name": "unet", "base": 8, "depth": 3})
    with pytest.raises(TinctError):
        bench.parse_model_spec("arch:unet:base")


def test_engine_table_json_and_sheet(images, tiny_model, tmp_path):
    out = tmp_path / "out"
    cfg = bench.BenchConfig(models=[str(tiny_model)], data=images, out=out, size=SIZE, latency=False,
                            sheet_count=4, progress=False, threads=1)
    report = bench.run_bench(cfg)
    assert [r["label"] for r in report["rows"]] == [bench.TRUTH_LABEL, bench.GRAY_LABEL, "tiny"]
    # the gray row is the ab = 0 image of each protocol-resized original
    originals = [bench.center_crop_resize(Image.open(images / f"img{i}.png").convert("RGB"), SIZE) for i in range(6)]
    grays = [color.to_uint8(color.gray_rgb(color.to_tensor(o))) for o in originals]
    gray_row = _row(report, bench.GRAY_LABEL)
    assert gray_row["psnr"] == pytest.approx(np.mean([metrics.psnr(g, o) for g, o in zip(grays, originals)]))
    assert gray_row["cf"] < 1.0  # gray output, up to uint8 rounding
    gt_cf = np.mean([metrics.colorfulness(o) for o in originals])
    assert _row(report, bench.TRUTH_LABEL)["cf"] == pytest.approx(gt_cf)
    assert gray_row["delta_cf"] == pytest.approx(abs(gray_row["cf"] - gt_cf))
    model_row = _row(report, "tiny")
    assert model_row["params"] == sum(p.numel() for p in create_model("effunet", pretrained=False, width=8).parameters())
    for key in ("psnr", "ssim", "cf", "delta_cf", "ciede2000", "auc"):
        assert np.isfinite(model_row[key])
    assert "latency_ms" not in model_row
    # the model row's numbers are the pipeline's outputs scored against the originals
    from tinct.pipeline import Colorizer

    col = Colorizer(tiny_model, render_size=SIZE)
    direct = [metrics.psnr(col(g, render_size=SIZE), o) for g, o in zip(grays, originals)]
    assert model_row["psnr"] == pytest.approx(np.mean(direct))
    # files
    data = json.loads((out / "bench.json").read_text())
    assert data["settings"]["n_images"] == 6 and data["settings"]["cf_variant"] == "hasler-suesstrunk"
    assert data["machine"]["cpu_count"] and data["tinct_version"] and data["date"]
    assert len(data["per_image"]["models"]["tiny"]) == 6 and data["per_image"]["images"][0] == "img0.png"
    md = (out / "bench.md").read_text()
    assert "| gray (ab=0) |" in md and "| tiny |" in md and "Hasler-Suesstrunk" in md
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.size == (3 * SIZE, bench_report.SHEET_HEADER + 4 * SIZE)  # gray | tiny | original
    px = np.asarray(sheet.convert("RGB"))
    np.testing.assert_array_equal(px[bench_report.SHEET_HEADER:bench_report.SHEET_HEADER + SIZE, 2 * SIZE:], originals[0])
    np.testing.assert_array_equal(px[bench_report.SHEET_HEADER:bench_report.SHEET_HEADER + SIZE, :SIZE], grays[0])


def test_cli_bench_with_latency_and_speed_ref(images, tiny_model, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["bench", "--models", str(tiny_model), "--data", str(images), "--size", str(SIZE),
               "--latency-runs", "1", "--threads", "1", "--out", str(out), "--limit", "3", "--sheet-count", "2",
               "--speed-ref", "arch:effunet:width=8", "--cf-ddcolor", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| gray (ab=0) |" in text and "| tiny |" in text and "| arch:effunet:width=8 |" in text
    assert "1 torch threads" in text and "DDColor variant" in text
    data = json.loads((out / "bench.json").read_text())
    assert data["settings"]["n_images"] == 3 and data["settings"]["threads"] == 1
    assert data["settings"]["cf_variant"] == "ddcolor-abs"
    tiny, ref = _row(data, "tiny"), _row(data, "arch:effunet:width=8")
    assert set(tiny["latency_ms"]) == {"256", "512"} and all(v > 0 for v in tiny["latency_ms"].values())
    assert ref["speed_ratio"] == {"256": 1.0, "512": 1.0}
    assert tiny["speed_ratio"]["256"] == pytest.approx(tiny["latency_ms"]["256"] / ref["latency_ms"]["256"])
    assert "psnr" not in ref and ref["kind"] == "arch"  # random weights: speed only
    ref_line = next(line for line in text.splitlines() if line.startswith("| arch:effunet"))
    assert ref_line.split("|")[3].strip() == "-"  # PSNR column shown as "-"
    assert Image.open(out / "contact_sheet.png").size == (3 * SIZE, bench_report.SHEET_HEADER + 2 * SIZE)


def test_speed_ref_by_row_label(images, tiny_model, tmp_path):
    cfg = bench.BenchConfig(models=[f"mine={tiny_model}", "arch:cnn4:width=4"], data=images, out=tmp_path / "o",
                            size=SIZE, limit=1, latency_runs=1, threads=1, sheet_count=0, speed_ref="mine",
                            progress=False)
    report = bench.run_bench(cfg)
    assert [r["label"] for r in report["rows"]] == [bench.TRUTH_LABEL, bench.GRAY_LABEL, "mine", "arch:cnn4:width=4"]
    assert _row(report, "mine")["speed_ratio"] == {"256": 1.0, "512": 1.0}
    assert report["settings"]["speed_ref"] == "mine"
    assert not (tmp_path / "o" / "contact_sheet.png").exists()  # --sheet-count 0


def test_cli_errors(images, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:  # no default data: argparse says what is missing
        main(["bench", "--models", "x.safetensors"])
    assert exit_.value.code == 2 and "--data" in capsys.readouterr().err
    for kind in ("hints", "lineart", "video"):
        with pytest.raises(SystemExit):
            main(["bench", kind])
        assert "--data" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # each kind takes only its own options
        main(["bench", "hints", "--data", str(images), "--realism"])
    assert "unrecognized arguments: --realism" in capsys.readouterr().err
    assert main(["bench", "--models", str(tmp_path / "missing.safetensors"), "--data", str(images)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["bench", "--models", "arch:nonesuch", "--data", str(images), "--no-latency"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["bench", "--size", "16", "--data", str(images)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["bench", "--data", str(empty)]) == 2
    assert "no images" in capsys.readouterr().err


def test_cli_hints_is_wired(images, tmp_path, monkeypatch, capsys):
    calls = []

    def run_hint_bench(data_dir, models, out_dir, size, limit, seed, progress=True, jobs=1):
        calls.append((Path(data_dir), models, Path(out_dir), size, limit, seed, jobs))
        return {"table": "| hints | PSNR |"}

    fake = types.SimpleNamespace(run_hint_bench=run_hint_bench, markdown_table=lambda r: r["table"] + "\n")
    monkeypatch.setitem(sys.modules, "tinct.bench.hints", fake)
    assert main(["bench", "hints", "--data", str(images), "--models", "a.safetensors", "--size", "64",
                 "--limit", "2", "--seed", "3", "--out", str(tmp_path / "h"), "--jobs", "2"]) == 0
    assert calls == [(images, ["a.safetensors"], tmp_path / "h", 64, 2, 3, 2)]
    assert "| hints | PSNR |" in capsys.readouterr().out


@dataclass
class _FakeResult:
    model_path: Path
    history: list
    final: dict


def _fake_train(calls):
    """Stands in for tinct.train.train: saves an untrained tiny model of the requested architecture."""

    def train(cfg):
        calls.append(cfg)
        torch.manual_seed(cfg.seed)
        model = create_model(cfg.model, **get_spec(cfg.model).tiny)
        path = save_model(model, Path(cfg.out) / "model.safetensors", provenance={"steps": cfg.steps})
        history = [{"epoch": 1, "G_loss": 0.5, "D_loss": float("nan")}, {"epoch": 2, "G_loss": 0.25, "D_loss": float("nan")}]
        return _FakeResult(path, history, history[-1])

    return train


def test_train_budget_engine_trains_every_colorizer(images, tmp_path, monkeypatch):
    import tinct.train

    calls = []
    monkeypatch.setattr(tinct.train, "train", _fake_train(calls))
    cfg = bench.BenchConfig(models=[], data=images, out=tmp_path / "tb", size=SIZE, limit=2, latency=False,
                            sheet_count=1, progress=False, threads=1)
    budget = bench.TrainBudget(steps=7, data=images, batch_size=4, crop=32, seed=5)
    report = bench.run_train_budget(cfg, budget)
    archs = [s.name for s in list_models(role="colorizer") if getattr(s.cls, "trainable", True)
             and s.cls.output_kind == "ab"]  # line-art models are not photo colorizers
    assert [c.model for c in calls] == archs
    for c in calls:
        assert isinstance(c, tinct.train.TrainConfig)
        assert (c.steps, c.batch_size, c.crop, c.seed, c.data) == (7, 4, 32, 5, str(images))
        assert c.loss is None and c.model_kwargs == {} and Path(c.out) == tmp_path / "tb" / c.model
    labels = [r["label"] for r in report["rows"]]
    assert labels == [bench.TRUTH_LABEL, bench.GRAY_LABEL, *archs]
    for arch in archs:
        row = _row(report, arch)
        assert row["final_loss"] == 0.25 and row["train_s"] >= 0 and np.isfinite(row["psnr"])
        assert read_record(row["spec"])["arch"] == arch
    data = json.loads((tmp_path / "tb" / "bench.json").read_text())  # strict JSON: NaN written as null
    assert data["train"]["steps"] == 7 and data["train"]["runs"][0]["final"]["D_loss"] is None
    assert "train s" in (tmp_path / "tb" / "bench.md").read_text()


def test_cli_train_budget(images, tmp_path, monkeypatch, capsys):
    import tinct.train

    calls = []
    monkeypatch.setattr(tinct.train, "train", _fake_train(calls))
    out = tmp_path / "tb"
    rc = main(["bench", "study", "--train-budget", "3", "--archs", "cnn4,unet", "--train-data", str(images),
               "--data", str(images), "--size", str(SIZE), "--limit", "2", "--no-latency", "--out", str(out),
               "--batch-size", "2", "--crop", "32", "--threads", "1", "--no-progress"])
    assert rc == 0
    assert [c.model for c in calls] == ["cnn4", "unet"]
    text = capsys.readouterr().out
    assert "| cnn4 |" in text and "| unet |" in text and "final loss" in text and "| gray (ab=0) |" in text
    assert (out / "contact_sheet.png").is_file() and (out / "cnn4" / "model.safetensors").is_file()
    assert main(["bench", "study", "--train-budget", "3", "--archs", "patchgan", "--train-data", str(images),
                 "--data", str(images), "--out", str(out)]) == 2
    assert "not a colorizer" in capsys.readouterr().err


def test_sources_get_their_own_rows_and_casts_are_measured(images, tiny_model, tmp_path):
    """A folder of subfolders is a set of sources: one row per source; the a/b cast of an output
    is its mean a/b minus the original's (a yellow-tinted copy reads b > 0)."""
    data = tmp_path / "sets"
    for src, files in (("one", ["img0.png", "img1.png"]), ("two", ["img2.png", "img3.png", "img4.png"])):
        (data / src).mkdir(parents=True)
        for f in files:
            (data / src / f).write_bytes((images / f).read_bytes())
    cfg = bench.BenchConfig(models=[str(tiny_model)], data=data, out=tmp_path / "o", size=SIZE, latency=False,
                            sheet_count=2, progress=False, threads=1, limit=2)
    report = bench.run_bench(cfg)
    assert report["settings"]["n_images"] == 4  # at most --limit per source
    assert {k: v["n_images"] for k, v in report["sources"].items()} == {"one": 2, "two": 2}
    rows = report["sources"]["two"]["rows"]
    assert [r["label"] for r in rows] == [bench.TRUTH_LABEL, bench.GRAY_LABEL, "tiny"]
    per = report["per_image"]["models"]["tiny"]
    assert rows[2]["bias_b"] == pytest.approx(np.mean([p["bias_b"] for p in per[2:]]))
    md = (tmp_path / "o" / "bench.md").read_text()
    assert "Per source" in md and "| two | 2 | tiny |" in md and "b bias" in md
    rgb = np.asarray(Image.open(images / "img0.png").convert("RGB"))
    yellow = np.clip(rgb.astype(int) + np.array([12, 12, -25]), 0, 255).astype(np.uint8)
    m = metrics.image_metrics(yellow, rgb)
    assert m["bias_b"] > 5 and abs(m["bias_a"]) < m["bias_b"] / 2


def test_grid_rows_score_the_originals_color_grid(images, tmp_path):
    """--grid adds, after each hint model, its score with the original's 14x14 color grid as hints."""
    from tinct.hints import Hints
    from tinct.pipeline import Colorizer

    torch.manual_seed(0)
    model = create_model("effunet", pretrained=False, width=8, hints=True)
    with torch.no_grad():  # the hint stem starts at zero; give it weight so the grid changes the result
        model.hint_stem.weight.normal_(0, 0.5)
    tiny_model = save_model(model, tmp_path / "hinted.safetensors")

    cfg = bench.BenchConfig(models=[f"tiny={tiny_model}"], data=images, out=tmp_path / "g", size=SIZE, limit=2,
                            latency=False, sheet_count=1, progress=False, threads=1, grid=True)
    report = bench.run_bench(cfg)
    labels = [r["label"] for r in report["rows"]]
    assert labels[-2:] == ["tiny", "tiny" + bench.GRID_SUFFIX]
    files = bench.list_images(images, 2)
    col = Colorizer(tiny_model, render_size=SIZE)
    direct = []
    for f in files:
        rgb = bench.load_eval_image(f, SIZE)
        grid = bench.grid_of(rgb)
        assert grid.shape == (14, 14, 3)
        out = col(bench.gray_input(rgb), Hints(grid=grid), render_size=SIZE)
        direct.append(metrics.psnr(out, rgb))
    assert _row(report, "tiny" + bench.GRID_SUFFIX)["psnr"] == pytest.approx(np.mean(direct))
    assert _row(report, "tiny" + bench.GRID_SUFFIX)["psnr"] != pytest.approx(_row(report, "tiny")["psnr"])
    assert Image.open(tmp_path / "g" / "contact_sheet.png").width == 4 * SIZE  # gray | tiny | tiny + grid | original


def test_throughput_runs_every_mode_on_the_same_files(images, tiny_model, tmp_path, capsys):
    from tinct.cli import main

    assert main(["bench", "throughput", str(images), "--models", str(tiny_model), "--size", "64",
                 "--threads", "1", "--out", str(tmp_path / "t")]) == 0
    report = json.loads((tmp_path / "t" / "throughput.json").read_text())
    assert [r["mode"] for r in report["rows"]] == ["serial", "pipelined", "jobs2", "onnx"]
    for r in report["rows"]:
        assert r["exit"] == 0 and r["images"] == 6 and r["images_per_s"] > 0 and r["peak_mb"] > 0
    assert report["rows"][0]["ratio"] == 1.0
    assert "| jobs2 |" in capsys.readouterr().out


def test_each_model_is_scored_at_its_own_working_size(images, tmp_path):
    """A model file that records a working size is benchmarked at it, as `tinct colorize` runs it; a
    model that records none at the bench size; --render-size overrides both; a bad one is refused."""
    from tinct.pipeline import Colorizer

    torch.manual_seed(0)
    net = create_model("effunet", pretrained=False, width=8)
    plain = save_model(net, tmp_path / "plain.safetensors")
    sized = create_model("effunet", pretrained=False, width=8, render_size=32)
    sized.load_state_dict(net.state_dict())
    own = save_model(sized, tmp_path / "own.safetensors")
    assert read_record(own)["kwargs"]["render_size"] == 32 and Colorizer(own).render_size == 32
    assert Colorizer(plain).render_size == 256  # the pipeline's default
    cfg = bench.BenchConfig(models=[f"plain={plain}", f"own={own}"], data=images, out=tmp_path / "o", size=SIZE,
                            latency=False, sheet_count=0, progress=False, threads=1)
    report = bench.run_bench(cfg)
    assert _row(report, "plain")["render_size"] == SIZE and _row(report, "own")["render_size"] == 32
    assert _row(report, "plain")["psnr"] != pytest.approx(_row(report, "own")["psnr"], abs=1e-6)  # not the same run
    assert "own 32 px" in bench_report.markdown(report)
    forced = bench.run_bench(bench.BenchConfig(**{**cfg.__dict__, "render_size": 64, "out": tmp_path / "f"}))
    assert _row(forced, "own")["render_size"] == 64
    assert _row(forced, "own")["psnr"] == pytest.approx(_row(report, "plain")["psnr"])  # same weights, same size
    with pytest.raises(TinctError, match="render-size"):
        bench.run_bench(bench.BenchConfig(**{**cfg.__dict__, "render_size": 8}))
    with pytest.raises(ValueError, match="render_size"):
        create_model("effunet", pretrained=False, width=8, render_size=4)


def test_the_judge_is_a_real_imagenet_classifier():
    """EfficientNet-Lite2 with its bundled weights knows scikit-image's cat and coffee cup."""
    skdata = pytest.importorskip("skimage.data")
    from tinct.bench.realism import Judge

    judge = Judge()
    cat = np.asarray(Image.fromarray(skdata.chelsea()).resize((256, 256)))
    assert any(judge(cat, c)[1] for c in (281, 282, 285))  # tabby, tiger cat, Egyptian cat
    assert not judge(cat, 0)[1]  # not a tench
    cup = np.asarray(Image.fromarray(skdata.coffee()).resize((256, 256)))
    assert any(judge(cup, c)[1] for c in (967, 968))  # espresso, cup


def test_realism_rows_score_truth_gray_and_models(images, tiny_model, tmp_path, capsys):
    from tinct.bench.realism import label_of, summarize

    assert label_of(Path("val/x/val_n01440764_ILSVRC2012_val_00017472.jpg")) == 0
    assert label_of(Path("n03888257_12.JPEG")) == 701 and label_of(Path("img0.png")) is None
    s = summarize({"truth": [(True, True)] * 4, "gray": [(False, True), (True, True), (False, False), (False, True)],
                   "m": [(True, True), (True, True), (False, True), (False, True)]}, "truth", "gray")
    assert s["gray"]["top1"] == 25.0 and s["m"]["top1"] == 50.0 and s["m"]["recovered"] == pytest.approx(1 / 3)
    data = tmp_path / "labelled"
    data.mkdir()
    for i, wnid in enumerate(("n01440764", "n02102040", "n03028079")):
        (data / f"val_{wnid}_{i}.png").write_bytes((images / f"img{i}.png").read_bytes())
    (data / "unlabelled.png").write_bytes((images / "img3.png").read_bytes())
    assert main(["bench", "--models", str(tiny_model), "--data", str(data), "--size", str(SIZE), "--no-latency",
                 "--realism", "--out", str(tmp_path / "o"), "--no-progress", "--threads", "1"]) == 0
    rep = json.loads((tmp_path / "o" / "bench.json").read_text())["realism"]
    assert set(rep) == {bench.TRUTH_LABEL, bench.GRAY_LABEL, "tiny"} and all(r["n"] == 3 for r in rep.values())
    assert "Classifier test" in (tmp_path / "o" / "bench.md").read_text()
    assert main(["bench", "--models", str(tiny_model), "--data", str(images), "--size", str(SIZE), "--no-latency",
                 "--realism", "--out", str(tmp_path / "p"), "--no-progress"]) == 2
    assert "no image" in capsys.readouterr().err

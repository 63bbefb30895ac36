"""``tinct colorize`` end to end with tiny model files: files, folders, bad files, hints."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from tinct.cli import main
from tinct.modelfile import save_model
from tinct.registry import create_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("models")
    m = create_model("effunet", pretrained=False, width=8, hints=True, blend=1.0)  # regression head: hints act directly
    hint_params = [p for name, p in m.named_parameters() if "hint" in name or "global" in name]
    assert hint_params
    with torch.no_grad():  # the hint layers start at zero; give them weight so hints change the result
        for p in hint_params:
            p.normal_(0, 0.5)
    save_model(m, d / "hint.safetensors")
    save_model(create_model("effunet", pretrained=False, width=8, hints=False), d / "plain.safetensors")
    return {"hint": str(d / "hint.safetensors"), "plain": str(d / "plain.safetensors")}


def gray(h=40, w=56, seed=0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(seed).integers(0, 40, (h, w))
    return ((x * 3 + y * 2 + noise) % 256).astype(np.uint8)


def write(path, h=40, w=56, mode="L", seed=0, **save_kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(gray(h, w, seed), "L").convert(mode)
    im.save(path, **save_kw)
    return path


def colorize(capsys, *argv):
    code = main(["colorize", *map(str, argv), "--render-size", "64"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def size_of(path):
    with Image.open(path) as im:
        return im.size


def test_file_to_file(tmp_path, models, capsys):
    src = write(tmp_path / "old.jpg")
    code, out, err = colorize(capsys, src, "-o", tmp_path / "new.jpg", "--model", models["hint"])
    assert code == 0, err
    assert size_of(tmp_path / "new.jpg") == (56, 40)
    assert "colorized 1, skipped 0, failed 0" in out
    with Image.open(tmp_path / "new.jpg") as im:
        assert im.mode == "RGB"


def test_folder_tree_mirrored(tmp_path, models, capsys):
    inp = tmp_path / "in"
    write(inp / "a.png", 40, 56)
    write(inp / "sub" / "b.jpg", 64, 48, seed=1)
    write(inp / "sub" / "deeper" / "c.tif", 33, 70, seed=2)
    (inp / "sub" / "notes.txt").write_text("not an image, not picked up")
    write(inp / ".hidden.png")
    code, out, err = colorize(capsys, inp, "-o", tmp_path / "out", "--model", models["hint"], "--suffix", "_c")
    assert code == 0, err
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["a_c.png", "sub/b_c.jpg", "sub/deeper/c_c.tif"]
    assert size_of(tmp_path / "out" / "a_c.png") == (56, 40)
    assert size_of(tmp_path / "out" / "sub" / "b_c.jpg") == (48, 64)
    assert size_of(tmp_path / "out" / "sub" / "deeper" / "c_c.tif") == (70, 33)
    assert "colorized 3, skipped 0, failed 0" in out


def test_alpha_kept_and_jpeg_becomes_png(tmp_path, models, capsys):
    rgba = np.dstack([np.repeat(gray()[:, :, None], 3, 2), np.tile(np.arange(56, dtype=np.uint8) * 4, (40, 1))])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    code, _, err = colorize(capsys, tmp_path / "t.png", "-o", tmp_path / "out", "--model", models["hint"])
    assert code == 0, err
    with Image.open(tmp_path / "out" / "t.png") as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im)[:, :, 3], rgba[:, :, 3])
    code, _, err = colorize(capsys, tmp_path / "t.png", "-o", tmp_path / "jp", "--format", "jpg", "--model", models["hint"])
    assert code == 0, err
    assert [p.name for p in (tmp_path / "jp").iterdir()] == ["t.png"]


def test_quiet(tmp_path, models, capsys):
    write(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, out, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", models["hint"], "--quiet")
    assert code == 1 and out == "" and err.startswith(f"skip {tmp_path / 'in' / 'b.png'}: corrupt or truncated PNG")
    assert (tmp_path / "out" / "a.png").is_file()


def test_gif_input_written_as_png(tmp_path, models, capsys):
    write(tmp_path / "in" / "anim.gif")
    code, _, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", models["hint"])
    assert code == 0, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["anim.png"]


def test_exif_orientation_applied(tmp_path, models, capsys):
    exif = Image.Exif()
    exif[0x0112] = 6
    src = write(tmp_path / "rot.jpg", 40, 56, exif=exif.tobytes())
    code, _, err = colorize(capsys, src, "-o", tmp_path / "out", "--model", models["hint"])
    assert code == 0, err
    with Image.open(tmp_path / "out" / "rot.jpg") as im:
        assert im.size == (40, 56) and im.getexif().get(0x0112) in (None, 1)


def test_bad_files_do_not_stop_the_run(tmp_path, models, capsys):
    inp = tmp_path / "in"
    write(inp / "good1.png")
    write(inp / "good2.jpg", seed=3)
    (inp / "corrupt.jpg").write_text("this is a text file renamed .jpg")
    data = write(tmp_path / "full.png", 64, 64).read_bytes()
    (inp / "truncated.png").write_bytes(data[: len(data) // 2])
    code, out, err = colorize(capsys, inp, "-o", tmp_path / "out", "--model", models["hint"])
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.png", "good2.jpg"]
    assert "colorized 2, skipped 0, failed 2" in out
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith(f"skip {inp / 'corrupt.jpg'}: not an image") for line in lines)
    assert any(line.startswith(f"skip {inp / 'truncated.png'}: truncated") for line in lines)


def test_existing_output_needs_overwrite(tmp_path, models, capsys):
    src = write(tmp_path / "a.png")
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    code, _, err = colorize(capsys, src, "-o", out, "--model", models["hint"])
    assert code == 2 and "already exists" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"keep me"
    code, _, err = colorize(capsys, src, "-o", out, "--model", models["hint"], "--overwrite")
    assert code == 0, err
    assert size_of(out) == (56, 40)


def test_resume_skips_done_files(tmp_path, models, capsys):
    inp = tmp_path / "in"
    for i in range(3):
        write(inp / f"{i}.png", seed=i)
    out = tmp_path / "out"
    assert colorize(capsys, inp, "-o", out, "--model", models["hint"])[0] == 0
    past = 1_000_000_000
    for p in out.iterdir():
        os.utime(p, (past, past))
    (out / "1.png").unlink()
    (out / "2.png").write_bytes(b"half-written junk")  # not a readable image: redone
    code, stdout, err = colorize(capsys, inp, "-o", out, "--model", models["hint"], "--resume")
    assert code == 0, err
    assert "colorized 2, skipped 1, failed 0" in stdout
    assert (out / "0.png").stat().st_mtime == past
    assert size_of(out / "1.png") == (56, 40) and size_of(out / "2.png") == (56, 40)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_output_folder_inside_input_folder(tmp_path, models, capsys):
    inp = tmp_path / "in"
    write(inp / "a.png")
    code, _, err = colorize(capsys, inp, "-o", inp / "colored", "--model", models["hint"])
    assert code == 0, err
    code, stdout, err = colorize(capsys, inp, "-o", inp / "colored", "--model", models["hint"], "--resume")
    assert code == 0 and "colorized 0, skipped 1, failed 0" in stdout  # its own outputs are not inputs


def test_never_overwrites_an_input(tmp_path, models, capsys):
    src = write(tmp_path / "a.png")
    before = src.read_bytes()
    code, _, err = colorize(capsys, src, "-o", src, "--model", models["hint"], "--overwrite")
    assert code == 2 and "overwrite the input" in err
    code, _, err = colorize(capsys, tmp_path, "-o", tmp_path, "--model", models["hint"], "--overwrite")
    assert code == 2 and "overwrite the input" in err
    assert src.read_bytes() == before


def _pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def test_hints_reach_the_model(tmp_path, models, capsys):
    src = write(tmp_path / "a.png", 64, 64)
    run = lambda name, *extra: colorize(capsys, src, "-o", tmp_path / name, "--model", models["hint"], *extra)
    assert run("plain.png")[0] == 0
    assert run("hint.png", "--hint", "32,32,#ff0000,8")[0] == 0
    (tmp_path / "h.json").write_text(json.dumps({"points": [{"x": 32, "y": 32, "color": "#ff0000", "size": 8}]}))
    assert run("json.png", "--hints", tmp_path / "h.json")[0] == 0
    assert run("palette.png", "--palette", "#00ff00:2,#0000ff")[0] == 0
    plain, hint = _pixels(tmp_path / "plain.png"), _pixels(tmp_path / "hint.png")
    assert np.abs(plain - hint).sum() > 0
    assert np.array_equal(hint, _pixels(tmp_path / "json.png"))  # the same point, given either way
    assert np.abs(plain - _pixels(tmp_path / "palette.png")).sum() > 0


def test_hint_outside_image_is_a_usage_error(tmp_path, models, capsys):
    src = write(tmp_path / "a.png")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "o.png", "--model", models["hint"], "--hint", "500,5,#ff0000")
    assert code == 2 and "outside" in err and not (tmp_path / "o.png").exists()


def test_model_without_hints(tmp_path, models, capsys):
    src = write(tmp_path / "a.png")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "o.png", "--model", models["plain"], "--hint", "5,5,#ff0000")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "takes no hints" in err
    assert not (tmp_path / "o.png").exists()


def test_point_hints_need_one_image(tmp_path, models, capsys):
    write(tmp_path / "in" / "a.png")
    write(tmp_path / "in" / "b.png")
    code, _, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", models["hint"],
                            "--hint", "5,5,#ff0000")
    assert code == 2 and "one image" in err
    code, _, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", models["hint"],
                            "--palette", "#ff0000")
    assert code == 0, err


@pytest.mark.parametrize("argv,match", [
    (["--hint", "1,2"], "bad hint"),
    (["--palette", "#zz0000"], "bad palette"),
    (["--render-size", "8"], "render-size"),
    (["--threads", "0"], "threads"),
    (["--model", "no-such-model"], "unknown model"),
])
def test_usage_errors_are_one_line(tmp_path, models, capsys, argv, match):
    src = write(tmp_path / "a.png")
    code = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--model", models["hint"], *argv])
    err = capsys.readouterr().err
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_input(tmp_path, models, capsys):
    code, _, err = colorize(capsys, tmp_path / "nope.jpg", "-o", tmp_path / "out", "--model", models["hint"])
    assert code == 2 and "no such file" in err


def test_help_mentions_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    text = capsys.readouterr().out
    for option in ("--output", "--model", "--render-size", "--temperature", "--overwrite", "--resume", "--format",
                   "--suffix", "--hint", "--hints", "--grid", "--palette", "--reference", "--threads", "--quiet"):
        assert option in text, option


def test_output_with_a_non_image_extension_is_refused(tmp_path, models, capsys):
    src = write(tmp_path / "a.png")
    code, _, err = colorize(capsys, src, "-o", tmp_path / "out.exe", "--model", models["hint"])
    assert code == 2 and "not an image format" in err and not (tmp_path / "out.exe").exists()


def test_resume_removes_temporaries_of_a_killed_run(tmp_path, models, capsys):
    write(tmp_path / "in" / "a.png")
    stale = tmp_path / "out" / ".a.png.0123abcd.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a png")
    other = tmp_path / "out" / ".notes.txt.0123abcd.tmp"  # not one of this run's outputs
    other.write_bytes(b"x")
    code, _, _ = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--resume", "--model", models["hint"])
    assert code == 0 and not stale.exists() and other.exists() and (tmp_path / "out" / "a.png").is_file()


def test_ctrl_c_prints_what_was_done(tmp_path, models, capsys, monkeypatch):
    for i in range(3):
        write(tmp_path / "in" / f"{i}.png", seed=i)
    from tinct.pipeline import Colorizer

    real = Colorizer.predict  # the network's turn in a folder run
    calls = []

    def interrupted_on_the_second(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(Colorizer, "predict", interrupted_on_the_second)
    code, _, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", models["hint"])
    assert code == 130 and "interrupted: colorized 1, skipped 0, failed 0, not done 2" in err


def test_huge_palette_weight_is_fine_and_nan_is_one_line(tmp_path, models, capsys):
    src = write(tmp_path / "a.png")
    code, _, _ = colorize(capsys, src, "-o", tmp_path / "o1.png", "--model", models["hint"], "--palette", "#ff0000:1e308")
    assert code == 0
    code, _, err = colorize(capsys, src, "-o", tmp_path / "o2.png", "--model", models["hint"], "--palette", "#ff0000:nan")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_metadata_kept_and_output_marked_as_colorized(tmp_path, models, capsys):
    """EXIF (date, camera, caption), the ICC profile and the input's XMP reach the output; the XMP
    also says tinct colorized it (version, model, date), unless --no-provenance."""
    from PIL import ImageCms

    from tinct.imageio import provenance

    exif = Image.Exif()
    exif[0x0132] = "1931:05:04 10:00:00"  # DateTime
    exif[0x010F] = "Kodak"  # Make
    exif[0x010E] = "Grandmother at the lake"  # ImageDescription
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:rights="Family archive"/>'
           b'</rdf:RDF></x:xmpmeta>')
    for ext in ("jpg", "png", "tif", "webp"):
        src = write(tmp_path / f"scan.{ext}", mode="RGB", exif=exif.tobytes(), icc_profile=icc, xmp=xmp) \
            if ext in ("jpg", "webp") else write(tmp_path / f"scan.{ext}", mode="RGB", exif=exif.tobytes(),
                                                 icc_profile=icc)
        if ext in ("png", "tif"):  # Pillow writes XMP to these through its own fields
            from tinct.imageio import load_image, save_image

            loaded = load_image(src)
            loaded.xmp = xmp
            src.unlink()
            save_image(src, loaded.rgb, like=loaded)
        for flag, out in (([], tmp_path / "out" / f"a.{ext}"), (["--no-provenance"], tmp_path / "out" / f"b.{ext}")):
            code, _, _ = colorize(capsys, src, "-o", out, "--model", models["hint"], *flag)
            assert code == 0
            from tinct.imageio import load_image

            got = load_image(out)
            assert got.icc_profile == icc, ext
            assert b"Family archive" in got.xmp, ext  # the input's own XMP is kept
            mark = provenance.read(got.xmp)
            if flag:
                assert mark == {}, ext
            else:
                assert mark["Colorized"] == "True" and mark["Software"] == "tinct" and mark["Model"] == "hint", ext
                assert len(mark["ModelSha256"]) == 16 and mark["Date"].startswith("20")
            with Image.open(out) as im:
                e = im.getexif()
                assert e.get(0x0132) == "1931:05:04 10:00:00" and e.get(0x010F) == "Kodak", ext
                assert e.get(0x010E) == "Grandmother at the lake", ext


def test_folder_run_is_pipelined_and_writes_an_audit_report(tmp_path, models, capsys):
    """Decoding, prediction and encoding overlap (reader and writer threads): the outputs are the
    ones a plain loop gives, a bad file is skipped, and --report lists every file."""
    import csv

    from tinct import Colorizer
    from tinct.imageio import load_image

    for i in range(5):
        write(tmp_path / "in" / f"p{i}.png", 30 + i, 40, seed=i)
    (tmp_path / "in" / "bad.png").write_bytes(b"nope" * 50)
    code, out, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out", "--model", models["hint"],
                              "--report", tmp_path / "run.csv", "--no-provenance")
    assert code == 1 and "colorized 5, skipped 0, failed 1" in out and "bad.png" in err
    rows = list(csv.DictReader(open(tmp_path / "run.csv")))
    assert sorted(r["status"] for r in rows) == ["done"] * 5 + ["failed"]
    assert all(float(r["seconds"]) >= 0 for r in rows) and any("bad.png" in r["file"] for r in rows if r["reason"])
    c = Colorizer(models["hint"], render_size=64)
    for i in range(5):
        want = c(load_image(tmp_path / "in" / f"p{i}.png").rgb)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"p{i}.png").convert("RGB")), want)
    assert [r["file"] for r in rows] == sorted(r["file"] for r in rows)  # in file order, whatever writer wrote it
    import cv2
    import torch

    code, _, _ = colorize(capsys, tmp_path / "in", "-o", tmp_path / "out2", "--model", models["hint"],
                          "--report", tmp_path / "run.json", "--threads", "2")
    import json

    assert len(json.loads((tmp_path / "run.json").read_text())) == 6
    # the network ran on one thread fewer beside the reader and writers; both settings are given back
    assert torch.get_num_threads() == 2 and cv2.getNumThreads() == 2


def test_jobs_share_the_files_between_worker_processes(tmp_path, models, capsys):
    for i in range(4):
        write(tmp_path / "in" / f"p{i}.png", 30, 40, seed=i)
    (tmp_path / "in" / "bad.png").write_bytes(b"nope" * 50)
    code, out, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "one", "--model", models["hint"])
    code2, out2, err2 = colorize(capsys, tmp_path / "in", "-o", tmp_path / "two", "--model", models["hint"],
                                 "--jobs", "2", "--threads", "2", "--report", tmp_path / "r.json")
    assert code == code2 == 1 and "colorized 4, skipped 0, failed 1" in out2
    import json

    rows = json.loads((tmp_path / "r.json").read_text())
    assert len(rows) == 5 and sum(r["status"] == "done" for r in rows) == 4
    for i in range(4):
        a = np.asarray(Image.open(tmp_path / "one" / f"p{i}.png"))
        b = np.asarray(Image.open(tmp_path / "two" / f"p{i}.png"))
        assert np.array_equal(a, b)
    code, _, err = colorize(capsys, tmp_path / "in", "-o", tmp_path / "x", "--jobs", "0")
    assert code == 2 and "--jobs" in err


def test_16bit_scans_stay_16bit(tmp_path, models, capsys):
    """A 16-bit gray scan (a smooth ramp with thousands of levels) colorized into PNG and TIFF
    keeps 16 bits per sample and its fine gray steps; JPEG and --depth 8 give 8 bits; the Python
    API maps uint16 to uint16."""
    from tinct import Colorizer
    from tinct.imageio.depth16 import write_png16
    from tinct.imageio import load_image

    y, x = np.mgrid[0:48, 0:80]
    ramp = (x * 700 + y * 60 + 3000).astype(np.uint16)  # 48 x 80 distinct levels, most not k * 257
    rgb16 = np.repeat(ramp[:, :, None], 3, axis=2)
    with open(tmp_path / "scan.png", "wb") as f:
        write_png16(f, rgb16)
    for ext in ("png", "tif"):
        code, _, err = colorize(capsys, tmp_path / "scan.png", "-o", tmp_path / f"out.{ext}", "--model", models["hint"])
        assert code == 0, err
        out = load_image(tmp_path / f"out.{ext}")
        assert out.bit_depth == 16 and out.rgb16 is not None
        levels = len(np.unique(out.rgb16[..., 1]))
        assert levels > 1000 and (out.rgb16 % 257 != 0).mean() > 0.9  # not 8-bit data scaled up
    for argv in (["-o", tmp_path / "out.jpg"], ["-o", tmp_path / "out8.png", "--depth", "8"]):
        assert colorize(capsys, tmp_path / "scan.png", *argv, "--model", models["hint"])[0] == 0
        assert load_image(argv[1]).bit_depth == 8
    api = Colorizer(models["hint"], render_size=64)(rgb16)
    assert api.dtype == np.uint16 and api.shape == rgb16.shape
    assert np.abs(api.astype(int) - load_image(tmp_path / "out.png").rgb16.astype(int)).max() <= 1

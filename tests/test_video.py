"""``tinct video``, ``tinct frames`` and :class:`tinct.VideoColorizer` on real video files made
by the tests (H.264 mp4 with AAC audio, MJPEG avi, mkv, webm)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from clips import frames, packets, write_clip
from tinct.cli import main
from tinct.errors import TinctError
from tinct.modelfile import save_model
from tinct.registry import create_model

av = pytest.importorskip("av")
pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    return str(save_model(create_model("effunet", pretrained=False, width=8, hints=True), path))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_video_keeps_timing_size_and_audio(tmp_path, tiny, capsys):
    src = write_clip(tmp_path / "in.mp4", frames(12, 64, 96), rate=12, audio=True)
    code, out, err = run(capsys, "video", src, "-o", tmp_path / "out.mp4", "--model", tiny, "--render-size", "64")
    assert code == 0 and "colorized 1, skipped 0, failed 0" in out
    from tinct.video.io import probe

    a, b = probe(src), probe(tmp_path / "out.mp4")
    assert (b.width, b.height, b.frames, b.rate) == (a.width, a.height, a.frames, a.rate) == (96, 64, 12, 12)
    # every frame's presentation time kept (sorted: the encoder's B-frame order follows the content)
    assert sorted(p for p, _ in packets(tmp_path / "out.mp4", "video")) == sorted(p for p, _ in packets(src, "video"))
    assert packets(tmp_path / "out.mp4", "audio") == packets(src, "audio")  # copied untouched
    with av.open(str(tmp_path / "out.mp4")) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(first[..., 0] - first[..., 2]).mean() > 1  # colored, not gray
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("ext,codec,fmt", [(".mkv", "libx264", "matroska"), (".avi", "mjpeg", "avi"),
                                           (".webm", "libvpx-vp9", "webm"), (".mov", "libx264", "mov")])
def test_containers_in_mp4_out(tmp_path, tiny, capsys, ext, codec, fmt):
    try:
        src = write_clip(tmp_path / f"in{ext}", frames(6, 64, 96), codec=codec, fmt=fmt)
    except av.FFmpegError:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    code, _, _ = run(capsys, "video", src, "-o", tmp_path / "out", "--model", tiny, "--render-size", "64")
    from tinct.video.io import probe

    assert code == 0 and probe(tmp_path / "out" / "in.mp4").frames == 6


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotation_is_kept_and_the_network_sees_the_picture_upright(tmp_path, tiny, capsys, monkeypatch, rotation):
    from tinct.pipeline import Colorizer
    from tinct.video.io import probe

    seen = []
    predict = Colorizer.predict

    def spy(self, rgb, *a, **k):
        seen.append(rgb.shape)
        return predict(self, rgb, *a, **k)

    monkeypatch.setattr(Colorizer, "predict", spy)
    clip = frames(6, 64, 96)
    src = write_clip(tmp_path / "phone.mp4", clip, rotation=rotation, audio=True)
    code, out, _ = run(capsys, "video", src, "-o", tmp_path / "out.mp4", "--model", tiny, "--render-size", "64")
    assert code == 0 and "colorized 1" in out
    a, b = probe(src), probe(tmp_path / "out.mp4")
    assert a.rotation == b.rotation == rotation
    assert (b.width, b.height, b.frames) == (96, 64, 6)  # stored as the input was
    assert seen == [(96, 64, 3)] * 6  # colorized upright (as a player shows it)
    assert packets(tmp_path / "out.mp4", "audio") == packets(src, "audio")
    with av.open(str(tmp_path / "out.mp4")) as c:
        out0 = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    gray = lambda x: x.astype(float) @ [0.299, 0.587, 0.114]  # noqa: E731
    assert np.abs(gray(out0) - gray(clip[0])).mean() < 8  # written back the way it was stored


def test_bad_videos_are_one_line_and_the_rest_goes_on(tmp_path, tiny, capsys):
    good = write_clip(tmp_path / "clips" / "a.mp4", frames(6, 64, 96))
    (tmp_path / "clips" / "b.mp4").write_text("not a video")
    data = good.read_bytes()
    (tmp_path / "clips" / "c.mp4").write_bytes(data[: len(data) // 3])
    from PIL import Image

    Image.fromarray(frames(1)[0]).save(tmp_path / "clips" / "d.mov", format="PNG")  # an image named .mov
    code, out, err = run(capsys, "video", tmp_path / "clips", "-o", tmp_path / "out", "--model", tiny,
                         "--render-size", "64")
    assert code == 1 and "colorized 1, skipped 0, failed 3" in out
    assert err.count("skip ") == 3 and (tmp_path / "out" / "a.mp4").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4"]  # nothing half-written
    code, _, err = run(capsys, "video", tmp_path / "nope.mp4", "-o", tmp_path / "o2")
    assert code == 2 and "no such file" in err


def test_a_damaged_frame_is_reported_and_skipped(tmp_path, tiny, capsys):
    clip = frames(8, 64, 96)
    src = write_clip(tmp_path / "in.avi", clip, codec="mjpeg", fmt="avi")
    data = bytearray(src.read_bytes())
    sizes = [s for _, s in packets(src, "video")]
    jpeg_starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    start = jpeg_starts[4]
    data[start:start + sizes[4] // 2] = bytes(sizes[4] // 2)  # wipe half of frame 4's JPEG
    src.write_bytes(bytes(data))
    code, out, err = run(capsys, "video", src, "-o", tmp_path / "out.mp4", "--model", tiny, "--render-size", "64")
    from tinct.video.io import probe

    assert code == 0 and "colorized 1" in out
    n = probe(tmp_path / "out.mp4").frames
    assert n in (7, 8)  # the damaged frame skipped (reported) or concealed by the decoder
    if n == 7:
        assert "damaged" in err


def test_resume_overwrite_and_folder_of_clips(tmp_path, tiny, capsys):
    for name in ("a", "b"):
        write_clip(tmp_path / "in" / f"{name}.mp4", frames(4, 64, 96, seed=ord(name)))
    args = ["video", tmp_path / "in", "-o", tmp_path / "out", "--model", tiny, "--render-size", "64"]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 2 and "already exists" in err
    (tmp_path / "out" / "b.mp4").unlink()
    (tmp_path / "out" / ".b.mp4.0123abcd.tmp").write_bytes(b"half")
    code, out, _ = run(capsys, *args, "--resume")
    assert code == 0 and "colorized 1, skipped 1" in out
    assert not list((tmp_path / "out").glob(".*.tmp"))  # the killed run's temporary is gone
    assert run(capsys, *args, "--overwrite")[2].count("->") == 2
    code, _, err = run(capsys, *args, "--keep", "1.5")
    assert code == 2 and "--keep" in err


def test_steadying_reduces_flicker_and_cuts_reset(tmp_path):
    """The shipped model on a grainy panning clip with a cut: the steadied output's warping error
    is well below the per-frame output's, and the cut is found."""
    from tinct.video import VideoColorizer
    from tinct.video.temporal import warp_error

    clip = frames(14, 96, 128, cut_at=8, grain=6.0)
    grays = [np.asarray(__import__("PIL.Image").Image.fromarray(f).convert("L")) for f in clip]
    steady = VideoColorizer("photo", render_size=128)
    a = list(steady.frames(clip))
    b = list(VideoColorizer("photo", render_size=128, per_frame=True).frames(clip))
    assert steady.cuts == 1
    ea, eb = warp_error(a, grays), warp_error(b, grays)
    assert ea < 0.8 * eb, (ea, eb)
    # a cut starts afresh: the first frame after it is the per-frame colorization
    np.testing.assert_array_equal(a[8], b[8])


def test_video_python_api_refuses_point_hints(tiny):
    from tinct.errors import HintError
    from tinct.hints import Hints, Point
    from tinct.video import VideoColorizer

    with pytest.raises(HintError, match="palette or a reference"):
        VideoColorizer(tiny, hints=Hints(points=[Point(1, 1, (1, 2, 3))]))
    out = list(VideoColorizer(tiny, render_size=64, hints=Hints(palette=[((200, 40, 40), 1.0)])).frames(frames(3)))
    assert len(out) == 3 and out[0].shape == (64, 96, 3)


def test_frames_drops_near_duplicates_finds_cuts_and_skips_gray(tmp_path, capsys):
    clip = frames(20, 64, 96, cut_at=12, still=5)
    gray = [np.repeat(f.mean(2, keepdims=True), 3, 2).astype(np.uint8) for f in frames(3, 64, 96, seed=3)]
    src = write_clip(tmp_path / "v.mp4", clip + gray)
    code, out, _ = run(capsys, "frames", src, "-o", tmp_path / "f", "--threshold", "0.03")
    assert code == 0
    summary = json.loads((tmp_path / "f" / "summary.json").read_text())["total"]
    with open(tmp_path / "f" / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert summary["kept"] == len(rows) == len(list((tmp_path / "f").glob("*.jpg")))
    assert summary["dropped: near-duplicate"] >= 4  # the still frames after the first
    assert summary["shot cuts"] >= 1 and summary["dropped: gray"] >= 1
    assert {int(r["shot"]) for r in rows} >= {0, 1} and all(float(r["score"]) >= 0.03 for r in rows)
    frames_kept = [int(r["frame"]) for r in rows]
    assert 0 in frames_kept and 12 in frames_kept  # each shot's first frame
    code, _, _ = run(capsys, "frames", src, "-o", tmp_path / "g", "--every", "4", "--max-per-shot", "2")
    rows = list(csv.DictReader(open(tmp_path / "g" / "manifest.csv")))
    assert all(int(r["frame"]) % 4 == 0 for r in rows) and len(rows) <= 4
    code, _, err = run(capsys, "frames", tmp_path / "g" / "summary.json", "-o", tmp_path / "h")
    assert code == 2 and "not a readable video" in err
    # the result trains directly
    code, _, _ = run(capsys, "train", "--model", "cnn4", "--data", tmp_path / "f", "--out", tmp_path / "run",
                     "--steps", "2", "--batch-size", "2", "--crop", "32", "--quiet")
    assert code == 0 and (tmp_path / "run" / "model.safetensors").is_file()


def test_video_bench_measures_both_paths(tmp_path, tiny, capsys):
    for i in range(2):
        write_clip(tmp_path / "clips" / f"c{i}.mp4", frames(6, 64, 96, seed=i, grain=4.0))
    code, out, _ = run(capsys, "bench", "video", "--data", tmp_path / "clips", "--models", tiny, "--size", "64",
                       "--out", tmp_path / "vb", "--no-progress")
    assert code == 0 and "c0.mp4" in out and "ratio" in out
    report = json.loads((tmp_path / "vb" / "video_bench.json").read_text())
    assert len(report["clips"]) == 2 and all(r["steadied"]["warp"] >= 0 and r["frames"] == 6 for r in report["clips"])
    assert all(0 <= r["steadied"]["cdc"] <= 1 for r in report["clips"]) and (tmp_path / "vb" / "c0_strip.png").is_file()


def test_cdc_is_zero_for_a_steady_clip_and_grows_with_color_jumps():
    from tinct.video.temporal import cdc, js_divergence

    f = frames(1, 64, 96)[0]
    assert cdc([f] * 6) == 0.0
    swapped = f[..., ::-1].copy()  # red and blue swapped: another color distribution
    assert cdc([f, swapped] * 3, steps=(1,)) > 0.1 and cdc([f, swapped] * 3, steps=(2,)) == 0.0
    p = np.array([1.0, 0.0])
    assert js_divergence(p, p[::-1]) == pytest.approx(1.0)


def test_still_flicker_counts_only_pixels_whose_gray_input_stays():
    from tinct.video.temporal import still_flicker

    gray = [np.full((8, 8), 100, np.uint8)] * 3
    steady = [np.full((8, 8, 3), (120, 100, 90), np.uint8)] * 3
    assert still_flicker(steady, gray) == 0.0
    jumpy = [np.full((8, 8, 3), c, np.uint8) for c in [(120, 100, 90), (90, 100, 120), (120, 100, 90)]]
    assert still_flicker(jumpy, gray) > 5
    moving = [np.full((8, 8), v, np.uint8) for v in (100, 150, 100)]  # the input itself changes: not counted
    assert still_flicker(jumpy, moving) == 0.0


def test_a_text_file_named_mp4_is_refused_in_words(tmp_path):
    from tinct.video.io import probe

    fake = tmp_path / "notes.mp4"
    fake.write_text("hello, this is not a film")
    with pytest.raises(TinctError) as info:
        probe(fake)
    msg = str(info.value)
    assert "not a readable video" in msg and "Errno" not in msg and "Invalid data" in msg

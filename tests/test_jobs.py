"""The job API: a real clip and real images colorized in the background, progress, download (again
until the result expires or is deleted), cancel, limits, a full queue, a restart, and the origin check."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from clips import frames, write_clip  # noqa: E402
from conftest import random_rgb  # noqa: E402
from tinct.modelfile import save_model  # noqa: E402
from tinct.registry import create_model  # noqa: E402
from tinct.serve import Settings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    return str(save_model(create_model("effunet", pretrained=False, width=8), path))


def app_for(model, jobs_dir, **kw):
    return create_app(Settings(models=(model,), default_model="tiny", preload=False, jobs_dir=str(jobs_dir),
                               torch_threads=1, allowed_hosts=("testserver",), **kw))


def png(seed=0, h=40, w=56) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(random_rgb(h, w, seed=seed)).convert("L").save(buf, "PNG")
    return buf.getvalue()


def wait_done(client, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/api/v1/jobs/{job_id}").json()
        if state["status"] not in ("queued", "running"):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def test_a_clip_job_from_upload_to_download(model, tmp_path):
    from tinct.video.io import probe

    clip = write_clip(tmp_path / "film.mp4", frames(10, 64, 96), audio=True)
    with TestClient(app_for(model, tmp_path / "jobs")) as client:
        r = client.post("/api/v1/jobs", files={"video": ("film.mp4", clip.read_bytes(), "video/mp4")},
                        data={"render_size": "64"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == job["status_url"] and job["status"] == "queued" and job["kind"] == "video"
        assert (tmp_path / "jobs").stat().st_mode & 0o777 == 0o700  # private
        state = wait_done(client, job["id"])
        assert state["status"] == "done" and state["done"] == state["total"] == 10 and state["progress"] == 1.0
        busy = client.get(state["result_url"])
        assert busy.status_code == 200 and busy.headers["content-type"] == "video/mp4"
        assert 'filename="film-color.mp4"' in busy.headers["content-disposition"]
        out = tmp_path / "out.mp4"
        out.write_bytes(busy.content)
        info = probe(out)
        assert (info.width, info.height, info.audio) == (96, 64, 1)
        again = client.get(state["result_url"])  # an interrupted download is asked for again
        assert again.status_code == 200 and again.content == busy.content
        stills = Image.open(io.BytesIO(client.get(state["preview_url"]).content))
        assert stills.format == "JPEG" and stills.size == (4 * 206 + 6, 212)  # 4 stills of the film
        gone = client.delete(job["status_url"])  # until it expires, or the client deletes it
        assert gone.status_code == 200 and gone.json()["status"] == "deleted"
        assert client.get(state["result_url"]).status_code == 410
        assert client.get(state["preview_url"]).status_code == 410
        assert not any((tmp_path / "jobs" / job["id"]).glob("result*"))


def test_an_images_job_zips_results_and_reports_bad_files(model, tmp_path):
    files = [("images", (f"scan{i}.png", png(i), "image/png")) for i in range(3)]
    files.append(("images", ("broken.png", b"not an image at all" * 20, "image/png")))
    with TestClient(app_for(model, tmp_path / "jobs")) as client:
        r = client.post("/api/v1/jobs", files=files)
        assert r.status_code == 202, r.text
        state = wait_done(client, r.json()["id"])
        assert state["status"] == "done" and state["total"] == 4 and "1 of 4" in state["message"]
        z = zipfile.ZipFile(io.BytesIO(client.get(state["result_url"]).content))
        names = sorted(z.namelist())
        assert names == ["report.json", "scan0-color.png", "scan1-color.png", "scan2-color.png"]
        report = json.loads(z.read("report.json"))
        bad = [e for e in report if e["status"] == "failed"]
        assert len(bad) == 1 and bad[0]["file"] == "broken.png" and str(tmp_path) not in bad[0]["reason"]
        img = np.asarray(Image.open(io.BytesIO(z.read("scan0-color.png"))))
        assert img.shape == (40, 56, 3)
        # a look before downloading: the three readable photos side by side, as a JPEG
        preview = client.get(state["preview_url"])
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
        sheet = np.asarray(Image.open(io.BytesIO(preview.content)))
        assert sheet.shape == (212, 3 * 206 + 6, 3)
        cell = sheet[6:206, 6:206]  # the first cell: the photo (56 x 40, never enlarged) centred on white
        assert cell.std() > 5  # a picture, not the white sheet


def test_cancel_limits_and_a_full_queue(model, tmp_path):
    clip = write_clip(tmp_path / "long.mp4", frames(60, 64, 96))
    with TestClient(app_for(model, tmp_path / "jobs", max_jobs=1, max_video_s=100)) as client:
        r = client.post("/api/v1/jobs", files={"video": ("long.mp4", clip.read_bytes(), "video/mp4")})
        assert r.status_code == 202
        job = r.json()
        full = client.post("/api/v1/jobs", files={"images": ("a.png", png(), "image/png")})
        assert full.status_code == 503 and full.headers["retry-after"] and "full" in full.json()["error"]
        gone = client.delete(job["status_url"])
        assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
        deadline = time.monotonic() + 60
        while (tmp_path / "jobs" / job["id"]).exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.get(f"{job['status_url']}/result").status_code == 410
        # bad submissions: one line each, nothing left behind
        cases = [
            ({"video": ("notes.mp4", b"hello" * 100, "video/mp4")}, {}, 400, "not a readable video"),
            ({"video": ("a.mp4", clip.read_bytes(), "video/mp4"), "images": ("a.png", png(), "image/png")}, {}, 400,
             "either one clip"),
            ({"images": ("a.png", png(), "image/png")}, {"model": "nope"}, 404, "unknown model"),
            ({"images": ("a.png", png(), "image/png")}, {"render_size": "9"}, 422, "render_size"),
            ({"images": ("a.png", png(), "image/png")}, {"colour": "x"}, 422, "unknown form field"),
        ]
        for files, data, status, words in cases:
            r = client.post("/api/v1/jobs", files=files, data=data)
            assert r.status_code == status and words in r.json()["error"], (r.status_code, r.text)
        assert client.get("/api/v1/jobs/nope").status_code == 404
        cross = client.post("/api/v1/jobs", files={"images": ("a.png", png(), "image/png")},
                            headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403
    with TestClient(app_for(model, tmp_path / "jobs2", max_video_s=2)) as client:
        r = client.post("/api/v1/jobs", files={"video": ("long.mp4", clip.read_bytes(), "video/mp4")})
        assert r.status_code == 413 and "limit is 2 s" in r.json()["error"]
        assert [p.name for p in (tmp_path / "jobs2").iterdir() if p.is_dir()] == []


def test_a_restart_keeps_results_and_marks_interrupted_jobs(model, tmp_path):
    from tinct.serve.jobs import INTERRUPTED, JobStore

    with TestClient(app_for(model, tmp_path / "jobs")) as client:
        r = client.post("/api/v1/jobs", files={"images": ("a.png", png(), "image/png")})
        done = wait_done(client, r.json()["id"])
    store = JobStore(tmp_path / "jobs")  # a job that was running when the server stopped
    stuck = store.create("images", "tiny", None, "x")
    store.update(stuck, status="running")
    store.close()
    with TestClient(app_for(model, tmp_path / "jobs")) as client:
        state = client.get(f"/api/v1/jobs/{stuck}").json()
        assert state["status"] == "interrupted" and state["message"] == INTERRUPTED
        assert not (tmp_path / "jobs" / stuck).exists()
        got = client.get(done["result_url"])
        assert got.status_code == 200 and zipfile.ZipFile(io.BytesIO(got.content)).namelist()


def test_one_look_for_the_whole_album(tmp_path):
    torch.manual_seed(0)
    path = save_model(create_model("effunet", pretrained=False, width=8, hints=True, global_prior=3.0),
                      tmp_path / "hinted.safetensors")
    files = [("images", (f"scan{i}.png", png(i), "image/png")) for i in range(2)]
    palette = {"palette": [{"color": "#c04020", "weight": 2}, "#3060a0"]}
    ref = io.BytesIO()
    Image.fromarray(random_rgb(30, 30, seed=9)).save(ref, "PNG")
    with TestClient(create_app(Settings(models=(str(path),), default_model="hinted", preload=False,
                                        jobs_dir=str(tmp_path / "jobs"), torch_threads=1,
                                        allowed_hosts=("testserver",)))) as client:
        def run(extra):
            r = client.post("/api/v1/jobs", files=files + extra)
            assert r.status_code == 202, r.text
            state = wait_done(client, r.json()["id"])
            assert state["status"] == "done", state
            z = zipfile.ZipFile(io.BytesIO(client.get(state["result_url"]).content))
            return [np.asarray(Image.open(io.BytesIO(z.read(f"scan{i}-color.png")))) for i in range(2)]

        plain = run([])
        looked = run([("hints", (None, json.dumps(palette))), ("reference", ("ref.png", ref.getvalue(), "image/png"))])
        assert all(not np.array_equal(a, b) for a, b in zip(plain, looked))  # every image took the look
        from tinct.hints import Hints
        from tinct.pipeline import Colorizer

        col = Colorizer(path)
        want = col(np.asarray(Image.open(io.BytesIO(png(1))).convert("RGB")),
                                  Hints(palette=[((192, 64, 32), 2.0), ((48, 96, 160), 1.0)],
                                        reference=np.asarray(Image.open(io.BytesIO(ref.getvalue())).convert("RGB"))))
        assert np.array_equal(looked[1], want)
        bad = client.post("/api/v1/jobs", files=files + [("hints", (None, '{"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}'))])
        assert bad.status_code == 400 and "palette only" in bad.json()["error"]
        bad = client.post("/api/v1/jobs", files=files + [("reference", ("r.png", b"not an image" * 10, "image/png"))])
        assert bad.status_code in (400, 415) and "reference image" in bad.json()["error"]

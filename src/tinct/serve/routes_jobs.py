"""``/api/v1/jobs``: a clip (field ``video``) or several images (field ``images``, repeated) colorized
in the background. ``POST`` answers 202 with the job's id and URLs; ``GET /jobs/{id}`` gives its
state and progress; ``GET /jobs/{id}/result`` downloads the mp4 or the zip of images (then the job's
files are removed); ``DELETE /jobs/{id}`` cancels it. The uploads stream to the job's private
folder, never to memory. A full job queue answers 503 with ``Retry-After``."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from tinct.errors import TinctError
from tinct.serve.errors import ApiError
from tinct.serve.jobs import PREVIEW
from tinct.serve.multipart import idle_timeout, read_form
from tinct.serve.options import MIN_RENDER_SIZE, int_field
from tinct.serve.settings import human_bytes

router = APIRouter(prefix="/api/v1", tags=["jobs"])
FIELDS = {"video", "images", "model", "render_size", "hints", "reference"}


def _state(request: Request, job: dict) -> dict:
    jid = job["id"]
    out = {"id": jid, "kind": job["kind"], "status": job["status"], "done": job["done"], "total": job["total"],
           "progress": round(job["done"] / job["total"], 4) if job["total"] else None, "message": job["message"],
           "model": job["model"], "status_url": f"/api/v1/jobs/{jid}"}
    if job["status"] == "done":
        out["result_url"] = f"/api/v1/jobs/{jid}/result"
        if (request.app.state.jobs.store.folder(jid) / PREVIEW).is_file():
            out["preview_url"] = f"/api/v1/jobs/{jid}/preview"
        out["expires_in_s"] = max(0, round(job["expires"] - time.time()))
    return out


def _job(request: Request, job_id: str) -> dict:
    store = request.app.state.jobs.store
    store.expire()
    job = store.get(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id[:40]!r} (unknown, or removed after its result was downloaded)")
    return job


@router.post("/jobs", status_code=202, summary="Colorize a clip or a batch of images in the background")
async def submit(request: Request) -> JSONResponse:
    """Multipart form: `video` (one clip: mp4, mov, mkv, avi, webm) or `images` (one or more image
    files, the field repeated); optional `model` and `render_size`; for images, optionally one look
    for the whole album: `hints` with a `palette` only (the hints JSON) and/or a `reference` image.
    Answers 202 with the job's URLs."""
    s = request.app.state.settings
    jobs = request.app.state.jobs
    jobs.store.expire()
    if jobs.store.active() >= s.max_jobs:
        raise ApiError(503, f"the job queue is full ({s.max_jobs} jobs); try again later",
                       headers={"Retry-After": "30"})
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > s.max_job_bytes:
        raise ApiError(413, f"the upload is larger than the {human_bytes(s.max_job_bytes)} job limit")
    job_id = jobs.store.create("pending", "", None, "")
    try:
        parts = await read_form(request.headers.get("content-type", ""), idle_timeout(request.stream(), s.body_timeout_s),
                                max_body=s.max_job_bytes, max_file=s.max_job_bytes,
                                max_parts=s.max_job_images + 3, spool=jobs.store.folder(job_id))
        unknown = sorted({k.split("[")[0] for k in parts} - FIELDS)
        if unknown:
            raise ApiError(422, f"unknown form field {unknown[0]!r}; the fields are: video or images, model, "
                                "render_size, hints, reference")
        videos = [p for k, p in parts.items() if k.split("[")[0] == "video" and p.path is not None]
        images = [p for k, p in parts.items() if k.split("[")[0] == "images" and p.path is not None]
        if bool(videos) == bool(images):
            raise ApiError(400, "send either one clip in the field 'video' or image files in the field 'images'")
        if len(videos) > 1:
            raise ApiError(400, "one clip per job; send several jobs for several clips")
        if len(images) > s.max_job_images:
            raise ApiError(413, f"at most {s.max_job_images} images per job")
        model = parts["model"].text().strip() if "model" in parts else ""
        try:
            entry = request.app.state.store.entry(model or None)
        except KeyError:
            raise ApiError(404, f"unknown model {model!r}; available: {', '.join(request.app.state.store.entries)}") from None
        render = int_field(parts, "render_size", MIN_RENDER_SIZE, s.max_render_size)
        if videos:
            from tinct.video.io import probe

            try:
                info = probe(videos[0].path)
            except TinctError as exc:
                raise ApiError(400, str(exc).replace(str(videos[0].path), videos[0].filename or "the clip")) from None
            if info.duration_s > s.max_video_s:
                raise ApiError(413, f"the clip is {info.duration_s:.0f} s long; the limit is {s.max_video_s:g} s")
            if info.width * info.height > s.max_pixels:
                raise ApiError(413, f"the clip's frames are {info.width}x{info.height}, over the pixel limit")
            kind, name = "video", videos[0].filename or "clip"
        else:
            kind, name = "images", f"{len(images)} images"
            _album_look(parts, entry, jobs.store.folder(job_id), s.max_pixels)
            names = {p.path.name: (p.filename or p.path.name).replace("/", "_").replace("\\", "_") for p in images}
            (jobs.store.folder(job_id) / "names.json").write_text(json.dumps(names))
    except BaseException:
        jobs.store.forget(job_id)
        raise
    jobs.store.update(job_id, kind=kind, model=entry.name, render_size=render, name=name)
    jobs.runner.submit(job_id)
    return JSONResponse(_state(request, jobs.store.get(job_id)), status_code=202,
                        headers={"Location": f"/api/v1/jobs/{job_id}"})


def _album_look(parts, entry, folder, max_pixels: int) -> None:
    """A palette (the hints JSON with ``palette`` alone) and/or a reference image for every image of
    the job, checked now (400 with the reason) and kept in the job's folder for the runner."""
    from tinct.hints.io import hints_from_json
    from tinct.serve.images import open_image

    given = "hints" in parts or "reference" in parts
    if given and not entry.hints:
        raise ApiError(400, f"model {entry.name!r} takes no palette or reference; choose a hint model")
    if "hints" in parts and parts["hints"].text().strip():
        text = parts["hints"].text()
        hints = hints_from_json(text)
        if hints.points or hints.strokes or hints.grid is not None:
            raise ApiError(400, "a job's hints are for every image: send a palette only (points, strokes and "
                                "grids belong to one picture)")
        if hints.palette:
            (folder / "palette.json").write_text(json.dumps({"palette": [
                {"color": list(c), "weight": w} for c, w in hints.palette]}))
    if "reference" in parts:
        ref = parts["reference"]
        data = ref.path.read_bytes() if ref.path is not None else bytes(ref.data)
        try:
            open_image(data, max_pixels)
        except ApiError as exc:
            raise ApiError(exc.status, f"reference image: {exc.message}") from None
        (folder / "reference.img").write_bytes(data)
        if ref.path is not None:
            ref.path.unlink()


@router.get("/jobs/{job_id}", summary="A job's state and progress")
async def status(request: Request, job_id: str) -> JSONResponse:
    return JSONResponse(_state(request, _job(request, job_id)), headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}/result", summary="Download a finished job's result (again until it expires)")
async def result(request: Request, job_id: str):
    job = _job(request, job_id)
    store = request.app.state.jobs.store
    if job["status"] in ("queued", "running", "receiving"):
        pct = f" ({100 * job['done'] // job['total']} %)" if job["total"] else ""
        raise ApiError(409, f"the job is {job['status']}{pct}; ask again when its status is done")
    if job["status"] != "done":
        raise ApiError(410, f"the job has no result: {job['status']}" + (f" ({job['message']})" if job["message"] else ""))
    path = store.folder(job_id) / job["result"]
    if not path.is_file():
        raise ApiError(410, "the job's result is gone")
    name = f"{job['name'].rsplit('.', 1)[0]}-color.mp4" if job["kind"] == "video" else "colorized.zip"
    media = "video/mp4" if path.suffix == ".mp4" else "application/zip"
    # kept until it expires (an interrupted download is simply asked for again); DELETE removes it sooner
    return FileResponse(path, media_type=media, filename=name, headers={"Cache-Control": "no-store"})


@router.get("/jobs/{job_id}/preview", summary="A finished job's contact sheet (JPEG): its first photos, or stills of its film")
async def preview(request: Request, job_id: str):
    job = _job(request, job_id)
    if job["status"] != "done":
        raise ApiError(409 if job["status"] in ("queued", "running", "receiving") else 410,
                       f"the job is {job['status']}: a preview comes with its result")
    path = request.app.state.jobs.store.folder(job_id) / PREVIEW
    if not path.is_file():
        raise ApiError(410, "the job has no preview (none of its images could be read)")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.delete("/jobs/{job_id}", summary="Cancel a job and remove its files")
async def cancel(request: Request, job_id: str) -> JSONResponse:
    job = _job(request, job_id)
    jobs = request.app.state.jobs
    if job["status"] in ("queued", "running", "receiving"):
        jobs.runner.cancel(job_id)
        jobs.store.update(job_id, status="cancelled")
        if job["status"] == "queued":
            jobs.store.remove_files(job_id)
    else:
        jobs.store.remove_files(job_id)
        if job["status"] == "done":
            jobs.store.update(job_id, status="deleted")
    return JSONResponse(_state(request, jobs.store.get(job_id)))

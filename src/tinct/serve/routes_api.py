"""``/api/v1``: colorize an image, list the models, read the server's limits."""

from __future__ import annotations

import dataclasses
import time
from pathlib import PurePath

import numpy as np
from fastapi import APIRouter, Request, Response

from tinct.errors import HintError
from tinct.hints import Hints
from tinct.serve.errors import ApiError
from tinct.serve.images import OUTPUT_FORMATS, decode, encode, open_image
from tinct.serve.models import ModelStore
from tinct.serve.multipart import idle_timeout, read_form
from tinct.serve.options import Options, parse_hints, parse_options
from tinct.serve.schemas import COLORIZE_BODY, ERRORS, ModelList, RenderSize, ServerConfig
from tinct.serve.settings import MIN_RENDER_SIZE, Settings, human_bytes
from tinct.serve.worker import Busy

router = APIRouter(prefix="/api/v1", tags=["api"])
FORM_OVERHEAD = 512_000  # room for the other form fields and multipart framing


def _colorize_job(store: ModelStore, name: str, img, hints: Hints | None, opts: Options,
                  reference=None) -> tuple[bytes, str, float]:
    """Runs in an inference thread: decode, colorize through the one pipeline, encode."""
    colorizer = store.get(name)
    pixels = decode(img, deep=opts.deep)
    if reference is not None:
        try:
            ref = decode(reference)[:, :, :3]
        except ApiError as exc:
            raise ApiError(exc.status, f"reference image: {exc.message}") from None
        hints = dataclasses.replace(hints or Hints(), reference=np.ascontiguousarray(ref))
    start = time.perf_counter()
    out = colorizer(pixels, hints=hints, render_size=opts.render_size)
    millis = (time.perf_counter() - start) * 1000
    data, media = encode(out, opts.format, opts.quality)
    return data, media, millis


def _busy(busy: Busy) -> ApiError:
    return ApiError(503, str(busy), {"Retry-After": str(busy.retry_after)}, retry_after=busy.retry_after)


def _download_name(filename: str | None, fmt: str) -> str:
    stem = PurePath(filename or "image").stem or "image"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
    return f"{safe}-color.{'jpg' if fmt == 'jpeg' else fmt}"


@router.post(
    "/colorize",
    summary="Colorize an image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "image/tiff": {}},
                     "description": "the colorized image, same size as the input; headers X-Tinct-Model, "
                                    "X-Tinct-Millis (model time), X-Tinct-Render-Size"}, **ERRORS},
    openapi_extra=COLORIZE_BODY,
)
async def colorize(request: Request) -> Response:
    """Send a multipart form with the image in field `image`; get the colorized image back.
    Optional fields: `hints` (JSON points / palette), `reference` (an image whose colors guide the
    result; image and reference together stay under the upload limit), `model`, `render_size`,
    `format`, `quality`."""
    settings: Settings = request.app.state.settings
    store: ModelStore = request.app.state.store
    try:
        request.app.state.queue.check()  # when full, answer before reading the upload at all
    except Busy as busy:
        raise _busy(busy) from None
    max_body = settings.max_upload_bytes + FORM_OVERHEAD
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_body:
        raise ApiError(413, f"the upload is larger than the {human_bytes(settings.max_upload_bytes)} limit")
    body = idle_timeout(request.stream(), settings.body_timeout_s)
    parts = await read_form(request.headers.get("content-type", ""), body, max_body=max_body,
                            max_file=settings.max_upload_bytes)
    if "image" not in parts:
        other = next((p.name for p in parts.values() if p.filename is not None), None)
        hint = f" (a file came in the field {other!r})" if other else ""
        raise ApiError(400, f"no image: send the file in the form field 'image'{hint}")
    opts = parse_options(parts, settings)
    try:
        entry = store.entry(opts.model)
    except KeyError:
        raise ApiError(404, f"unknown model {opts.model!r}; available: {', '.join(store.entries)}") from None
    upload = parts["image"]
    img, size = open_image(bytes(upload.data), settings.max_pixels)
    hints = parse_hints(parts["hints"].text(), size) if "hints" in parts else None
    reference = None
    if "reference" in parts:
        try:
            reference, _ = open_image(bytes(parts["reference"].data), settings.max_pixels)
        except ApiError as exc:
            raise ApiError(exc.status, f"reference image: {exc.message}") from None
    if (hints is not None or reference is not None) and not entry.hints:
        raise HintError(f"model {entry.name!r} takes no hints; send none or choose a hint model")
    try:
        data, media, millis = await request.app.state.queue.run(_colorize_job, store, entry.name, img, hints, opts,
                                                                reference)
    except Busy as busy:
        raise _busy(busy) from None
    headers = {
        "X-Tinct-Model": entry.name,
        "X-Tinct-Millis": f"{millis:.0f}",
        "X-Tinct-Render-Size": str(opts.render_size or store.get(entry.name).render_size),
        "Content-Disposition": f'inline; filename="{_download_name(upload.filename, opts.format)}"',
        "Cache-Control": "no-store",
    }
    return Response(data, media_type=media, headers=headers)


@router.get("/models", response_model=ModelList, summary="The models this server offers")
async def models(request: Request) -> ModelList:
    store: ModelStore = request.app.state.store
    return ModelList(default=store.default, models=store.describe())


@router.get("/config", response_model=ServerConfig, summary="The server's limits and defaults")
async def config(request: Request) -> ServerConfig:
    s: Settings = request.app.state.settings
    return ServerConfig(max_upload_bytes=s.max_upload_bytes, max_pixels=s.max_pixels,
                        render_size=RenderSize(default=s.render_size, min=MIN_RENDER_SIZE, max=s.max_render_size),
                        formats=list(OUTPUT_FORMATS), queue_size=s.queue_size, workers=s.workers,
                        timeout_s=s.timeout_s, backend=s.backend)

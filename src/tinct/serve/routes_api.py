"""``/api/v1``: colorize an image, list the models, read the server's limits."""

from __future__ import annotations

import dataclasses
import time
from pathlib import PurePath

import numpy as np
from fastapi import APIRouter, Request, Response

from tinct import cancel
from tinct.errors import HintError
from tinct.hints import Hints
from tinct.imageio.files import READ_FORMATS_IN_WORDS
from tinct.serve.errors import ApiError
from tinct.serve.predictions import Prediction, Predictions, digest
from tinct.serve.images import OUTPUT_FORMATS, decode, encode, encode_answer, open_image
from tinct.serve.models import ModelStore
from tinct.serve.multipart import idle_timeout, read_form
from tinct.serve.options import Options, int_field, number_field, parse_hints, parse_options
from tinct.serve.schemas import COLORIZE_BODY, ERRORS, ModelList, RenderSize, ServerConfig
from tinct.serve.settings import MIN_RENDER_SIZE, Settings, human_bytes
from tinct.serve.worker import Busy

router = APIRouter(prefix="/api/v1", tags=["api"])
FORM_OVERHEAD = 512_000  # room for the other form fields and multipart framing


def _colorize_job(store: ModelStore, name: str, img, hints: Hints | None, opts: Options,
                  reference=None, variant: tuple[int, int] | None = None,
                  remember=None) -> tuple[bytes, str, float, str | None]:
    """Runs in an inference thread: decode, colorize through the one pipeline, encode; with a note
    when the picture does not suit the model (:func:`drawing_note`).
    ``variant`` = (k, n): the k-th of ``/variants``' n alternatives, with the hints on top of it.
    ``remember``: called with the colorization's :class:`Prediction` (8-bit pictures of models with
    a distribution), so that the page's next /suggest and /confidence about it cost no network pass."""
    colorizer = store.get(name)
    pixels = cancel.interruptible(decode, img, deep=opts.deep)  # one long call each: not waited for once abandoned
    hints = _with_reference(hints, reference)
    start = time.perf_counter()
    if variant is not None and variant[0] > 0:
        from tinct.uncertainty import variants

        _check_distribution(colorizer)
        out = variants(colorizer, pixels, variant[1], hints, opts.render_size, only=variant[0])[0]
    else:
        if remember and colorizer.supports_confidence and pixels.dtype == np.uint8:
            keep: dict = {}
            out = colorizer(pixels, hints=hints, render_size=opts.render_size, extras=keep)
            if "logits" in keep:
                remember(Prediction(keep["l_full"], keep["ab"], keep["logits"], keep["confidence"]))
        else:
            out = colorizer(pixels, hints=hints, render_size=opts.render_size)
    millis = (time.perf_counter() - start) * 1000
    data, media = encode_answer(out, opts.format, opts.quality)
    return data, media, millis, drawing_note(colorizer, pixels)


def drawing_note(colorizer, pixels: np.ndarray) -> str | None:
    """A note for the page when the picture does not suit the model (:mod:`tinct.lineart.detect`):
    what looks like a line drawing given to a photo model, or a picture with colors of its own given
    to a line-art model (which repaints it); None otherwise."""
    from tinct.lineart.detect import note, unsuited

    line_art = colorizer.output_kind == "lab"
    if pixels.ndim != 3 or not unsuited(pixels[..., :3], line_art):
        return None
    return f"this picture {note(line_art)}"


def _busy(busy: Busy) -> ApiError:
    return ApiError(503, str(busy), {"Retry-After": str(busy.retry_after)}, retry_after=busy.retry_after)


def _download_name(filename: str | None, fmt: str) -> str:
    stem = PurePath(filename or "image").stem or "image"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
    return f"{safe}-color.{'jpg' if fmt == 'jpeg' else fmt}"


@dataclasses.dataclass
class _Request:
    """What every image endpoint reads from its form, checked."""

    entry: object
    img: object
    size: tuple[int, int]
    hints: Hints | None
    reference: object
    opts: Options
    parts: dict
    filename: str | None


async def _read(request: Request, extra_fields: tuple[str, ...] = ()) -> _Request:
    """The queue check (503 before reading anything), the upload limits, the image, the options,
    the model, the hints and the reference image of an image endpoint's form."""
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
                            max_file=settings.max_upload_bytes, budget=request.app.state.upload_budget)
    if "image" not in parts:
        other = next((p.name for p in parts.values() if p.filename is not None), None)
        hint = f" (a file came in the field {other!r})" if other else ""
        raise ApiError(400, f"no image: send the file in the form field 'image'{hint}")
    opts = parse_options(parts, settings, extra_fields)
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
    return _Request(entry, img, size, hints, reference, opts, parts, upload.filename)


DISCONNECT_POLL_S = 0.01  # how often a request in the queue looks whether its client is still there


async def _run(request: Request, fn, *args):
    """``fn(*args)`` in the inference queue, cancelled (:mod:`tinct.cancel`) when the client goes away
    (a page's Cancel, a newer request that supersedes it, a closed tab): the server never keeps
    working for a picture nobody will see."""
    import asyncio
    import threading

    stop = threading.Event()

    async def watch() -> None:
        while not stop.is_set():
            if await request.is_disconnected():
                stop.set()
                return
            await asyncio.sleep(DISCONNECT_POLL_S)

    watcher = asyncio.create_task(watch())
    try:
        return await request.app.state.queue.run(fn, *args, stop=stop)
    except Busy as busy:
        raise _busy(busy) from None
    finally:
        watcher.cancel()


@router.post(
    "/colorize",
    summary="Colorize an image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "image/tiff": {}},
                     "description": "the colorized image, same size as the input; headers X-Tinct-Model, "
                                    "X-Tinct-Millis (model time), X-Tinct-Render-Size, and X-Tinct-Note when the "
                                    "picture does not suit the model (a line drawing given to a photo model, a "
                                    "colored picture given to a line-art model)"}, **ERRORS},
    openapi_extra=COLORIZE_BODY,
)
async def colorize(request: Request) -> Response:
    """Send a multipart form with the image in field `image`; get the colorized image back.
    Optional fields: `hints` (JSON points / palette), `reference` (an image whose colors guide the
    result; image and reference together stay under the upload limit), `model`, `render_size`,
    `format`, `quality`; `variant` (with `n`, default 4): start from that alternative of
    `/variants` (0 = the usual colorization), the hints applied on top of it."""
    store: ModelStore = request.app.state.store
    r = await _read(request, ("variant", "n"))
    n = int_field(r.parts, "n", 2, 8) or 4
    k = int_field(r.parts, "variant", 0, n - 1)
    data, media, millis, note = await _run(request, _colorize_job, store, r.entry.name, r.img, r.hints, r.opts,
                                           r.reference, None if k is None else (k, n), _remember(request, r))
    headers = {
        "X-Tinct-Model": r.entry.name,
        "X-Tinct-Millis": f"{millis:.0f}",
        "X-Tinct-Render-Size": str(r.opts.render_size or store.get(r.entry.name).render_size),
        "Content-Disposition": f'inline; filename="{_download_name(r.filename, r.opts.format)}"',
        "Cache-Control": "no-store",
    }
    if note:
        headers["X-Tinct-Note"] = note
    return Response(data, media_type=media, headers=headers)


def _with_reference(hints: Hints | None, reference) -> Hints | None:
    if reference is None:
        return hints
    try:
        ref = decode(reference)[:, :, :3]
    except ApiError as exc:
        raise ApiError(exc.status, f"reference image: {exc.message}") from None
    return dataclasses.replace(hints or Hints(), reference=np.ascontiguousarray(ref))


def _check_distribution(colorizer) -> None:
    if not colorizer.supports_confidence:
        raise ApiError(422, f"model {colorizer.name!r} gives no color distribution: no confidence map or "
                            "suggested colors (choose 'photo' or 'art')")


def _confidence_job(store: ModelStore, answer):
    """Runs in an inference thread: the confidence map as an 8-bit grayscale PNG (white = sure)."""
    from tinct.uncertainty import upsample

    _, pred = answer(store)
    conf = upsample(pred.confidence, tuple(pred.l_full.shape[-2:]))[0, 0].numpy()
    data, _ = encode(np.round(conf * 255).astype(np.uint8), "png", fast=True)
    return data, float(conf.mean()), float((conf < 0.5).mean())


@router.post(
    "/confidence",
    summary="Where the model is unsure",
    response_class=Response,
    responses={200: {"content": {"image/png": {}},
                     "description": "a grayscale PNG of the input's size: white where the model is sure of the "
                                    "color it paints, dark where it guesses; header X-Tinct-Confidence-Mean"},
               **ERRORS},
    openapi_extra=COLORIZE_BODY,
)
async def confidence(request: Request) -> Response:
    """The same form as `/colorize` (image, hints, reference, model, render_size); the answer is the
    confidence map of the colorization those fields ask for."""
    r = await _read(request)
    data, mean, unsure = await _run(request, _confidence_job, request.app.state.store, _answer(request, r))
    return Response(data, media_type="image/png", headers={
        "X-Tinct-Model": r.entry.name, "X-Tinct-Confidence-Mean": f"{mean:.3f}",
        "X-Tinct-Unsure-Share": f"{unsure:.3f}", "Cache-Control": "no-store"})


def _layers_job(store: ModelStore, name: str, img, hints: Hints | None, opts: Options, reference=None) -> bytes:
    """Runs in an inference thread: a line drawing painted region by region, as a ZIP of its layers
    and the result they stack to (``tinct colorize --layers``)."""
    import io
    import zipfile

    from PIL import Image

    from tinct.lineart.regions import layer_files

    colorizer = store.get(name)
    if colorizer.output_kind != "lab":
        raise ApiError(422, f"layers are for line-art models (such as 'lineart'), not {name!r}")
    pixels = decode(img, deep=False)[:, :, :3]
    painted = colorizer(pixels, hints=_with_reference(hints, reference), render_size=opts.render_size)
    files, result = layer_files(painted, np.asarray(Image.fromarray(pixels).convert("L")))
    files["result.png"] = encode(result, "png")[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for fname, data in files.items():
            zf.writestr(fname, data)
    return buf.getvalue()


@router.post(
    "/layers",
    summary="Line art painted region by region, as layers",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}},
                     "description": "lines.png (the drawing's lines on transparency), flats.png (one color per "
                                    "area the lines enclose), shading.png (16-bit, value/16384 = factor), "
                                    "layers.ora (the same stack as one OpenRaster file for painting programs) "
                                    "and result.png (what they stack to)"}, **ERRORS},
    openapi_extra=COLORIZE_BODY,
)
async def layers(request: Request) -> Response:
    """The form of `/colorize`, for a line-art model: the painting as layers a painting program stacks."""
    r = await _read(request)
    data = await _run(request, _layers_job, request.app.state.store, r.entry.name, r.img, r.hints, r.opts, r.reference)
    stem = PurePath(r.filename or "drawing").stem or "drawing"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{safe}-layers.zip"', "X-Tinct-Model": r.entry.name,
        "Cache-Control": "no-store"})


def _prediction_key(r: _Request) -> str:
    """What a prediction of ``r`` depends on: model, working size, upload, hints, reference. Computed
    in the inference thread (the digest of a large upload stays off the event loop)."""
    return digest(r.entry.name, r.opts.render_size, r.img.data, r.parts["hints"].text() if "hints" in r.parts else None,
                  None if r.reference is None else r.reference.data)


def _remember(request: Request, r: _Request):
    """A function keeping a colorization's prediction for the page's questions about the picture it shows."""
    predictions: Predictions = request.app.state.predictions
    return lambda value: predictions.put(_prediction_key(r), value)


def _answer(request: Request, r: _Request):
    """The colorizer for ``r`` and a function giving its prediction (:class:`Predictions`: one
    network pass for the page's /colorize and its repeated /suggest and /confidence on the
    picture it shows)."""
    predictions: Predictions = request.app.state.predictions
    hints = _with_reference(r.hints, r.reference)

    def job(store: ModelStore):
        colorizer = store.get(r.entry.name)
        _check_distribution(colorizer)
        return colorizer, predictions.predict(colorizer, _prediction_key(r),
                                              lambda: decode(r.img, deep=False)[:, :, :3], hints, r.opts.render_size)
    return job


def _suggest_job(store: ModelStore, answer, x, y, k):
    from tinct.uncertainty import suggest_from

    colorizer, pred = answer(store)
    return suggest_from(pred.logits, pred.l_full, colorizer.model.bins, x, y, k)


@router.post("/suggest", summary="The most likely colors at a point", responses=ERRORS,
             openapi_extra=COLORIZE_BODY)
async def suggest_colors(request: Request) -> dict:
    """The form of `/colorize` plus `x`, `y` (pixel coordinates) and optionally `k` (1-8, default 5):
    the `k` most likely distinct colors there, best first, each with its probability, at that
    pixel's lightness (ready to be sent back as a point hint)."""
    from tinct.uncertainty import MAX_SUGGESTIONS

    r = await _read(request, ("x", "y", "k"))
    w, h = r.size
    x = number_field(r.parts, "x", 0, w - 1)
    y = number_field(r.parts, "y", 0, h - 1)
    k = int_field(r.parts, "k", 1, MAX_SUGGESTIONS) or 5
    found = await _run(request, _suggest_job, request.app.state.store, _answer(request, r), x, y, k)
    return {"model": r.entry.name, "x": x, "y": y,
            "suggestions": [{"rgb": list(c), "hex": "#%02x%02x%02x" % c, "probability": round(p, 4)}
                            for c, p in found]}


VARIANT_PREVIEW = 1024  # /variants answers previews of at most this longer side; /colorize's variant gives one in full


def _variants_job(store: ModelStore, name: str, img, hints: Hints | None, opts: Options, reference, n: int):
    """Runs in an inference thread: ``n`` colorizations (the first the usual one) as PNG data URLs,
    previews of at most :data:`VARIANT_PREVIEW` px (the hints scaled with the picture)."""
    import base64

    from PIL import Image

    from tinct.uncertainty import variants

    colorizer = store.get(name)
    _check_distribution(colorizer)
    pixels = decode(img, deep=False)[:, :, :3]
    h, w = pixels.shape[:2]
    scale = min(1.0, VARIANT_PREVIEW / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.LANCZOS))
        hints = hints.resized((h, w), (size[1], size[0])) if hints is not None else None
    outs = variants(colorizer, pixels, n, _with_reference(hints, reference), opts.render_size)
    return ["data:image/png;base64," + base64.b64encode(encode(o, "png")[0]).decode("ascii") for o in outs]


@router.post("/variants", summary="Several plausible colorizations", responses=ERRORS, openapi_extra=COLORIZE_BODY)
async def alternatives(request: Request) -> dict:
    """The form of `/colorize` plus `n` (2-8, default 4): `n` colorizations as PNG data URLs, the
    first the usual one; the others differ where the model is unsure (one color per region) and
    agree where it is sure. Previews of at most 1024 px on the longer side: `/colorize` with
    `variant` gives one at full size."""
    r = await _read(request, ("n",))
    n = int_field(r.parts, "n", 2, 8) or 4
    images = await _run(request, _variants_job, request.app.state.store, r.entry.name, r.img, r.hints, r.opts,
                        r.reference, n)
    return {"model": r.entry.name, "variants": images}


@router.get("/models", response_model=ModelList, summary="The models this server offers")
async def models(request: Request) -> ModelList:
    store: ModelStore = request.app.state.store
    return ModelList(default=store.default, models=store.describe())


@router.get("/config", response_model=ServerConfig, summary="The server's limits and defaults")
async def config(request: Request) -> ServerConfig:
    s: Settings = request.app.state.settings
    return ServerConfig(max_upload_bytes=s.max_upload_bytes, max_pixels=s.max_pixels,
                        render_size=RenderSize(default=s.render_size, min=MIN_RENDER_SIZE, max=s.max_render_size),
                        formats=list(OUTPUT_FORMATS), read_formats=READ_FORMATS_IN_WORDS, queue_size=s.queue_size, workers=s.workers,
                        timeout_s=s.timeout_s, backend=s.backend, max_job_bytes=s.max_job_bytes,
                        max_job_images=s.max_job_images, max_video_s=s.max_video_s, job_ttl_s=s.job_ttl_s)

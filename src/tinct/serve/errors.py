"""Errors as JSON: ``{"error": "one line in words"}`` with a fitting status code, never a traceback.

Status codes: 400 bad input or hints, 404 unknown model or path, 405 wrong method, 413 too large,
415 not an image, 422 bad options, 503 busy (with ``Retry-After``), 500 for what should never
happen (logged, answered without details).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tinct.errors import HintError, ImageError, ModelFileError, TinctError

log = logging.getLogger("tinct.serve")


class ApiError(Exception):
    """An error to answer with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def status_of(exc: TinctError) -> int:
    """The HTTP status of a library error raised while serving a request."""
    if isinstance(exc, ModelFileError):
        return 500  # a served model file that fails to load is the server's fault
    return 400  # ImageError, HintError and the rest: the request cannot be served as sent


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, exc.headers, **exc.extra)


async def _tinct_error(request: Request, exc: TinctError) -> JSONResponse:
    status = status_of(exc)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, "the model could not be loaded; see the server log")
    return error_response(status, str(exc))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    messages = {404: f"not found: {request.url.path}", 405: f"method {request.method} not allowed here"}
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code not in messages else None
    return error_response(exc.status_code, detail or messages.get(exc.status_code, "request failed"),
                          getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return error_response(422, "; ".join(parts) or "invalid request")


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return error_response(500, "internal server error")


def install_handlers(app: FastAPI) -> None:
    """Route every exception to a JSON answer."""
    app.add_exception_handler(ApiError, _api_error)
    for cls in (TinctError, ImageError, HintError, ModelFileError):
        app.add_exception_handler(cls, _tinct_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)

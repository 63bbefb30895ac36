"""Read a ``multipart/form-data`` request body into memory, within limits, without temp files.

(The framework's own form parsing spools large uploads to temporary files and has no overall
size limit; this reader keeps everything in memory and stops reading as soon as a limit is hit.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from tinct.serve.errors import ApiError
from tinct.serve.settings import human_bytes


@dataclass
class Part:
    name: str
    filename: str | None  # None for a plain form field
    content_type: str
    data: bytearray = field(default_factory=bytearray)
    path: Path | None = None  # a file part spooled to disk (read_form's ``spool``): its file
    size: int = 0
    sink: BinaryIO | None = field(default=None, repr=False)

    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, f"the form field {self.name!r} is not UTF-8 text") from None


async def idle_timeout(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """The chunks of a request body; a 408 when the client sends nothing for ``seconds``."""
    it = chunks.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(it.__anext__(), seconds)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise ApiError(408, f"the upload stalled: no data for {seconds:g} s") from None
        yield chunk


class UploadBudget:
    """The bytes of request bodies held in memory while they arrive, over all requests at once.
    What bounds the memory of uploads in flight is their bytes, not how many connections are open:
    forty slow clients holding a few kilobytes each leave room for everyone else, while an upload
    that would pass the budget gets a 503 (the server is busy receiving others)."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def take(self, n: int) -> None:
        if self.used + n > self.limit:
            raise ApiError(503, f"the server is busy receiving other uploads ({human_bytes(self.used)} in flight); "
                           "try again in a moment", headers={"Retry-After": "5"})
        self.used += n

    def give(self, n: int) -> None:
        self.used = max(0, self.used - n)


async def read_form(content_type: str, body: AsyncIterator[bytes], *, max_body: int, max_file: int,
                    max_field: int = 256_000, max_parts: int = 16, spool: Path | None = None,
                    budget: UploadBudget | None = None) -> dict[str, Part]:
    """Parse a multipart body streamed from ``body``; 400 when malformed, 413 past a limit.
    With ``spool`` (a private folder), file parts go to files there instead of memory, and a file
    field may repeat (``images``, ``images[1]``, ...). With ``budget``, the bytes received count
    against it until the form is parsed (503 when it is spent)."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise ApiError(400, "send the image as multipart/form-data (a form with a file field 'image')")
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "the multipart request has no boundary")

    parts: dict[str, Part] = {}
    state: dict = {"part": None, "hname": b"", "hval": b"", "headers": {}, "ended": False}

    def on_part_begin() -> None:
        state["part"], state["headers"] = None, {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hval"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].decode("latin-1").lower()] = state["hval"]
        state["hname"], state["hval"] = b"", b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(state["headers"].get("content-disposition", b""))
        if b"name" not in opts:
            raise ApiError(400, "a multipart part has no name")
        name = opts[b"name"].decode("utf-8", "replace")
        filename = opts[b"filename"].decode("utf-8", "replace") if b"filename" in opts else None
        if name in parts and spool is not None and filename is not None:
            name = f"{name}[{sum(1 for k in parts if k.split('[')[0] == name)}]"
        if name in parts:
            raise ApiError(400, f"the form field {name!r} is given twice")
        if len(parts) >= max_parts:
            raise ApiError(400, f"too many form fields (at most {max_parts})")
        ctype = state["headers"].get("content-type", b"").decode("latin-1")
        part = Part(name, filename, ctype)
        if spool is not None and filename is not None:
            part.path = spool / f"upload-{len(parts)}"
            part.sink = open(part.path, "xb")  # noqa: SIM115  closed when the form ends
        state["part"] = parts[name] = part

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part: Part = state["part"]
        limit = max_file if part.filename is not None else max_field
        if part.size + (end - start) > limit:
            what = "the upload" if part.filename is not None else f"the form field {part.name!r}"
            raise ApiError(413, f"{what} is larger than the {human_bytes(limit)} limit")
        part.size += end - start
        if part.sink is not None:
            part.sink.write(data[start:end])
        else:
            part.data += data[start:end]

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_end": on_end,
    })
    received = taken = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > max_body:
                raise ApiError(413, f"the request is larger than the {human_bytes(max_body)} limit")
            if budget is not None:
                budget.take(len(chunk))
                taken += len(chunk)
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise ApiError(400, "the multipart request is malformed") from None
    except ClientDisconnect:
        raise ApiError(400, "the upload was interrupted") from None
    finally:
        if budget is not None:
            budget.give(taken)
        for part in parts.values():
            if part.sink is not None:
                part.sink.close()
                part.sink = None
    if not state["ended"]:
        raise ApiError(400, "the multipart request is incomplete (cut short?)")
    return parts

"""The two file-system rules every part of tinct shares: which files are images (one extension
set, one lister), and how a file is written so that no reader ever sees half of it (one atomic
writer: a temporary file in the same folder, then a rename)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tinct.errors import TinctError

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
           ".bmp": "BMP"}
INPUT_EXTENSIONS = frozenset(FORMATS) | {".gif"}  # what a folder scan picks up


def is_image_name(path: str | os.PathLike) -> bool:
    """Whether a file name has one of the :data:`INPUT_EXTENSIONS` (and is not hidden)."""
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in INPUT_EXTENSIONS


def list_images(folder: str | os.PathLike, recursive: bool = True, skip: str | os.PathLike | None = None) -> list[Path]:
    """Image files in ``folder`` (and its subfolders when ``recursive``; linked folders are
    followed once), sorted by their path below it, without hidden files and folders and without
    the folder ``skip`` (an output folder inside the input). A TinctError if ``folder`` is not one."""
    top = Path(folder)
    if not top.is_dir():
        raise TinctError(f"not a folder: {top}")
    skip_real = Path(skip).resolve() if skip is not None else None
    seen: set[str] = set()
    found: list[Path] = []
    for root, dirs, files in os.walk(top, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        r = Path(root)
        dirs[:] = sorted(d for d in dirs if recursive and not d.startswith(".")
                         and (skip_real is None or (r / d).resolve() != skip_real))
        found += [r / f for f in files if is_image_name(f)]
    return sorted(found, key=lambda q: q.relative_to(top).parts)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; when the block ends without an error the file
    is renamed over ``path`` (readers see the old file or the new one, never a part), else removed.
    ``suffix``: the temporary name's ending (writers that choose a format by it need the real one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_path`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))

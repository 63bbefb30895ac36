"""Build a training and a validation folder from fetched git snapshots of public collections.

``build(mirror, out, ...)`` reads each :class:`~tinct.dataset.sources.Source` from
``mirror/<owner>+<name>/repo`` (a bare git directory, as the search tool's ``fetch`` leaves it),
and for every image: decodes it, drops it if gray or near-gray (:func:`is_near_gray`), drops it if
its perceptual hash is within ``max_distance`` bits of an image already kept or of any image in
the ``exclude`` folders (benchmark sets), resizes the longer side to at most ``max_side``, and
writes ``out/<split>/<source>/<name>.jpg``. Validation images are chosen first (``val_count`` per
source, by a fixed path hash), so a training image can never duplicate one. ``manifest.csv`` lists
every file kept (file, source, split, origin path, commit, terms, hash) and ``summary.json`` the
counts kept and dropped per source and reason."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from tinct.dataset.phash import HashIndex, phash
from tinct.dataset.sources import SOURCES, Source, path_fraction
from tinct.errors import TinctError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def is_near_gray(rgb: np.ndarray, chroma_p90: float = 6.0, one_tone: float = 0.08) -> bool:
    """True for gray, near-gray and one-tone (sepia, cyanotype) images: the 90th percentile of
    chroma below ``chroma_p90`` (Lab units), or every color on one hue line: the RMS of ab across
    the mean hue direction below ``one_tone`` times the RMS chroma."""
    from tinct.metrics import rgb_to_lab

    ab = rgb_to_lab(rgb)[..., 1:].reshape(-1, 2)
    if np.percentile(np.hypot(ab[:, 0], ab[:, 1]), 90) < chroma_p90:
        return True
    mean = ab.mean(0)
    u = mean / max(float(np.hypot(*mean)), 1e-6)
    across = ab[:, 0] * -u[1] + ab[:, 1] * u[0]
    return bool(np.sqrt((across**2).mean()) < one_tone * np.sqrt((ab**2).sum(1).mean()))


def repo_dir(mirror: Path, repo: str) -> Path:
    return mirror / repo.replace("/", "+") / "repo"


def list_blobs(gitdir: Path, commit: str, path: str) -> list[tuple[str, str]]:
    """``(sha, path)`` of the image blobs under ``path`` at ``commit``, sorted by path."""
    args = ["git", f"--git-dir={gitdir}", "ls-tree", "-r", "-z", commit]
    if path:
        args.append(path)
    res = subprocess.run(args, capture_output=True, check=False)
    if res.returncode != 0:
        raise TinctError(f"cannot list {gitdir} at {commit[:10]}: {res.stderr.decode(errors='replace').strip()}")
    out = []
    for entry in res.stdout.split(b"\0"):
        if not entry:
            continue
        meta, name = entry.split(b"\t", 1)
        kind, sha = meta.split()[1:3]
        p = name.decode()
        if kind == b"blob" and p.lower().endswith(IMAGE_EXTS):
            out.append((sha.decode(), p))
    return sorted(out, key=lambda t: t[1])


def read_blobs(gitdir: Path, shas: Iterable[str]) -> Iterator[bytes]:
    """The contents of the blobs, in order, through one ``git cat-file --batch``."""
    proc = subprocess.Popen(["git", f"--git-dir={gitdir}", "cat-file", "--batch"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for sha in shas:
            proc.stdin.write(sha.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) < 3:
                yield b""
                continue
            size = int(header[2])
            data = proc.stdout.read(size)
            proc.stdout.read(1)
            yield data
    finally:
        proc.kill()  # nothing more is wanted from it (a capped source stops early)
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def process(data: bytes, max_side: int) -> tuple[str, bytes | None, int]:
    """Decode, filter, hash and resize one image: ``(status, jpeg bytes, hash)``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception:  # noqa: BLE001 - any undecodable file is dropped and counted
        return "unreadable", None, 0
    if min(rgb.size) < 64:
        return "too small", None, 0
    thumb = rgb.copy()
    thumb.thumbnail((96, 96), Image.BILINEAR)
    if is_near_gray(np.asarray(thumb)):
        return "gray", None, 0
    h = phash(rgb)
    if max(rgb.size) > max_side:
        s = max_side / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * s)), max(1, round(rgb.height * s))), Image.BICUBIC)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=95)
    return "ok", buf.getvalue(), h


def _process_star(args: tuple[bytes, int]) -> tuple[str, bytes | None, int]:
    return process(*args)


def hash_folder(folder: Path) -> list[int]:
    """Perceptual hashes of every image in a folder (recursively)."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_EXTS + (".tif", ".tiff"):
            with Image.open(p) as im:
                out.append(phash(im.convert("RGB")))
    return out


def build(mirror: Path, out: Path, sources: list[Source] | None = None, exclude: Iterable[Path] = (),
          max_side: int = 256, max_distance: int = 4, max_train: dict[str, int] | None = None,
          jobs: int = 1, progress: bool = True) -> dict:
    """Build ``out/train``, ``out/val``, ``manifest.csv`` and ``summary.json``; returns the summary."""
    from tqdm import tqdm

    sources = list(SOURCES if sources is None else sources)
    max_train = max_train or {}
    for s in sources:
        if not repo_dir(mirror, s.repo).is_dir():
            raise TinctError(f"{s.name}: no snapshot at {repo_dir(mirror, s.repo)} (fetch github:{s.repo} first)")
    if (out / "manifest.csv").exists():
        raise TinctError(f"{out} already holds a built dataset (manifest.csv): choose an empty folder")
    index = HashIndex(max_distance)
    for folder in exclude:
        if not Path(folder).is_dir():
            raise TinctError(f"exclude folder not found: {folder}")
        for h in hash_folder(Path(folder)):
            index.add(h)
    out.mkdir(parents=True, exist_ok=True)
    rows, counts = [], {s.name: Counter() for s in sources}
    pool = ProcessPoolExecutor(jobs) if jobs > 1 else None
    try:
        for split in ("val", "train"):
            for s in sources:
                gitdir = repo_dir(mirror, s.repo)
                blobs = [(sha, p) for sha, p in list_blobs(gitdir, s.commit, s.path) if s.split(p) == split]
                blobs.sort(key=lambda t: path_fraction(t[1]))  # a fixed shuffle: val and capped train are a fair sample
                limit = s.val_count if split == "val" else max_train.get(s.name)
                kept = 0
                bar = tqdm(total=limit or len(blobs), desc=f"{split} {s.name}", unit="img", disable=not progress)
                datas = read_blobs(gitdir, (sha for sha, _ in blobs))
                for start in range(0, len(blobs), 256):
                    if limit is not None and kept >= limit:
                        counts[s.name][f"{split}: over the cap"] += len(blobs) - start
                        break
                    chunk = blobs[start:start + 256]
                    work = [(next(datas), max_side) for _ in chunk]
                    results = pool.map(_process_star, work, chunksize=16) if pool else map(_process_star, work)
                    for (sha, p), (status, jpeg, h) in zip(chunk, results):
                        if limit is not None and kept >= limit:
                            counts[s.name][f"{split}: over the cap"] += 1
                            continue
                        if status == "ok" and index.near(h):
                            status = "near-duplicate"
                        if status != "ok":
                            counts[s.name][f"{split}: {status}"] += 1
                            continue
                        index.add(h)
                        stem = p.replace("/", "_").rsplit(".", 1)[0][-80:]
                        rel = Path(split) / s.name / f"{stem}.jpg"
                        (out / rel).parent.mkdir(parents=True, exist_ok=True)
                        (out / rel).write_bytes(jpeg)
                        rows.append({"file": rel.as_posix(), "source": s.name, "split": split, "origin": p,
                                     "repo": s.repo, "commit": s.commit, "terms": s.terms, "phash": f"{h:016x}"})
                        counts[s.name][f"{split}: kept"] += 1
                        kept += 1
                        bar.update(1)
                datas.close()
                bar.close()
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["file"])
        w.writeheader()
        w.writerows(rows)
    summary = {"max_side": max_side, "max_distance": max_distance, "exclude": [str(e) for e in exclude],
               "sources": {k: dict(sorted(v.items())) for k, v in counts.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

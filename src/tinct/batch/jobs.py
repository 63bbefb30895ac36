"""What a folder run does, file by file: the plan (input files -> output files, never over an
input nor another output), ``--resume``'s test of a finished output, the per-file colorize and
save (the 16-bit rule, the transparency rule, the provenance mark), and the run's report. Shared
by the local run (:mod:`tinct.batch.local`), the Ray path (:mod:`tinct.batch.cluster`) and
``tinct video``'s clean-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinct.errors import ImageError, TinctError

OUT_EXT = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}


@dataclass
class Job:
    src: Path
    out: Path
    explicit_out: bool = False  # -o named this very file
    deep: bool = True  # a 16-bit input keeps its 16 bits in a PNG or TIFF output (--depth auto)


def _scan(folder: Path, skip: Path | None) -> list[Path]:
    """Image files under ``folder`` without ``skip`` (the output folder when it lies inside the input folder)."""
    from tinct.imageio import list_images

    return list_images(folder, skip=skip)


def _out_name(src: Path, fmt: str, suffix: str) -> str:
    from tinct.imageio import FORMATS

    ext = OUT_EXT.get(fmt) or (src.suffix if src.suffix.lower() in FORMATS else ".png")
    return f"{src.stem}{suffix}{ext}"


def plan(inputs: list[str], output: str, fmt: str = "same", suffix: str = "") -> list[Job]:
    """Input arguments -> jobs (input file, output file). Raises TinctError for bad arguments,
    outputs that would overwrite an input, and two inputs that would share one output."""
    from tinct.imageio import FORMATS

    out = Path(output)
    sources: list[tuple[Path, Path | None]] = []  # (file, folder it was found in)
    for text in inputs:
        p = Path(text)
        if not p.exists():
            raise TinctError(f"{text}: no such file or folder")
        if p.is_dir():
            files = _scan(p, out.resolve())
            if not files:
                raise TinctError(f"{text}: no image files found in this folder")
            sources += [(f, p) for f in files]
        else:
            sources.append((p, None))
    if not sources:
        raise TinctError("no input images")
    file_out = out.suffix.lower() in FORMATS and not out.is_dir()
    if file_out:
        if len(sources) != 1 or sources[0][1] is not None:
            raise TinctError(f"-o {output}: a file name works with exactly one input file; give a folder instead")
        if fmt != "same" and FORMATS[out.suffix.lower()] != FORMATS[OUT_EXT[fmt]]:
            raise TinctError(f"--format {fmt} does not match the output file {output}")
        if suffix:
            raise TinctError("--suffix applies to output folders, not to an output file name")
        jobs = [Job(sources[0][0], out, explicit_out=True)]
    else:
        if out.exists() and not out.is_dir():
            raise TinctError(f"-o {output}: exists and is not a folder")
        if out.suffix and not out.exists() and len(sources) == 1 and sources[0][1] is None:
            raise TinctError(f"-o {output}: {out.suffix} is not an image format ({', '.join(sorted(set(FORMATS)))}); "
                             "name an output file with one of these, or a folder without an extension")
        jobs = [Job(f, (out / f.relative_to(root).parent if root else out) / _out_name(f, fmt, suffix))
                for f, root in sources]
    _check_collisions(jobs)
    return jobs


def _check_collisions(jobs: list[Job]) -> None:
    inputs = {j.src.resolve(): j.src for j in jobs}
    seen: dict[Path, Path] = {}
    for j in jobs:
        target = j.out.resolve()
        if target in inputs:
            raise TinctError(f"output {j.out} would overwrite the input {inputs[target]}; choose another -o or a --suffix")
        if target in seen:
            raise TinctError(f"inputs {seen[target]} and {j.src} would both be written to {j.out}")
        seen[target] = j.src


def _alt_png(job: Job) -> Path | None:
    """Where an output goes when the image has transparency its format cannot hold."""
    from tinct.imageio import ALPHA_FORMATS, format_for

    if job.explicit_out or format_for(job.out) in ALPHA_FORMATS:
        return None
    return job.out.with_suffix(".png")


def _readable(path: Path) -> bool:
    from tinct.imageio import load_image

    try:
        load_image(path, max_pixels=None, min_side=1)
        return True
    except ImageError:
        return False


def is_done(job: Job) -> bool:
    """For --resume: the output (or its .png stand-in) exists and reads as an image."""
    alt = _alt_png(job)
    if alt is not None and alt.resolve() == job.src.resolve():
        alt = None  # the input itself is no output
    return any(p is not None and p.is_file() and _readable(p) for p in (job.out, alt))


def remove_job_temporaries(jobs: list[Job]) -> None:
    """Before ``--resume`` or ``--overwrite``: the temporaries a killed run left beside these jobs' outputs."""
    remove_stale_temporaries(out for job in jobs for out in {job.out, _alt_png(job) or job.out})


def remove_stale_temporaries(outputs) -> None:
    """Temporary files an earlier, killed run left beside these outputs (``.NAME.XXXXXXXX.tmp``);
    shared with ``tinct video``."""
    import re

    for out in outputs:
        if out.parent.is_dir():
            pattern = re.compile(rf"\.{re.escape(out.name)}\.[0-9a-f]{{8}}\.tmp")
            for tmp in out.parent.glob(f".{out.name}.*.tmp"):
                if pattern.fullmatch(tmp.name) and tmp.is_file():
                    tmp.unlink()


def failure_reason(exc: BaseException, src: Path) -> str:
    """A failed file's one-line reason for the summary and the report (the file name not repeated)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    prefix = f"{src}: "
    msg = msg.removeprefix(prefix)
    return msg if isinstance(exc, TinctError) else f"{type(exc).__name__}: {msg}"


def colorize_one(colorizer, job: Job, hints, overwrite: bool, provenance: dict | None = None) -> Path:
    """Read, colorize and write one file (the serial path: the Ray actors' and ``--throughput``'s baseline)."""
    from tinct.imageio import load_image

    img = load_image(job.src)
    return save_one(job, img, colorizer(pixels(img, job), hints), overwrite, provenance)


def pixels(img, job: Job):
    """What the network colors: the 16-bit samples of a 16-bit scan going to a PNG or TIFF output
    (unless --depth 8), else the 8-bit ones."""
    from tinct.imageio import DEEP_FORMATS, format_for

    if job.deep and img.rgb16 is not None and format_for(job.out) in DEEP_FORMATS:
        return img.rgb16
    return img.rgb


def save_one(job: Job, img, rgb, overwrite: bool, provenance: dict | None = None) -> Path:
    """Write one output with its source's metadata; transparency its format cannot hold goes to a .png."""
    from tinct.imageio import save_image

    out, alpha = job.out, img.alpha
    alt = _alt_png(job)
    if alpha is not None and alt is not None and (alpha < 255).any():
        out = alt
    if out != job.out and out.resolve() == job.src.resolve():
        raise ImageError(f"the image has transparency, and its .png output {out} would overwrite the input")
    return save_image(out, rgb, alpha, like=img, overwrite=overwrite, provenance=provenance)


def provenance_of(colorizer) -> dict[str, str]:
    """What the outputs' XMP says: tinct, its version, the model (name and file hash), the date."""
    from tinct.imageio import provenance
    from tinct.modelfile import file_sha256

    return provenance.record(colorizer.name, file_sha256(colorizer.path) if colorizer.path is not None else None)


def report_row(job: Job, status: str, reason: str, t0: float) -> dict:
    """One row of the run's report (``--report``): file, output, status, reason, seconds since ``t0``."""
    import time

    return {"file": str(job.src), "output": str(job.out) if status == "done" else "", "status": status,
            "reason": reason, "seconds": round(time.perf_counter() - t0, 3)}


def write_report(path: Path, rows: list[dict]) -> None:
    """The run's audit trail: one row per file (file, output, status, reason, seconds), CSV or JSON
    by the extension, written atomically."""
    import csv
    import io
    import json

    from tinct.imageio import atomic_write_text

    if path.suffix.lower() == ".json":
        data = json.dumps(rows, indent=2) + "\n"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["file", "output", "status", "reason", "seconds"])
        w.writeheader()
        w.writerows(rows)
        data = buf.getvalue()
    atomic_write_text(path, data)

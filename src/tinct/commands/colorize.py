"""``tinct colorize``: colorize image files and folders with one model, loaded once.

Inputs are files and folders (searched recursively; the folder's tree is mirrored under the
output folder). A bad file is reported as one line and the others go on; the run ends with a
summary line and exit code 1 when any file failed. Outputs are written atomically and never
over an existing file (unless ``--overwrite``) nor over an input.
"""

from __future__ import annotations

import argparse
import sys

from tinct.batch.jobs import OUT_EXT, is_done, plan, remove_job_temporaries
from tinct.errors import HintError, TinctError

EPILOG = """\
examples:
  tinct colorize old.jpg -o old_color.jpg
  tinct colorize scans/ -o colored/ --resume
  tinct colorize portrait.png -o out/ --hint 120,80,#c08060 --palette "#aa3300:2,#3366ff"
  tinct colorize photo.jpg -o out/ --hints hints.json

hints JSON: {"points": [{"x": 10, "y": 20, "color": "#ff0000", "size": 5}], "grid": "grid.png",
             "palette": [{"color": "#aa3300", "weight": 2}, "#3366ff"], "reference": "ref.jpg"}
"""


def add_parser(sub) -> argparse.ArgumentParser:
    from tinct.batch.config import field_help

    doc = field_help()  # the run's options are RunConfig's fields
    p = sub.add_parser(
        "colorize", help="colorize image files and folders",
        description="Colorize black-and-white images (color images are recolored from their lightness). "
                    "Outputs keep the input's full resolution and transparency, with EXIF orientation applied.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (created if needed; a folder input's tree is mirrored in it); with exactly "
                        "one input file OUT may also be a file name with an image extension")
    p.add_argument("--model", default="photo", metavar="NAME|FILE", help=doc["model"])
    p.add_argument("--render-size", type=int, default=None, metavar="PX", help=doc["render_size"])
    p.add_argument("--temperature", type=float, default=None, metavar="T", help=doc["temperature"])
    ow = p.add_mutually_exclusive_group()
    ow.add_argument("--overwrite", action="store_true", help=doc["overwrite"])
    ow.add_argument("--resume", action="store_true", help=doc["resume"])
    p.add_argument("--format", choices=["same", *OUT_EXT], default="same",
                   help="output format (default: same as the input; inputs with transparency going to "
                        "JPEG or BMP are written as .png)")
    p.add_argument("--depth", choices=["auto", "8"], default="auto",
                   help="bits per sample of the output: auto keeps the 16 bits of a 16-bit PNG or TIFF scan "
                        "in a PNG or TIFF output (default); 8 writes 8 bits always")
    p.add_argument("--suffix", default="", help="added to each output file name before the extension, e.g. _color")
    h = p.add_argument_group("hints (models trained with hints, such as 'photo')")
    h.add_argument("--hint", action="append", default=[], metavar="X,Y,#RRGGBB[,SIZE]",
                   help="a color at pixel (X, Y) of the input as displayed (after EXIF rotation); SIZE: "
                        "patch side in working pixels, 0 = automatic (repeatable; one input image only)")
    h.add_argument("--hints", metavar="FILE.json", help="hints from a JSON file (see below)")
    h.add_argument("--grid", metavar="IMAGE",
                   help="a coarse color layout: any image, read as a 14x14 grid of colors "
                        "(transparent cells give no hint; one input image only)")
    h.add_argument("--palette", metavar="SPEC", help='colors the result should use, e.g. "#aa3300:2,#3366ff" '
                                                     "(COLOR[:WEIGHT], comma separated)")
    h.add_argument("--reference", metavar="IMAGE", help="an image whose colors the result should follow")
    p.add_argument("--confidence", metavar="FILE.png",
                   help="also write where the model is unsure, for one input file: a grayscale PNG of the "
                        "output's size, white where the model is sure of the color, dark where it guesses")
    p.add_argument("--layers", metavar="DIR",
                   help="line art, one input file: paint region by region (one flat color per area the lines enclose, "
                        "gaps up to 4 px closed) and write the layers to DIR: lines.png (on transparency), flats.png, "
                        "shading.png (16-bit, value/16384 = factor), and layers.ora (the same stack in one OpenRaster file "
                        "for Krita, GIMP or MyPaint); the output is what they stack to")
    p.add_argument("--variants", type=int, metavar="N",
                   help="for one input file, also N-1 alternative colorizations beside the output (OUT_alt1, ...): "
                        "they differ where the model is unsure, one color per region (2-8)")
    p.add_argument("--variant", type=int, metavar="K",
                   help="for one input file, start from alternative K of --variants N (N default 4; 0 = the usual "
                        "output, OUT_altK is alternative K) and apply the hints on top of it")
    p.add_argument("--threads", type=int, default=None, metavar="N", help=doc["threads"])
    p.add_argument("--jobs", type=int, default=1, metavar="N", help=doc["jobs"])
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS", help=doc["ray"])
    p.add_argument("--report", metavar="FILE.csv|FILE.json", help=doc["report"])
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch", help=doc["backend"])
    p.add_argument("--onnx", metavar="FILE.onnx", help=doc["onnx"])
    p.add_argument("--no-provenance", action="store_true", help=doc["no_provenance"])
    p.add_argument("-q", "--quiet", action="store_true", help=doc["quiet"])
    return p


def build_hints(args: argparse.Namespace):
    """The hints given on the command line (None when there are none)."""
    from tinct.hints import Hints
    from tinct.hints.io import (
        load_grid,
        load_hints_json,
        load_reference,
        merge_hints,
        parse_palette,
        parse_point,
    )

    base = load_hints_json(args.hints) if args.hints else Hints()
    extra = Hints(points=[parse_point(t) for t in args.hint])
    if args.grid:
        extra.grid = load_grid(args.grid)
    if args.palette:
        extra.palette = parse_palette(args.palette)
    if args.reference:
        extra.reference = load_reference(args.reference)
    hints = merge_hints(base, extra)
    return None if hints.is_empty() else hints


def run(args: argparse.Namespace) -> int:
    from tinct.batch.config import RunConfig

    cfg = RunConfig.from_args(args)
    hints = build_hints(args)
    jobs = plan(args.inputs, args.output, args.format, args.suffix)
    for job in jobs:
        job.deep = args.depth == "auto"
    if hints is not None and (hints.points or hints.grid is not None) and len(jobs) > 1:
        raise HintError(f"point and grid hints fit one image, but {len(jobs)} inputs were given "
                        "(palette and reference hints work for many)")
    todo = jobs
    if args.resume:
        todo = [j for j in jobs if not is_done(j)]
    elif not args.overwrite:
        existing = [j.out for j in jobs if j.out.exists()]
        if existing:
            what = f"outputs {existing[0]} and {len(existing) - 1} more already exist" if len(existing) > 1 \
                else f"output {existing[0]} already exists"
            raise TinctError(f"{what}; use --overwrite to replace or --resume to skip")
    if args.confidence:
        _check_confidence_path(args, jobs)
    if args.variants is not None:
        _check_variants(args, jobs)
    if args.variant is not None:
        _check_variant(args, jobs)
    if args.layers is not None and len(jobs) != 1:
        raise TinctError(f"--layers takes one input file, but {len(jobs)} inputs were given")
    if args.resume or args.overwrite:
        remove_job_temporaries(todo)
    skipped = len(jobs) - len(todo)
    counts = {"done": 0, "failed": 0}
    try:
        if todo and (args.confidence or args.variants or args.layers or args.variant is not None):
            return _run_one_with_extras(args, cfg, todo[0], hints)
        if todo:
            from tinct.batch.local import run_jobs

            run_jobs(cfg, todo, hints, counts)
    except KeyboardInterrupt:
        left = len(todo) - counts["done"] - counts["failed"]
        print(f"interrupted: colorized {counts['done']}, skipped {skipped}, failed {counts['failed']}, "
              f"not done {left} (run again with --resume to finish)", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"colorized {counts['done']}, skipped {skipped}, failed {counts['failed']}")
        note = drawing_note(cfg.model, [j.src for j in todo])
        if note:
            print(note, file=sys.stderr)
    return 1 if counts["failed"] else 0


NOTE_LOOKS = 8  # inputs the drawing note looks at, at most (the first ones)


def drawing_note(model: str, sources: list) -> str | None:
    """A note when the inputs do not suit the model (:mod:`tinct.lineart.detect`, on the first
    ``NOTE_LOOKS`` inputs read at about 512 px): line drawings given to a model that colors a photo's
    lightness, or pictures with colors of their own given to a line-art model (which repaints them);
    None otherwise, and when anything about it cannot be read."""
    import numpy as np
    from PIL import Image

    from tinct.lineart.detect import SIDE, note, unsuited
    from tinct.modelfile import read_record, resolve_model

    try:
        line_art = read_record(resolve_model(model)).get("output") == "lab"
    except Exception:  # noqa: BLE001  an architecture name (arch:...) colors the lightness
        line_art = False
    found = []
    for src in sources[:NOTE_LOOKS]:
        try:
            with Image.open(src) as im:
                im.draft("RGB", (SIDE, SIDE))
                im.thumbnail((SIDE, SIDE))
                if unsuited(np.asarray(im.convert("RGB")), line_art):
                    found.append(src)
        except Exception:  # noqa: BLE001  a file that cannot be read was reported already
            continue
    if not found:
        return None
    how = "" if line_art else " (--model lineart)"
    if len(sources) == 1:
        return f"note: {found[0]} {note(line_art)}{how}"
    return (f"note: {len(found)} of the first {min(len(sources), NOTE_LOOKS)} inputs (such as {found[0]}) "
            f"{note(line_art, many=True)}{how}")


def _check_confidence_path(args: argparse.Namespace, jobs) -> None:
    """--confidence: one input file, a .png path that is neither the input nor the output, and
    not an existing file unless --overwrite."""
    from pathlib import Path

    if len(jobs) != 1:
        raise TinctError(f"--confidence takes one input file, but {len(jobs)} inputs were given")
    path = Path(args.confidence)
    if path.suffix.lower() != ".png":
        raise TinctError(f"--confidence writes a PNG: give a path ending in .png, got {args.confidence!r}")
    job = jobs[0]
    if path.resolve() in (job.src.resolve(), job.out.resolve()):
        raise TinctError(f"--confidence {path} would overwrite the {'input' if path.resolve() == job.src.resolve() else 'output'}")
    if path.exists() and not args.overwrite:
        raise TinctError(f"confidence map {path} already exists; use --overwrite to replace")


def _variant_paths(args: argparse.Namespace, job) -> list:
    return [job.out.with_name(f"{job.out.stem}_alt{i}{job.out.suffix}") for i in range(1, args.variants)]


def _check_variant(args: argparse.Namespace, jobs) -> None:
    """--variant: 0 to N-1 of --variants N (default 4), one input file."""
    n = args.variants or 4
    if not 0 <= args.variant < n:
        raise TinctError(f"--variant must be between 0 and {n - 1} (alternatives of --variants {n}), got {args.variant}")
    if len(jobs) != 1:
        raise TinctError(f"--variant takes one input file, but {len(jobs)} inputs were given")


def _check_variants(args: argparse.Namespace, jobs) -> None:
    """--variants: 2 to 8, one input file, no alternative written over an existing file."""
    if not 2 <= args.variants <= 8:
        raise TinctError(f"--variants must be between 2 and 8, got {args.variants}")
    if len(jobs) != 1:
        raise TinctError(f"--variants takes one input file, but {len(jobs)} inputs were given")
    existing = [p for p in _variant_paths(args, jobs[0]) if p.exists()]
    if existing and not args.overwrite:
        raise TinctError(f"alternative {existing[0]} already exists; use --overwrite to replace")


def _run_one_with_extras(args: argparse.Namespace, cfg, job, hints) -> int:
    """One file colorized with its confidence map, its alternatives, a chosen alternative and/or its
    line-art layers."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from tinct.batch.jobs import pixels, provenance_of, save_one
    from tinct.imageio import load_image, save_image
    colorizer = cfg.colorizer()
    colorizer.check_hints(hints)
    img = load_image(job.src)
    mark = None if args.no_provenance else provenance_of(colorizer)
    rgb = None
    if args.variants:
        from dataclasses import replace

        from tinct.uncertainty import variants

        alts = variants(colorizer, pixels(img, job), args.variants, hints)
        for path, alt in zip(_variant_paths(args, job), alts[1:]):
            save_one(replace(job, out=path), img, alt, True, mark)
        rgb = alts[0]
    if args.confidence:
        rgb, conf = colorizer(pixels(img, job), hints, confidence=True)
        gray = np.round(conf * 255).astype(np.uint8)
        save_image(Path(args.confidence), np.repeat(gray[:, :, None], 3, axis=2), None, overwrite=True)
    if args.variant:  # the chosen alternative, the hints on top of it
        from tinct.uncertainty import variants

        rgb = variants(colorizer, pixels(img, job), args.variants or 4, hints, only=args.variant)[0]
    if args.layers:
        if colorizer.output_kind != "lab":
            raise TinctError(f"--layers is for line-art models (such as 'lineart'), not {colorizer.name!r}")
        from tinct.lineart.regions import write_layers

        painted = colorizer(img.rgb, hints)
        drawing = np.asarray(Image.fromarray(img.rgb).convert("L"))
        rgb = write_layers(args.layers, painted, drawing)
    if rgb is None:  # --variant 0: the usual output
        rgb = colorizer(pixels(img, job), hints)
    save_one(job, img, rgb, args.overwrite or args.resume, mark)
    if not args.quiet:
        extra = f"; {args.variants - 1} alternatives beside it" if args.variants else ""
        if args.variant:
            extra += f"; alternative {args.variant} of {args.variants or 4}" + (" with the hints on top" if hints else "")
        if args.layers:
            extra += f"; layers in {args.layers}"
        if args.confidence:
            extra += (f"; confidence map {args.confidence} (mean {float(conf.mean()):.2f}, "
                      f"{100 * float((conf < 0.5).mean()):.0f} % of the pixels below 0.5)")
        print(f"colorized 1, skipped 0, failed 0{extra}")
    return 0

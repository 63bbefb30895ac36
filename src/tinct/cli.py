"""The ``tinct`` console script: one entry point, one module per subcommand in ``tinct.commands``.

Each command module has ``add_parser(subparsers)`` and ``run(args) -> int``. Errors a user can
cause (:class:`~tinct.errors.TinctError`) print as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tinct import __version__

COMMANDS = ["colorize", "video", "frames", "lineart", "train", "train-fusion", "train-alternatives", "models", "bench", "serve", "samples", "data", "export"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinct", description="Colorize black-and-white images and video.")
    parser.add_argument("--version", action="version", version=f"tinct {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tinct.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tinct.commands.{name.replace('-', '_')}":
                continue
            raise
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from tinct.commands.bench import default_kind

    parser = build_parser()
    args = parser.parse_args(default_kind(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    from tinct.errors import TinctError

    try:
        return int(args._run(args) or 0)
    except TinctError as exc:
        print(f"tinct {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinct {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

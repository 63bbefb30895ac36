"""One module per ``tinct`` subcommand: ``add_parser(subparsers)`` and ``run(args) -> int``."""

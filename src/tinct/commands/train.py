"""``tinct train``: options are the fields of :class:`tinct.train.TrainConfig`; their docstrings
are the help text (as litgpt's dataclass arguments)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json


def _field_docs(cls) -> dict[str, str]:
    """Docstrings written under dataclass fields."""
    tree = ast.parse(inspect.getsource(cls))
    docs, last = {}, None
    for node in tree.body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            last = node.target.id
        elif last and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            docs[last] = str(node.value.value)
            last = None
        else:
            last = None
    return docs


def add_config_arguments(p: argparse.ArgumentParser, cls, required: tuple[str, ...] = (),
                         positional: tuple[str, ...] = ()) -> None:
    """One option per field of the dataclass ``cls`` (its field docstrings are the help text)."""
    docs = _field_docs(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        helptext = docs.get(f.name, "")
        if f.name in positional:
            p.add_argument(f.name, help=helptext)
        elif f.name in required:
            p.add_argument(flag, required=True, help=helptext)
        elif f.name == "model_kwargs":
            p.add_argument("--model-kwargs", type=json.loads, default={}, help="constructor options as JSON, e.g. '{\"base\": 16}'")
        elif f.name == "disc_kwargs":
            p.add_argument("--disc-kwargs", type=json.loads, default={}, help=helptext)
        elif f.type in (bool, "bool") and f.default is True:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=True, help=f"{helptext} (default: on)")
        elif f.type in (bool, "bool"):
            p.add_argument(flag, action="store_true", help=helptext)
        elif str(f.type) == "tuple[float, float]":
            p.add_argument(flag, type=_float_pair, default=f.default, metavar="A,B",
                           help=f"{helptext} (default: {','.join(f'{v:g}' for v in f.default)})")
        else:
            typ = {"int": int, "float": float, "int | None": int, "float | None": float}.get(str(f.type), str)
            default = f.default if f.default is not dataclasses.MISSING else None
            p.add_argument(flag, type=typ, default=default, help=f"{helptext} (default: {default})")


def _float_pair(text: str) -> tuple[float, float]:
    """``"A,B"`` -> (A, B), both finite and 0 or more."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers as A,B, got {text!r}") from None
    if not (0 <= a < float("inf") and 0 <= b < float("inf")):
        raise argparse.ArgumentTypeError(f"expected two numbers 0 or more, got {text!r}")
    return a, b


def config_from_args(cls, args: argparse.Namespace):
    """The dataclass ``cls`` built from the parsed options of :func:`add_config_arguments`."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(args).items() if k in names})


def add_parser(sub) -> argparse.ArgumentParser:
    from tinct.train.config import TrainConfig

    p = sub.add_parser("train", help="train a zoo model on a folder of color images",
                       description="Train a colorization model of the zoo on a folder of color images. "
                       "Gray inputs are made on the fly; a validation table, sample grids and resumable "
                       "checkpoints are written to --out, and the final model file to OUT/model.safetensors.")
    add_config_arguments(p, TrainConfig, required=("model", "data"))
    return p


def run(args: argparse.Namespace) -> int:
    from tinct.train import TrainConfig, train

    cfg = config_from_args(TrainConfig, args)
    result = train(cfg)
    print(f"model written to {result.model_path}")
    return 0

"""``tinct models``: the zoo and the shipped model files."""

from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("models", help="list the model zoo and the shipped models",
                       description="List every architecture of the zoo and the model files shipped with tinct.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def run(args: argparse.Namespace) -> int:
    import json

    from tinct.modelfile import read_record
    from tinct.modelfile import shipped_models
    from tinct.registry import list_models

    zoo = [{"name": s.name, "role": s.role, "summary": s.summary, "source": s.source} for s in list_models()]
    shipped = []
    for name, path in shipped_models().items():
        rec = read_record(path)
        shipped.append({"name": name, "arch": rec["arch"], "hints": bool(rec["kwargs"].get("hints")),
                        "purpose": rec.get("purpose") or "", "benchmark": rec.get("provenance", {}).get("benchmark", {}),
                        "path": str(path)})
    if args.json:
        print(json.dumps({"zoo": zoo, "shipped": shipped}, indent=2))
        return 0
    print("Architectures (tinct train --model NAME):")
    width = max(len(m["name"]) for m in zoo) + 1
    for m in zoo:
        print(f"  {m['name']:<{width}} {m['role']:<13} {m['summary']}")
    print("Shipped models (tinct colorize --model NAME):")
    for m in shipped:
        print(f"  {m['name']:<8} {m['arch']:<13} hints={'yes' if m['hints'] else 'no ':<3}  {m['purpose']}")
    return 0

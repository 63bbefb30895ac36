"""Import loops among tinct's modules: every cycle of the module graph (top-level imports, and
with ``--all`` imports inside functions too), printed one per line.

    python scripts/import_loops.py [SRC] [--all]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str, modules: set[str], inner: bool) -> set[str]:
    """The tinct modules ``path`` imports (top level only unless ``inner``)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # imports for type checkers only are not imports
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    nodes = ast.walk(tree) if inner else tree.body
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="?", default="src")
    ap.add_argument("--all", action="store_true", help="count imports inside functions too")
    args = ap.parse_args()
    root = Path(args.src)
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = {m: imports(p, m, set(files), args.all) for m, p in files.items()}
    # a package importing its own submodules is how packages work, not a loop
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    found = cycles(graph)
    for comp in found:
        print(" <-> ".join(comp))
    print(f"{len(found)} import loop(s) among {len(files)} modules ({'all imports' if args.all else 'top-level imports'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

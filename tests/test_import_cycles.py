"""No import cycles among the project's own packages (bot/, handlers/, storage/).

The graph is built from the source with `ast`, so it sees every import: module level, inside functions
(the "lazy" imports that hide a cycle at import time but not in the design), and under `TYPE_CHECKING`.
`from pkg import name` points at `pkg.name` when that is a module, else at `pkg` (as import-linter does);
a submodule's implicit import of its parent package is not an edge (every package would be a cycle).
A strongly connected component of more than one module is a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")


def module_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names one import statement brings in (candidates; unknown ones are dropped later)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolved against the importing module's package
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            yield f"{target}.{alias.name}"  # a submodule, when there is one
        yield target


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            candidates = list(_imported(node, name, is_package))
            if isinstance(node, ast.ImportFrom):
                # `from pkg import sub` -> pkg.sub if it is a module; names that aren't modules -> pkg itself
                subs = [c for c in candidates[:-1] if c in files]
                if len(subs) < len(candidates) - 1 and candidates[-1] in files:
                    subs.append(candidates[-1])
                targets = subs
            else:
                targets = [c for c in candidates if c in files]
            graph[name].update(t for t in targets if t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    files = module_files()
    assert len(files) > 50, "the project's modules were not found"
    found = cycles(import_graph(files))
    assert not found, "import cycles (break each one; a function-level import does not count as a fix):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "bot"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from bot.sub import b\n")  # lazy import, still an edge
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..c import thing\n")  # relative import of bot.c
    (pkg / "c.py").write_text("import bot.a\nthing = 1\n")
    (pkg / "d.py").write_text("from bot import c\nfrom bot.sub import b\n")  # reaches the cycle, not part of it
    files = module_files(tmp_path, ["bot"])
    graph = import_graph(files)
    assert graph["bot.a"] == {"bot.sub.b"} and graph["bot.sub.b"] == {"bot.c"} and graph["bot.d"] == {"bot.c",
                                                                                                     "bot.sub.b"}
    assert cycles(graph) == [["bot.a", "bot.c", "bot.sub.b"]]
    (pkg / "c.py").write_text("thing = 1\n")
    assert cycles(import_graph(module_files(tmp_path, ["bot"]))) == []

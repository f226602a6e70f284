"""The import graph of ``stability/`` is a DAG, and the command line is a leaf nothing imports.

The graph is read from the source (``ast``), not from ``sys.modules``: every ``import`` and
``from ... import`` statement counts, at module level or inside a function (a lazy import still
makes the two modules depend on each other), relative or absolute.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "stability"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of stability it imports`` (self-imports dropped)."""
    modules = _modules()
    graph = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_package, node.level, node.module)
                subs = [f"{target}.{alias.name}" for alias in node.names]
                # ``from . import samplers`` needs the submodule only; ``from .x import name`` needs x
                targets = subs + ([target] if any(s not in modules for s in subs) else [])
            for t in targets:
                # the deepest stability module named by t (``stability.bounds.bound`` -> ``stability.bounds``)
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != module:
                    graph[module].add(t)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_reader_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "stability._domains" in graph["stability.bounds"]  # module level, relative
    assert "stability.schemes" in graph["stability.stationary"]  # inside a function
    assert "stability.cli._main" in graph["stability.cli"]  # a package's __init__
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_stability_imports_form_a_dag():
    cycles = find_cycles(import_graph())
    detail = "\n".join(" <-> ".join(c) for c in cycles)
    assert not cycles, f"import cycles in stability/ (each line: modules that import each other):\n{detail}"


def test_nothing_outside_the_cli_imports_it():
    # stability/__main__.py is the `python -m stability` program, not library code
    offenders = {
        m: sorted(t for t in deps if t == "stability.cli" or t.startswith("stability.cli."))
        for m, deps in import_graph().items()
        if not (m == "stability.cli" or m.startswith("stability.cli.")) and m != "stability.__main__"
    }
    assert not {m: d for m, d in offenders.items() if d}

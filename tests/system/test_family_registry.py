"""One registry of families, and no library code that branches on a family's name.

Every capability of a family (its simulator hooks, its torch model, its size option, whether the
corrector or curation run on it) is declared on its class in ``stability/families/<family>.py``
and registered once in :data:`stability.families.FAMILIES`; the simulator, the moment recursions,
the command line, the report and the sweeps read the class. The scan below reads the library's
source (``ast``): a comparison (``==``, ``!=``, ``in``, ``not in``) against a registered family name,
written as a string or as a module-level constant holding one, is a branch on a family's name.
"""

import ast
from pathlib import Path

import pytest

from stability.families import FAMILIES, analytic_families, simulated_families
from stability.report import MODELS

PACKAGE = Path(__file__).resolve().parents[2] / "stability"
NAMES = set(FAMILIES) | {f"{name}-numerical" for name in FAMILIES}


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "string"`` assignments (e.g. ``REGRESSION = "linear-regression"``)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def _strings(node: ast.AST, constants: dict[str, str]) -> set[str]:
    """The strings an operand of a comparison stands for (a constant, a named constant, or a tuple/list/set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(_strings(e, constants) for e in node.elts)) if node.elts else set()
    return set()


def _library_constants() -> dict[str, str]:
    """Every module-level string constant of the library (an imported one is compared by its name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        out.update(_string_constants(ast.parse(path.read_text(encoding="utf-8"))))
    return out


def family_name_branches(source: str, names: set[str] = NAMES, constants: dict | None = None) -> list[tuple[int, str]]:
    """``(line, name)`` of every comparison against a family name in ``source``."""
    tree = ast.parse(source)
    constants = {**(constants or {}), **_string_constants(tree)}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops
        ):
            for operand in (node.left, *node.comparators):
                hits += [(node.lineno, s) for s in sorted(_strings(operand, constants) & names)]
    return hits


LIBRARY_CONSTANTS = _library_constants()


def test_the_scanner_sees_the_forms_a_branch_takes():
    src = 'R = "linear-regression"\nif family == "gaussian": pass\nif f in ("poisson", "x"): pass\nif f != R: pass\n'
    assert family_name_branches(src) == [(2, "gaussian"), (3, "poisson"), (4, "linear-regression")]
    assert family_name_branches('x = {"gaussian": 1}\nif n == "gaussians": pass\n') == []
    assert family_name_branches("if f == REGRESSION: pass", constants={"REGRESSION": "linear-regression"}) == [
        (1, "linear-regression")
    ]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_library_code_branches_on_a_family_name(path):
    hits = family_name_branches(path.read_text(encoding="utf-8"), constants=LIBRARY_CONSTANTS)
    assert not hits, (
        f"{path.relative_to(PACKAGE.parent)} branches on a family name (declare a capability instead): {hits}"
    )


def test_every_choice_is_read_off_the_registry():
    from stability.cli.simulate import register  # noqa: F401  (the CLI's choices are simulated_families)
    from stability.numerical import BUILTIN_MODELS

    assert set(analytic_families()) <= set(MODELS)
    numerical = {name for name in BUILTIN_MODELS if name.endswith("-numerical")}
    assert numerical == {f"{n}-numerical" for n, cls in FAMILIES.items() if cls.numerical}
    assert set(simulated_families()) == {n for n, cls in FAMILIES.items() if cls.defaults}
    assert "linear-regression" in simulated_families() and "linear-regression" not in simulated_families(False)


def test_a_registered_class_reaches_the_simulator_the_moments_and_the_command_line(monkeypatch):
    """A family is its class plus its registry entry: nothing else names it (here a renamed Poisson)."""
    import argparse

    import numpy as np

    from stability.cli.simulate import register
    from stability.dynamics import family_moments, simulate
    from stability.families import Poisson

    class Renamed(Poisson):
        name = "renamed-poisson"

    monkeypatch.setitem(FAMILIES, Renamed.name, Renamed)
    kw = dict(n=20, lambda_=1.0, generations=3, chains=4, seed=0)
    np.testing.assert_array_equal(simulate(Renamed.name, **kw).mean, simulate("poisson", **kw).mean)  # same hooks
    p = family_moments(Renamed.name, n=20, lambda_=1.0, generations=3, data={"rate": 2.0})
    q = family_moments("poisson", n=20, lambda_=1.0, generations=3, data={"rate": 2.0})
    np.testing.assert_array_equal(p.cov_mean, q.cov_mean)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["simulate", Renamed.name, "--n", "5", "--generations", "1"]).family == Renamed.name

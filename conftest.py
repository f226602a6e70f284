"""pytest, for the whole repository: the ``torch`` marker and the files that need an optional module.

Every test and doctest of a file that needs torch (the entries of :data:`NEEDS` whose module is
``torch``) is marked ``torch``, as are single tests of other files (``@pytest.mark.torch``), so
``pytest -m "not torch"`` is the numpy-only tier: it runs with the core install plus the ``test``
extra. Where an optional module is not installed, the files of :data:`NEEDS` that need it are not
collected (the collection report says which) and the tests marked ``torch``, ``pot`` (POT, W1 in
d >= 2) or ``proofs`` (sympy) are skipped with the extra to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# folder or file (relative to the repository) -> the optional module it needs at import time
NEEDS = {
    "stability/numerical": "torch",
    "stability/experiments": "torch",
    "studies": "torch",  # scripts over the torch models (doctests collected from testpaths)
    "tests/numerical": "torch",
    "tests/experiments": "torch",
    "tests/studies": "torch",
    "tests/dynamics/test_correction.py": "torch",
    "tests/torch_models.py": "torch",
    "tests/system/test_figures_stored.py": "torch",
    "tests/system/test_invalid_inputs.py": "torch",  # the table has numerical models and experiments
    "tests/system/test_numerical_vs_closed_forms.py": "torch",
    "tests/system/test_public_api_types.py": "torch",  # walks every public module
    "tests/test_schemes.py": "torch",
    "tests/test_weights.py": "torch",
    "tests/system/test_docs.py": "sympy",  # proofs_check's registry
    "tests/system/test_proofs_check.py": "sympy",
    "tests/system/test_figures.py": "matplotlib",
}

_NOT_COLLECTED: list[str] = []


def _need(path: Path) -> str | None:
    try:
        parts = Path(path).resolve().relative_to(ROOT).parts
    except ValueError:
        return None
    for prefix, module in NEEDS.items():
        if parts[: len(Path(prefix).parts)] == Path(prefix).parts:
            return module
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    module = _need(collection_path)
    is_file = collection_path.suffix == ".py"
    if module is not None and (is_file or collection_path.is_dir()) and importlib.util.find_spec(module) is None:
        _NOT_COLLECTED.append(f"{collection_path.relative_to(ROOT).as_posix()} ({module})")
        return True
    return None


# marker -> (module, extra): a marked test is skipped, with the extra to install, where it is missing
MARKERS = {"torch": ("torch", "numerical"), "pot": ("ot", "ot"), "proofs": ("sympy", "proofs")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {m for m, (module, _) in MARKERS.items() if importlib.util.find_spec(module) is None}
    for item in items:
        if _need(item.path) == "torch":
            item.add_marker(pytest.mark.torch)
        for marker in missing.intersection(m.name for m in item.iter_markers()):
            module, extra = MARKERS[marker]
            item.add_marker(pytest.mark.skip(reason=f"{module} not installed: pip install 'stability[{extra}]'"))


def pytest_report_collectionfinish(config: pytest.Config, start_path: Path, items: list[pytest.Item]) -> list[str]:
    if _NOT_COLLECTED:
        return [f"not collected (optional module not installed): {', '.join(sorted(_NOT_COLLECTED))}"]
    return []

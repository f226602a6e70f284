"""The test tree mirrors the package tree (docs/architecture.md).

``tests/<package>/test_<module>.py`` tests ``stability/<package>/<module>.py`` (or ``_<module>.py``);
``tests/studies/test_<study>.py`` tests the script ``studies/<study>.py``; the cross-cutting tests
(fuzz, invalid inputs, docs, import graph, figures, signals, ...) live in ``tests/system/``. A file that
fits neither is listed in :data:`ALLOWED` with the reason.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PACKAGE = ROOT / "stability"
STUDIES = ROOT / "studies"

# test file (relative to tests/) -> why it names no module of its package
ALLOWED = {
    "families/test_errors.py": "invalid input and degenerate data of every family (base, gaussian, discrete, positive)",
    "experiments/test_cfm.py": "OT-CFM, a model of experiments/models.py, tested apart from test_models.py",
}


def _names_a_module(rel: Path) -> bool:
    name = rel.stem.removeprefix("test_")
    if rel.parts[0] == "studies":  # a study is one script: studies/<name>.py, nothing else
        return len(rel.parts) == 2 and (STUDIES / f"{name}.py").is_file()
    folder = PACKAGE.joinpath(*rel.parts[:-1])
    return any((folder / f).exists() for f in (f"{name}.py", f"_{name}.py", name))


def test_every_test_file_names_a_module_of_its_package_or_is_a_system_test():
    stray = []
    for path in sorted(TESTS.rglob("test_*.py")):
        rel = path.relative_to(TESTS)
        if rel.parts[0] == "system" or rel.as_posix() in ALLOWED:
            continue
        if not _names_a_module(rel):
            stray.append(rel.as_posix())
    assert not stray, f"test files that name no module of their package (move them or list them in ALLOWED): {stray}"


def test_every_test_folder_is_a_package_folder_or_system():
    folders = {p.parent.relative_to(TESTS) for p in TESTS.rglob("test_*.py")} - {Path(".")}
    bad = [
        str(f)
        for f in folders
        if f.parts[0] != "system" and f != Path("studies") and not PACKAGE.joinpath(*f.parts).is_dir()
    ]
    assert not bad, bad


def test_the_allow_list_is_short_and_current():
    assert len(ALLOWED) <= 5
    for rel in ALLOWED:
        assert (TESTS / rel).exists(), f"{rel} is allowed but does not exist"
        assert not _names_a_module(Path(rel)), f"{rel} names a module now: remove it from ALLOWED"


def test_the_rule_catches_a_stray_file():
    # the check itself can fail: a name without a module, and a module that exists
    assert not _names_a_module(Path("dynamics/test_no_such_module.py"))
    assert _names_a_module(Path("dynamics/test_simulator.py"))
    assert _names_a_module(Path("cli/test_main.py"))  # stability/cli/_main.py
    assert _names_a_module(Path("studies/test_smooth_flow.py"))  # studies/smooth_flow.py
    assert not _names_a_module(Path("studies/test_no_such_study.py"))
    assert not _names_a_module(Path("studies/test_init.py"))  # studies/__init__.py is no study

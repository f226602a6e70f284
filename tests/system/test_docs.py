"""The documentation is self-contained and its cross-references resolve.

- No source or markdown file cites the old out-of-repository specification (the name is spelled
  here in pieces so that this file does not match itself) or reads the sibling ``shared`` folder;
  tests may read optional data under ``shared/data`` (and skip when it is absent).
- Every "docs/theory.md §N" (or "§N–M") points to a section that exists, and every section (1–9 and
  any numbered after them) has its MyST anchor ``(theory-N)=``.
- Every proofs_check check named in docs/theory.md is registered, and every registered check is
  named there (a new check needs a line in the theory page).
- The README shows only images that exist under docs/figures/; the gallery page (docs/gallery.md)
  shows every figure script.
- Every README link to a file of the repository (and its anchor, if any) resolves.
- Every public module of ``stability`` (no name part starting with ``_``) has an API page
  (an ``automodule`` directive in docs/api.md).
"""

import re
from pathlib import Path

import pytest

import proofs_check

ROOT = Path(__file__).resolve().parents[2]
THEORY = ROOT / "docs" / "theory.md"
SKIP_DIRS = {".venv", ".git", "runs", "_build", "out", "build", "dist", "node_modules"}
OLD_SPEC = "THEORY" + ".md"
SECTION_REF = re.compile(r"docs/theory\.md §(\d+)(?:\s*[–-]\s*(\d+))?")


def _text_files():
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if path.suffix not in (".py", ".md") or not path.is_file():
            continue
        if any(part in SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        yield rel, path.read_text(encoding="utf-8")


def _sections() -> set[int]:
    return {int(m) for m in re.findall(r"^## (\d+)\. ", THEORY.read_text(encoding="utf-8"), flags=re.M)}


def test_no_reference_to_the_old_specification_or_shared():
    bad = []
    for rel, text in _text_files():
        for i, line in enumerate(text.splitlines(), 1):
            if OLD_SPEC in line:
                bad.append(f"{rel}:{i}: {line.strip()}")
            for m in re.finditer(r"\.\./shared(/\S*)?", line):
                allowed = rel.parts[0] == "tests" and (m.group(1) or "").startswith("/data")
                if not allowed:
                    bad.append(f"{rel}:{i}: {line.strip()}")
    assert not bad, "re-point these to docs/theory.md (see the README):\n" + "\n".join(bad)


def test_theory_has_sections_1_to_9_with_anchors():
    # sections 1-9, and any later ones (§10 weighted mixing, ...) numbered on without gaps
    text = THEORY.read_text(encoding="utf-8")
    assert _sections() == set(range(1, max(_sections()) + 1)) and max(_sections()) >= 9
    for n in sorted(_sections()):
        anchored = re.search(rf"^\(theory-{n}\)=\n## {n}\. ", text, flags=re.M)
        assert anchored, f"section {n} lacks its (theory-{n})= anchor"


def test_every_section_reference_exists():
    sections = _sections()
    refs, bad = 0, []
    for rel, text in _text_files():
        for m in SECTION_REF.finditer(text):
            refs += 1
            lo = int(m.group(1))
            hi = int(m.group(2) or lo)
            if not (lo <= hi and set(range(lo, hi + 1)) <= sections):
                bad.append(f"{rel}: {m.group(0)}")
    assert refs > 20, f"only {refs} references to docs/theory.md found: is the pattern still right?"
    assert not bad, "references to missing sections:\n" + "\n".join(bad)


def test_section_reference_pattern_rejects_a_missing_section():
    # The check above must be able to fail: a reference to §99 is not a section.
    m = SECTION_REF.search("see docs/theory.md " + "§99")
    assert m and int(m.group(1)) not in _sections()


def test_theory_names_exactly_the_registered_checks():
    text = THEORY.read_text(encoding="utf-8")
    results = "|".join(proofs_check.RESULTS)
    named = set(re.findall(rf"`((?:{results})\.\w+)`", text))
    registered = set(proofs_check.REGISTRY)
    assert not named - registered, f"docs/theory.md names unknown checks: {sorted(named - registered)}"
    assert not registered - named, f"checks missing from docs/theory.md: {sorted(registered - named)}"


README_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _gallery() -> str:
    page = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- gallery:start -->\n(.*?)<!-- gallery:end -->", page, flags=re.S)
    if m is None:
        pytest.fail("docs/gallery.md has no gallery:start / gallery:end markers")
    return m.group(1)


def test_gallery_images_exist_under_docs_figures():
    images = README_IMAGE.findall(_gallery())
    assert images, "the gallery shows no image"
    for src in images:
        assert (ROOT / "docs" / src).is_file(), f"docs/gallery.md shows {src}, which does not exist (`make gallery`)"


def test_readme_images_exist_under_docs_figures():
    images = README_IMAGE.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert images, "the README shows no image"
    for src in images:
        assert src.startswith("docs/figures/"), f"README image {src} is not under docs/figures/"
        path = ROOT / src
        assert path.is_file(), f"README shows {src}, which does not exist (run `make gallery`)"
        assert path.stat().st_size <= 300_000, f"{src} is {path.stat().st_size} bytes (limit 300 KB)"


def test_every_figure_script_is_in_the_gallery():
    gallery = _gallery()
    missing = [p.name for p in sorted((ROOT / "figures").glob("fig_*.py")) if p.name not in gallery]
    assert not missing, f"figure scripts missing from the gallery (docs/gallery.md): {missing}"


def test_results_page_matches_the_stored_results():
    import runpy

    make_results = runpy.run_path(str(ROOT / "docs" / "make_results.py"), run_name="make_results")
    page = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert page == make_results["render"](), "docs/results.md is out of date: run `make results`"


README_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings, as GitHub and MyST (``myst_heading_anchors``) make them."""
    anchors = set()
    for title in re.findall(r"^#{1,6} (.+)$", path.read_text(encoding="utf-8"), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _broken_links(text: str, base: Path) -> list[str]:
    broken = []
    for target in README_LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue  # external: not checked (no network)
        path, _, anchor = target.partition("#")
        file = (base / path).resolve() if path else base / "README.md"
        if not file.exists():
            broken.append(f"{target} (no file {path})")
        elif anchor and (file.suffix != ".md" or anchor not in _anchors(file)):
            broken.append(f"{target} (no heading #{anchor})")
    return broken


def test_every_readme_link_resolves():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(README_LINK.findall(text)) >= 10, "the README links into the docs"
    broken = _broken_links(text, ROOT)
    assert not broken, f"README links that do not resolve: {broken}"


def test_the_link_check_catches_a_broken_link():
    assert _broken_links("[a](docs/no_such_page.md) [b](docs/guide/quickstart.md#no-such-heading)", ROOT) == [
        "docs/no_such_page.md (no file docs/no_such_page.md)",
        "docs/guide/quickstart.md#no-such-heading (no heading #no-such-heading)",
    ]
    assert _broken_links("[ok](docs/guide/quickstart.md#install) [web](https://example.org)", ROOT) == []


def _public_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "stability").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue  # private (_domains, _io, ...) and __main__
        names.append(".".join(parts))
    return names


def test_every_public_module_has_an_api_page():
    documented = set(re.findall(r"^\.\. automodule:: ([\w.]+)", (ROOT / "docs" / "api.md").read_text(), flags=re.M))
    modules = _public_modules()
    assert "stability.dynamics.simulator" in modules and "stability._domains" not in modules
    missing = [m for m in modules if m not in documented]
    assert not missing, f"public modules without an API page (add an automodule to docs/api.md): {missing}"

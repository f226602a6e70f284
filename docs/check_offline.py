"""Check that the built documentation works with no network (``make docs-check``, after ``make docs``).

Two checks on ``docs/_build/html``:

1. **No page loads anything from the network.** Every built HTML page is parsed: a ``<script src>``
   or a ``<link href>`` (stylesheet, font, icon, preload, ...) with an ``http(s)://`` or
   protocol-relative ``//`` address is an error, and so is an ``@import``/``url(...)`` of such an
   address in an inline ``<style>`` or in a CSS file under ``_static``. Links a reader clicks
   (``<a href>``) are not loads and are not checked; neither is ``<link rel="canonical">``.
2. **The formulas are rendered, in a real browser, offline.** Headless Chromium opens every page that
   has formulas (``file://`` address) with every host name mapped to "not found"
   (``--host-resolver-rules``), lets its scripts run (``--virtual-time-budget``) and prints the DOM
   (``--dump-dom``; up to three tries, see ``TRIES``). MathJax replaces each formula (a Sphinx
   ``class="math"`` element) by an ``<mjx-container>``: the page passes when there are at least as
   many containers as formulas and no ``<mjx-merror>`` (a formula MathJax could not parse). A page
   whose renderer failed to load shows the raw TeX and has no container. The DOM after the scripts
   ran is scanned for network loads too (a script may add ``<script src>`` tags).

Without a Chromium binary (``chromium``, ``chromium-browser``, ``google-chrome``) the browser check is
skipped with a message and the static check still runs. Exit status 1 on any error.

    python docs/check_offline.py [--html docs/_build/html] [--screenshot theory.png]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "docs" / "_build" / "html"
REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_REMOTE = re.compile(r"""(?:@import\s+|url\(\s*)['"]?\s*((?:https?:)?//[^'")\s;]+)""", re.IGNORECASE)
# Headless Chromium prints the DOM when the virtual time budget is spent; under heavy load it was seen,
# once in about twenty runs, to print it while MathJax was still typesetting: a page is opened up to
# three times before its formulas count as not rendered (with no renderer the count is 0 every time).
TRIES = 3
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# <link rel=...> values that name a related page, which the browser does not fetch while loading.
NOT_LOADS = {"canonical", "alternate", "author", "license", "help", "search", "next", "prev", "index"}


class _Page(HTMLParser):
    """Collects the remote loads, the inline CSS and the formula count of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.remote: list[str] = []
        self.formulas = 0
        self.rendered = 0
        self.errors = 0
        self._style = False
        self.css: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "script" and REMOTE.match(a.get("src", "")):
            self.remote.append(f"<script src={a['src']}>")
        elif tag == "link" and REMOTE.match(a.get("href", "")):
            rels = set(a.get("rel", "").lower().split())
            if not rels or not rels <= NOT_LOADS:
                self.remote.append(f"<link rel={a.get('rel', '')} href={a['href']}>")
        elif tag == "style":
            self._style = True
        if tag in ("span", "div") and "math" in a.get("class", "").split():
            self.formulas += 1
        if tag == "mjx-container":
            self.rendered += 1
        if tag == "mjx-merror":
            self.errors += 1
        if "style" in a:  # an inline style="...": its url(...) are loads too
            self.css.append(a["style"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._style = False

    def handle_data(self, data: str) -> None:
        if self._style:
            self.css.append(data)


def parse(html: str) -> _Page:
    """Parse one page."""
    page = _Page()
    page.feed(html)
    page.close()
    return page


def remote_loads(html: str) -> list[str]:
    """The network addresses that loading ``html`` would fetch (scripts, stylesheets, fonts, icons)."""
    page = parse(html)
    return page.remote + [f"css {u}" for css in page.css for u in CSS_REMOTE.findall(css)]


def css_remote_loads(css: str) -> list[str]:
    """The network addresses a stylesheet imports or uses (``@import``, ``url(...)``)."""
    return CSS_REMOTE.findall(css)


def count_formulas(html: str) -> int:
    """Formulas in a built page: its Sphinx math elements (``<span|div class="math ...">``)."""
    return parse(html).formulas


def rendering_problems(source: str, dom: str) -> list[str]:
    """Why the browser's ``dom`` of a page built as ``source`` does not show its formulas (empty: fine)."""
    want = count_formulas(source)
    page = parse(dom)
    problems = []
    if page.rendered < want:
        problems.append(f"{page.rendered} rendered formulas (<mjx-container>) for {want} in the page")
    if page.errors:
        problems.append(f"{page.errors} formulas MathJax could not parse (<mjx-merror>)")
    return problems


def static_problems(html_dir: Path) -> list[str]:
    """Every network load referenced by a built page or a CSS file under ``html_dir``."""
    problems = []
    for path in sorted(html_dir.rglob("*.html")):
        for ref in remote_loads(path.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{path.relative_to(html_dir)}: loads {ref} from the network")
    for path in sorted(html_dir.rglob("*.css")):
        for ref in css_remote_loads(path.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{path.relative_to(html_dir)}: loads {ref} from the network")
    return problems


def browser() -> str | None:
    """The first Chromium-like binary on PATH, or None."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _chromium(binary: str, url: str, action: list[str], budget_ms: int) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            binary,
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves: no network
            f"--virtual-time-budget={budget_ms}",
            *action,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def render(binary: str, page: Path, budget_ms: int = 60000) -> str:
    """The DOM of ``page`` after its scripts ran, in headless Chromium with no network."""
    done = _chromium(binary, page.resolve().as_uri(), ["--dump-dom"], budget_ms)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"chromium failed on {page} (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def screenshot(binary: str, page: Path, out: Path, budget_ms: int = 60000) -> None:
    """A PNG of ``page`` rendered offline (1200 px wide, the top 2400 px)."""
    action = ["--hide-scrollbars", "--window-size=1200,2400", f"--screenshot={out.resolve()}"]
    done = _chromium(binary, page.resolve().as_uri(), action, budget_ms)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium screenshot failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML, help="the built site (default: docs/_build/html)")
    parser.add_argument("--screenshot", type=Path, help="also save a PNG of the rendered theory page here")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(f"docs-check: no built site in {args.html}: run `make docs` first", file=sys.stderr)
        return 1
    problems = static_problems(args.html)
    n_pages = len(list(args.html.rglob("*.html")))
    print(f"docs-check: {n_pages} pages and their CSS scanned for network loads: {len(problems)} found")
    binary = browser()
    if binary is None:
        print("docs-check: SKIPPED the browser check: no chromium on PATH (apt-get install chromium)")
    else:
        pages = [p for p in sorted(args.html.glob("*.html")) if count_formulas(p.read_text(encoding="utf-8")) > 0]
        theory = args.html / "theory.html"
        if theory not in pages:
            problems.append("theory.html: missing or without formulas")
        for page in pages:
            source = page.read_text(encoding="utf-8")
            for _ in range(TRIES):
                dom = render(binary, page)
                found = rendering_problems(source, dom)
                if not found:
                    break
            # scripts that ran may have added tags (MathJax's loader adds one per extension it loads)
            found += [f"loads {ref} from the network (added by a script)" for ref in remote_loads(dom)]
            problems += [f"{page.name}: {p}" for p in found]
            shown, total = parse(dom).rendered, count_formulas(source)
            print(f"docs-check: {page.name}: {shown} of {total} formulas rendered offline")
        if args.screenshot:
            screenshot(binary, theory, args.screenshot)
            print(f"docs-check: screenshot of the theory page in {args.screenshot}")
    for p in problems:
        print(f"docs-check: ERROR {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

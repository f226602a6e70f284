"""docs/check_offline.py (``make docs-check``) on hand-written pages: it passes a page that loads nothing
from the network and whose formulas were all rendered, and fails each way a page can break offline.
No browser needed: the DOM a browser would print is written by hand."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_offline", ROOT / "docs" / "check_offline.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

# A page as Sphinx builds it: two formulas, everything it loads is local, links to other sites are fine.
SOURCE = """<html><head>
<link rel="stylesheet" href="_static/styles/theme.css" />
<link rel="canonical" href="https://example.org/theory.html" />
<script src="_static/mathjax/tex-chtml.js"></script>
<style>body { background: url(_static/paper.png); }</style>
</head><body>
<p>A ratio <span class="math notranslate nohighlight">\\(\\lambda\\)</span>, see
<a href="https://arxiv.org/abs/2310.00429">the paper</a>.</p>
<div class="math notranslate nohighlight">\\[C = JCJ^\\top + Q\\]</div>
</body></html>"""
# The same page after MathJax ran: each formula is now an <mjx-container>.
MATH = '<mjx-container class="MathJax"><mjx-math></mjx-math></mjx-container>'
RENDERED = SOURCE.replace("\\(\\lambda\\)", MATH).replace("\\[C = JCJ^\\top + Q\\]", MATH.replace("class", "display"))


def test_a_local_page_with_every_formula_rendered_passes():
    assert check.remote_loads(SOURCE) == []
    assert check.count_formulas(SOURCE) == 2
    assert check.rendering_problems(SOURCE, RENDERED) == []


@pytest.mark.parametrize(
    "tag",
    [
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>',
        '<script defer src="//cdn.example.org/x.js"></script>',
        '<link rel="stylesheet" href="http://fonts.example.org/css?family=Lato" />',
        '<link rel="preload" as="font" href="https://example.org/font.woff2" />',
        '<link rel="icon" href="HTTPS://example.org/favicon.ico" />',
        "<style>@import url('https://fonts.example.org/css2');</style>",
        '<style>@font-face { src: url("https://example.org/f.woff2"); }</style>',
        '<div style="background: url(https://example.org/x.png)"></div>',
    ],
)
def test_each_kind_of_network_load_is_reported(tag):
    page = SOURCE.replace("</head>", tag + "</head>")
    assert len(check.remote_loads(page)) == 1


def test_a_stylesheet_that_imports_from_the_network_is_reported():
    assert check.css_remote_loads("@import 'https://example.org/a.css'; p { src: url(fonts/x.woff2) }") == [
        "https://example.org/a.css"
    ]
    assert check.css_remote_loads("p { background: url(../img/x.png) }") == []


def test_raw_tex_a_missing_formula_and_a_parse_error_fail_the_rendering_check():
    # the renderer did not load (no network): the DOM still shows the TeX source
    assert check.rendering_problems(SOURCE, SOURCE) == ["0 rendered formulas (<mjx-container>) for 2 in the page"]
    # one formula of two rendered
    half = RENDERED.replace("<mjx-container display", "<span display", 1)
    assert check.rendering_problems(SOURCE, half) == ["1 rendered formulas (<mjx-container>) for 2 in the page"]
    # MathJax ran but could not parse a formula
    broken = RENDERED.replace("<mjx-math></mjx-math>", "<mjx-merror>Undefined control sequence</mjx-merror>", 1)
    assert check.rendering_problems(SOURCE, broken) == ["1 formulas MathJax could not parse (<mjx-merror>)"]


def test_the_site_scan_names_the_file(tmp_path):
    (tmp_path / "index.html").write_text(SOURCE)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "theme.css").write_text("@import url(https://example.org/fonts.css);")
    (tmp_path / "bad.html").write_text(SOURCE.replace("_static/mathjax/tex-chtml.js", "https://cdn.example.org/m.js"))
    assert check.static_problems(tmp_path) == [
        "bad.html: loads <script src=https://cdn.example.org/m.js> from the network",
        "_static/theme.css: loads https://example.org/fonts.css from the network",
    ]

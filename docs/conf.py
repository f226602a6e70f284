"""Sphinx configuration: markdown pages (MyST), API reference from the numpy-style docstrings."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not an installed copy

project = "stability"
author = "the stability authors"
copyright = "2026, the stability authors"
release = version = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    # MathJax 3 shipped in a wheel and copied into _static/mathjax: the math renders with no network
    # (the default loads it from a CDN); `make docs-check` opens the pages in a browser to check it.
    "sphinx-mathjax-offline",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "figures/README.md"]

# MyST: $...$ and $$...$$ math, \begin{aligned} environments, (label)= anchors and heading anchors.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Docstrings are numpy style ("Parameters", "Examples" sections).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # "Attributes" as a field list: no second description of dataclass fields
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_generate = False

# The theme of the scientific Python projects' documentation (numpy, scipy, pandas); its fonts and
# icons are bundled, nothing is fetched from the network.
html_theme = "pydata_sphinx_theme"
html_sidebars = {"**": []}  # the pages are one level deep: no section navigation to show on the left
html_title = "stability"

"""Sphinx configuration: MyST Markdown pages, an executed tutorial notebook (myst-nb) and the
API reference from the docstrings (autodoc + napoleon, Google-style "Args:" sections).

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the ``docs`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The tutorial runs against this checkout, installed or not.
sys.path.insert(0, str(ROOT))

import deeptgi_rt  # noqa: E402

project = "deeptgi-rt"
author = "the deeptgi-rt developers"
release = version = deeptgi_rt.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "jupyter_execute", ".jupyter_cache"]
html_theme = "sphinx_book_theme"
html_title = "deeptgi-rt"

# Anchors for the "page.md#section" links the pages use among themselves.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# The tutorial is executed on every build, so a broken example fails the build (-W).
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

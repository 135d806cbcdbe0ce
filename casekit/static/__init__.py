"""Offline notebook HTML: nbconvert's CDN scripts replaced by the vendored widget renderer.

nbconvert's ``lab`` template loads require.js and MathJax from cdnjs and the widget renderer
(``@jupyter-widgets/html-manager``) from jsdelivr, so a page opened without internet shows
"Loading widget..." where a panel was. :func:`offline_notebook_html` points those tags at the
files in ``casekit/static/widgets/`` (see its README for versions and licences), copied next to
the pages by :func:`copy_widget_assets`. MathJax is dropped (casekit's notebooks use no maths;
its configuration script does nothing without MathJax).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from casekit._utils import CasekitError

__all__ = ["WIDGET_ASSETS", "copy_widget_assets", "offline_notebook_html"]

#: Folder of the vendored renderer (embed-amd.js, require.js, licences).
WIDGET_ASSETS = Path(__file__).resolve().parent / "widgets"

_REQUIRE_TAG = re.compile(r'<script src="https?://[^"]*require(?:\.min)?\.js"></script>')
_MATHJAX_TAG = re.compile(r'<script src="https?://[^"]*mathjax[^"]*">\s*</script>', re.IGNORECASE)
_RENDERER_SRC = re.compile(r"var widgetRendererSrc = '[^']*';")
_REMOTE_SCRIPT = re.compile(r"<script[^>]+src=[\"']https?://", re.IGNORECASE)


def offline_notebook_html(html: str, *, assets_url: str = "_static") -> str:
    r"""Rewrite nbconvert HTML so that it loads no script from the internet.

    Parameters
    ----------
    html : str
        A page from nbconvert's ``HTMLExporter`` (``lab`` template).
    assets_url : str, default "_static"
        Where the page finds the files of :func:`copy_widget_assets`, relative to the page.

    Returns
    -------
    str
        The page with require.js and the widget renderer taken from ``assets_url`` and the
        MathJax tag removed.

    Raises
    ------
    CasekitError
        If a script is still loaded from http(s) afterwards (a template this function does not
        know).

    Examples
    --------
    >>> from casekit.static import offline_notebook_html
    >>> page = ('<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/'
    ...         "require.min.js\"></script><script>var widgetRendererSrc = 'https://cdn."
    ...         "jsdelivr.net/npm/@jupyter-widgets/html-manager@*/dist/embed-amd.js';</script>")
    >>> print(offline_notebook_html(page))
    <script src="_static/require.js"></script><script>var widgetRendererSrc = '_static/embed-amd.js';</script>
    """
    base = assets_url.rstrip("/")
    out = _REQUIRE_TAG.sub(lambda _m: f'<script src="{base}/require.js"></script>', html)
    out = _MATHJAX_TAG.sub("", out)
    out = _RENDERER_SRC.sub(lambda _m: f"var widgetRendererSrc = '{base}/embed-amd.js';", out)
    remote = _REMOTE_SCRIPT.search(out)
    if remote:
        snippet = out[remote.start():remote.start() + 80]
        raise CasekitError(f"offline HTML: a script is still loaded from the internet: {snippet}")
    return out


def copy_widget_assets(folder: str | os.PathLike[str], *, name: str = "_static") -> Path:
    """Copy the vendored renderer and its licences to ``folder/name``; return that folder.

    Examples
    --------
    >>> import tempfile
    >>> from casekit.static import copy_widget_assets
    >>> target = copy_widget_assets(tempfile.mkdtemp())
    >>> sorted(p.name for p in target.glob("*.js"))
    ['embed-amd.js', 'require.js']
    """
    if not (WIDGET_ASSETS / "embed-amd.js").is_file():
        raise CasekitError(f"offline HTML: the widget renderer is missing from {WIDGET_ASSETS}; "
                           "reinstall casekit")
    target = Path(folder) / name
    shutil.copytree(WIDGET_ASSETS, target, dirs_exist_ok=True)
    return target

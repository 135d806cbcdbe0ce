"""Voilà configuration for the casekit apps (``make voila``; the browser tests use it too).

Load it by pointing ``JUPYTER_CONFIG_DIR`` at this folder, e.g.
``JUPYTER_CONFIG_DIR=jupyter_config voila notebooks/apps/ --Voila.ip=127.0.0.1 --no-browser``.
"""

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded

# nbclient stall workaround (jupyter/nbclient#312): without it a page can stay at
# "Executing 2 of 3" until the cell timeout (see ../shared/recipes/browser-and-fonts.md)
from casekit import _jupyter_patch

_jupyter_patch.apply()

# No blank screen: cells are sent as they finish, so the app's "computing…" status shows at once.
c.VoilaConfiguration.progressive_rendering = True
# A cell that runs longer than this fails with a message instead of hanging the page.
c.VoilaExecutor.timeout = 180
c.VoilaExecutor.iopub_timeout = 30
# Keep the HTTP connection alive while a slow first cell runs (behind proxies).
c.VoilaConfiguration.http_keep_alive_timeout = 10
# Tell the user what went wrong (these apps hold no secrets).
c.VoilaConfiguration.show_tracebacks = True
# A classroom: a kernel whose page was closed (no connection) is shut down after 5 idle minutes,
# checked every minute, so forty students do not hold forty kernels after the lesson. A page
# still open keeps its kernel (cull_connected stays False). Voila runs as root without a flag.
c.MappingKernelManager.cull_idle_timeout = 300
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = False


# Free a student's kernel when the page closes. Voila's page sends a shutdown beacon on
# "beforeunload" with the _xsrf cookie's value, but the standalone app never sets that cookie, so
# the beacon gets "403 '_xsrf' argument missing" and the kernel stays (upstream
# voila-dashboards/voila#1458, Voila 0.5). Reading ``xsrf_token`` while serving the page sets the
# cookie (tornado), so the beacon is accepted; the culling above covers pages that die silently.
def _set_xsrf_cookie_on_pages() -> None:
    from jupyter_core.utils import ensure_async
    from voila.handler import VoilaHandler

    if getattr(VoilaHandler, "_casekit_xsrf_cookie", False):
        return
    prepare = VoilaHandler.prepare

    async def prepare_and_set_cookie(self, *args, **kwargs):
        result = await ensure_async(prepare(self, *args, **kwargs))
        if self.request.method == "GET" and not self._finished:
            self.xsrf_token  # noqa: B018 - the property sets the _xsrf cookie
        return result

    VoilaHandler.prepare = prepare_and_set_cookie
    VoilaHandler._casekit_xsrf_cookie = True


_set_xsrf_cookie_on_pages()

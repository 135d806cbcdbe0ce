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

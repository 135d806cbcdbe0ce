"""Workaround for a stall in headless notebook execution (nbclient, nbmake, papermill, Voilà).

A cell that creates widgets sometimes finishes in the kernel at once, but nbclient only reads the
reply when its per-cell timeout expires (upstream issue jupyter/nbclient#312): ``jupyter execute``
without a timeout hangs, nbmake waits its whole timeout and then *passes*, and Voilà pages stay at
"Executing 2 of 3". Replacing ``AsyncZMQSocketChannel.get_msg`` with a version that polls the
socket in short slices until its deadline removed the stall in our measurements (see
``../shared/recipes/browser-and-fonts.md``).

Load it with :func:`apply` from ``conftest.py`` (pytest, nbmake), from a ``voila.py`` config file
(``jupyter_config/voila.py``) and before papermill/nbclient runs in :mod:`casekit.report` and the
``casekit demo`` command. Applying it twice is harmless.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

__all__ = ["SLICE_MS", "apply", "is_applied"]

#: Length of one poll slice in milliseconds.
SLICE_MS = 250


async def _sliced_get_msg(self: Any, timeout: float | None = None) -> dict[str, Any]:
    """Poll the socket in ``SLICE_MS`` slices until a message arrives or the deadline passes."""
    assert self.socket is not None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if deadline is None:
            slice_ms = SLICE_MS
        else:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                if await self.socket.poll(0):
                    return await self._recv()
                raise Empty
            slice_ms = min(SLICE_MS, left_ms)
        if await self.socket.poll(slice_ms):
            return await self._recv()


def apply() -> bool:
    """Install the sliced ``get_msg`` on ``jupyter_client``'s async channel.

    Returns
    -------
    bool
        True if the patch was installed by this call, False if it was already in place.

    Examples
    --------
    >>> from casekit import _jupyter_patch
    >>> _ = _jupyter_patch.apply()
    >>> _jupyter_patch.is_applied()
    True
    >>> _jupyter_patch.apply()
    False
    """
    from jupyter_client.channels import AsyncZMQSocketChannel

    if getattr(AsyncZMQSocketChannel.get_msg, "_casekit_sliced", False):
        return False
    _sliced_get_msg._casekit_sliced = True  # type: ignore[attr-defined]
    _sliced_get_msg._casekit_original = AsyncZMQSocketChannel.get_msg  # type: ignore[attr-defined]
    AsyncZMQSocketChannel.get_msg = _sliced_get_msg  # type: ignore[method-assign]
    return True


def is_applied() -> bool:
    """Whether the sliced ``get_msg`` is installed."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    return bool(getattr(AsyncZMQSocketChannel.get_msg, "_casekit_sliced", False))

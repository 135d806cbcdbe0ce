"""Private helpers shared across casekit modules: errors, seeds, small checks."""

from __future__ import annotations

import numpy as np

__all__ = ["CasekitError", "FileUnusableError", "as_generator"]


class CasekitError(ValueError):
    """A problem the user can fix; the CLI prints ``str(err)`` as one line, never a traceback."""


class FileUnusableError(CasekitError):
    """The whole input file cannot be used (unreadable, empty, wrong format, required column missing).

    The CLI maps it to exit code 2.
    """


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``seed`` into a ``numpy.random.Generator`` (R7: randomness is a parameter).

    Examples
    --------
    >>> int(as_generator(3).integers(10)) == int(as_generator(3).integers(10))
    True
    >>> g = np.random.default_rng(1)
    >>> as_generator(g) is g
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)

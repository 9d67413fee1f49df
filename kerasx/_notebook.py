"""Whether kerasx runs inside a Jupyter kernel: the one test that progress bars, live plots and
diagrams share to decide between inline output and terminal output."""

from __future__ import annotations

import sys

__all__ = ["in_notebook"]


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel, where widgets and images display inline.

    IPython is never imported here: outside a kernel it is usually not loaded at all.

    Returns:
        True inside a Jupyter (IPython kernel) session; False in a terminal IPython, a script
        or a test run.
    """
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False
    shell = ipython_module.get_ipython()
    if shell is None:
        return False
    return hasattr(shell, "kernel") or "IPKernelApp" in getattr(shell, "config", {})

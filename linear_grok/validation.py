"""Input checks that name the parameter and its valid range.

Checks run only on concrete values: inside `jax.jit` or `jax.vmap` the values are tracers and the
caller is responsible for having validated them before tracing.
"""

import os
from collections.abc import Callable

import jax
import numpy as np


def require(name: str, value, ok: Callable[[np.ndarray], np.ndarray], valid: str) -> None:
    """Raise ``ValueError`` unless ``ok(value)`` holds elementwise (NaN always fails).

    Args:
      name: the parameter's name as the user wrote it (``"lam"``, ``"eps"``...).
      value: scalar or array; tracers are skipped.
      ok: vectorised predicate on a float64 NumPy array.
      valid: the valid range in words, e.g. ``"> 0"`` or ``"in (0, 1)"``.
    """
    if isinstance(value, jax.core.Tracer):
        return
    arr = np.asarray(value, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        good = ~np.isnan(arr) & np.asarray(ok(arr), dtype=bool)
    if not np.all(good):
        bad = arr[~good] if arr.ndim else arr
        raise ValueError(f"{name} must be {valid}; got {float(np.ravel(bad)[0]):g}")


def require_positive(name: str, value) -> None:
    """``value > 0`` elementwise (finite or +inf)."""
    require(name, value, lambda a: a > 0, "> 0")


def require_finite_positive(name: str, value) -> None:
    """``0 < value < inf`` elementwise (inf passes ``> 0`` and breaks a run after it started)."""
    require(name, value, lambda a: np.isfinite(a) & (a > 0), "> 0 and finite")


def require_nonnegative(name: str, value) -> None:
    """``value >= 0`` elementwise."""
    require(name, value, lambda a: a >= 0, ">= 0")


def machine_memory() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def require_memory(what: str, n_bytes: float, fraction: float = 0.8) -> None:
    """Raise ``ValueError`` when ``n_bytes`` (an estimate of a run's peak memory) exceeds
    ``fraction`` of this machine's memory: refused before any work, not after minutes of it."""
    total = machine_memory()
    if n_bytes > fraction * total:
        raise ValueError(f"{what} needs ~{_size(n_bytes)}; this machine has {_size(total)}")


def _size(n_bytes: float) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1 (``2.9 TiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024

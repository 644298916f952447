"""float64 where the theory needs it, without changing the caller's JAX configuration.

The theory and the linear simulator reach losses of 1e-12 and times of 1e8 steps, far below
float32 resolution, and the fits divide small differences. Importing the package changes nothing
global: every public function that computes with JAX is decorated with :func:`float64`, which
runs it inside JAX's scoped ``jax.enable_x64(True)`` context (a thread-local setting; compiled
programs are cached per setting, so a caller's float32 programs and ours never share one) and
hands back NumPy arrays. A scoped context rather than a global ``jax_enable_x64`` because a
float32 training script that imports the package must keep its float32 arrays and memory; rather
than explicit ``dtype=float64`` everywhere because without x64 JAX silently demotes float64 to
float32. The commands (:mod:`linear_grok.cli`) switch float64 on for their whole process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import numpy as np


def _as_float64(x):
    """Floating NumPy and concrete JAX arrays (and Python floats' arrays) as float64 NumPy;
    anything else (tracers, ints, configs, keys) untouched."""
    if isinstance(x, jax.core.Tracer):
        return x
    if isinstance(x, (np.ndarray, jax.Array)) and getattr(x.dtype, "kind", "") == "f":
        return np.asarray(x, dtype=np.float64)
    return x


def _to_numpy(x):
    """A concrete JAX array as NumPy (tracers untouched: the function was called while tracing)."""
    if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer):
        return np.asarray(x)
    return x


def float64(fn: Callable) -> Callable:
    """Run ``fn`` with JAX in float64 (scoped), its floating array arguments as float64, and its
    concrete JAX array results returned as NumPy arrays (in any pytree)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True):
            args, kwargs = jax.tree_util.tree_map(_as_float64, (args, kwargs))
            return jax.tree_util.tree_map(_to_numpy, fn(*args, **kwargs))

    return wrapper

"""linear_grok: measure grokking in the linear student-teacher model and beyond.

Importing the package enables float64 in JAX: the theory and the linear simulator reach
losses of 1e-12 and times of 1e8 steps, far below float32 resolution.

It also turns on JAX's persistent compilation cache, so that a second run of a command loads its
compiled programs instead of compiling them again (seconds per command on a CPU). The cache lives
in ``$LINEAR_GROK_CACHE_DIR``, by default ``$XDG_CACHE_HOME/linear_grok/jax`` (``~/.cache/...``);
``LINEAR_GROK_CACHE_DIR=off`` turns it off. A cache set up by the caller beforehand is left alone.
"""

import os
from importlib import metadata
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)


def _compilation_cache_dir() -> str | None:
    """Where compiled programs are kept, or ``None`` when the cache is off."""
    chosen = os.environ.get("LINEAR_GROK_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "0", "off", "none", "false") else chosen
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return str(Path(base) / "linear_grok" / "jax")


if jax.config.jax_compilation_cache_dir is None and (_cache := _compilation_cache_dir()):
    jax.config.update("jax_compilation_cache_dir", _cache)
    # Keep every program: on a 2-core CPU even the sub-second compiles add up to seconds.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

try:  # the version is written once, in pyproject.toml
    __version__ = metadata.version("linear_grok")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

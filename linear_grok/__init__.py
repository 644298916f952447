"""linear_grok: measure grokking in the linear student-teacher model and beyond.

Importing the package enables float64 in JAX: the theory and the linear simulator reach
losses of 1e-12 and times of 1e8 steps, far below float32 resolution.
"""

from importlib import metadata

import jax

jax.config.update("jax_enable_x64", True)

try:  # the version is written once, in pyproject.toml
    __version__ = metadata.version("linear_grok")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

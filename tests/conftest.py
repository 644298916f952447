"""The suite runs as the commands do: JAX in float64 for the whole process (the package itself
changes nothing global; `tests/test_precision.py` checks a float32 caller in its own process)."""

import jax

jax.config.update("jax_enable_x64", True)

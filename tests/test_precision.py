"""Importing the package changes nothing global: a float32 JAX program that imports it and calls
the measurement and the theory keeps its float32 arrays, its matplotlib backend and no compilation
cache, and gets the numbers a float64 process gets (this suite's own process, tests/conftest.py)."""

import json
import subprocess
import sys

import numpy as np
from scipy import special

from linear_grok.grokking import measure_grokking
from linear_grok.intervals import bootstrap
from linear_grok.settings.linear import theory

T = np.linspace(0.0, 1000.0, 300)
CALLER = r"""
import json, sys
import jax, jax.numpy as jnp, matplotlib, numpy as np
from scipy import special
backend = matplotlib.get_backend()
assert jnp.ones(2).dtype == jnp.float32
import linear_grok.grokking, linear_grok.intervals, linear_grok.plotting, linear_grok.pipeline
from linear_grok.settings.linear import theory, simulator, sweep
from linear_grok.settings import parity, lazy_rich
t = np.linspace(0.0, 1000.0, 300)
rng = np.random.default_rng(0)
tr = 0.5 * special.erf(0.02 * (t - 300)) + 0.5 + 0.01 * rng.standard_normal(t.size)
te = 0.5 * special.erf(0.01 * (t - 600)) + 0.5 + 0.01 * rng.standard_normal(t.size)
m = linear_grok.grokking.measure_grokking(t, tr, te, chance=0.0)
m = linear_grok.intervals.bootstrap(t, tr, te, m, n_boot=20, seed=1)
loss = theory.test_loss(np.geomspace(1.0, 1e8, 50), 0.5)
out = {"gap": m.relative_gap, "sharpness": m.relative_sharpness, "lo": m.intervals.lower["relative_gap"],
       "loss": np.asarray(loss).tolist(), "loss_dtype": str(np.asarray(loss).dtype),
       "after": str(jnp.ones(2).dtype), "x64": bool(jax.config.jax_enable_x64),
       "cache": jax.config.jax_compilation_cache_dir, "backend_kept": matplotlib.get_backend() == backend}
print(json.dumps(out))
"""


def test_a_float32_caller_keeps_its_configuration_and_gets_float64_numbers():
    done = subprocess.run([sys.executable, "-c", CALLER], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    caller = json.loads(done.stdout.strip().splitlines()[-1])
    assert caller["after"] == "float32" and not caller["x64"]
    assert caller["cache"] is None and caller["backend_kept"]
    # The same computation in this float64 process.
    rng = np.random.default_rng(0)
    tr = 0.5 * special.erf(0.02 * (T - 300)) + 0.5 + 0.01 * rng.standard_normal(T.size)
    te = 0.5 * special.erf(0.01 * (T - 600)) + 0.5 + 0.01 * rng.standard_normal(T.size)
    m = bootstrap(T, tr, te, measure_grokking(T, tr, te, chance=0.0), n_boot=20, seed=1)
    np.testing.assert_allclose(caller["gap"], m.relative_gap, rtol=1e-10)
    np.testing.assert_allclose(caller["sharpness"], m.relative_sharpness, rtol=1e-10)
    np.testing.assert_allclose(caller["lo"], m.intervals.lower["relative_gap"], rtol=1e-10)
    loss = theory.test_loss(np.geomspace(1.0, 1e8, 50), 0.5)
    assert caller["loss_dtype"] == "float64"
    np.testing.assert_allclose(caller["loss"], np.asarray(loss), rtol=1e-10)
    assert float(np.min(loss)) < 1e-12  # losses far below float32's resolution survive

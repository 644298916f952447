"""Sharded sweeps equal single-device sweeps, on 4 simulated CPU devices (in a subprocess, since
the device count is fixed when JAX starts)."""

import os
import subprocess
import sys
import textwrap

import numpy as np

from linear_grok import distributed

SCRIPT = textwrap.dedent("""
    import dataclasses, sys
    import jax, numpy as np
    from linear_grok import distributed
    from linear_grok.settings import parity
    from linear_grok.settings.linear import simulator
    assert jax.device_count() == 4, jax.devices()
    cfg = simulator.SimConfig(d_in=30, n_test=50, eps=(1e-3,))
    steps = np.array([0, 10, 100, 1000])
    # 7 λ × 5 seeds = 35 runs, padded to 36 on 4 devices. Batched eigh on this many runs per
    # simulated device used to deadlock XLA's shared CPU thread pool.
    lams, seeds = np.linspace(0.4, 0.95, 7), np.arange(5)
    assert not distributed.lapack_batches_safe(distributed.batch_mesh())
    assert distributed.lapack_batches_safe(distributed.batch_mesh(jax.devices()[:1]))
    for engine in ("spectral", "steps"):
        many = simulator.simulate_sweep(cfg, lams, seeds, steps, engine=engine)
        one = simulator.simulate_sweep(cfg, lams, seeds, steps, engine=engine,
                                       devices=jax.devices()[:1])
        np.testing.assert_allclose(many.train_loss, one.train_loss, rtol=1e-12)
        np.testing.assert_allclose(many.gen_loss, one.gen_loss, rtol=1e-12)
        np.testing.assert_array_equal(many.test_acc, one.test_acc)
    pcfg = parity.ParityConfig(input_sizes=(5, 7, 8), seeds=(0,), hidden=16, n_train=40,
                               n_val=20, batch_size=8, epochs=3)
    a = parity.train_sweep(pcfg, chunk=2, progress=False)
    b = parity.train_sweep(pcfg, chunk=2, progress=False, devices=jax.devices()[:1])
    for k in ("train_loss", "val_loss"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5)
    assert a["train_loss"].shape == (3, 3)
    print(distributed.report(35, distributed.batch_mesh()))
    print("SHARDED-EQUAL")
""")


def test_sharded_sweeps_equal_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-EQUAL" in proc.stdout
    assert "devices: 4" in proc.stdout and "35 runs padded to 36, 9 per device" in proc.stdout


def test_padding_and_gather_on_one_device():
    mesh = distributed.batch_mesh()
    sharded = distributed.shard_batch({"x": np.arange(5.0)}, mesh)
    assert sharded["x"].shape[0] == distributed.padded_size(5, mesh)
    np.testing.assert_array_equal(distributed.gather(sharded, 5)["x"], np.arange(5.0))
    assert distributed.lapack_batches_safe(mesh)

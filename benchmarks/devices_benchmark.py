"""Wall time of the sharded sweeps on 1, 2 and 4 simulated host devices, side by side.

    python -m benchmarks.devices_benchmark

Each device count runs in its own process (``XLA_FLAGS=--xla_force_host_platform_device_count``)
and times, best of three after one compiling call:

* ``spectral``: a simulator sweep, 8 λ × 4 seeds, d_in = 400, exact GD at 200 record steps;
* ``steps``: the same runs (d_in = 100) trained step by step for 2000 GD steps;
* ``parity``: a parity sweep, 4 input sizes × 2 seeds, hidden 256, 20 epochs.

The simulated devices share this machine's cores, so the ratios measure the cost of sharding on
one host, not a speed-up: on a multi-GPU node or a pod the same code splits the runs over real
devices. Two effects show on a small CPU: a single device may leave cores idle (a ratio below 1
means sharding used them), and with several CPU devices in one process the spectral engine
eigendecomposes one run at a time instead of in a batch (``distributed.lapack_batches_safe``).
"""

from __future__ import annotations

import os
import subprocess
import sys

WORKLOAD = """
import time, numpy as np
from linear_grok.cli import setup_process
setup_process()
from linear_grok.settings import parity
from linear_grok.settings.linear import simulator
lams, seeds = np.linspace(0.5, 0.95, 8), np.arange(4)
spec = simulator.SimConfig(d_in=400, n_test=500)
step = simulator.SimConfig(d_in=100, n_test=500)
pcfg = parity.ParityConfig(input_sizes=(25, 30, 35, 40), seeds=(0, 1), hidden=256, epochs=20)
work = {
    "spectral": lambda: simulator.simulate_sweep(spec, lams, seeds, simulator.record_schedule(10**6, 200)),
    "steps": lambda: simulator.simulate_sweep(step, lams, seeds, np.arange(100, 2001, 100), engine="steps"),
    "parity": lambda: parity.train_sweep(pcfg, chunk=20, progress=False),
}
for name, fn in work.items():
    fn()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    print(name, best)
"""
NAMES = ("spectral", "steps", "parity")


def main(argv=None) -> int:
    times = {}
    for n in (1, 2, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
                   JAX_PLATFORMS="cpu")
        out = subprocess.run([sys.executable, "-c", WORKLOAD], env=env, capture_output=True,
                             text=True, check=True).stdout
        times[n] = {line.split()[0]: float(line.split()[1]) for line in out.strip().splitlines()}
    print(f"{'devices':>8}" + "".join(f" {name + ' s':>11} {'vs 1':>6}" for name in NAMES))
    for n, t in times.items():
        print(f"{n:>8}" + "".join(f" {t[k]:>11.3f} {t[k] / times[1][k]:>6.2f}" for k in NAMES))
    print(f"(simulated devices sharing {os.cpu_count()} cores: sharding overhead, not speed-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

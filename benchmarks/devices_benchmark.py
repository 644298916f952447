"""Wall time of the sharded sweeps on 1, 2 and 4 simulated host devices, side by side.

    python -m benchmarks.devices_benchmark

Each device count runs in its own process (``XLA_FLAGS=--xla_force_host_platform_device_count``):
a simulator sweep (8 λ × 4 seeds, d_in = 200, spectral GD, 200 records) and a parity sweep
(8 runs, hidden 256, 10 epochs). On a 2-core machine the simulated devices share the same two
cores, so this measures the overhead of sharding, not a speed-up; on a multi-GPU node or a pod
the same code splits the runs over real devices.
"""

from __future__ import annotations

import os
import subprocess
import sys

WORKLOAD = """
import time, jax, numpy as np
from linear_grok import parity, simulator
cfg = simulator.SimConfig(d_in=200, n_test=500)
lams, seeds, steps = np.linspace(0.5, 0.95, 8), np.arange(4), simulator.record_schedule(10**6, 200)
pcfg = parity.ParityConfig(input_sizes=(25, 30, 35, 40), seeds=(0, 1), hidden=256, epochs=10)
def sim():
    simulator.simulate_sweep(cfg, lams, seeds, steps)
def par():
    parity.run_sweep(pcfg, chunk=10, progress=False)
for name, fn in (("simulator", sim), ("parity", par)):
    fn()
    t0 = time.perf_counter(); fn()
    print(name, time.perf_counter() - t0)
"""


def main(argv=None) -> int:
    times = {}
    for n in (1, 2, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
                   JAX_PLATFORMS="cpu")
        out = subprocess.run([sys.executable, "-c", WORKLOAD], env=env, capture_output=True,
                             text=True, check=True).stdout
        times[n] = {line.split()[0]: float(line.split()[1]) for line in out.strip().splitlines()}
    print(f"{'devices':>8} {'simulator s':>12} {'vs 1':>6} {'parity s':>10} {'vs 1':>6}")
    for n, t in times.items():
        print(f"{n:>8} {t['simulator']:>12.3f} {t['simulator'] / times[1]['simulator']:>6.2f} "
              f"{t['parity']:>10.3f} {t['parity'] / times[1]['parity']:>6.2f}")
    print(f"(simulated devices on {os.cpu_count()} cores: this is sharding overhead, not speed-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

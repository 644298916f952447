"""GD engines side by side: a plain NumPy loop, the ``lax.scan`` step engine, the spectral engine.

    python -m benchmarks.simulator_benchmark [--d-in 1000] [--lam 0.9] [--seeds 8]

All three simulate the same setting (full-batch GD, η = 0.01, all seeds) and record the same
metrics on a log-spaced schedule of ``--records`` points. The NumPy loop and the step engine are
timed on ``--short`` steps and extrapolated linearly in the number of steps (their cost is one
gradient per step); the spectral engine is timed for real at every horizon, since its cost does
not depend on the number of steps. Prints steps/s and the ratios, and checks that the engines
agree on the short run.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from linear_grok.settings.linear import simulator as sim


def numpy_gd(cfg: sim.SimConfig, problem: sim.Problem, steps: np.ndarray) -> np.ndarray:
    """Reference loop: label-based full-batch GD in NumPy; returns the train loss at ``steps``."""
    n = int(problem.n_train)
    x = np.asarray(problem.x_train)[:n]
    teacher = np.asarray(problem.teacher)
    y = x @ teacher
    student = np.asarray(problem.student).copy()
    out, done = [], 0
    for target in steps:
        for _ in range(int(target) - done):
            residual = x @ student - y
            student -= cfg.eta * (2.0 / (n * cfg.d_out)) * (x.T @ residual)
        done = int(target)
        out.append(np.mean((x @ student - y) ** 2))
    return np.asarray(out)


def timed(fn, repeat: int = 1) -> float:
    fn()  # compile / warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--d-in", type=int, default=1000)
    p.add_argument("--lam", type=float, default=0.9)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--short", type=int, default=1000, help="steps actually run by the loops")
    p.add_argument("--horizons", type=int, nargs="+", default=[20_000, 10_000_000])
    p.add_argument("--records", type=int, default=100)
    args = p.parse_args(argv)
    cfg = sim.SimConfig(d_in=args.d_in, n_test=1000, eps=(1e-3,))
    seeds = np.arange(args.seeds)
    short = sim.record_schedule(args.short, args.records)
    print(f"d_in = {args.d_in}, λ = {args.lam} (N_tr = {int(cfg.n_train(args.lam))}), "
          f"{args.seeds} seeds, {args.records} records, {jax.device_count()} CPU device(s)")

    n_max = int(cfg.n_train(args.lam))
    problems = [sim.make_problem(sim.seed_keys(int(s))[0], args.lam, cfg, n_max) for s in seeds]
    t_numpy = timed(lambda: [numpy_gd(cfg, pr, short) for pr in problems])
    t_scan = timed(lambda: sim.simulate_sweep(cfg, [args.lam], seeds, short, engine="steps"))
    ref = np.stack([numpy_gd(cfg, pr, short) for pr in problems])
    scan = sim.simulate_sweep(cfg, [args.lam], seeds, short, engine="steps").train_loss[0]
    spec = sim.simulate_sweep(cfg, [args.lam], seeds, short).train_loss[0]
    print(f"agreement on {args.short} steps: numpy vs scan {np.max(np.abs(scan / ref - 1)):.1e}, "
          f"scan vs spectral {np.max(np.abs(spec / scan - 1)):.1e} (max relative train-loss gap)")

    print(f"\n{'horizon':>12} {'numpy s':>10} {'scan s':>10} {'spectral s':>11} "
          f"{'numpy/spec':>11} {'scan/spec':>10} {'numpy/scan':>11}")
    for horizon in args.horizons:
        scale = horizon / args.short
        schedule = sim.record_schedule(horizon, args.records)
        t_spec = timed(lambda schedule=schedule: sim.simulate_sweep(cfg, [args.lam], seeds,
                                                                     schedule), repeat=3)
        tn, ts = t_numpy * scale, t_scan * scale
        print(f"{horizon:>12,} {tn:>10.3g} {ts:>10.3g} {t_spec:>11.3g} {tn / t_spec:>11.3g} "
              f"{ts / t_spec:>10.3g} {tn / ts:>11.3g}")
    steps_total = args.short * args.seeds
    print(f"\nseed-steps/s: numpy {steps_total / t_numpy:,.0f}, scan {steps_total / t_scan:,.0f}; "
          f"numpy and scan extrapolated from {args.short} steps, spectral measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

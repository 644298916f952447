"""GD engines side by side: a plain NumPy loop, the ``lax.scan`` step engine, the spectral engine;
then the simulated paper-preset λ sweep against its floor, the eigendecompositions alone.

    python -m benchmarks.simulator_benchmark [--d-in 1000] [--lam 0.9] [--seeds 8] [--no-sweep]

All three simulate the same setting (full-batch GD, η = 0.01, all seeds) and record the same
metrics on a log-spaced schedule of ``--records`` points. The NumPy loop and the step engine are
timed on ``--short`` steps and extrapolated linearly in the number of steps (their cost is one
gradient per step); the spectral engine is timed for real at every horizon, since its cost does
not depend on the number of steps. Prints steps/s and the ratios, and checks that the engines
agree on the short run.

The second part (skipped by ``--no-sweep``) times ``--mode simulate`` of the paper preset (120 λ ×
4 seeds = 480 runs, d_in = 400, 2000 records each): the simulation alone and the whole sweep with
its 960 fits, and, in the same run, the floor the spectral engine cannot go below: one ``eigh`` of
each run's ``Σ = XᵀX/N_tr`` (the matrices built beforehand, untimed), as one batch or one after
another, whichever is faster. Prints both times and their ratios to the floor.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.cli import setup_process
from linear_grok.settings.linear import simulator as sim
from linear_grok.settings.linear import sweep


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


def eigh_floor(cfg: sweep.LambdaSweepConfig) -> float:
    """Seconds for one ``eigh`` per run of the simulated sweep ``cfg``: per chunk of 8 λ, the
    faster of one batched call and one call per matrix."""
    sim_cfg = sim.SimConfig(d_in=cfg.d_in, d_out=cfg.d_out, eta=cfg.eta, eps=(cfg.eps,),
                            n_test=cfg.n_test)
    n_max = int(sim_cfg.n_train(cfg.lam).max())

    @jax.jit
    def sigmas(keys, lams):
        def one(key, lam):
            problem = sim.make_problem(key, lam, sim_cfg, n_max, x_test=jnp.zeros((1, 1)))
            return problem.x_train.T @ problem.x_train / problem.n_train
        return jax.vmap(one)(keys, lams)

    batched = jax.jit(jnp.linalg.eigh)
    one_by_one = jax.jit(lambda m: jax.lax.map(jnp.linalg.eigh, m))
    keys = jnp.stack([sim.seed_keys(int(s))[0] for s in cfg.seeds])
    total = 0.0
    for lam in np.array_split(cfg.lam, max(1, cfg.lam.size // 8)):  # bounded memory
        mats = sigmas(keys[np.tile(np.arange(keys.shape[0]), lam.size)],
                      jnp.repeat(jnp.asarray(lam), keys.shape[0]))
        total += min(timed(lambda mats=mats, f=f: jax.block_until_ready(f(mats)))
                     for f in (batched, one_by_one))
    return total


def timed(fn, repeat: int = 1) -> float:
    fn()  # compile / warm up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--d-in", type=int, default=1000)
    p.add_argument("--lam", type=float, default=0.9)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--short", type=int, default=1000, help="steps actually run by the loops")
    p.add_argument("--horizons", type=int, nargs="+", default=[20_000, 10_000_000])
    p.add_argument("--records", type=int, default=100)
    p.add_argument("--no-sweep", action="store_true", help="skip the paper-preset sweep")
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
    if not args.no_sweep:
        paper_sweep()
    return 0


def paper_sweep() -> None:
    """The simulated paper preset against its eigendecomposition floor, measured here and now."""
    cfg = sweep.preset("paper", mode="simulate")
    sweep.lambda_curves(sweep.preset("paper", mode="simulate", lams=tuple(cfg.lam[:8])),
                        progress=False)  # compile once, untimed
    t_floor = eigh_floor(cfg)
    t_sim = timed(lambda: sweep.lambda_curves(cfg, progress=False), repeat=1)
    start = time.perf_counter()
    sweep.run_lambda_sweep(cfg, progress=False)
    t_all = time.perf_counter() - start
    n_runs = cfg.lam.size * len(cfg.seeds)
    print(f"\nsimulated paper preset: {cfg.lam.size} λ × {len(cfg.seeds)} seeds = {n_runs} runs, "
          f"d_in = {cfg.d_in}, {cfg.n_time_simulate} records, {cfg.n_test} test samples")
    print(f"{'eigh of every run (floor)':<40} {t_floor:8.2f} s   1.00x")
    print(f"{'simulation (all runs, all records)':<40} {t_sim:8.2f} s {t_sim / t_floor:6.2f}x")
    print(f"{'whole sweep (simulation + 960 fits)':<40} {t_all:8.2f} s {t_all / t_floor:6.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())

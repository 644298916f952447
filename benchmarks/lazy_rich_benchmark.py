"""The lazy→rich Figure-1 run as its authors ran it against this package's engine, in one run.

    python -m benchmarks.lazy_rich_benchmark [--steps 1000] [--alphas 0.5 1 2 4]

* **Authors' procedure** (re-implemented here): a Python loop of jitted full-batch gradient steps
  on the weights ``W`` (N × D) of ``f = α·mean_i φ(w_i·x)``, train and test loss evaluated after
  every step, one α after another, as in their notebook (``D = 100``, ``P = 550``, ``N = 500``,
  ``η = N/α²``). Timed on ``--steps`` steps per α (after one compiling step) and scaled to the
  ``paper`` preset's 100 000 steps (the cost is the same every step).
* **This package**: :func:`linear_grok.settings.lazy_rich.train_sweep` on the same sizes and α,
  exact gradient descent through the sufficient statistics ``(m, M)``, all α vmapped in one compiled
  program, the linearised model alongside, metrics at log-spaced records; timed for real, once
  compiled, on the same number of steps.

Prints both times, the ratio, and the largest relative difference of the final train losses.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.settings import lazy_rich


def authors_loop(problem: lazy_rich.Problem, alpha: float, eps: float, steps: int, hidden: int):
    """The notebook's loop: one jitted gradient step on W, then both losses, every step."""

    def f(w, x):
        h = x @ w.T
        return alpha * jnp.mean(h + 0.5 * eps * h**2, axis=1)

    f0, f0_test = f(problem.w0, problem.x), f(problem.w0, problem.x_test)
    loss = jax.jit(lambda w, x, y, f0: jnp.mean((f(w, x) - f0 - y) ** 2))
    grad = jax.jit(jax.grad(lambda w: jnp.mean((f(w, problem.x) - f0 - problem.y) ** 2)))
    eta = hidden / alpha**2
    w, train, test = problem.w0, [], []
    for _ in range(steps):
        w = w - eta * grad(w)
        train.append(loss(w, problem.x, problem.y, f0))
        test.append(loss(w, problem.x_test, problem.y_test, f0_test))
    return float(train[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000, help="steps per α, both engines")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0])
    args = p.parse_args(argv)
    cfg = dataclasses.replace(lazy_rich.PRESETS["paper"], alphas=tuple(args.alphas),
                              steps=args.steps, n_records=100)
    problem = lazy_rich.make_problem(jax.random.key(0), cfg)
    print(f"D = {cfg.d_in}, P = {cfg.n_train}, N = {cfg.hidden}, ε = {cfg.epsilons[0]}, "
          f"α = {list(cfg.alphas)}, {args.steps} steps each; {jax.device_count()} CPU device(s)")

    for alpha in cfg.alphas:  # compile once per α, as the notebook's first step would
        authors_loop(problem, alpha, cfg.epsilons[0], 1, cfg.hidden)
    start = time.perf_counter()
    final_authors = [authors_loop(problem, a, cfg.epsilons[0], args.steps, cfg.hidden)
                     for a in cfg.alphas]
    t_authors = time.perf_counter() - start

    lazy_rich.train_sweep(cfg)  # compile
    start = time.perf_counter()
    arrays = lazy_rich.train_sweep(cfg)
    t_ours = time.perf_counter() - start
    final_ours = arrays["rich_train_loss"][:, 0, 0, -1]

    scale = lazy_rich.PRESETS["paper"].steps / args.steps
    print(f"authors' loop (W, losses every step) : {t_authors:8.2f} s "
          f"({t_authors * scale / 60:.1f} min projected for {lazy_rich.PRESETS['paper'].steps} steps)")
    print(f"reduced engine, all α vmapped        : {t_ours:8.2f} s (with the linearised model)")
    print(f"speed-up                             : {t_authors / t_ours:8.1f} x")
    diff = np.max(np.abs(final_ours / np.asarray(final_authors) - 1))
    print(f"final train losses agree to {diff:.1e} relative (authors' loop in float64 here)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The lazy→rich Figure-1 run as its authors ran it against this package's engine, in one run.

    python -m benchmarks.lazy_rich_benchmark [--steps 1000] [--alphas 0.5 1 2 4]

Both engines run the same problem (``D = 100``, ``P = 550``, ``N = 500``, 1000 test samples,
``ε = 0.02``, ``η = N/α²``, the ``paper`` preset's four α) for ``--steps`` steps per α, in float64,
on the same cores; compilation is outside every timed region (each engine runs once before).

* **Authors' procedure** (their notebook's Figure-1 cell, re-implemented in JAX): a Python loop over
  steps, one α after another. Each step calls jitted functions: the gradient of the centred loss on
  ``W`` (N × D) and a gradient step; the train and the test loss; the train and the test loss of the
  linearised network (``f(W₀) + J₀(W − W₀)``, by ``jax.jvp``, as their ``nt.linearize``) and its
  gradient step. As in their code, the centring ``f(x; W₀)`` is recomputed inside each loss. Left
  out of their loop (so in their favour): the NTK alignment they compute every 100 steps and the
  figure they draw every 5000. The kernel-regression level is computed once per α by this
  package's closed form, in the timed region.
* **This package**: :func:`linear_grok.settings.lazy_rich.train_sweep` on the same sizes and α: all
  α vmapped in one compiled program; the network by exact gradient descent through the factored
  statistics ``[m | F]`` (``O(PD²)`` a step, docs/theory.md (L1′)); the linearised network in closed
  form from the initial kernel's eigendecomposition (L2); the kernel-regression level; losses
  (train, 1000-sample test, and the closed-form population loss) and accuracies at 100 log-spaced
  record steps, where the authors evaluate both losses every step.

A second comparison times the network alone: their loop without the linearised model (the loop of
their heat map: gradient step, train and test loss every step) against the package without it
(``linearised=False``). Prints both pairs of times, the ratios, the load average before and after
(another busy process on the cores slows both, not equally), and how far the final losses agree.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.cli import setup_process
from linear_grok.settings import lazy_rich


def authors_loop(problem: lazy_rich.Problem, alpha: float, eps: float, steps: int, hidden: int,
                 linearised: bool = True) -> tuple[float, float]:
    """The notebook's Figure-1 loop for one α: per step, a jitted gradient step on W, then the
    train and test loss; with ``linearised``, the same for the linearised network. Returns the
    final train loss of the network and of the linearised network (NaN without it)."""
    w0, x, y, x_test, y_test = problem.w0, problem.x, problem.y, problem.x_test, problem.y_test

    def f(w, x):
        h = x @ w.T
        return alpha * jnp.mean(h + 0.5 * eps * h**2, axis=1)

    def f_lin(w, x):
        return f(w0, x) + jax.jvp(lambda v: f(v, x), (w0,), (w - w0,))[1]

    def centred_loss(w, x, y):
        return jnp.mean((f(w, x) - f(w0, x) - y) ** 2)

    def lin_centred_loss(w, x, y):
        return jnp.mean((f_lin(w, x) - f(w0, x) - y) ** 2)

    loss, grad = jax.jit(centred_loss), jax.jit(jax.grad(centred_loss))
    lin_loss, lin_grad = jax.jit(lin_centred_loss), jax.jit(jax.grad(lin_centred_loss))
    eta = hidden / alpha**2
    kernel_mse = lazy_rich.kernel_regression_mse(problem, alpha, eps)
    w, w_lin, train, test, lin_train, lin_test = w0, w0, [], [], [], []
    for _ in range(steps):
        w = w - eta * grad(w, x, y)
        train.append(loss(w, x, y))
        test.append(loss(w, x_test, y_test))
        if linearised:
            lin_train.append(lin_loss(w_lin, x, y))
            lin_test.append(lin_loss(w_lin, x_test, y_test))
            w_lin = w_lin - eta * lin_grad(w_lin, x, y)
    jax.block_until_ready((train[-1], test[-1], w_lin, kernel_mse))
    return float(train[-1]), float(lin_loss(w_lin, x, y)) if linearised else float("nan")


def time_authors(problem, cfg, steps: int, linearised: bool) -> tuple[float, list]:
    """Seconds for the authors' loop over every α of ``cfg`` (compiled first), and its results."""
    for alpha in cfg.alphas:  # compile, as the notebook's first step would
        authors_loop(problem, alpha, cfg.epsilons[0], 1, cfg.hidden, linearised)
    start = time.perf_counter()
    finals = [authors_loop(problem, a, cfg.epsilons[0], steps, cfg.hidden, linearised)
              for a in cfg.alphas]
    return time.perf_counter() - start, finals


def time_ours(cfg, linearised: bool) -> tuple[float, dict]:
    """Seconds for this package's sweep over every α of ``cfg`` (compiled first), best of two."""
    lazy_rich.train_sweep(cfg, linearised)  # compile
    best, arrays = np.inf, None
    for _ in range(2):
        start = time.perf_counter()
        arrays = lazy_rich.train_sweep(cfg, linearised)
        best = min(best, time.perf_counter() - start)
    return best, arrays


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000, help="steps per α, both engines")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0])
    args = p.parse_args(argv)
    cfg = dataclasses.replace(lazy_rich.PRESETS["paper"], alphas=tuple(args.alphas),
                              steps=args.steps, n_records=100)
    problem = lazy_rich.make_problem(jax.random.key(0), cfg)
    print(f"D = {cfg.d_in}, P = {cfg.n_train}, N = {cfg.hidden}, {cfg.n_test} test samples, "
          f"ε = {cfg.epsilons[0]}, α = {list(cfg.alphas)}, {args.steps} steps each, float64; "
          f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.2f} before")
    full = lazy_rich.PRESETS["paper"].steps / args.steps
    for label, linearised in (("Figure 1: network + linearised model + K₀ level", True),
                              ("network alone (their heat-map loop)", False)):
        t_authors, finals = time_authors(problem, cfg, args.steps, linearised)
        t_ours, arrays = time_ours(cfg, linearised)
        print(f"\n{label}")
        print(f"  authors' loop (W, every loss every step) : {t_authors:8.2f} s "
              f"({t_authors * full / 60:.1f} min projected for "
              f"{lazy_rich.PRESETS['paper'].steps} steps)")
        print(f"  this package (all α in one program)      : {t_ours:8.2f} s")
        print(f"  speed-up                                 : {t_authors / t_ours:8.1f} x")
        ours = arrays["rich_train_loss"][:, 0, 0, -1]
        diff = np.max(np.abs(ours / np.array([f[0] for f in finals]) - 1))
        text = f"  final train losses agree to {diff:.1e} relative (network"
        if linearised:
            ours_lin = arrays["lazy_train_loss"][:, 0, 0, -1]
            diff_lin = np.max(np.abs(ours_lin / np.array([f[1] for f in finals]) - 1))
            text += f"), {diff_lin:.1e} (linearised"
        print(text + ")")
    print(f"\nload average {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

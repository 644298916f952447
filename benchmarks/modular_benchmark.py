"""Kumar et al.'s Figure-2 α sweep as their loop runs it against this package's engine, in one run.

    python -m benchmarks.modular_benchmark [--epochs 2000] [--alphas 0.5 1 1.5 2]

Both run the same problem (p = 23, 90 % of the pairs, N = 100, η = 100/α², float32) for
``--epochs`` full-batch steps per α on the same cores; compilation is outside the timed regions
(each runs once before).

* **Their loop** (their notebook's "2(c)" cell, restated in JAX): a Python loop over epochs, one α
  after another; each epoch calls jitted functions for the forward pass and the train loss and
  accuracy, reads them and the two weight norms back to the host (their ``.item()`` calls), takes
  the gradient step, then evaluates the test loss and accuracy and reads them back.
* **This package**: :func:`linear_grok.settings.modular.kumar.kumar_sweep`: every α vmapped in one
  compiled ``lax.scan``, the metrics recorded every ``--record-every`` epochs (100 in the paper
  preset) inside the program.

Prints both times, their ratio, the load average before and after, and how far the final train
losses agree.
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
from linear_grok.settings.modular import kumar, task


def their_loop(cfg: kumar.KumarConfig, alpha: float, epochs: int) -> np.ndarray:
    """One α of their loop; returns its logged train losses (epochs,)."""
    data, (w1, w2) = kumar.kumar_problem(jax.random.key(int(cfg.seeds[0])), cfg)
    x_tr, y_tr, x_te, y_te = data
    eta = cfg.lr / alpha**2
    metrics = jax.jit(lambda p, x, y: (kumar.kumar_loss(p, x, y, alpha), task.argmax_accuracy(
        kumar.kumar_forward(*p, x, alpha), y.argmax(-1))))
    step = jax.jit(lambda p: jax.tree_util.tree_map(
        lambda w, g: w - eta * g, p, jax.grad(kumar.kumar_loss)(p, x_tr, y_tr, alpha)))
    norms = jax.jit(lambda p: (jnp.linalg.norm(p[0]), jnp.linalg.norm(p[1])))
    params, losses = (w1, w2), []
    for _ in range(epochs):
        loss, _ = (float(v) for v in metrics(params, x_tr, y_tr))
        losses.append(loss)
        _ = [float(v) for v in norms(params)]
        params = step(params)
        _ = [float(v) for v in metrics(params, x_te, y_te)]
    return np.asarray(losses)


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2000, help="epochs per α, both loops")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0])
    parser.add_argument("--record-every", type=int, default=100, help="epochs between records")
    args = parser.parse_args(argv)
    cfg = dataclasses.replace(kumar.KUMAR_PRESETS["paper"], alphas=tuple(args.alphas),
                              epochs=args.epochs, record_every=args.record_every)
    warm = dataclasses.replace(cfg, epochs=2 * args.record_every)
    kumar.kumar_sweep(warm)
    for alpha in cfg.alphas:
        their_loop(warm, alpha, 2)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    ours = kumar.kumar_sweep(cfg)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [their_loop(cfg, alpha, args.epochs) for alpha in cfg.alphas]
    t_theirs = time.perf_counter() - start
    print(f"{len(cfg.alphas)} α × {args.epochs} epochs, p = {cfg.p}, N = {cfg.hidden}, float32")
    print(f"their loop (Python, per epoch): {t_theirs:8.2f} s")
    print(f"this package (vmapped scan):    {t_ours:8.2f} s   ratio {t_theirs / t_ours:.1f}×")
    print(f"load average before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    epoch = int(cfg.records[-1])
    gap = np.max(np.abs(np.array([t[epoch] for t in theirs]) / ours["train_loss"][:, 0, -1] - 1))
    print(f"train losses at epoch {epoch}: largest relative difference {gap:.1e} (float32)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The parity paper grid's training program: this engine against the previous one, side by side.

    python -m benchmarks.parity_benchmark [--epochs 20]

Times ``--epochs`` epochs of all 63 runs of the ``paper`` preset (after a compiling call of each
program) in four programs, and projects each to the preset's 3000 epochs on this machine:

* previous engine: full-set metrics after every epoch (two extra forward passes over the data),
  all runs vmapped at once;
* the authors' batch-mean metrics (scored inside the training step), all runs vmapped at once;
* the same, one run at a time (``lax.map``);
* the same, 16 runs at a time (``lax.map`` over vmapped groups): the engine ``train_sweep`` uses.

Ratios are to the previous engine. The host-side draw of the authors' data and initial weights
(:func:`linear_grok.settings.parity.initial_runs`) is timed once and printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax

from linear_grok import distributed
from linear_grok.cli import setup_process
from linear_grok.settings import parity


def timed(fn) -> float:
    """Wall seconds of the second call of ``fn`` (the first compiles)."""
    jax.block_until_ready(fn())
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20, help="epochs per timed call")
    args = p.parse_args(argv)
    paper = parity.PAPER
    n_runs, mesh = len(paper.runs), distributed.batch_mesh()
    start = time.perf_counter()
    runs = distributed.shard_batch(parity.initial_runs(paper), mesh)
    t_host = time.perf_counter() - start

    full_set = dataclasses.replace(paper, accuracy="full-set")
    engines = (("previous: full-set metrics, all runs vmapped", full_set, n_runs),
               ("batch-mean metrics, all runs vmapped", paper, n_runs),
               ("batch-mean metrics, one run at a time", paper, 1),
               ("batch-mean metrics, 16 runs at a time (train_sweep)", paper, 16))
    print(f"paper grid: {n_runs} runs (hidden {paper.hidden}, batch {paper.batch_size}, "
          f"{paper.batches_per_epoch} steps an epoch), {args.epochs} epochs per timed call; "
          f"{jax.device_count()} device(s), {jax.devices()[0].device_kind}")
    print(f"host draw of the authors' data and weights: {t_host:.2f} s")
    print(f"{'program':52s} {'s/epoch':>8s} {'3000 epochs':>12s} {'vs previous':>12s}")
    base = None
    for label, cfg, group in engines:
        states = parity.init_program(cfg, mesh)(runs)
        program = parity.sweep_program(cfg, args.epochs, mesh, group)
        per_epoch = timed(lambda program=program, states=states: program(states)) / args.epochs
        base = base or per_epoch
        print(f"{label:52s} {per_epoch:8.3f} {per_epoch * paper.epochs / 60:9.1f} min "
              f"{base / per_epoch:11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

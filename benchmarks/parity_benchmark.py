"""The vmapped parity program against the same runs trained one at a time, side by side.

    python -m benchmarks.parity_benchmark [--runs 6] [--epochs 20]

Trains ``--runs`` runs (input sizes 25, 29, ... × seed 0, published widths and batch size) for
``--epochs`` epochs both ways, after a compiling warm-up of each program, prints epochs/s and the
ratio, then times the full ``paper`` preset program (63 runs) for a few epochs and projects its
wall time for 3000 epochs on this machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from linear_grok import parity


def timed(fn) -> float:
    fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=6)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--paper-epochs", type=int, default=10)
    args = p.parse_args(argv)
    sizes = tuple(25 + 4 * i for i in range(args.runs))
    cfg = dataclasses.replace(parity.ParityConfig(), input_sizes=sizes, seeds=(0,),
                              epochs=args.epochs)
    run = lambda c: parity.run_sweep(c, chunk=c.epochs, progress=False)  # noqa: E731
    t_vmap = timed(lambda: run(cfg))
    singles = [dataclasses.replace(cfg, input_sizes=(n,)) for n in sizes]
    for c in singles:  # compile each single-run program first
        run(c)
    start = time.perf_counter()
    for c in singles:
        run(c)
    t_loop = time.perf_counter() - start
    run_epochs = args.runs * args.epochs
    print(f"{args.runs} runs × {args.epochs} epochs (hidden {cfg.hidden}, batch {cfg.batch_size})")
    print(f"one at a time : {t_loop:7.2f} s  {run_epochs / t_loop:7.1f} run-epochs/s")
    print(f"vmapped       : {t_vmap:7.2f} s  {run_epochs / t_vmap:7.1f} run-epochs/s")
    print(f"speed-up      : {t_loop / t_vmap:7.2f} x")
    paper = dataclasses.replace(parity.ParityConfig(), epochs=args.paper_epochs)
    t_paper = timed(lambda: run(paper))
    projected = t_paper * parity.ParityConfig().epochs / args.paper_epochs
    print(f"paper preset ({len(paper.runs)} runs): {args.paper_epochs} epochs in {t_paper:.2f} s "
          f"-> projected {projected / 60:.1f} min for {parity.ParityConfig().epochs} epochs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

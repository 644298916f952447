"""Cost per full-batch AdamW step of Power et al.'s transformer and of the one-hot MLP on modular
addition, measured side by side in one run.

    python -m benchmarks.transformer_benchmark [--steps 20]

Each configuration trains one run (``linear_grok.settings.modular.adamw.adamw_sweep``: the
training set's forward and backward pass, the test set's forward pass, the AdamW update, every
metric recorded) for ``--steps`` steps after a compiled warm-up, on the same cores:

* the transformer at Power et al.'s and Notsawo et al.'s size (p = 97, width 128, 4 heads, 2 blocks,
  tied embeddings, r = 0.5) and at the CPU preset's (p = 31, width 64);
* the one-hot quadratic MLP of ``experiments.modular_adamw`` (p = 97, N = 500, r = 0.5).

Prints seconds per step, the model FLOPs per step (3× a forward pass per training sequence, one
per test sequence) and the rate they imply, the projected time of Notsawo et al.'s 10⁴ steps and
Power et al.'s 10⁵, and each cost as a ratio to the MLP's step.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

from linear_grok.cli import setup_process
from linear_grok.settings.modular import adamw, transformer
from linear_grok.settings.modular.task import ModularTask

CONFIGS = {
    "transformer, their size (p 97, d 128)": adamw.AdamWConfig(
        model="transformer", loss="ce", hidden=128, train_fractions=(0.5,), weight_decays=(1.0,),
        lrs=(1e-3,), warmup=10),
    "transformer, CPU preset (p 31, d 64)": adamw.AdamWConfig(
        p=31, model="transformer", loss="ce", hidden=64, train_fractions=(0.5,),
        weight_decays=(1.0,), lrs=(1e-3,), warmup=10),
    "one-hot MLP (p 97, N 500)": adamw.AdamWConfig(train_fractions=(0.5,), weight_decays=(1.0,)),
}


def model_flops(cfg: adamw.AdamWConfig) -> float:
    """FLOPs of one step: 3 forward passes per training equation, one per test equation."""
    task = ModularTask(p=cfg.p, train_fraction=cfg.train_fractions[0])
    n_train, n_test = task.n_train, task.n_equations - task.n_train
    if cfg.model == "transformer":
        per = transformer.flops_per_sequence(cfg.p + 2, cfg.shape_of_transformer)
    else:
        per = 2 * (2 * cfg.hidden + 2 * cfg.hidden * cfg.p)  # the gather's sum, square, W2
    return (3 * n_train + n_test) * per


def seconds_per_step(cfg: adamw.AdamWConfig, steps: int) -> float:
    """Wall time per step of ``steps`` steps, compilation excluded."""
    adamw.adamw_sweep(dataclasses.replace(cfg, steps=steps), chunk=steps, progress=False)
    start = time.perf_counter()
    adamw.adamw_sweep(dataclasses.replace(cfg, steps=steps), chunk=steps, progress=False)
    return (time.perf_counter() - start) / steps


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    times = {name: seconds_per_step(cfg, args.steps) for name, cfg in CONFIGS.items()}
    base = times["one-hot MLP (p 97, N 500)"]
    print(f"{'configuration':40} {'s/step':>8} {'GFLOP/step':>10} {'GFLOP/s':>8} "
          f"{'1e4 steps':>10} {'1e5 steps':>10} {'× MLP':>6}")
    for name, cfg in CONFIGS.items():
        t, flops = times[name], model_flops(cfg)
        print(f"{name:40} {t:8.4f} {flops / 1e9:10.3f} {flops / t / 1e9:8.1f} "
              f"{t * 1e4 / 60:8.1f} m {t * 1e5 / 3600:8.1f} h {t / base:6.1f}")
    print(f"load average before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

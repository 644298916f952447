"""The lazy→rich sweep: grokking of a committee machine as α (laziness) grows (Kumar et al. 2024).

    python -m experiments.lazy_rich_sweep                    # quick preset
    python -m experiments.lazy_rich_sweep --preset sweep     # D = 100, P = 550, N = 500, η = 20N/α²
    python -m experiments.lazy_rich_sweep --preset paper     # their Figure 1: η = N/α², 1e5 steps
    python -m experiments.lazy_rich_sweep --heatmap small    # their (α, ε) heat map, D = 40
    python -m experiments.lazy_rich_sweep --heatmap authors  # their heat map at their sizes (~7 min)

Every (α, ε, seed) trains by exact gradient descent through the network's sufficient statistics
(``linear_grok.settings.lazy_rich``), with the linearised (kernel) model beside it. Each run's
train and test accuracy (squared error below ``τ·Var(y)``, the first ``τ`` of the preset) is
measured with the shared S-curve fit twice, on linear and on log time (the records are
log-spaced and the test curve rises over decades); the authors' loss-threshold gap
``max(0, t_test − t_train)`` at loss 0.1 is reported beside. Results go to
``results/lazy_rich_<preset>[_<hash>].{npz,json}`` (an existing one is replaced only with
``--overwrite``) with ``_runs.csv``/``_trends.csv`` tables; figures to
``figures/lazy_rich_*_<preset>[_<hash>].png``: the authors' Figure 1 (losses of the network and of
its linearisation, and the kernel-regression level), the α sweep's learning curves, and the
gap–sharpness trend.

``--heatmap PRESET`` (``quick``, ``small``, ``authors``; ``linear_grok.settings.lazy_rich.
HEATMAP_PRESETS``) runs the authors' (α, ε) phase diagram instead: η = 20N/α² (scaled with D
below their sizes), each run until its train and test loss change by < 1e-5 over 4 steps with the
test loss below its start, or 110 002 steps; "amount of grokking" ``max(0, t_test − t_train)``
with ``t`` the first step with loss below 0.1. Results go to
``results/lazy_rich_heatmap_<preset>[_<hash>].{npz,json}``, the figure to
``figures/lazy_rich_heatmap_<preset>[_<hash>].png``. ``--alphas``, ``--epsilons``, ``--seed``,
``--lr-scale``, ``--draws`` and ``--steps`` (the step cap) override the preset.

The ``paper`` preset draws data, teacher and weights as the authors' notebook does (``--draws
authors``: their JAX keys 0, 1, 2, in float32), so its seed 0 is their Figure 1's draw; the other
presets and the heat maps draw one key per seed (``--draws split``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from linear_grok.cli import stop_point
from linear_grok.figures import lazy_rich as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings import lazy_rich

ALPHAS = Flag("--alphas", "output scales α (laziness)", many=True, rule=Rule(0, 1e3, lo_open=True))
EPSILONS = Flag("--epsilons", "quadratic parts ε of the activation", many=True, rule=Rule(0, 10))
DRAWS = Flag("--draws", "data, teacher and weights drawn as the authors' notebook draws them "
             "(authors; the paper preset) or from one key per seed (split)", str,
             choices=lazy_rich.DRAWS)
LR_SCALE = Flag("--lr-scale", "learning rate η = lr_scale·N/α² (1 in the authors' Figure 1, 20 in "
                "their heat map)", rule=Rule(0, 1e4, lo_open=True))


def run_heatmap(cfg: lazy_rich.HeatmapConfig, progress: bool = True) -> dict:
    """The heat map's runs, with a line of progress every ten chunks (and at the end)."""
    start = time.perf_counter()

    def report(done, running):
        stop_point()  # Ctrl-C stops here, between compiled chunks
        if progress and (running == 0 or done % (10 * cfg.chunk) == 0):
            print(f"  {done} steps: {running} of {len(cfg.alphas) * len(cfg.epsilons)} runs "
                  f"running ({time.perf_counter() - start:.0f} s)", flush=True)

    return lazy_rich.heatmap(cfg, report)


def heatmap_report(arrays: dict, cfg: lazy_rich.HeatmapConfig) -> Report:
    """The amount of grokking over the grid, and how it moves with α and ε."""
    trend = lazy_rich.heatmap_trend(arrays["amount"])
    text = (f"{lazy_rich.heatmap_table(arrays)}\namount grows with α in {trend['grows_with_alpha']:.0%} "
            f"and falls with ε in {trend['falls_with_epsilon']:.0%} of neighbouring pairs; "
            f"{int(np.sum(~np.isfinite(arrays['amount'])))} runs whose loss never crossed "
            f"{cfg.level:g}, {int(arrays['capped'].sum())} capped, "
            f"{int(arrays['diverged'].sum())} diverged")
    return Report(text, {"trend": trend})


HEATMAP = Command(
    module="experiments.lazy_rich_sweep", experiment="lazy_rich_heatmap", prefix="lazy_rich_heatmap",
    doc=__doc__, presets=lazy_rich.HEATMAP_PRESETS,
    flags=(ALPHAS, EPSILONS, LR_SCALE, DRAWS,
           Flag("--seed", "the one draw of data, teacher and initial weights", int,
                rule=Rule(0, 2**32 - 1, integer=True)),
           Flag("--steps", "the cap on a run's steps", int, rule=Rule(10, 10**8, integer=True),
                field="max_steps")),
    run=run_heatmap, report=heatmap_report, draw=figures.draw_heatmap, measured=False,
    preset_flag="--heatmap",
)

COMMAND = Command(
    module="experiments.lazy_rich_sweep", experiment="lazy_rich_sweep", prefix="lazy_rich",
    doc=__doc__, presets=lazy_rich.PRESETS,
    flags=(ALPHAS, EPSILONS, LR_SCALE, DRAWS,
           Flag("--seeds", "seeds", int, many=True, rule=Rule(0, 2**32 - 1, integer=True)),
           Flag("--steps", "gradient steps per run", int, rule=Rule(100, 10**8, integer=True))),
    run=lambda cfg, options, progress: lazy_rich.run_sweep(cfg, options),
    report=lambda arrays, cfg: Report(lazy_rich.table(arrays), {"loss_level": lazy_rich.LOSS_LEVEL}),
    draw=figures.draw,
    labels=lambda arrays, cfg: dict(zip(("alpha", "epsilon", "seed"), np.meshgrid(
        arrays["alpha"], arrays["epsilon"], arrays["seed"], indexing="ij"), strict=True)),
    trend_sets=(("trends", "", "linear time"), ("log_time_trends", "log_", "log time")),
    alternative=("--heatmap", HEATMAP),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

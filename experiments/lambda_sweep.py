"""The λ sweep: accuracy curves of the linear model to gap–sharpness trends.

    python -m experiments.lambda_sweep                       # quick preset, exact theory
    python -m experiments.lambda_sweep --preset paper --mode paper   # the paper's Figure 1/3/6
    python -m experiments.lambda_sweep --mode all            # paper, exact and simulate

Modes (see ``linear_grok.settings.linear.sweep``): ``paper`` reproduces the published procedure
(λ > 1, long-time forms without the plateau); ``exact`` uses the mirrored λ < 1 grid and the exact
theory, where the model really groks; ``simulate`` trains the model (exact spectral GD) on the same grid.
Results go to ``results/lambda_sweep_<preset>_<mode>.{npz,json}`` (with a short hash of the
configuration appended when flags change the preset's; an existing result is replaced only with
``--overwrite``) and ``_runs.csv``/``_trends.csv`` tables; figures to ``figures/``.
"""

from __future__ import annotations

import sys

import numpy as np

from linear_grok.figures import linear as figures
from linear_grok.runner import Command, Flag, Report, Rule, Variant
from linear_grok.settings.linear import sweep


def labels(arrays: dict, cfg: sweep.LambdaSweepConfig) -> dict:
    """The runs' CSV labels: λ and the seed (0 for the theory, which has none)."""
    seeds = np.asarray(cfg.seeds if cfg.mode == "simulate" else (0,))
    return {"lam": arrays["lam"][:, None], "seed": seeds[None, :]}


def draw_together(paths: dict, figdir) -> list:
    """Exact theory against simulation, when one command line ran both."""
    if "exact" in paths and "simulate" in paths:
        return figures.draw_theory_vs_simulation(paths["exact"], paths["simulate"], figdir)
    return []


COMMAND = Command(
    module="experiments.lambda_sweep", experiment="lambda_sweep", prefix="lambda_sweep",
    doc=__doc__, presets=sweep.PRESETS,
    flags=(
        Flag("--eps", "accuracy threshold on the squared error (default 1e-10)",
             rule=Rule(0, 10, lo_open=True)),
        Flag("--eta", "learning rate per GD step (default 0.01)", rule=Rule(0, 10, lo_open=True)),
        Flag("--d-out", "output dimension (default 1)", int, rule=Rule(1, 10**4, integer=True)),
        Flag("--d-in", "simulator input dimension", int, rule=Rule(1, 10**5, integer=True)),
        Flag("--seeds", "simulator seeds", int, many=True, rule=Rule(0, 2**31 - 1, integer=True)),
        Flag("--n-lam", "points of the paper's λ grid", int, rule=Rule(1, 10**6, integer=True)),
        Flag("--n-time", "points per theory curve", int, rule=Rule(10, 10**8, integer=True)),
        Flag("--lams", "explicit λ grid (exact/simulate; λ < 1 groks)", many=True,
             rule=Rule(0, 100, lo_open=True)),
    ),
    run=lambda cfg, options, progress: sweep.run_lambda_sweep(cfg, progress=progress, options=options),
    report=lambda arrays, cfg: Report(sweep.lambda_table(arrays)),
    draw=figures.draw, labels=labels,
    variant=Variant("--mode", "mode", sweep.MODES, "exact", "the procedure (module docstring)"),
    draw_together=draw_together,
    # Only the simulator is sharded over devices; the theory runs where it is.
    n_runs=lambda cfg: cfg.lam.size * len(cfg.seeds) if cfg.mode == "simulate" else 1,
    default_preset="quick",
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

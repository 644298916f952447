"""Modular addition grokked under full-batch AdamW: gap, sharpness and the grokking time over the
training fraction r and the weight decay.

    python -m experiments.modular_adamw                  # quick: 4 fractions × 2 decays, 300 steps (~1 min)
    python -m experiments.modular_adamw --preset paper   # N = 500, 7 fractions × 4 decays
    python -m experiments.modular_adamw --preset transformer         # Power et al.'s transformer, p = 31
    python -m experiments.modular_adamw --preset transformer_paper   # their sizes (a GPU's work)

The one-hot quadratic MLP of Gromov (2023) and Doshi et al. (2024) on a + b mod 97 (bias-free,
N(0, 0.25/(2N)^(2/3)) weights, MSE to the one-hot answer), trained by full-batch AdamW at their
constants (lr 1e-2, betas (0.9, 0.98), ε 1e-8); why this model: ``linear_grok.settings.modular.
adamw``. The transformer presets train Power et al.'s transformer as Notsawo et al. do
(``linear_grok.settings.modular.transformer``). Every (learning rate, weight decay, fraction,
seed) is a run, trained in float32 and
recorded at every step; each run's accuracies are measured with the shared S-curve fit (chance
1/p), and the test jump time is fitted against r with Notsawo et al.'s law a·r^(−γ) + b per
(learning rate, weight decay, seed). Results go to ``results/modular_adamw_<preset>[_<hash>]
.{npz,json}`` with ``_runs.csv``/``_trends.csv``; the figure to
``figures/modular_adamw_<preset>[_<hash>].png``.
"""

from __future__ import annotations

import sys

import numpy as np

from linear_grok.figures import modular as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings.modular import adamw, task

COMMAND = Command(
    module="experiments.modular_adamw", experiment="modular_adamw", prefix="modular_adamw",
    doc=__doc__, presets=adamw.ADAMW_PRESETS,
    flags=(
        Flag("--p", "the modulus, a prime", int, rule=Rule(3, 10007, integer=True)),
        Flag("--op", "the operation", str, choices=task.OPERATIONS),
        Flag("--train-fractions", "fractions r of the equations for training", many=True,
             rule=Rule(0, 1, lo_open=True)),
        Flag("--weight-decays", "AdamW's decoupled weight decays", many=True, rule=Rule(0, 1e3)),
        Flag("--lrs", "learning rates", many=True, rule=Rule(0, 1, lo_open=True)),
        Flag("--seeds", "seeds (split and weights)", int, many=True,
             rule=Rule(0, 2**31 - 1, integer=True)),
        Flag("--model", "the network", str, choices=adamw.MODELS),
        Flag("--loss", "the training loss", str, choices=adamw.LOSSES),
        Flag("--hidden", "the MLP's hidden units N, the transformer's width", int,
             rule=Rule(1, 10**5, integer=True)),
        Flag("--heads", "the transformer's attention heads", int, rule=Rule(1, 8192, integer=True)),
        Flag("--layers", "the transformer's blocks", int, rule=Rule(1, 8192, integer=True)),
        Flag("--steps", "full-batch steps", int, rule=Rule(2, 10**7, integer=True)),
        Flag("--warmup", "linear warm-up steps", int, rule=Rule(0, 10**7, integer=True)),
    ),
    run=lambda cfg, options, progress: adamw.run_adamw(cfg, options, progress=progress),
    report=lambda arrays, cfg: Report(adamw.adamw_table(arrays), {"time_laws": adamw.time_laws(arrays)}),
    draw=figures.draw_adamw,
    labels=lambda arrays, cfg: dict(zip(adamw.AXES, np.meshgrid(
        *(arrays[a] for a in adamw.AXES), indexing="ij"), strict=True)),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

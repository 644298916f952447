"""Kumar et al.'s Figure 2: grokking of modular addition without weight decay, the weight norm
growing while it groks.

    python -m experiments.kumar_modular                  # quick: α = 0.5, 1, 4e4 epochs (~1 min)
    python -m experiments.kumar_modular --preset paper   # their α sweep 0.5, 1, 1.5, 2, 1e5 epochs

A two-layer perceptron with quadratic activation and bias-free layers on one-hot pairs (a, b) of
residues mod p = 23, 90 % of the pairs for training, trained on the mean squared error to the
one-hot answer by full-batch gradient descent at η = 100/α², N(0, 1) weights, output scaled by α²
(``linear_grok.settings.modular.kumar``, their notebook's constants); every (α, seed) in one vmapped,
float32 program. Metrics are recorded as their loop records them (train metrics and the weight
norm before each step, test metrics after it, the test loss not divided by α²). The split and the
weights are drawn by JAX, not by their PyTorch generator. Each run's accuracies are measured with
the shared S-curve fit (chance 1/p). Results go to ``results/kumar_modular_<preset>[_<hash>]
.{npz,json}`` with ``_runs.csv``/``_trends.csv``; the figure to
``figures/kumar_fig2_<preset>[_<hash>].png``.
"""

from __future__ import annotations

import sys

import numpy as np

from linear_grok.figures import modular as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings.modular import kumar, task

COMMAND = Command(
    module="experiments.kumar_modular", experiment="kumar_modular", prefix="kumar_modular",
    doc=__doc__, presets=kumar.KUMAR_PRESETS,
    flags=(
        Flag("--p", "the modulus, a prime", int, rule=Rule(3, 10007, integer=True)),
        Flag("--op", "the operation", str, choices=task.OPERATIONS),
        Flag("--train-fraction", "fraction of the pairs for training",
             rule=Rule(0, 1, lo_open=True)),
        Flag("--hidden", "hidden units N", int, rule=Rule(1, 10**5, integer=True)),
        Flag("--alphas", "output scales α", many=True, rule=Rule(0, 1e3, lo_open=True)),
        Flag("--seeds", "seeds (split and weights)", int, many=True,
             rule=Rule(0, 2**31 - 1, integer=True)),
        Flag("--lr", "η·α² (their 100)", rule=Rule(0, 1e6, lo_open=True)),
        Flag("--epochs", "full-batch steps", int, rule=Rule(1, 10**8, integer=True)),
        Flag("--record-every", "epochs between records", int, rule=Rule(1, 10**8, integer=True)),
    ),
    run=lambda cfg, options, progress: kumar.run_kumar(cfg, options),
    report=lambda arrays, cfg: Report(kumar.kumar_table(arrays)),
    draw=figures.draw,
    labels=lambda arrays, cfg: dict(zip(("alpha", "seed"), np.meshgrid(
        arrays["alpha"], arrays["seed"], indexing="ij"), strict=True)),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

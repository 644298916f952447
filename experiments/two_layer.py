"""Levi et al.'s Figure 5: two-layer students against their rescaled one-layer theory.

    python -m experiments.two_layer                  # quick: 100–{50,200}–5, ~30 s on 2 cores
    python -m experiments.two_layer --preset paper   # their sizes: 1000–{50,200}–5, η = 0.01

Simulates networks d_in–d_h–d_out (linear and tanh hidden layers, d_h = 50 and 200, ε = 1e-4),
every (λ, seed) of a panel in one compiled, vmapped program, and compares each run's losses,
divided by its initial error ‖D0‖², with Levi's mapped theory (docs/theory.md §20 (T4): the
one-layer MP theory on the clock τ₂ = η t/(2 d_out²)), and tanh with the linear network of the
same draws; ``--references one_layer linearized`` adds the one-layer GD of the same draw and the
network linearised at initialisation. The table gives the largest deviation per window of τ₂
and the steps to 95 % accuracy. The paper preset takes 6 + 16 min (linear) and 5.5 + 15 h (tanh)
on 2 CPU cores; ``--activations linear`` runs the linear half alone. Results go to
``results/two_layer_<preset>[_<hash>].{npz,json}``, the figure to
``figures/levi_fig5_<preset>[_<hash>].png``.
"""

from __future__ import annotations

import sys

from linear_grok.figures import levi as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings.linear import levi_fig5

COMMAND = Command(
    module="experiments.two_layer", experiment="two_layer", prefix="two_layer",
    doc=__doc__, presets=levi_fig5.PRESETS,
    flags=(
        Flag("--d-in", "input width", int, rule=Rule(1, 10**4, integer=True)),
        Flag("--d-hs", "hidden widths", int, many=True, rule=Rule(1, 10**4, integer=True)),
        Flag("--d-out", "output width", int, rule=Rule(1, 10**3, integer=True)),
        Flag("--activations", "hidden activations", str, many=True, choices=("linear", "tanh")),
        Flag("--lams", "aspect ratios d_in/N_tr", many=True, rule=Rule(0, 100, lo_open=True)),
        Flag("--seeds", "seeds (one draw each)", int, many=True,
             rule=Rule(0, 2**31 - 1, integer=True)),
        Flag("--eta", "learning rate per GD step", rule=Rule(0, 10, lo_open=True)),
        Flag("--eps", "accuracy threshold", rule=Rule(0, 10, lo_open=True)),
        Flag("--steps", "GD steps", int, rule=Rule(1, 10**8, integer=True)),
        Flag("--references", "finer references beside the mapped theory", str, many=True,
             choices=levi_fig5.FINER),
    ),
    run=lambda cfg, progress: levi_fig5.fig5_curves(cfg, progress=progress),
    report=lambda arrays, cfg: Report(levi_fig5.fig5_table(arrays, cfg)),
    draw=figures.draw_fig5, measured=False,
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

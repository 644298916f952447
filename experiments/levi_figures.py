"""Levi, Beck & Bar-Sinai's figures of the linear model, theory and simulation overlaid.

    python -m experiments.levi_figures                  # quick: d_in = 200, 2 seeds, d_out scaled
    python -m experiments.levi_figures --preset paper   # their sizes: d_in = 1000, 4 seeds

Figure 1 (λ = 0.1, 0.9, 1.5), Figure 2 (d_out = 1, 50, 700 at λ = 0.9; the quick preset scales
d_out with d_in: 1, 10, 140), Figure 4 (phase diagrams of the grokking time over (γ, d_out),
(γ, λ), (d_out, λ) from the exact theory, 64 × 64, or 32 × 32 in the quick preset; simulated
seeds on a 3 × 3 subgrid of each), Figure 3 (weight decay γ = 1e-5, 1e-3, 1e-2) and Figure 6 (the
long-time approximations against the exact curves), with η = 0.01 and ε = 1e-3 (docs/theory.md
§14). Each case is computed by the exact Marchenko–Pastur theory of discrete GD and by the exact
spectral GD simulator on several seeds (``linear_grok.settings.linear.levi``); the table gives
the steps at which each accuracy first reaches 95 %. Results go to
``results/levi_figures_<preset>[_<hash>].{npz,json}``, figures to
``figures/levi_fig{1,2,3,4,6}_<preset>[_<hash>].png``.
"""

from __future__ import annotations

import sys

from linear_grok.figures import levi as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings.linear import levi

COMMAND = Command(
    module="experiments.levi_figures", experiment="levi_figures", prefix="levi_figures",
    doc=__doc__, presets=levi.PRESETS,
    flags=(
        Flag("--lams", "λ of Figure 1", many=True, rule=Rule(0, 100, lo_open=True)),
        Flag("--d-outs", "output dimensions of Figure 2", int, many=True,
             rule=Rule(1, 10**4, integer=True)),
        Flag("--gammas", "weight decays of Figure 3", many=True, rule=Rule(0, 1)),
        Flag("--lam0", "λ of Figures 2 and 3 (Levi: 0.9)", rule=Rule(0, 100, lo_open=True)),
        Flag("--lams6", "λ of Figure 6", many=True, rule=Rule(0, 100, lo_open=True)),
        Flag("--d-in", "the simulator's input dimension", int, rule=Rule(2, 10**4, integer=True)),
        Flag("--seeds", "simulated seeds", int, many=True, rule=Rule(0, 2**31 - 1, integer=True)),
        Flag("--max-step", "last recorded GD step", int, rule=Rule(10, 10**12, integer=True)),
        Flag("--phase-n", "points per axis of Figure 4's phase diagrams", int,
             rule=Rule(6, 1024, integer=True)),
        Flag("--skip-phase-check", "leave out Figure 4's simulated subgrid", bool),
    ),
    run=lambda cfg, progress: levi.levi_curves(cfg, progress=progress),
    report=lambda arrays, cfg: Report(levi.table(arrays)),
    draw=figures.draw, measured=False, check=levi.LeviConfig.check_memory,
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

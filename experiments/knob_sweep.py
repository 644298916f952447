"""One gap–sharpness law across the linear model's knobs, or several.

    python -m experiments.knob_sweep                  # quick: 6–8 values per knob
    python -m experiments.knob_sweep --preset paper   # 24 values per knob

Sweeps each of λ, d_out, γ, ε and the student's initial scale α on its own from Levi et al.'s
base point (λ = 0.9, d_out = 1, γ = 0, ε = 1e-3, α = 1, η = 0.01), computes every point's
accuracy curves by the exact gradient-flow theory, measures them with the shared pipeline (S-curve
fits) and without a fit (times and slopes where each accuracy reaches ½), and checks each point
against the ε-law: the curve that ε traces at the base λ, on which d_out and α fall exactly
(docs/theory.md §21; ``linear_grok.settings.linear.knobs``). Results go to
``results/knob_sweep_<preset>[_<hash>].{npz,json}`` with ``_runs.csv``/``_trends.csv`` tables;
the figure to ``figures/knob_sweep_<preset>[_<hash>].png``.
"""

from __future__ import annotations

import sys

from linear_grok.figures import knobs as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings.linear import knobs

_VALUES = {"lam": Rule(0, 100, lo_open=True), "d_out": Rule(1, 10**4),
           "gamma": Rule(0, 1), "eps": Rule(0, 1, lo_open=True),
           "init_scale": Rule(0, 1e3, lo_open=True)}

COMMAND = Command(
    module="experiments.knob_sweep", experiment="knob_sweep", prefix="knob_sweep",
    doc=__doc__, presets=knobs.PRESETS,
    flags=(
        Flag("--lam", "base λ (λ < 1 groks; Levi: 0.9)", rule=Rule(0, 1, lo_open=True)),
        Flag("--d-out", "base output dimension", rule=Rule(1, 10**4)),
        Flag("--gamma", "base weight decay", rule=Rule(0, 1)),
        Flag("--eps", "base accuracy threshold", rule=Rule(0, 1, lo_open=True)),
        Flag("--init-scale", "base initial scale α of the student", rule=Rule(0, 1e3, lo_open=True)),
        *(Flag(f"--{knob.replace('_', '-')}-values", f"the values of the {knobs.SYMBOL[knob]} sweep",
               many=True, rule=rule) for knob, rule in _VALUES.items()),
        Flag("--eta", "learning rate per GD step", rule=Rule(0, 10, lo_open=True)),
        Flag("--n-time", "points per accuracy curve", int, rule=Rule(20, 10**6, integer=True)),
    ),
    run=lambda cfg, options, progress: knobs.run_knob_sweep(cfg, options, progress=progress),
    report=lambda arrays, cfg: Report(knobs.knob_table(arrays), knobs.summary(arrays)),
    draw=figures.draw,
    labels=lambda arrays, cfg: {"knob": arrays["knob"][:, None], "value": arrays["value"][:, None]},
    trend_sets=(("trends", "", "all knobs pooled"),
                *((f"trends_{k}", f"{k}_", f"{knobs.SYMBOL[k]}, fits") for k in knobs.KNOBS),
                *((f"trends_nofit_{k}", f"nofit_{k}_", f"{knobs.SYMBOL[k]}, fit-free")
                  for k in knobs.KNOBS)),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

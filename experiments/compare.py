"""Analytic against simulated curves of the linear model, overlaid, with the largest deviations.

    python -m experiments.compare                         # quick: 3 λ, d_in = 200, 4 seeds
    python -m experiments.compare --preset paper          # docs/theory.md §9: 6 λ, d_in = 400, 8 seeds
    python -m experiments.compare --lams 0.9 --d-out 5 --steps 5000

Theory: the discrete-GD MP average (``form="discrete"``). Simulation: the exact spectral GD
engine. Losses are compared after dividing each seed by its initial test loss (which removes the
trivial spread of ‖D₀‖², docs/theory.md §9); the simulated test loss is the exact population loss
‖S − T‖²/d_out, so only the accuracies carry test-set sampling noise. Results go to
``results/compare_<preset>[_<hash>].{npz,json}`` with ``_deviations.csv``; the figure to
``figures/compare_theory_simulation_<preset>[_<hash>].png``.
"""

from __future__ import annotations

import sys

from linear_grok.figures import compare as figures
from linear_grok.pipeline import write_csv
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings.linear import compare

DEVIATIONS = ("lam", "tau_max", "loss_train", "loss_test", "acc_train", "acc_test")


def report(arrays: dict, cfg: compare.CompareConfig) -> Report:
    rows = compare.deviations(arrays, cfg.eta, cfg.windows)
    return Report(compare.deviation_table(rows), {"deviations": rows})


def tables(path, arrays: dict, meta: dict) -> list:
    """``<result>_deviations.csv``: one row per λ and window."""
    out = path.with_name(path.name + "_deviations.csv")
    write_csv(out, list(DEVIATIONS), [[row[k] for k in DEVIATIONS] for row in meta["deviations"]])
    return [out]


COMMAND = Command(
    module="experiments.compare", experiment="compare", prefix="compare", doc=__doc__,
    presets=compare.PRESETS,
    flags=(
        Flag("--lams", "the λ grid", many=True, rule=Rule(0, 100, lo_open=True)),
        Flag("--d-in", "input dimension", int, rule=Rule(1, 10**5, integer=True)),
        Flag("--d-out", "output dimension", int, rule=Rule(1, 10**4, integer=True)),
        Flag("--eta", "learning rate per GD step", rule=Rule(0, 10, lo_open=True)),
        Flag("--eps", "accuracy threshold on the squared error", rule=Rule(0, 10, lo_open=True)),
        Flag("--seeds", "number of seeds (0, 1, ...)", int, rule=Rule(1, 1000, integer=True)),
        Flag("--steps", "last GD step", int, rule=Rule(1, 10**9, integer=True)),
        Flag("--windows", "τ = η·steps windows of the deviation table", many=True,
             rule=Rule(0, 1e9, lo_open=True)),
        Flag("--n-test", "test samples of the simulator", int, rule=Rule(1, 10**7, integer=True)),
    ),
    run=lambda cfg, progress: compare.compare(cfg), report=report, draw=figures.draw,
    measured=False, tables=tables,
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

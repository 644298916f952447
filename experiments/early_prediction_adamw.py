"""Can grokking be predicted from the first steps' training loss where Notsawo et al. made the
claim: under AdamW, with loss spikes, over learning rate × weight decay.

    python -m experiments.early_prediction_adamw                 # quick: 6 runs, 500 steps (~1 min)
    python -m experiments.early_prediction_adamw --preset full   # 30 runs: 2 lr × 5 decays × 3 fractions

The runs are the AdamW regime of ``python -m experiments.modular_adamw`` (a one-hot quadratic MLP
on a + b mod 97, full-batch AdamW; ``linear_grok.settings.modular.adamw``), over a grid of
learning rate × weight decay × small training fractions chosen so that some runs grok within the
budget and some do not. Every step is recorded. The outcomes, as ``experiments.early_prediction``
measures them on the parity MLP: the final test accuracy (mean of the last 10 steps), whether the
run groks within the budget (test accuracy above 0.99), and its relative gap and relative
sharpness. For each window K the features of ``linear_grok.early`` (Hjorth activity, mobility and
complexity of the detrended log training loss, band shares, the early train accuracy) and the
window's loss spikes (a spike: the loss above twice its lowest value so far; their count, and
the largest rise above the running minimum in decades) are related to the outcomes by Spearman's ρ with 95 %
bootstrap intervals, and a cross-validated classifier of "groks within the budget" is scored by
its ROC AUC beside the early train accuracy and the design (log10 lr, weight decay, fraction),
known before training. Results go to ``results/early_prediction_adamw_<preset>.{npz,json}`` (with
``_correlations.csv``, ``_auc.csv``); figures to ``figures/early_features_adamw_<preset>.png``
and ``figures/early_auc_adamw_<preset>.png``.
"""

from __future__ import annotations

import sys

import numpy as np

from linear_grok import early
from linear_grok.figures import early as figures
from linear_grok.runner import Command, Flag, Report, Rule

PREDICTORS = (*early.PREDICTORS, *early.SPIKE_PREDICTORS)


def report(arrays: dict, grid: early.AdamWEarlyGrid) -> Report:
    """The correlations and AUCs of every window, and the spikes over whole runs."""
    analysis = early.analyse(
        arrays, grid, predictors=PREDICTORS,
        design=("design (log10 lr, weight decay, training fraction)", arrays["design"]),
        setting=f"modular addition mod {grid.adamw.p}, full-batch AdamW")
    count, size = arrays["run_spike_count"], arrays["run_spike_max"]
    spikes = (f"\nLoss spikes over whole runs (loss > {early.SPIKE_FACTOR:g}× its running minimum): "
              f"{int(np.sum(count > 0))} of {count.size} runs have one, {np.nansum(count):.0f} in "
              f"all; the largest rise above the running minimum {np.nanmax(size):.3f} decades")
    return Report(early.report(analysis) + spikes, {
        "trend_degree": early.TREND_DEGREE, "bands": early.BANDS,
        "spike_factor": early.SPIKE_FACTOR, "analysis": analysis})


COMMAND = Command(
    module="experiments.early_prediction_adamw", experiment="early_prediction",
    prefix="early_prediction_adamw", doc=__doc__, presets=early.ADAMW_PRESETS,
    flags=(
        Flag("--lrs", "learning rates", many=True, rule=Rule(0, 1, lo_open=True)),
        Flag("--weight-decays", "AdamW's decoupled weight decays", many=True, rule=Rule(0, 1e3)),
        Flag("--train-fractions", "fractions r of the equations for training", many=True,
             rule=Rule(0, 1, lo_open=True)),
        Flag("--seeds", "seeds (split and weights)", int, many=True,
             rule=Rule(0, 2**31 - 1, integer=True)),
        Flag("--hidden", "hidden units N", int, rule=Rule(1, 10**5, integer=True)),
        Flag("--steps", "training budget in full-batch steps", int, rule=Rule(16, 10**7, integer=True)),
        Flag("--windows", "early windows K, in steps", int, many=True,
             rule=Rule(16, 10**7, integer=True)),
    ),
    run=lambda grid, progress: early.run_adamw_grid(grid, progress=progress), report=report,
    draw=figures.draw, measured=False, default_preset="quick",
    tables=lambda path, arrays, meta: early.write_csv_tables(path, meta["analysis"]),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

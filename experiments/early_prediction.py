"""Can grokking be predicted from the first steps' training loss? Notsawo et al.'s spectral
signature tested on the concealed-parity MLP.

    python -m experiments.early_prediction                 # quick: 12 runs (102 s, docs/benchmarks.md)
    python -m experiments.early_prediction --preset full   # 60 runs: 4 training fractions × 5 sizes × 3 seeds

Every run is the parity sweep's (the authors' procedure, ``linear_grok.settings.parity``) with
``n_train + n_val = 1000`` samples split at several training fractions, trained for 3000 epochs,
recording the loss and accuracy of each of its first 800 optimisation steps on their minibatches
(inside the compiled step). The outcomes are measured by the shared pipeline on the per-epoch
curves: final validation accuracy (mean of the last 10 epochs), whether the run groks within the
budget (validation accuracy above the authors' 0.99), and its relative gap and relative sharpness
(erf fits). For each window K ∈ {100, 200, 400, 800} steps the features of
:mod:`linear_grok.early` are computed from the per-step training loss and related to the outcomes:

* Spearman's ρ of every feature with every outcome, with 95 % bootstrap intervals over runs;
* a cross-validated classifier of "groks within the budget" (L2 logistic regression on the
  standardised features, stratified 5-fold, 20 repeats) and its ROC AUC with a bootstrap
  interval, beside two baselines through the same classifier: the early train accuracy (mean
  minibatch accuracy over the window's last quarter) and the design (training fraction and input
  size, known before training).

Nothing is tuned to the outcome: the trend degree, bands, classifier and its penalty are fixed in
:mod:`linear_grok.early`. Results go to ``results/early_prediction_<preset>.{npz,json}`` (with
``_correlations.csv``, ``_auc.csv``); figures to ``figures/early_features_<preset>.png`` and
``figures/early_auc_<preset>.png``.
"""

from __future__ import annotations

import sys

from linear_grok import early
from linear_grok.figures import early as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings import parity


def report(arrays: dict, grid: early.EarlyGrid) -> Report:
    """The correlations and AUCs of every window, printed and kept in the sidecar."""
    analysis = early.analyse(arrays, grid)
    return Report(early.report(analysis), {
        "procedure": parity.PAPER.procedure, "trend_degree": early.TREND_DEGREE,
        "bands": early.BANDS, "analysis": analysis})


COMMAND = Command(
    module="experiments.early_prediction", experiment="early_prediction", prefix="early_prediction",
    doc=__doc__, presets=early.PRESETS,
    flags=(
        Flag("--n-train", "training-set sizes (of n_total = 1000)", int, many=True,
             rule=Rule(1, 999, integer=True)),
        Flag("--input-sizes", "input sizes", int, many=True, rule=Rule(3, 10**4, integer=True)),
        Flag("--seeds", "seeds", int, many=True, rule=Rule(0, 2**32 - 1, integer=True)),
        Flag("--epochs", "training budget in epochs", int, rule=Rule(10, 10**6, integer=True)),
        Flag("--windows", "early windows K, in steps", int, many=True,
             rule=Rule(16, 10**7, integer=True)),
    ),
    run=lambda grid, progress: early.run_grid(grid, progress=progress), report=report,
    draw=figures.draw, measured=False,
    tables=lambda path, arrays, meta: early.write_csv_tables(path, meta["analysis"]),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

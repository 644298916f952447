"""The concealed-parity MLP sweep: the sharpness paper's Figures 2, 4 and 5.

    python -m experiments.parity_sweep                     # quick: 4 input sizes, 1 seed
    python -m experiments.parity_sweep --preset paper      # 21 input sizes (25..45) × 3 seeds
    python -m experiments.parity_sweep --preset clean      # the same grid, the clean procedure

``quick`` and ``paper`` follow the authors' procedure ({0, 1} inputs, PyTorch's default first-layer
bias, batch-mean metrics, spurious bits from the parity bits' stream); ``clean`` uses ±1 inputs, a
zero bias, full-set metrics and independent spurious bits. ``--inputs``, ``--bias``, ``--accuracy``
and ``--spurious`` change one choice at a time (``linear_grok.settings.parity`` explains each).

All runs train together in one compiled program (``linear_grok.settings.parity``), in chunks of
epochs with a progress bar. Per-epoch train/validation loss and accuracy are saved to
``results/parity_sweep_<preset>.{npz,json}`` (a short hash of the configuration appended when flags
change the preset's; an existing result is replaced only with ``--overwrite``), the procedure in
the JSON sidecar; each run's accuracy curves are measured with ``¼ S(a(t − b)) + ¾`` (chance ½;
``S`` the paper's erf unless ``--shape`` says otherwise) on the recorded epoch axis (0-based for
batch-mean metrics, as the authors' ``np.arange``), and the first epoch above 0.99 (the authors'
threshold) is reported beside the fit. Runs that never reach the top or whose fit fails are
recorded with the reason and left out of the trends.
"""

from __future__ import annotations

import sys

import numpy as np

from linear_grok.figures import parity as figures
from linear_grok.runner import Command, Flag, Report, Rule
from linear_grok.settings import parity

SEEDS = Rule(0, 2**32 - 1, integer=True)


def report(arrays: dict, cfg: parity.ParityConfig) -> Report:
    """The runs' table and how many pass the authors' threshold; the procedure in the sidecar."""
    grokked = np.isfinite(arrays["first_val_above"])
    return Report(f"{parity.parity_table(arrays)}\n{grokked.sum()} of {grokked.size} runs pass "
                  f"{parity.THRESHOLD} validation accuracy", {"procedure": cfg.procedure})


COMMAND = Command(
    module="experiments.parity_sweep", experiment="parity_sweep", prefix="parity_sweep",
    doc=__doc__, presets=parity.PRESETS,
    flags=(
        Flag("--inputs", "input encoding (overrides the preset's procedure)", str,
             choices=parity.CHOICES["inputs"]),
        Flag("--bias", "first-layer bias initialisation", str, choices=parity.CHOICES["bias_init"],
             field="bias_init"),
        Flag("--accuracy", "how accuracy is recorded", str, choices=parity.CHOICES["accuracy"]),
        Flag("--spurious", "how the spurious bits are drawn", str, choices=parity.CHOICES["spurious"]),
        Flag("--full-set-metrics", "with batch-mean metrics, also record full-set metrics "
             "(*_full arrays)", bool),
        Flag("--epochs", "training epochs (authors': 3000)", int, rule=Rule(10, 10**6, integer=True)),
        Flag("--input-sizes", "total input bits of each run (≥ k = 3 parity bits)", int, many=True,
             rule=Rule(3, 10**4, integer=True)),
        Flag("--seeds", "seeds", int, many=True, rule=SEEDS),
        Flag("--hidden", "hidden width (authors': 1000)", int, rule=Rule(1, 2**16, integer=True)),
        Flag("--n-train", "training-set size (authors': 750)", int, rule=Rule(1, 10**6, integer=True)),
        Flag("--n-val", "validation-set size (authors': 250)", int, rule=Rule(1, 10**6, integer=True)),
        Flag("--chunk", "epochs per compiled call", int, rule=Rule(1, 10**4, integer=True),
             runtime=True, default=100),
    ),
    run=parity.measure_sweep, report=report, draw=figures.draw,
    labels=lambda arrays, cfg: {"input_size": arrays["input_size"], "seed": arrays["seed"]},
    n_runs=lambda cfg: len(cfg.runs),
)
main = COMMAND.main

if __name__ == "__main__":
    sys.exit(main())

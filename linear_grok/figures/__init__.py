"""Every figure of every setting, drawn from saved results (:mod:`linear_grok.results`) without
recomputing anything: by the commands after a run, and by ``python -m experiments.figures``.

Each module draws one setting: :mod:`~linear_grok.figures.linear` (the λ sweep, theory against
simulation), :mod:`~linear_grok.figures.parity`, :mod:`~linear_grok.figures.lazy_rich` (the α sweep
and the heat map), :mod:`~linear_grok.figures.early`, :mod:`~linear_grok.figures.compare`,
:mod:`~linear_grok.figures.levi`, :mod:`~linear_grok.figures.knobs`,
:mod:`~linear_grok.figures.modular` (Kumar et al.'s Figure 2 and the AdamW sweep), and
:mod:`~linear_grok.figures.overview` (the settings on one figure). Every figure's name ends
with the name of the result it was drawn from, which carries its preset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from linear_grok.figures import compare, early, knobs, lazy_rich, levi, linear, modular, parity

__all__ = ["DRAW", "draw_result"]

# The figures of one saved result, by the ``experiment`` its sidecar names.
DRAW: dict[str, Callable[[Path, Path], list[Path]]] = {
    "lambda_sweep": linear.draw,
    "parity_sweep": parity.draw,
    "lazy_rich_sweep": lazy_rich.draw,
    "lazy_rich_heatmap": lazy_rich.draw_heatmap,
    "early_prediction": early.draw,
    "compare": compare.draw,
    "levi_figures": levi.draw,
    "knob_sweep": knobs.draw,
    "two_layer": levi.draw_fig5,
    "kumar_modular": modular.draw,
    "modular_adamw": modular.draw_adamw,
}


def draw_result(path, figdir, experiment: str) -> list[Path]:
    """The figures of the result ``path`` (without suffix) written by ``experiment``, into
    ``figdir``; ``ValueError`` for an experiment that has no figures here."""
    if experiment not in DRAW:
        raise ValueError(f"{path}: no figures for experiment {experiment!r}")
    return DRAW[experiment](path, figdir)

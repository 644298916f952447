"""One figure across settings: relative sharpness against relative gap in the linear model, the
concealed-parity MLP, the lazy→rich network and modular addition under AdamW, each with its
power law."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from linear_grok.plotting import plot_trend, save
from linear_grok.results import load_results
from linear_grok.trends import TREND_ARRAYS, power_law_fit

SETTINGS = (  # (label, result-name patterns by group, colour): the first found is drawn
    ("linear model (exact theory, λ sweep)",
     {"paper": ("lambda_sweep_paper_exact",), "quick": ("lambda_sweep_quick_exact*",)}, "tab:blue"),
    ("concealed-parity MLP (input sizes)",
     {"paper": ("parity_sweep_paper",), "quick": ("parity_sweep_quick*",)}, "tab:orange"),
    ("lazy→rich network (α sweep, log-time fits)",
     {"paper": ("lazy_rich_sweep", "lazy_rich_paper"), "quick": ("lazy_rich_quick*",)}, "tab:green"),
    ("modular addition MLP, full-batch AdamW (r × weight decay)",
     {"paper": ("modular_adamw_paper",), "quick": ("modular_adamw_quick*",)}, "tab:red"),
)
GROUPS = ("paper", "quick")  # the full presets' own results (tracked figure), any quick ones


def draw_settings(results_dir, figdir) -> list[Path]:
    """Relative sharpness against relative gap in the settings of :data:`SETTINGS`, each with its
    log-log power law: ``settings_paper.png`` from the full presets' own results (no
    configuration hash), ``settings_quick.png`` from quick-preset results (the preset's own
    first, else one with changed flags), each when at least two of the settings have one."""
    results_dir = Path(results_dir)
    written = []
    for group in GROUPS:
        found = []
        for label, patterns, color in SETTINGS:
            matches = [p for pattern in patterns[group]
                       for p in sorted(results_dir.glob(f"{pattern}.npz"))]
            if matches:
                found.append((label, matches[0].with_suffix(""), color))
        if len(found) >= 2:
            written += _draw(found, Path(figdir) / f"settings_{group}.png")
    return written


def _draw(found, out: Path) -> list[Path]:
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for label, path, color in found:
        arrays, meta = load_results(path, require=TREND_ARRAYS)
        prefix = "log_" if "log_relative_gap" in arrays else ""
        ok = arrays[f"{prefix}ok"]
        gap, sharp = arrays[f"{prefix}relative_gap"][ok], arrays[f"{prefix}relative_sharpness"][ok]
        keep = (gap > 0) & (sharp > 0)
        law = None
        if keep.sum() >= 3:
            try:
                law = power_law_fit(gap[keep], sharp[keep])
            except ValueError:
                law = None
        plot_trend(ax, gap[keep], sharp[keep], f"{label}, preset {meta.get('preset')}",
                   trend=law, loglog=True, style="o", color=color)
    ax.set_ylabel("relative sharpness a_test/a_train")
    ax.legend(fontsize=6)
    ax.set_title(f"{len(found)} settings: relative sharpness against relative gap "
                 "(dashed: power laws)", fontsize=9)
    save(fig, out)
    return [out]



"""Regenerate every figure from saved results, without recomputing anything.

    python -m experiments.figures [--results results] [--figures figures]

Each result pair in ``--results`` (``<name>.npz`` + ``<name>.json``) is drawn by the figures of the
experiment its sidecar names (``linear_grok.figures``): the λ sweep's Figures 1, 3 and 6, the
parity sweep's Figures 2, 4 and 5, the lazy→rich Figure 1, α sweep and trend, its heat maps, early
prediction's features and AUCs, the comparison of theory and simulation, Levi et al.'s figures,
the knob sweep, Kumar et al.'s Figure 2 and the AdamW sweep. Then the figures
across results: exact theory against simulation for each λ-sweep configuration that has both, and
the settings on one figure (``settings_paper.png`` from the full presets,
``settings_quick.png`` from the quick ones). A result that cannot be read is skipped with a
line naming it and the reason, the others are drawn, and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from linear_grok import __version__
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.figures import draw_result
from linear_grok.figures.linear import draw_theory_vs_simulation, sweep_name
from linear_grok.figures.overview import draw_settings
from linear_grok.results import check_output_dir, print_written

# What an unreadable result raises: missing/truncated/corrupt files, bad JSON, missing arrays.
UNREADABLE = (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile,
              json.JSONDecodeError)


def experiment_of(path: Path) -> str:
    """The experiment named by a result's sidecar (``ValueError`` when it names none)."""
    meta = json.loads(path.with_suffix(".json").read_text())
    if not isinstance(meta, dict) or not isinstance(meta.get("experiment"), str):
        raise ValueError("its sidecar names no experiment")
    return meta["experiment"]


def draw_all(results: Path, figdir: Path) -> tuple[list[Path], list[str]]:
    """Every figure of every result in ``results``: ``(written figures, skipped lines)``."""
    drawn, skipped = [], []

    def attempt(name, job):
        try:  # one unreadable result does not stop the others' figures
            drawn.extend(job())
        except UNREADABLE as err:
            skipped.append(f"skipped {name}: {type(err).__name__}: {err}")

    for npz in sorted(results.glob("*.npz")):
        path = npz.with_suffix("")
        attempt(npz, lambda path=path: draw_result(path, figdir, experiment_of(path)))
    found = {sweep_name(npz): npz.with_suffix("") for npz in results.glob("lambda_sweep_*.npz")}
    for (preset, mode, tag), exact in sorted(found.items()):
        if mode == "exact" and (preset, "simulate", tag) in found:
            attempt(f"{exact} with its simulation", lambda exact=exact, key=(preset, "simulate", tag):
                    draw_theory_vs_simulation(exact, found[key], figdir))
    attempt("the settings figure", lambda: draw_settings(results, figdir))
    return drawn, skipped


def main_(argv=None) -> int:
    p = ArgumentParser(prog="python -m experiments.figures", description=__doc__, allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--figures", type=Path, default=Path("figures"), help="figures folder")
    args = p.parse_args(argv)
    if not args.results.is_dir():
        return user_error(f"--results {args.results}: no such folder")
    try:
        check_output_dir(args.figures, "--figures")
    except ValueError as err:
        return user_error(err)
    drawn, skipped = draw_all(args.results, args.figures)
    print_written(drawn)
    for line in skipped:
        print(line, file=sys.stderr)
    if skipped:
        return 1
    if not drawn:
        print(f"no results found in {args.results}; run an experiment first", file=sys.stderr)
        return 1
    return 0


main = command(main_)

if __name__ == "__main__":
    sys.exit(main())

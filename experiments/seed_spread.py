"""Per-run bootstrap intervals against the spread across seeds, on the package's own settings.

    python -m experiments.seed_spread                   # quick: parity 4 input sizes, λ quick (~3 min)
    python -m experiments.seed_spread --preset paper    # parity paper preset, seeds 0–2 (~20 min)

A run's bootstrap interval (docs/theory.md §17) describes the noise of *that run's* curves: what
another evaluation of the same training run would give. Seeds redraw the data and the
initialisation, a larger source of variation. For each grid point (an input size of the
concealed-parity MLP, a λ of the simulated linear model) this prints the standard deviation of
each measure across seeds, the standard deviation the per-run intervals imply (their median
half-width over the normal quantile), and their ratio: about 1 where the run's evaluation noise
is what varies between seeds, above 1 where the seeds differ in more than that. The table goes to
``results/seed_spread_<preset>.csv`` (replaced only with ``--overwrite``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from scipy import special

from linear_grok import __version__
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.pipeline import SEED_MEASURES, MeasureOptions, measure_runs, write_csv
from linear_grok.results import check_new_table
from linear_grok.settings import parity
from linear_grok.settings.linear import sweep

PRESETS = {
    "quick": (dataclasses.replace(parity.PAPER, input_sizes=(25, 30, 35, 40), epochs=1500),
              sweep.preset("quick", mode="simulate")),
    "paper": (parity.PAPER, sweep.preset("quick", mode="simulate")),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m experiments.seed_spread", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates per run (default 200)")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder of the CSV table")
    p.add_argument("--overwrite", action="store_true", help="replace an existing table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def spread_rows(arrays: dict[str, np.ndarray], group: np.ndarray, level: float) -> list[list]:
    """Per group (grid point) and measure: the seeds' standard deviation over ok runs, the
    median standard deviation implied by the runs' intervals (half-width / z), their ratio, and
    the number of ok seeds. ``arrays`` is :func:`measure_runs`' flat (R,) output with intervals."""
    z = special.ndtri(0.5 + level / 2)
    rows = []
    for value in np.unique(group):
        runs = (group == value) & arrays["ok"]
        for name in SEED_MEASURES:
            x = arrays[name][runs]
            implied = np.nanmedian((arrays[f"{name}_hi"][runs] - arrays[f"{name}_lo"][runs]) / (2 * z)) \
                if runs.any() else np.nan
            sd = np.std(x, ddof=1) if x.size >= 2 else np.nan
            rows.append([float(value), name, int(runs.sum()), sd, implied, sd / implied])
    return rows


def print_rows(title: str, label: str, rows: list[list]) -> None:
    print(f"\n{title}\n{label:>10} {'measure':>20} {'seeds':>5} {'sd over seeds':>14} "
          f"{'sd from intervals':>18} {'ratio':>7}")
    for value, name, n, sd, implied, ratio in rows:
        print(f"{value:10.4g} {name:>20} {n:5d} {sd:14.4g} {implied:18.4g} {ratio:7.2f}")
    ratios = np.array([r[5] for r in rows], dtype=float)
    for name in SEED_MEASURES:
        sel = np.array([r[1] == name for r in rows]) & np.isfinite(ratios)
        if sel.any():
            print(f"{name}: median ratio {np.median(ratios[sel]):.2f} "
                  f"(range {ratios[sel].min():.2f}–{ratios[sel].max():.2f}) over {sel.sum()} points")


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    path = args.out / f"seed_spread_{args.preset}.csv"
    try:
        options = MeasureOptions(ci=0.95, n_boot=args.n_boot)
        check_new_table(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    parity_cfg, lambda_cfg = PRESETS[args.preset]
    start = time.perf_counter()
    metrics = parity.train_sweep(parity_cfg, progress=not args.no_progress)
    arrays = measure_runs(parity.accuracy_curves(metrics), options)
    table = [["parity", *row] for row in spread_rows(arrays, metrics["input_size"], options.ci)]
    print_rows(f"concealed parity, {len(parity_cfg.seeds)} seeds (per-run intervals: {options.n_boot} "
               f"wild-bootstrap replicates)", "input size", [r[1:] for r in table])
    lam = sweep.run_lambda_sweep(lambda_cfg, progress=not args.no_progress, options=options)
    flat = {k: np.asarray(v).reshape(-1) for k, v in lam.items()
            if np.shape(v) == lam["ok"].shape}
    lam_rows = spread_rows(flat, np.broadcast_to(lambda_cfg.lam[:, None], lam["ok"].shape).ravel(),
                           options.ci)
    print_rows(f"simulated linear model, {len(lambda_cfg.seeds)} seeds", "lambda", lam_rows)
    table += [["linear", *row] for row in lam_rows]
    print(f"\n{time.perf_counter() - start:.0f} s")
    write_csv(path, ["setting", "grid_value", "measure", "ok_seeds", "sd_over_seeds",
                     "sd_from_intervals", "ratio"], table)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

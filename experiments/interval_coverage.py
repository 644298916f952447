"""Coverage of the bootstrap intervals on bounded, binomial, correlated accuracy curves.

    python -m experiments.interval_coverage                  # quick: 7 noise models, logistic (~30 s)
    python -m experiments.interval_coverage --preset full    # every row of docs/theory.md §17

For each case (:mod:`linear_grok.coverage`: S-curve family × noise model × c, d fixed or free ×
bootstrap) it measures ``--n-curves`` noisy train/test pairs, adds 95 % intervals and prints the
fraction that hold the true jump times, relative gap and sharpness, and the fraction that hold
their own estimate. The table is written as CSV to ``results/interval_coverage_<preset>.csv``
(replaced only with ``--overwrite``). ``--jobs N`` measures N cases at a time in separate
processes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import sys
import time
from pathlib import Path

from linear_grok import __version__
from linear_grok.cli import ArgumentParser, command, setup_process, stop_point, user_error
from linear_grok.coverage import NOISE_MODELS, CoverageCase, all_cases, measure_coverage
from linear_grok.grokking import MEASURES
from linear_grok.pipeline import write_csv
from linear_grok.results import check_new_table
from linear_grok.validation import require

PRESETS = {
    "quick": dict(cases=tuple(CoverageCase("logistic", n) for n in NOISE_MODELS), n_curves=60,
                  n_boot=100),
    "full": dict(cases=tuple(all_cases()), n_curves=200, n_boot=200),
}
SHORT = {"jump_train": "b_train", "jump_test": "b_test", "relative_gap": "gap",
         "relative_sharpness": "R_rel", "absolute_sharpness": "R_abs"}


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m experiments.interval_coverage", description=__doc__)
    p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick")
    p.add_argument("--n-curves", type=int, help="noisy pairs per case (preset: 60 quick, 200 full)")
    p.add_argument("--n-boot", type=int, help="bootstrap replicates (preset: 100 quick, 200 full)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and of the bootstrap")
    p.add_argument("--jobs", type=int, default=1, help="cases measured at a time (processes)")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder of the CSV table")
    p.add_argument("--overwrite", action="store_true", help="replace an existing table")
    return p.parse_args(argv)


def format_row(case: CoverageCase, row: dict) -> str:
    """One markdown row: the case, then coverage (own-estimate containment) per measure."""
    cells = [f"{row['coverage'][k]:.0%}" for k in MEASURES]
    inside = min(row["contains_estimate"].values())
    return f"| {case.name} | {row['n']} | " + " | ".join(cells) + f" | {inside:.0%} |"


def _measure(args):
    case, n_curves, n_boot, seed = args
    setup_process()  # a worker process: set up as the command's own
    return measure_coverage(case, n_curves=n_curves, n_boot=n_boot, seed=seed)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    n_curves = args.n_curves or preset["n_curves"]
    n_boot = args.n_boot or preset["n_boot"]
    path = args.out / f"interval_coverage_{args.preset}.csv"
    try:
        require("n_curves", n_curves, lambda a: (a >= 10) & (a <= 100_000), "in [10, 100000]")
        require("n_boot", n_boot, lambda a: (a >= 20) & (a <= 100_000), "in [20, 100000]")
        require("seed", args.seed, lambda a: (a >= 0) & (a < 2**63), "in [0, 2**63)")
        require("jobs", args.jobs, lambda a: (a >= 1) & (a <= 256), "in [1, 256]")
        check_new_table(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    cases = preset["cases"]
    print(f"coverage of 95 % intervals: {len(cases)} cases × {n_curves} noisy pairs, "
          f"{n_boot} replicates each (seed {args.seed})")
    head = "| case | pairs | " + " | ".join(SHORT[k] for k in MEASURES) + " | holds its estimate |"
    print(head + "\n|" + "---|" * (len(MEASURES) + 3))
    start = time.perf_counter()
    work = [(case, n_curves, n_boot, args.seed) for case in cases]
    rows = []
    if args.jobs == 1:
        results = map(_measure, work)
    else:
        pool = concurrent.futures.ProcessPoolExecutor(
            args.jobs, mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_measure, work)
    for case, row in zip(cases, results, strict=True):
        print(format_row(case, row), flush=True)
        rows.append([case.family, case.noise, case.fixed_cd, case.method, row["n"],
                     *(row["coverage"][k] for k in MEASURES),
                     *(row["contains_estimate"][k] for k in MEASURES),
                     *(row["width"][k] for k in MEASURES), *(row["bias"][k] for k in MEASURES)])
        stop_point()
    print(f"{time.perf_counter() - start:.0f} s")
    header = ["family", "noise", "fixed_cd", "method", "n",
              *(f"coverage_{k}" for k in MEASURES), *(f"holds_estimate_{k}" for k in MEASURES),
              *(f"width_{k}" for k in MEASURES), *(f"bias_{k}" for k in MEASURES)]
    write_csv(path, header, rows)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The paper-preset λ sweep against the paper notebook's procedure, side by side in one run.

    python -m benchmarks.sweep_benchmark [--n-lam 120] [--n-time 50000] [--no-process]

1. **Notebook procedure**, re-implemented here in plain NumPy/SciPy as the authors' notebook does
   it (docs/theory.md §13): for each of the 120 λ in [1.003, 1.1], the long-time closed forms
   (12)–(13) without the plateau on 50 000 times, the accuracies (16), and one
   ``scipy.optimize.curve_fit`` of ``½ erf(a(t − b)) + ½`` per curve from ``p0 = [1/t_max,
   t_max/5]`` (240 fits), then the gap and both sharpness measures.
2. **Our sweeps**, end to end with their fits and fit-free measures
   (:func:`linear_grok.settings.linear.sweep.run_lambda_sweep`): ``--mode paper`` (same curves)
   and ``--mode exact`` (exact Marchenko–Pastur theory on the mirrored grid). The first call of
   each compiles (or loads compiled programs from the persistent cache) and is reported apart
   from the second.
3. **Whole processes** (unless ``--no-process``): ``python -m experiments.lambda_sweep --preset
   paper --mode M --no-figures`` in a fresh interpreter, import and everything included, once
   with an empty compilation cache (cold) and once with the cache it left (warm); wall time and
   peak resident memory of each.

Prints every time (the best of ``--repeat`` calls, whole processes once each) and its ratio to
the notebook procedure (larger is faster), and checks that the paper mode's measures agree with
the notebook's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from scipy import special
from scipy.optimize import curve_fit

from linear_grok.cli import setup_process
from linear_grok.settings.linear import sweep


def notebook_sweep(lams: np.ndarray, n_time: int, eps: float = 1e-10, eta: float = 0.01,
                   horizon: float = 5000.0) -> dict[str, np.ndarray]:
    """The notebook's procedure, plain NumPy/SciPy: curves, 240 ``curve_fit`` calls, measures."""

    def erf_model(t, a, b):
        return 0.5 * special.erf(a * (t - b)) + 0.5

    out = {k: np.full(lams.size, np.nan) for k in ("gap", "relative", "absolute")}
    for i, lam in enumerate(lams):
        t_max = horizon / (lam - 1.0) ** 2
        t = np.linspace(1.0, t_max, n_time)
        tau = eta * t
        x = 4.0 * tau * (1.0 - np.sqrt(lam)) ** 2
        loss_train = np.exp(-x) / (16.0 * np.sqrt(np.pi) * lam**0.75 * tau**1.5)
        loss_test = ((np.exp(-x) - np.sqrt(np.pi * x) * special.erfc(np.sqrt(x)))
                     / (2.0 * np.sqrt(np.pi) * lam**0.75 * np.sqrt(tau)))
        fits = []
        for loss in (loss_train, loss_test):
            acc = special.erf(np.sqrt(eps / (2.0 * loss)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits.append(curve_fit(erf_model, t, acc, p0=[1.0 / t_max, t_max / 5.0],
                                      maxfev=10_000)[0])
        (a_tr, b_tr), (a_te, b_te) = fits
        out["gap"][i] = b_te / b_tr - 1.0
        out["relative"][i] = a_te / a_tr
        out["absolute"][i] = a_te / np.sqrt(np.pi)
    return out


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls (a shared machine only ever adds time), and the value."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def whole_process(mode: str, cache: str, n_lam: int, n_time: int) -> tuple[float, float]:
    """Wall seconds and peak resident GiB of one ``experiments.lambda_sweep`` process."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "experiments.lambda_sweep", "--preset", "paper", "--mode",
               mode, "--n-lam", str(n_lam), "--n-time", str(n_time), "--no-figures",
               "--no-progress", "--out", out]
        env = {**os.environ, "LINEAR_GROK_CACHE_DIR": cache}
        start = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 2**20  # KiB on Linux


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-lam", type=int, default=120)
    p.add_argument("--n-time", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3, help="timed calls of each; the best is kept")
    p.add_argument("--no-process", action="store_true", help="skip the whole-process runs")
    args = p.parse_args(argv)
    cfg = {mode: sweep.preset("paper", mode=mode, n_lam=args.n_lam, n_time=args.n_time)
           for mode in ("paper", "exact")}
    lams = cfg["paper"].lam
    print(f"paper preset: {args.n_lam} λ in [{lams[0]:g}, {lams[-1]:g}], {args.n_time} times per "
          f"curve, {2 * args.n_lam} fits; {os.cpu_count()} CPU cores")

    processes = []
    if not args.no_process:  # first, while this process is small (a child starts as its copy)
        for mode in ("paper", "exact"):
            with tempfile.TemporaryDirectory() as cache:
                for state in ("cold cache", "warm cache"):
                    processes.append((f"--mode {mode}, {state}",
                                      *whole_process(mode, cache, args.n_lam, args.n_time)))

    t_nb, ref = timed(lambda: notebook_sweep(lams, args.n_time), args.repeat)
    rows = [("notebook procedure (NumPy + curve_fit loop)", t_nb)]
    ours = {}
    for mode in ("paper", "exact"):
        run = lambda mode=mode: sweep.run_lambda_sweep(cfg[mode], progress=False)  # noqa: E731
        t_first, _ = timed(run)
        t_warm, ours[mode] = timed(run, args.repeat)
        rows += [(f"--mode {mode}, first call (compile or cache load)", t_first),
                 (f"--mode {mode}, compiled", t_warm)]

    print(f"\n{'in one process':<52} {'seconds':>8} {'vs notebook':>12}")
    for name, seconds in rows:
        print(f"{name:<52} {seconds:>8.2f} {t_nb / seconds:>11.1f}x")

    paper = ours["paper"]
    for name, key in (("gap", "relative_gap"), ("relative", "relative_sharpness"),
                      ("absolute", "absolute_sharpness")):
        diff = np.nanmax(np.abs(paper[key][:, 0] / ref[name] - 1.0))
        print(f"paper mode vs notebook, {name:<9}: max relative difference {diff:.1e}")

    if processes:
        print(f"\n{'whole process (python -m experiments.lambda_sweep)':<52} {'seconds':>8} "
              f"{'vs notebook':>12} {'peak GiB':>9}")
        for name, seconds, gib in processes:
            print(f"{name:<52} {seconds:>8.2f} {t_nb / seconds:>11.1f}x {gib:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

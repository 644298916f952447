"""Batched erf fitting against a plain ``scipy.optimize.curve_fit`` loop, side by side.

    python -m benchmarks.fit_benchmark [--curves 240] [--points 50000]

The same noisy curves ``½ erf(a(t − b)) + ½`` (the λ sweep's shape and size) are fitted by a loop
of ``curve_fit`` (started, as the paper's notebook, at ``[1/t_max, t_max/5]``) and by
``linear_grok.fitting.fit_erf`` in one call. Prints wall times, their ratio, and the largest
relative difference of the fitted parameters. The first call of ``fit_erf`` for a batch shape
compiles; that call is timed separately and excluded from the ratio. Both sides are timed
``--repeat`` times and the best kept (a shared machine only ever adds time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import special
from scipy.optimize import curve_fit

from linear_grok.cli import setup_process
from linear_grok.fitting import fit_erf


def model(t, a, b):
    """The λ sweep's curve shape ``½ erf(a(t − b)) + ½`` (c, d fixed), as the paper's notebook
    writes it for ``curve_fit``."""
    return 0.5 * special.erf(a * (t - b)) + 0.5


def main(argv=None) -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--curves", type=int, default=240)
    p.add_argument("--points", type=int, default=50_000)
    p.add_argument("--noise", type=float, default=0.005)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    t_max = 1e5
    t = np.linspace(1.0, t_max, args.points)
    a = rng.uniform(5e-5, 1e-3, args.curves)
    b = rng.uniform(0.15, 0.7, args.curves) * t_max
    y = model(t, a[:, None], b[:, None]) + args.noise * rng.standard_normal((args.curves, t.size))

    def best(fn):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - start)
        return min(times), value

    t_scipy, ref = best(lambda: np.array([
        curve_fit(model, t, yi, p0=[1 / t_max, t_max / 5], maxfev=10_000)[0] for yi in y]))
    start = time.perf_counter()
    fit_erf(t, y, c=0.5, d=0.5)
    t_compile = time.perf_counter() - start
    t_ours, fit = best(lambda: fit_erf(t, y, c=0.5, d=0.5))

    diff_a = np.max(np.abs(fit.a / ref[:, 0] - 1))
    diff_b = np.max(np.abs(fit.b / ref[:, 1] - 1))
    print(f"{args.curves} curves x {args.points} points, noise {args.noise}")
    print(f"scipy curve_fit loop : {t_scipy:8.2f} s  ({t_scipy / args.curves * 1e3:.1f} ms/curve)")
    print(f"linear_grok fit_erf  : {t_ours:8.2f} s  ({t_ours / args.curves * 1e3:.1f} ms/curve; "
          f"first call, compiling: {t_compile:.2f} s)")
    print(f"speed-up             : {t_scipy / t_ours:8.2f} x")
    print(f"fits ok              : {int(np.sum(fit.ok))}/{args.curves}")
    print(f"max relative parameter difference: a {diff_a:.2e}, b {diff_b:.2e}")
    print(f"max error against the true parameters: a {np.max(np.abs(fit.a / a - 1)):.2e}, "
          f"b {np.max(np.abs(fit.b / b - 1)):.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Worst relative error of each theory formula against an independent reference.

    python -m experiments.theory_accuracy

References: closed-form MP moments; scipy ``quad`` over the MP density written out independently;
mpmath's Bessel function at 40 digits; scipy's ``ive``/``brentq`` for jump times; the
``4∫L_tr`` identity by scipy quadrature; sampled χ² variables for the accuracy map.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
from scipy import integrate, optimize, special

from linear_grok.cli import setup_process
from linear_grok.settings.linear import theory as th


def mp_quad(g, lam):
    lo, hi = (1 - math.sqrt(lam)) ** 2, (1 + math.sqrt(lam)) ** 2
    dens = lambda nu: math.sqrt(max((hi - nu) * (nu - lo), 0.0)) / (2 * math.pi * lam * nu)  # noqa: E731
    return integrate.quad(lambda nu: g(nu) * dens(nu), lo, hi, limit=400, epsabs=0,
                          epsrel=1e-12)[0] + (max(0.0, 1 - 1 / lam) * g(0.0) if lam > 1 else 0.0)


def rel(a, b) -> float:
    return abs(float(a) / float(b) - 1.0)


def main() -> int:
    setup_process()  # float64, the compilation cache, Agg: as every command
    rows = []
    lams = [0.1, 0.5, 0.9, 0.997, 1.003, 1.5, 4.0]
    moments = [(lambda n: n * 0 + 1, lambda x: 1.0), (lambda n: n, lambda x: 1.0),
               (lambda n: n**2, lambda x: 1 + x), (lambda n: n**3, lambda x: 1 + 3 * x + x**2)]
    worst = max(rel(th.mp_expectation(f, lam), ref(lam)) for lam in lams for f, ref in moments)
    worst_inv = max(max(rel(th.mp_expectation(lambda n: 1 / n, lam), 1 / (1 - lam)),
                        rel(th.mp_expectation(lambda n: n**-2, lam), (1 - lam) ** -3))
                    for lam in lams if lam < 1)
    rows += [("MP mass and moments E[1], E[ν], E[ν²], E[ν³] (7)-(8)", "closed forms", worst),
             ("MP inverse moments E[1/ν], E[1/ν²], λ<1", "closed forms", worst_inv)]

    worst = 0.0
    for lam in [0.3, 0.9, 1.5]:
        for tau in [1e-3, 0.1, 1.0, 10.0, 100.0]:
            ref_tr = mp_quad(lambda nu, tau=tau: nu * math.exp(-4 * tau * nu), lam)
            worst = max(worst, rel(th.train_loss(tau / 0.01, lam), ref_tr))
    rows.append(("train loss, Bessel form (10), τ ≤ 100", "scipy quad of MP density", worst))

    mpmath.mp.dps = 40
    worst = 0.0
    for lam in [0.5, 0.997, 1.5]:
        for tau in [1e2, 1e4, 1e6]:
            z = 8 * tau * mpmath.sqrt(lam)
            ref = (mpmath.log(mpmath.besseli(1, z)) - 4 * tau * (1 + lam)
                   - mpmath.log(4 * tau * mpmath.sqrt(lam)))
            worst = max(worst, rel(th.log_train_loss(tau / 0.01, lam), ref))
    rows.append(("log train loss (10), τ up to 1e6 (1e8 steps)", "mpmath besseli, 40 digits", worst))

    worst = 0.0
    for lam in [0.5, 0.9, 1.5]:
        for d_out in [1, 3]:
            for t in [0.0, 100.0, 1000.0]:
                tail = integrate.quad(lambda s, d=d_out, x=lam: float(th.train_loss(s, x, d_out=d)),
                                      t, np.inf, limit=400, epsrel=1e-11, epsabs=0)[0]
                ref = max(0.0, 1 - 1 / lam) / d_out + 4 * 0.01 / d_out * tail
                worst = max(worst, rel(th.test_loss(t, lam, d_out=d_out), ref))
    rows.append(("test loss = plateau + (4η/d_out)∫L_tr (11)", "scipy quad of the train loss", worst))

    worst = 0.0
    for lam in [0.5, 1.5]:
        for n in [0, 10, 500]:
            g = lambda nu, n=n: (1 - 2 * 0.05 * nu / 2) ** (2 * n)  # noqa: E731
            worst = max(worst, rel(th.test_loss(n, lam, eta=0.05, d_out=2, discrete=True),
                                   mp_quad(g, lam) / 2))
    rows.append(("discrete-GD MP average (5), d_out = 2", "scipy quad", worst))

    ratios = []
    for lam in [0.1, 0.5, 0.9, 1.5]:
        for tau in [30.0, 300.0, 3000.0]:
            err = math.expm1(float(th.log_train_loss_long_time(tau / 0.01, lam)
                                   - th.log_train_loss(tau / 0.01, lam)))
            ratios.append(abs(err / (3 / (64 * math.sqrt(lam) * tau)) - 1))
    rows.append(("long-time (12): error / (3/(64√λτ)) − 1, τ ≥ 30", "exact (10)", max(ratios)))

    worst = 0.0
    for lam in [0.1, 0.5, 0.9, 0.99, 1.01, 1.5, 2.0]:
        for tau in [15.0, 150.0, 1500.0]:
            t = tau / 0.01
            exact = float(th._log_mp_continuous(lambda nu, t=t: -4 * 0.01 * t * nu,
                                                np.asarray(lam)))
            approx = float(th.log_test_loss_long_time(t, lam, plateau=False))
            worst = max(worst, abs(math.expm1(approx - exact)))
    rows.append(("long-time (13), decaying part, τ ≥ 15", "exact MP quadrature", worst))

    rng = np.random.default_rng(0)
    worst = 0.0
    for d_out in [1, 5]:
        for loss in [1e-4, 1e-3, 1e-2]:
            z = rng.standard_normal((400_000, d_out)) * math.sqrt(loss)
            emp = np.mean(np.mean(z**2, axis=1) < 1e-3)
            worst = max(worst, abs(float(th.accuracy(loss, 1e-3, d_out)) - emp))
    rows.append(("accuracy (16)-(17), absolute", "400 000 sampled χ² (SE ≤ 8e-4)", worst))

    worst = 0.0
    level = float(special.erf(math.sqrt(2)))
    for lam in [0.5, 0.9, 0.99]:
        for eps in [1e-3, 1e-10]:
            def log_l(tau, lam=lam):
                z = 8 * tau * math.sqrt(lam)
                return (math.log(special.ive(1, z)) + z - 4 * tau * (1 + lam)
                        - math.log(4 * tau * math.sqrt(lam)))
            tau_tr = optimize.brentq(lambda s, e=eps: log_l(s) - math.log(e / 4), 1e-3, 1e6,
                                     xtol=1e-12)
            worst = max(worst, rel(th.jump_time(level, lam, eps, which="train") * 0.01, tau_tr))
    rows.append(("train jump time (21), L = ε/4", "scipy ive + brentq", worst))

    print(f"{'formula (docs/theory.md eq.)':<52} {'reference':<34} {'worst error':>11}")
    for name, ref, err in rows:
        print(f"{name:<52} {ref:<34} {err:>11.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

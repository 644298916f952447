"""Reference values of tests/test_theory.py::INDEPENDENT_GRID_LOSSES, without the package.

The paper preset's grids, mirrored: for λ in (1.003, 1.05, 1.1) the curves are those of
λ' = (2 − √λ)² < 1 on t = 1 + linspace(0, 1, 50 000)·(5000/(λ − 1)² − 1), η = 0.01, d_out = 1,
‖D_0‖² = 1, so τ = η t and (docs/theory.md (7), (9), (10))

    L_gen(τ) = E_MP(λ')[e^{−4τν}]   (no atom: λ' < 1),   L_tr(τ) = E_MP(λ')[ν e^{−4τν}].

Two routes for each value, each written here from the formulas alone:
  * SciPy: L_gen by scipy.integrate.quad on the angular form ν = λ₋ + 4√λ' sin²(θ/2)
    (e^{−4τλ₋} taken out, breakpoints on the peak's width), L_tr by the Bessel form with
    scipy.special.ive, −4τλ₋ computed from λ₋ = ((1 − λ')/(1 + √λ'))² (no cancellation).
  * mpmath at 40 digits: L_gen by tanh-sinh quadrature of the MP density in ν itself,
    L_tr by mpmath.besseli.
The SciPy values are the table's; the script prints both routes' largest relative disagreement
and, with the test file beside it, the largest relative difference from the test's constants.

Run: python tests/reference/theory_grid_losses.py   (a few seconds)
"""

import ast
import math
from pathlib import Path

import mpmath
import numpy as np
from scipy import integrate, special

LAMS = (1.003, 1.05, 1.1)
INDICES = (0, 1, 31, 32, 33, 1000, 25000, 49999)
N_TIME, ETA = 50_000, 0.01
TEST_FILE = Path(__file__).resolve().parents[1] / "test_theory.py"


def grid_time(lam: float, i: int) -> float:
    # The same float operations as the test (and the preset): t_i = 1 + s_i (5000/(λ−1)² − 1).
    return float(1.0 + np.linspace(0.0, 1.0, N_TIME)[i] * (5000.0 / (lam - 1) ** 2 - 1))


def scipy_losses(lam_p: float, tau: float) -> tuple[float, float]:
    r = math.sqrt(lam_p)
    lam_lo = ((1 - lam_p) / (1 + r)) ** 2

    def g(theta):  # e^{−4τ(ν−λ₋)} sin²θ / ν, ν = λ₋ + 4√λ' sin²(θ/2)
        s2 = math.sin(theta / 2) ** 2
        return math.exp(-16 * tau * r * s2) * math.sin(theta) ** 2 / (lam_lo + 4 * r * s2)

    width = 1 / math.sqrt(4 * tau * r)  # the peak at θ = 0: e^{−4τ√λ' θ²}
    points = sorted({p for k in (1, 4, 16, 64) for p in (k * width, k * math.sqrt(lam_lo))
                     if p < math.pi})
    edges = [0.0, *points, math.pi]
    total = sum(integrate.quad(g, lo, hi, epsabs=0, epsrel=1e-13, limit=400)[0]
                for lo, hi in zip(edges[:-1], edges[1:], strict=True))
    gen = math.exp(-4 * tau * lam_lo + math.log(2 / math.pi * total))
    z = 8 * tau * r
    tr = math.exp(math.log(special.ive(1, z)) - 4 * tau * lam_lo - math.log(4 * tau * r))
    return gen, tr


def mpmath_losses(lam_p: float, tau: float) -> tuple[float, float]:
    mpmath.mp.dps = 40
    lam, tau = mpmath.mpf(lam_p), mpmath.mpf(tau)
    lo, hi = (1 - mpmath.sqrt(lam)) ** 2, (1 + mpmath.sqrt(lam)) ** 2

    def density(nu):  # docs/theory.md (7), continuous part
        return mpmath.sqrt((hi - nu) * (nu - lo)) / (2 * mpmath.pi * lam * nu)

    cuts = sorted({lo + k / (4 * tau) for k in (1, 4, 16, 64, 256)} | {lo * k for k in (2, 10, 100)})
    nodes = [lo, *[c for c in cuts if lo < c < hi], hi]
    # e^{−4τλ₋} taken out, as the integrand is ~e^{−4τ(ν−λ₋)} on [λ₋, λ₊].
    scaled = mpmath.quad(lambda nu: mpmath.exp(-4 * tau * (nu - lo)) * density(nu), nodes)
    gen = mpmath.exp(-4 * tau * lo) * scaled
    z = 8 * tau * mpmath.sqrt(lam)
    tr = mpmath.exp(-4 * tau * (1 + lam)) * mpmath.besseli(1, z) / (4 * tau * mpmath.sqrt(lam))
    return float(gen), float(tr)


def test_constants() -> dict | None:
    """The test's table, read from its source without importing it (nor the package)."""
    if not TEST_FILE.exists():
        return None
    for node in ast.parse(TEST_FILE.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "INDEPENDENT_GRID_LOSSES":
            return {(lam, i): (gen, tr) for lam, i, gen, tr in ast.literal_eval(node.value)}
    return None


def main() -> None:
    rows, worst_routes = [], 0.0
    for lam in LAMS:
        lam_p = (2 - math.sqrt(lam)) ** 2
        for i in INDICES:
            tau = ETA * grid_time(lam, i)
            gen, tr = scipy_losses(lam_p, tau)
            gen_mp, tr_mp = mpmath_losses(lam_p, tau)
            worst_routes = max(worst_routes, abs(gen / gen_mp - 1), abs(tr / tr_mp - 1))
            rows.append((lam, i, gen, tr))
    print("INDEPENDENT_GRID_LOSSES = [")
    for row in rows:
        print(f"    ({row[0]}, {row[1]}, {row[2]!r}, {row[3]!r}),")
    print("]")
    print(f"largest relative difference, SciPy vs mpmath: {worst_routes:.2e}")
    table = test_constants()
    if table is not None:
        worst = max(max(abs(gen / table[lam, i][0] - 1), abs(tr / table[lam, i][1] - 1))
                    for lam, i, gen, tr in rows)
        missing = sorted(set(table) - {(r[0], r[1]) for r in rows})
        print(f"largest relative difference from tests/test_theory.py: {worst:.2e} "
              f"(the test asserts 1e-10){'; rows not computed: ' + str(missing) if missing else ''}")


if __name__ == "__main__":
    main()

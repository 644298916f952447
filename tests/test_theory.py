"""Theory against independent references: closed-form moments, scipy quadrature of the MP
density, Monte-Carlo Wishart spectra, mpmath Bessel functions, sampled χ² variables, the
Lambert-W grokking times of docs/theory.md (20) and the known limits."""

import math

import mpmath
import numpy as np
import pytest
from scipy import integrate, optimize, special

from linear_grok.settings.linear import theory as th

LAMS_BELOW = [0.1, 0.5, 0.9, 0.997]
LAMS_ALL = [0.1, 0.5, 0.9, 0.997, 1.0, 1.003, 1.5, 4.0]


def scipy_mp_expect(g, lam, atom_value=None):
    """E_MP[g(ν)] with scipy.quad on the density of docs/theory.md (7) written out independently."""
    lo, hi = (1 - math.sqrt(lam)) ** 2, (1 + math.sqrt(lam)) ** 2

    def density(nu):
        return math.sqrt(max((hi - nu) * (nu - lo), 0.0)) / (2 * math.pi * lam * nu)

    val, _ = integrate.quad(lambda nu: g(nu) * density(nu), lo, hi, limit=400,
                            epsabs=0, epsrel=1e-12)
    if lam > 1:
        val += (1 - 1 / lam) * (g(0.0) if atom_value is None else atom_value)
    return val


@pytest.mark.parametrize("lam", LAMS_ALL)
def test_mp_mass_and_moments_match_closed_forms(lam):
    mass = th.mp_expectation(lambda nu: nu * 0 + 1, lam)
    m1 = th.mp_expectation(lambda nu: nu, lam)
    m2 = th.mp_expectation(lambda nu: nu**2, lam)
    m3 = th.mp_expectation(lambda nu: nu**3, lam)
    np.testing.assert_allclose([mass, m1, m2, m3], [1, 1, 1 + lam, 1 + 3 * lam + lam**2],
                               rtol=1e-12)


@pytest.mark.parametrize("lam", LAMS_BELOW)
def test_mp_inverse_moments(lam):
    inv1 = th.mp_expectation(lambda nu: 1 / nu, lam)
    inv2 = th.mp_expectation(lambda nu: 1 / nu**2, lam)
    np.testing.assert_allclose([inv1, inv2], [1 / (1 - lam), 1 / (1 - lam) ** 3], rtol=1e-10)


@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_mp_density_integrates_to_continuous_mass(lam):
    lo, hi = (1 - math.sqrt(lam)) ** 2, (1 + math.sqrt(lam)) ** 2
    mass, _ = integrate.quad(lambda nu: float(th.mp_density(nu, lam)), lo, hi, limit=200)
    assert mass == pytest.approx(min(1.0, 1.0 / lam), rel=1e-8)
    assert float(th.mp_density(hi * 1.01, lam)) == 0.0
    assert float(th.mp_atom(lam)) == pytest.approx(max(0.0, 1 - 1 / lam))


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_mp_expectation_against_wishart_monte_carlo(lam):
    rng = np.random.default_rng(0)
    d_in = 400
    n_tr = round(d_in / lam)
    eig = np.concatenate([np.linalg.eigvalsh(x.T @ x / n_tr)
                          for x in rng.standard_normal((6, n_tr, d_in))])
    for f in (lambda nu: np.exp(-2 * nu), lambda nu: nu**2, lambda nu: np.sqrt(nu + 0.1)):
        mc = np.mean(f(np.clip(eig, 0, None)))
        assert float(th.mp_expectation(f, lam)) == pytest.approx(mc, rel=5e-3)


@pytest.mark.parametrize("lam", [0.3, 0.9, 1.5])
@pytest.mark.parametrize("tau", [1e-3, 0.1, 1.0, 10.0, 100.0])
def test_bessel_train_loss_against_scipy_quadrature(lam, tau):
    ref = scipy_mp_expect(lambda nu: nu * math.exp(-4 * tau * nu), lam)
    got = float(th.train_loss(tau / 0.01, lam, eta=0.01))
    assert got == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("lam", [0.5, 0.997, 1.5])
@pytest.mark.parametrize("tau", [1e2, 1e4, 1e6])
def test_log_train_loss_against_mpmath_at_extreme_times(lam, tau):
    mpmath.mp.dps = 40
    z = 8 * tau * mpmath.sqrt(lam)
    ref = mpmath.log(mpmath.besseli(1, z)) - 4 * tau * (1 + lam) - mpmath.log(4 * tau * mpmath.sqrt(lam))
    got = float(th.log_train_loss(tau / 0.01, lam, eta=0.01))
    assert got == pytest.approx(float(ref), rel=1e-12)
    # The MP quadrature (used for the test loss) reproduces the Bessel form at these times too.
    quad = float(th._log_mp_continuous(lambda nu: np.log(nu) - 4 * tau * nu, np.asarray(lam)))
    assert quad == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("lam", [0.5, 0.9, 1.5])
@pytest.mark.parametrize("d_out", [1, 3])
def test_test_loss_equals_plateau_plus_integrated_train_loss(lam, d_out):
    eta = 0.01
    plateau = max(0.0, 1 - 1 / lam) / d_out
    for t in [0.0, 100.0, 1000.0]:
        tail, _ = integrate.quad(lambda s: float(th.train_loss(s, lam, eta=eta, d_out=d_out)),
                                 t, np.inf, limit=400, epsrel=1e-11, epsabs=0)
        expected = plateau + 4 * eta / d_out * tail
        got = float(th.test_loss(t, lam, eta=eta, d_out=d_out))
        assert got == pytest.approx(expected, rel=1e-8)


# L_gen and L_tr on the paper preset's grids (mirrored λ' = (2 − √λ)², t = linspace(1,
# 5000/(λ − 1)², 50 000), η = 0.01), from an independent NumPy/SciPy implementation: the
# continuous MP part by scipy.integrate.quad (rtol 1e-11) after ν = λ₋ + 4√λ sin²(θ/2), which removes
# the edges' square roots, and L_tr by scipy's ive. Rows: (λ, grid index, L_gen, L_tr).
# tests/reference/theory_grid_losses.py recomputes them (3e-13 relative; mpmath agrees to 1e-14).
INDEPENDENT_GRID_LOSSES = [
    (1.003, 0, 0.9615458816639532, 0.9239635260085466),
    (1.003, 1, 0.02534142793472009, 3.0127083177255266e-05),
    (1.003, 31, 0.003463423795108142, 1.6948815405411378e-07),
    (1.003, 32, 0.0033899054608578444, 1.614445965762321e-07),
    (1.003, 33, 0.003319824695903297, 1.5400830749310286e-07),
    (1.003, 1000, 7.572572093627407e-05, 3.515440632968192e-10),
    (1.003, 25000, 4.6280326605377345e-17, 1.100017603383575e-22),
    (1.003, 49999, 2.4256471463188324e-28, 5.610196134094544e-34),
    (1.05, 0, 0.9615115731895346, 0.9256233204371687),
    (1.05, 1, 0.41299591677727737, 0.12053758689121279),
    (1.05, 31, 0.05990265704989452, 0.0008092558430017608),
    (1.05, 32, 0.05863884051122706, 0.0007709906440917337),
    (1.05, 33, 0.05743390390536951, 0.0007356049339483857),
    (1.05, 1000, 0.001354749121321614, 1.7244057741562085e-06),
    (1.05, 25000, 1.4421472630170639e-15, 9.316176079865261e-19),
    (1.05, 49999, 1.3355994842400738e-26, 8.390737498583642e-30),
    (1.1, 0, 0.9614767205901887, 0.927310461183341),
    (1.1, 1, 0.6950169034038279, 0.471531914866166),
    (1.1, 31, 0.12404809352749088, 0.006619840140294571),
    (1.1, 32, 0.12146285761772468, 0.006310161907019667),
    (1.1, 33, 0.11899679966967863, 0.006023545762092316),
    (1.1, 1000, 0.002915310122319951, 1.4645864358988836e-05),
    (1.1, 25000, 5.419548624174874e-15, 1.3693974538083345e-17),
    (1.1, 49999, 8.888293687361627e-26, 2.182817459690794e-28),
]


def test_whole_curves_against_independent_quadrature():
    """docs/theory.md (10)–(11) cumulated along the grids (the λ sweep's route) give the exact
    losses to 1e-10, at the grid's start, at the anchors' edge and deep in the tail."""
    lam_p = np.array(sorted({row[0] for row in INDEPENDENT_GRID_LOSSES}))
    t = 1.0 + np.linspace(0.0, 1.0, 50_000)[None, :] * (5000.0 / (lam_p[:, None] - 1) ** 2 - 1)
    log_tr, log_te = th.log_losses(t, (2 - np.sqrt(lam_p[:, None])) ** 2)
    for lam, i, gen, tr in INDEPENDENT_GRID_LOSSES:
        row = int(np.searchsorted(lam_p, lam))
        assert math.exp(log_te[row, i]) == pytest.approx(gen, rel=1e-10)
        assert math.exp(log_tr[row, i]) == pytest.approx(tr, rel=1e-10)


def test_whole_curves_match_pointwise_quadrature_across_the_paper_preset():
    """The cumulative route against the ~900-node MP quadrature at every point it is asked for:
    1e-10 relative wherever the loss exceeds 1e-300, on all 120 curves of the paper preset."""
    from linear_grok.settings.linear import sweep

    cfg = sweep.preset("paper", mode="exact")
    t, lam = cfg.times, cfg.lam
    log_tr, log_te = (np.asarray(a) for a in th.log_losses(t, lam[:, None]))
    cols = np.r_[0:40, 40:50_000:251, 49_990:50_000]
    for rows in np.array_split(np.arange(lam.size), 6):  # bounded memory for the reference
        ref_te = np.asarray(th.log_test_loss(t[np.ix_(rows, cols)], lam[rows, None]))
        ref_tr = np.asarray(th.log_train_loss(t[np.ix_(rows, cols)], lam[rows, None]))
        for got, ref in ((log_te[np.ix_(rows, cols)], ref_te), (log_tr[np.ix_(rows, cols)], ref_tr)):
            keep = ref > math.log(1e-300)
            assert np.max(np.abs(np.expm1(got[keep] - ref[keep]))) < 1e-10


@pytest.mark.parametrize("t", [
    np.geomspace(1.0, 1e9, 300),  # too coarse on the log axis: every curve falls back
    np.linspace(0.0, 3e5, 2000),  # starts at t = 0
    np.array([0.0, 5.0]),  # two points
])
def test_whole_curves_on_any_grid_equal_pointwise_values(t):
    lam = np.array([[0.5], [0.99], [2.0]])
    for kw in (dict(), dict(d_out=3, init_scale=0.5, eta=0.03)):
        grid = th.log_losses(t, lam, **kw)
        point = th._log_losses_pointwise(t, lam, form="exact", gamma=0.0,
                                         **{"eta": 0.01, "d_out": 1, "init_scale": 1.0, **kw})
        for got, ref in zip(grid, point, strict=True):
            got, ref = np.asarray(got), np.asarray(ref)
            keep = ref > math.log(1e-300)
            assert got.shape == (3, t.size)
            assert np.max(np.abs(np.expm1(got[keep] - ref[keep]))) < 1e-10


@pytest.mark.parametrize("lam", LAMS_ALL)
def test_limits_at_zero_and_infinite_time(lam):
    for d_out, scale in [(1, 1.0), (4, 0.5)]:
        kw = dict(d_out=d_out, init_scale=scale)
        start = (1 + scale**2) / 2 / d_out
        assert float(th.train_loss(0.0, lam, **kw)) == pytest.approx(start, rel=1e-12)
        assert float(th.test_loss(0.0, lam, **kw)) == pytest.approx(start, rel=1e-12)
        assert float(th.train_loss(1e15, lam, **kw)) < 1e-30 or lam == 1.0
        late = float(th.test_loss(1e15, lam, **kw))
        plateau = max(0.0, 1 - 1 / lam) * start
        assert late == pytest.approx(plateau, abs=1e-6 / d_out)


def test_d_out_rescales_clock_and_scale():
    """docs/theory.md (9'): L(t; d_out) = (1/d_out) ℒ^{(1)}(η t / d_out), checked against scipy."""
    lam, eta, d_out, t = 0.7, 0.01, 5, 300.0
    tau = eta * t / d_out
    ref_tr = scipy_mp_expect(lambda nu: nu * math.exp(-4 * tau * nu), lam) / d_out
    ref_te = scipy_mp_expect(lambda nu: math.exp(-4 * tau * nu), lam) / d_out
    assert float(th.train_loss(t, lam, eta=eta, d_out=d_out)) == pytest.approx(ref_tr, rel=1e-9)
    assert float(th.test_loss(t, lam, eta=eta, d_out=d_out)) == pytest.approx(ref_te, rel=1e-9)


@pytest.mark.parametrize("lam", [0.5, 1.5])
def test_discrete_gd_average_against_scipy(lam):
    eta, d_out = 0.05, 2
    for n in [0, 10, 500]:
        g = lambda nu, n=n: (1 - 2 * eta * nu / d_out) ** (2 * n)  # noqa: E731
        ref_te = scipy_mp_expect(g, lam) / d_out
        ref_tr = scipy_mp_expect(lambda nu, g=g: nu * g(nu), lam) / d_out
        kw = dict(eta=eta, d_out=d_out, discrete=True)
        assert float(th.test_loss(n, lam, **kw)) == pytest.approx(ref_te, rel=1e-9)
        assert float(th.train_loss(n, lam, **kw)) == pytest.approx(ref_tr, rel=1e-9)


def test_weight_decay_against_scipy_and_small_gamma_limits():
    lam, gamma, eta = 0.5, 1e-3, 0.01

    def mode(nu, tau):  # docs/theory.md (22), d_out = 1
        return 0.5 * (math.exp(-4 * tau * (nu + gamma / 2))
                      + ((nu * math.exp(-2 * tau * (nu + gamma / 2)) + gamma / 2)
                         / (nu + gamma / 2)) ** 2)

    for t in [100.0, 5000.0]:
        tau = eta * t
        ref = scipy_mp_expect(lambda nu, tau=tau: mode(nu, tau), lam)
        assert float(th.test_loss(t, lam, eta=eta, gamma=gamma)) == pytest.approx(ref, rel=1e-9)
    # docs/theory.md (23): the corrected γ²/8 limits (the Levi paper's γ²/4 is a factor 2 too large).
    t_inf = 1e9
    assert float(th.train_loss(t_inf, lam, gamma=gamma)) == pytest.approx(
        gamma**2 / (8 * (1 - lam)), rel=0.01)
    assert float(th.test_loss(t_inf, lam, gamma=gamma)) == pytest.approx(
        gamma**2 / (8 * (1 - lam) ** 3), rel=0.01)
    # docs/theory.md (24): weight decay halves the λ > 1 plateau.
    assert float(th.test_loss(1e12, 1.5, gamma=gamma)) == pytest.approx(
        (1 - 1 / 1.5) / 2, rel=2e-3)


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9, 1.5])
def test_long_time_train_error_follows_3_over_64_sqrt_lam_tau(lam):
    for tau in [30.0, 300.0, 3000.0]:
        t = tau / 0.01
        rel = math.expm1(float(th.log_train_loss_long_time(t, lam) - th.log_train_loss(t, lam)))
        assert rel == pytest.approx(3 / (64 * math.sqrt(lam) * tau), rel=0.1)


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9, 0.99, 1.01, 1.5, 2.0])
def test_long_time_test_decay_within_one_percent_beyond_tau_15(lam):
    for tau in [15.0, 150.0, 1500.0]:
        t = tau / 0.01
        log_approx = float(th.log_test_loss_long_time(t, lam, plateau=False))
        # Exact decaying part: the continuous MP part alone (the atom is the plateau).
        log_exact = float(th._log_mp_continuous(lambda nu, t=t: -4 * 0.01 * t * nu,
                                                np.asarray(lam)))
        assert math.expm1(log_approx - log_exact) == pytest.approx(0.0, abs=0.01)


def test_long_time_forms_finite_to_1e8_steps_and_tiny_eps():
    t = np.logspace(0, 8, 50)
    for lam in [0.5, 0.997, 1.003, 1.1]:
        for form in th.FORMS:
            log_tr, log_te = th.log_losses(t, lam, form=form)
            assert np.all(np.isfinite(np.asarray(log_tr))) and np.all(np.isfinite(np.asarray(log_te)))
            a_tr, a_te = th.accuracy_curves(t, lam, 1e-12, form=form)
            assert np.all(np.isfinite(np.asarray(a_tr))) and np.all(np.isfinite(np.asarray(a_te)))


@pytest.mark.parametrize("x", [1e-6, 0.3, 10.0, 999.0, 1001.0, 1e5, 1e9])
def test_long_time_bracket_against_mpmath(x):
    """log(1 − √(πx)·erfcx(√x)) of docs/theory.md (13), direct form and asymptotic series."""
    mpmath.mp.dps = 60
    xm = mpmath.mpf(x)
    ref = mpmath.log(1 - mpmath.sqrt(mpmath.pi * xm) * mpmath.exp(xm) * mpmath.erfc(mpmath.sqrt(xm)))
    got = float(th._log_one_minus_sqrt_pi_x_erfcx(np.asarray(x)))
    assert got == pytest.approx(float(ref), rel=1e-11, abs=1e-11)


def test_paper_form_drops_plateau_and_mirror_map():
    """docs/theory.md §13: the paper's λ>1 curves equal λ' = (2−√λ)² curves up to (λ/λ')^{3/4}."""
    lam = 1.05
    lam_m = (2 - math.sqrt(lam)) ** 2
    t = np.array([1e4, 1e5])
    diff = np.asarray(th.log_test_loss_long_time(t, lam, plateau=False)
                      - th.log_test_loss_long_time(t, lam_m, plateau=False))
    np.testing.assert_allclose(diff, -0.75 * math.log(lam / lam_m), rtol=1e-10)
    with_plateau = np.asarray(th.test_loss(t, lam))
    assert np.all(with_plateau > 1 - 1 / lam)


@pytest.mark.parametrize("d_out", [1, 5])
def test_accuracy_against_sampled_chi_square(d_out):
    rng = np.random.default_rng(1)
    eps = 1e-3
    for loss in [1e-4, 1e-3, 1e-2]:
        z = rng.standard_normal((200_000, d_out)) * math.sqrt(loss)
        empirical = np.mean(np.mean(z**2, axis=1) < eps)
        assert float(th.accuracy(loss, eps, d_out)) == pytest.approx(empirical, abs=4e-3)
        assert float(th.accuracy(loss, eps, d_out)) == pytest.approx(
            special.gammainc(d_out / 2, d_out * eps / (2 * loss)), rel=1e-12)


def test_accuracy_monotone_limits_and_effective_dof():
    loss = np.logspace(-15, 3, 400)
    for d_out in [1, 3, 20]:
        acc = np.asarray(th.accuracy(loss, 1e-6, d_out))
        assert np.all(np.diff(acc) <= 0)
        assert acc[0] == pytest.approx(1.0) and acc[-1] < 1e-4
    assert float(th.accuracy(0.0, 1e-10)) == 1.0
    m = np.diag([1.0, 1.0, 0.0])
    assert float(th.effective_dof(m)) == pytest.approx(2.0)
    rng = np.random.default_rng(2)
    d = rng.standard_normal((3, 3))
    m = d.T @ d
    assert float(th.effective_dof(m)) == pytest.approx(np.trace(m) ** 2 / np.trace(m @ m))


@pytest.mark.parametrize("lam", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("eps", [1e-3, 1e-10])
def test_jump_times_against_brentq_on_scipy_losses(lam, eps):
    """docs/theory.md (21) with scipy: ℒ_tr by ive, ℒ_gen by 4∫ℒ_tr; 95.45 % accuracy ⇔ L = ε/4."""
    eta = 0.01

    def log_l_tr(tau):
        z = 8 * tau * math.sqrt(lam)
        return math.log(special.ive(1, z)) + z - 4 * tau * (1 + lam) - math.log(4 * tau * math.sqrt(lam))

    tau_tr = optimize.brentq(lambda s: log_l_tr(s) - math.log(eps / 4), 1e-3, 1e6, xtol=1e-12)
    level = float(special.erf(math.sqrt(2)))
    t_tr = float(th.jump_time(level, lam, eps, which="train", eta=eta))
    assert t_tr * eta == pytest.approx(tau_tr, rel=1e-8)
    # Lambert-W form (20) for the train time: docs/theory.md §10 says within 0.2 %; 0.23 % seen here.
    s = 1 - math.sqrt(lam)
    z_tr = 2 ** (5 / 3) * s**2 / (3 * math.pi ** (1 / 3) * math.sqrt(lam) * eps ** (2 / 3))
    assert 3 * special.lambertw(z_tr).real / (8 * s**2) == pytest.approx(tau_tr, rel=3e-3)
    t_te = float(th.jump_time(level, lam, eps, which="test", eta=eta))
    tail = lambda tau: 4 * integrate.quad(lambda u: math.exp(log_l_tr(u)), tau, np.inf,  # noqa: E731
                                          limit=400, epsrel=1e-10, epsabs=0)[0]
    assert tail(t_te * eta) == pytest.approx(eps / 4, rel=1e-6)


def test_jump_time_never_and_vectorised():
    lam = np.array([0.5, 0.9, 1.5])
    t = np.asarray(th.jump_time(0.5, lam, 1e-3, which="test"))
    assert np.isinf(t[2]) and np.all(np.isfinite(t[:2])) and t[1] > t[0]


def test_accuracy_slope_matches_finite_difference():
    t, lam, eps = 2000.0, 0.9, 1e-3
    slope = float(th.accuracy_slope(t, lam, eps, which="test"))
    h = 1e-2
    a = lambda s: float(th.accuracy_curves(s, lam, eps)[1])  # noqa: E731
    assert slope == pytest.approx((a(t + h) - a(t - h)) / (2 * h), rel=1e-6)


@pytest.mark.parametrize("call, name", [
    (lambda: th.train_loss(1.0, 0.0), "lam"),
    (lambda: th.test_loss(1.0, -1.0), "lam"),
    (lambda: th.test_loss(-1.0, 0.5), "t"),
    (lambda: th.train_loss(1.0, 0.5, eta=0.0), "eta"),
    (lambda: th.train_loss(1.0, 0.5, d_out=0), "d_out"),
    (lambda: th.accuracy(0.1, 0.0), "eps"),
    (lambda: th.accuracy(0.1, -1e-3), "eps"),
    (lambda: th.test_loss(1.0, 0.5, eta=0.4, discrete=True), "eta"),
    (lambda: th.jump_time(1.5, 0.5, 1e-3), "level"),
    (lambda: th.log_losses(1.0, 0.5, form="nope"), "form"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        call()


# ---------------------------------------------------------------------------------------------
# Label noise (docs/theory.md §12.1, (27)–(30)) and the weight-decay grokking time (§11, (25)–(26))
# ---------------------------------------------------------------------------------------------


def _mp_expect_near_edge(g, lam, atom_value=0.0):
    """E_MP[g(ν)] by scipy.quad on the density, as :func:`scipy_mp_expect`, with break points near
    the lower edge λ₋, where 1/ν makes the integrand peak sharply for λ close to 1."""
    lo, hi = (1 - math.sqrt(lam)) ** 2, (1 + math.sqrt(lam)) ** 2

    def density(nu):
        return math.sqrt(max((hi - nu) * (nu - lo), 0.0)) / (2 * math.pi * lam * nu)

    points = [lo + (hi - lo) * f for f in (1e-4, 1e-3, 1e-2, 1e-1)]
    val, _ = integrate.quad(lambda nu: g(nu) * density(nu), lo, hi, points=points, limit=400,
                            epsabs=0, epsrel=1e-11)
    return val + (max(0.0, 1 - 1 / lam) * atom_value if lam > 1 else 0.0)


def _noise_reference(t, lam, s2, eta, d_out, gamma, discrete, init_scale=1.0):
    """(L_tr, L_gen) with label noise by scipy quadrature, written out from docs/theory.md (22),
    (27) and (28): per mode r = 1 − 2ην/d_out − ηγ, the clean mode error plus the noise terms."""
    def rn(nu):
        r = 1 - 2 * eta * nu / d_out - eta * gamma
        return r**t if discrete else math.exp(-eta * t * (2 * nu / d_out + gamma))

    def clean(nu):
        nu_s = nu / d_out
        teacher = rn(nu) if gamma == 0 else (nu_s * rn(nu) + gamma / 2) / (nu_s + gamma / 2)
        return 0.5 * (init_scale**2 * rn(nu) ** 2 + teacher**2)

    def noise_tr(nu):
        nu_s = nu / d_out
        return ((nu_s * rn(nu) + gamma / 2) / (nu_s + gamma / 2)) ** 2

    def noise_gen(nu):
        nu_s = nu / d_out
        return (1 - rn(nu)) ** 2 * nu_s**2 / (nu * (nu_s + gamma / 2) ** 2)

    atom = 0.5 * (init_scale**2 * (1 - eta * gamma) ** (2 * t) + 1) if discrete else \
        0.5 * (init_scale**2 * math.exp(-2 * eta * gamma * t) + 1)
    l_tr = _mp_expect_near_edge(lambda nu: nu * clean(nu), lam) / d_out
    l_gen = _mp_expect_near_edge(clean, lam, atom_value=atom) / d_out
    l_tr += s2 * (max(0.0, 1 - lam) + lam * _mp_expect_near_edge(noise_tr, lam))
    l_gen += s2 * lam * _mp_expect_near_edge(noise_gen, lam)
    return l_tr, l_gen


@pytest.mark.parametrize("lam", [0.5, 1.5])
def test_label_noise_losses_against_scipy_quadrature(lam):
    """docs/theory.md (27)–(28) in the package (log space, angular quadrature) against scipy's
    quadrature on the MP density, for gradient flow, discrete GD at d_out = 2 and α = ½, and
    weight decay; 1e-9 relative."""
    s2 = 0.2
    cases = [dict(eta=0.01, d_out=1, gamma=0.0, discrete=False),
             dict(eta=0.05, d_out=2, gamma=0.0, discrete=True, init_scale=0.5),
             dict(eta=0.01, d_out=1, gamma=0.01, discrete=False)]
    for kw in cases:
        for t in [0.0, 100.0, 2000.0]:
            ref_tr, ref_gen = _noise_reference(t, lam, s2, **kw)
            assert float(th.train_loss(t, lam, label_noise=s2, **kw)) == pytest.approx(ref_tr, rel=1e-9)
            assert float(th.test_loss(t, lam, label_noise=s2, **kw)) == pytest.approx(ref_gen, rel=1e-9)


@pytest.mark.parametrize("lam", [0.3, 0.8, 1.5, 3.0])
def test_label_noise_limits_and_accuracy_ceilings_against_closed_forms(lam):
    """docs/theory.md (29)–(30): at t = 0 the student has fitted no noise (L_gen clean, L_tr
    clean + σ²); at t → ∞ (1e13 steps) L_tr → σ²(1 − λ)⁺ and L_gen → plateau + σ²λ/(1 − λ)
    (λ < 1) or σ²/(λ − 1) (λ > 1), the least-squares variance; the accuracies saturate at (16)/(17)
    of those limits. Noise 0 gives the noise-free numbers bit for bit."""
    s2, eps = 2e-3, 1e-2
    plateau = max(0.0, 1 - 1 / lam)
    noise_gen = s2 * lam / (1 - lam) if lam < 1 else s2 / (lam - 1)
    for d_out, scale in [(1, 1.0), (3, 0.5)]:
        kw = dict(d_out=d_out, init_scale=scale)
        start = (1 + scale**2) / 2 / d_out
        (tr_0, late_tr), (gen_0, late_gen) = np.exp(th.log_losses(np.array([0.0, 1e13]), lam,
                                                                  label_noise=s2, **kw))
        assert tr_0 == pytest.approx(start + s2, rel=1e-12)
        assert gen_0 == pytest.approx(start, rel=1e-12)
        assert late_gen == pytest.approx(plateau * start + noise_gen, rel=1e-9)
        if lam < 1:
            assert late_tr == pytest.approx(s2 * (1 - lam), rel=1e-9)
        else:
            assert late_tr < 1e-30
        a_tr, a_gen = (float(a) for a in th.accuracy_curves(1e13, lam, eps, label_noise=s2, **kw))
        assert a_gen == pytest.approx(special.gammainc(d_out / 2, d_out * eps / (2 * late_gen)), rel=1e-9)
        if lam < 1:
            assert a_tr == pytest.approx(special.gammainc(d_out / 2, d_out * eps / (2 * s2 * (1 - lam))),
                                         rel=1e-9)
    np.testing.assert_allclose(th.label_noise_limits(lam, s2), (s2 * max(0.0, 1 - lam), noise_gen),
                               rtol=1e-14)
    t = np.array([0.0, 10.0, 1e4, 1e9])
    for f in (th.log_train_loss, th.log_test_loss):
        np.testing.assert_array_equal(f(t, lam, label_noise=0.0), f(t, lam))


def test_label_noise_jump_time_is_the_first_crossing_of_a_non_monotone_accuracy():
    """With label noise the test accuracy rises, then falls as the student fits the noise
    (docs/theory.md §12.1): here from a maximum of 0.41 to 0.32. The level 0.37 is crossed twice;
    jump_time finds the first crossing (plain bisection would report 'never', the accuracy at
    t_max being below the level), checked against scipy's brentq on scipy quadrature of (28)."""
    lam, s2, eps, level, eta = 0.95, 3e-3, 1e-2, 0.37, 0.01

    def accuracy(t):
        return special.erf(math.sqrt(eps / (2 * _noise_reference(t, lam, s2, eta, 1, 0.0, False)[1])))

    grid = np.geomspace(100.0, 1e7, 41)
    acc = np.array([accuracy(t) for t in grid])
    assert acc.max() > 0.4 and acc[-1] < 0.33  # rises above the level, then falls below it
    i = int(np.argmax(acc >= level))
    t_ref = optimize.brentq(lambda t: accuracy(t) - level, grid[i - 1], grid[i], xtol=1e-9, rtol=1e-12)
    t_got = float(th.jump_time(level, lam, eps, which="test", label_noise=s2))
    assert t_got == pytest.approx(t_ref, rel=1e-6)
    a_te = np.asarray(th.accuracy_curves(np.array([t_got, 1e7]), lam, eps, label_noise=s2)[1])
    assert a_te[0] == pytest.approx(level, abs=1e-9) and a_te[1] < level


def test_weight_decay_grokking_time_levi_eq16_and_the_corrected_forms():
    """docs/theory.md §11, table of the weight-decay grokking time Δτ = τ*_gen − τ*_tr at
    A = erf(√2), i.e. L = ε/4 (λ ∈ {0.5, 0.8, 0.9, 0.95}, ε ∈ {1e-3, 1e-6, 1e-10}, γ ∈ {1e-6,
    1e-3}: the 13 cells where the test accuracy gets there). The exact times are roots of the
    exact losses (22), found by bisection (the losses are monotone in t); one is checked against
    scipy's brentq on scipy quadrature of (22). Levi's eq. 16 is 25–82 % too small everywhere and
    weight decay lengthens Δτ; the Lambert-W times (20) at the shifted thresholds ε − 4F_q are
    within 16 %, the first-order form (25) within 1.5 % where γ ≤ 0.1(1 − √λ)², and the ε → 0
    limit (26) within 15 % at ε = 1e-10."""
    import jax

    from linear_grok.precision import float64

    eta = 0.01
    lam = np.repeat([0.5, 0.8, 0.9, 0.95], 3)
    eps = np.tile([1e-3, 1e-6, 1e-10], 4)
    s = 1 - np.sqrt(lam)

    def log_loss(which, gamma):  # compiled once per (which, γ): the bisection calls it 61 times
        f = th.log_train_loss if which == "train" else th.log_test_loss
        return float64(jax.jit(lambda t, lam1: f(t, lam1, gamma=gamma)))

    def crossing(which, loss_level, gamma=0.0):  # τ where L_q = loss_level, inf if never (1e14 steps)
        f = log_loss(which, gamma)
        lo, hi = np.zeros(lam.shape), np.full(lam.shape, math.log(1e14))
        never = np.asarray(f(np.exp(hi), lam)) > np.log(loss_level)
        for _ in range(60):
            mid = (lo + hi) / 2
            above = np.asarray(f(np.exp(mid), lam)) > np.log(loss_level)
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return np.where(never, np.inf, np.exp((lo + hi) / 2) * eta)

    clean = {w: crossing(w, eps / 4) for w in ("train", "test")}

    def lambert_w_time(eps_q, which):  # docs/theory.md (20) at threshold eps_q
        z = (2 ** (5 / 3) * (s**2 if which == "train" else s ** (2 / 3))
             / (3 * math.pi ** (1 / 3) * np.sqrt(lam) * eps_q ** (2 / 3)))
        return 3 * special.lambertw(z).real / (8 * s**2)

    def first_order_shift(lam1, tau, which):  # s_q of docs/theory.md (25), by scipy quadrature
        q = (lambda nu: nu) if which == "train" else (lambda nu: 1.0)
        m = (-2 * tau * _mp_expect_near_edge(lambda nu: q(nu) * math.exp(-4 * tau * nu), lam1)
             + 0.5 * _mp_expect_near_edge(lambda nu: q(nu) * (math.exp(-2 * tau * nu)
                                                               - math.exp(-4 * tau * nu)) / nu, lam1))
        return m / (4 * _mp_expect_near_edge(lambda nu: nu * q(nu) * math.exp(-4 * tau * nu), lam1))

    n_cells = 0
    for gamma in [1e-6, 1e-3]:
        exact = {w: crossing(w, eps / 4, gamma) for w in ("train", "test")}
        floor = {"train": gamma**2 / (8 * (1 - lam)), "test": gamma**2 / (8 * (1 - lam) ** 3)}
        groks = np.isfinite(exact["test"])
        assert np.all(groks == (eps > 4 * floor["test"]))  # grokking ⇔ ε/4 above the test floor
        eps_q = {w: np.where(groks, eps - 4 * floor[w], 1.0) for w in floor}
        shifted = {w: crossing(w, eps_q[w] / 4) for w in floor}
        for i in np.flatnonzero(groks):
            n_cells += 1
            delta = exact["test"][i] - exact["train"][i]
            assert delta > clean["test"][i] - clean["train"][i]
            levi = math.log(1 + math.sqrt(lam[i])) / (2 * s[i] ** 2)
            assert -0.82 < levi / delta - 1 < -0.25
            lw = {w: lambert_w_time(eps_q[w], w)[i] for w in floor}
            assert abs((lw["test"] - lw["train"]) / delta - 1) < 0.16
            if gamma <= 0.1 * s[i] ** 2:
                first = {w: shifted[w][i] + gamma * first_order_shift(lam[i], shifted[w][i], w)
                         for w in floor}
                assert abs((first["test"] - first["train"]) / delta - 1) < 0.015
            if eps[i] == 1e-10:
                ratio = (1 - floor["train"][i] / (eps[i] / 4)) / (1 - floor["test"][i] / (eps[i] / 4))
                limit = (math.log(1 / s[i]) / (2 * s[i] ** 2) + math.log(ratio) / (4 * s[i] ** 2))
                assert abs(limit / delta - 1) < 0.15
        if gamma == 1e-3:
            tau_wd = exact["test"][3]  # λ = 0.8, ε = 1e-3
    assert n_cells == 13
    # One exact time against an independent root: brentq on scipy quadrature of (22).
    lam1, eps1, gamma1 = 0.8, 1e-3, 1e-3

    def log_gen(tau):
        def mode(nu):
            e = math.exp(-2 * tau * (nu + gamma1 / 2))
            return 0.5 * (e**2 + ((nu * e + gamma1 / 2) / (nu + gamma1 / 2)) ** 2)
        return math.log(_mp_expect_near_edge(mode, lam1))

    tau_ref = optimize.brentq(lambda tau: log_gen(tau) - math.log(eps1 / 4), 10, 1000, xtol=1e-10)
    assert tau_wd == pytest.approx(tau_ref, rel=1e-7)
    # The exact losses with decay are monotone in t (docs/theory.md §11), so bisection is valid.
    t = np.geomspace(1.0, 1e9, 400)
    for lam1, gamma1 in [(0.9, 1e-3), (0.5, 1e-2), (1.5, 1e-3)]:
        for which in ("train", "test"):
            assert np.all(np.diff(np.asarray(log_loss(which, gamma1)(t, lam1))) <= 0)

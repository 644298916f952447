"""S-curve families: each fit against scipy's curve_fit on an independent NumPy model (optimum
and information criteria), erf-equivalent sharpness against the finite-difference maximum slope,
the Richards–logistic limit, and model selection recovering the generating family."""

import math

import numpy as np
import pytest
from scipy import special
from scipy.optimize import curve_fit

from linear_grok import fitting, grokking
from linear_grok import scurves as curves

T = np.linspace(0.0, 1000.0, 800)


def np_unit(name, z, nu=1.0):
    """The families' unit curves, written out independently in NumPy/SciPy."""
    if name == "erf":
        return special.erf(z)
    if name == "logistic":
        return 2.0 / (1.0 + np.exp(-z)) - 1.0
    z_nu = -math.log((2.0**nu - 1.0) / nu)
    return 2.0 * (1.0 + nu * np.exp(-(z + z_nu))) ** (-1.0 / nu) - 1.0


def np_model(name):
    if name == "richards":
        return lambda t, a, b, c, d, nu: c * np_unit(name, a * (t - b), nu) + d
    return lambda t, a, b, c, d: c * np_unit(name, a * (t - b)) + d


TRUE = {"erf": (0.012, 420.0, 0.3, 0.65), "logistic": (0.03, 380.0, 0.3, 0.65),
        "richards": (0.03, 450.0, 0.3, 0.65, 4.0)}


@pytest.mark.parametrize("name", ["erf", "logistic", "richards"])
def test_fit_matches_curve_fit_optimum_and_criteria(name):
    rng = np.random.default_rng(7)
    y = np_model(name)(T, *TRUE[name]) + 0.01 * rng.standard_normal(T.size)
    fit = fitting.fit_curve(T, y, shape=name)
    assert fit.ok and fit.family == name
    ref, _ = curve_fit(np_model(name), T, y, p0=TRUE[name], maxfev=20_000)
    got = [fit.a, fit.b, fit.c, fit.d] + ([math.exp(fit.theta[0])] if name == "richards" else [])
    np.testing.assert_allclose(got, ref, rtol=2e-5)
    rss = np.sum((np_model(name)(T, *ref) - y) ** 2)
    k, n = len(ref) + 1, T.size
    assert fit.aic == pytest.approx(n * math.log(rss / n) + 2 * k, abs=1e-6)
    assert fit.bic == pytest.approx(n * math.log(rss / n) + k * math.log(n), abs=1e-6)
    # The true parameters are recovered within a few standard errors.
    assert abs(fit.b - TRUE[name][1]) < 5 * fit.b_se


@pytest.mark.parametrize("name", ["erf", "logistic", "richards"])
def test_erf_equivalent_sharpness_is_the_maximum_slope(name):
    y = np_model(name)(T, *TRUE[name])
    fit = fitting.fit_curve(T, y, shape=name, c=0.3, d=0.65)
    fine = np.linspace(0, 1000, 200_001)
    slope = np.max(np.gradient(np_model(name)(fine, *TRUE[name]), fine))
    assert fit.max_slope == pytest.approx(slope, rel=1e-5)
    assert 2 * 0.3 * fit.sharpness / math.sqrt(math.pi) == pytest.approx(slope, rel=1e-5)
    if name == "erf":
        assert fit.sharpness == pytest.approx(fit.a, rel=1e-12)


def test_richards_with_nu_one_is_the_logistic_and_midpoints_are_at_zero():
    z = np.linspace(-20, 20, 401)
    rich = np.asarray(curves.RICHARDS.unit(z, np.array([0.0])))
    np.testing.assert_allclose(rich, np.asarray(curves.LOGISTIC.unit(z, np.array([]))), atol=1e-14)
    for family in curves.SHAPES.values():
        theta = np.array(family.shape_start) + 0.7  # away from the start: ν = e^0.7 for Richards
        assert abs(float(family.unit(0.0, theta))) < 1e-14
        tails = np.asarray(family.unit(np.array([-60.0, 60.0]), theta))
        np.testing.assert_allclose(tails, [-1, 1], atol=1e-9)
    with pytest.raises(ValueError, match="^shape must be one of erf, logistic, richards"):
        fitting.fit_curve(T, np_model("erf")(T, *TRUE["erf"]), shape="gompertz")


@pytest.mark.parametrize("name", ["erf", "logistic", "richards"])
def test_auto_selection_recovers_the_generating_family(name):
    rng = np.random.default_rng(3)
    params = TRUE[name]
    late = (params[0] * 0.7, params[1] + 250.0, *params[2:])
    tr = np_model(name)(T, *params) + 0.003 * rng.standard_normal(T.size)
    te = np_model(name)(T, *late) + 0.003 * rng.standard_normal(T.size)
    m = grokking.measure_grokking(T, tr, te, shape="auto")
    assert set(m.candidates) == {"erf", "logistic", "richards"}
    assert m.shape == name and m.train.family == name and m.ok
    bic = {k: v["bic"] for k, v in m.candidates.items()}
    assert min(bic, key=bic.get) == name
    # The measures keep their meaning in every family: gap from the midpoints.
    assert m.relative_gap == pytest.approx(late[1] / params[1] - 1, rel=1e-2)


def test_erf_through_the_generic_autodiff_path_equals_the_analytic_jacobian():
    # The shared engine differentiates any family with JAX; the erf family's hand-written
    # Jacobian (the fitter's before families existed) must give the same fits to 1e-10.
    import dataclasses

    autodiff = dataclasses.replace(curves.ERF, jacobian=None)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(2e-3, 2e-2, (20, 1)), rng.uniform(300, 800, (20, 1))
    y = 0.3 * special.erf(a * (T - b)) + 0.6 + 0.02 * rng.standard_normal((20, T.size))
    for kwargs in ({}, {"c": 0.3, "d": 0.6}):
        hand = fitting.fit_curve(T, y, shape=curves.ERF, **kwargs)
        auto = fitting.fit_curve(T, y, shape=autodiff, **kwargs)
        assert hand.ok.all() and auto.ok.all()
        for name in ("a", "b", "c", "d", "r2"):
            np.testing.assert_allclose(getattr(auto, name), getattr(hand, name), rtol=1e-10)

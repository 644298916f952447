"""Phase diagrams (Levi et al.'s Fig. 4) against independent references: per-point brentq on scipy
quadrature of the MP density (the benchmark's reference, written without the package), the
theory's own jump_time at γ = 0, closed-form plateaus and weight-decay fixed points that decide
whether a point groks, and the d_out at which the grokking time peaks."""

import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from benchmarks.phase_benchmark import reference_crossing, reference_loss, reference_point
from linear_grok.settings.linear import phase
from linear_grok.settings.linear import theory as th

EPS, LEVEL = 1e-3, 0.95


@pytest.mark.parametrize("lam, d_out, gamma", [
    (0.5, 1.0, 0.0),
    (0.984375, 1.0, 1e-6),  # λ next to 1: times of 1e6–1e7 steps
    (0.9, 50.0, 1e-4),
    (0.9, 1.0, 1e-3),  # Levi Fig. 3's middle curve
    (0.3, 3.0, 3e-2),  # weight decay keeps the test accuracy below the level: never groks
    (1.5, 700.0, 0.0),  # λ > 1 at large d_out: the per-output plateau is below the level
    (1.25, 40.0, 1e-5),
])
def test_crossings_against_brentq_on_scipy_quadrature(lam, d_out, gamma):
    ours = phase.crossing_times(lam, d_out, gamma)
    ref = reference_point(lam, d_out, gamma)
    for key in ("t_train", "t_test"):
        if math.isinf(ref[key]):
            assert np.isinf(ours[key])
        else:
            assert float(ours[key]) == pytest.approx(ref[key], rel=1e-8)
    assert bool(ours["monotone"])


def test_zero_weight_decay_reproduces_jump_time():
    # d_out = 1 only: jump_time compiles per d_out (d_out > 1 is checked against brentq above).
    lam = np.array([0.1, 0.5, 0.9, 0.99, 1.0002, 1.5])
    ours = phase.crossing_times(lam, 1, 0.0)
    for which in ("train", "test"):
        ref = th.jump_time(LEVEL, lam, EPS, which=which)
        np.testing.assert_array_equal(np.isinf(ours[f"t_{which}"]), np.isinf(ref))
        finite = np.isfinite(ref)
        np.testing.assert_allclose(ours[f"t_{which}"][finite], ref[finite], rtol=1e-9)
    # At d_out = 1 and level erf(√2) the crossing is the loss level ε/4 of docs/theory.md §10.
    level = float(special.erf(math.sqrt(2.0)))
    t_test = float(phase.crossing_times(0.9, level=level)["t_test"])
    assert reference_loss(t_test, 0.9, 1.0, 0.0, train=False) == pytest.approx(EPS / 4, rel=1e-9)


def test_without_weight_decay_lambda_above_one_groks_only_where_its_plateau_allows():
    # docs/theory.md §7: the test loss tends to (1 − 1/λ)/d_out, where the accuracy is
    # P(d/2, d ε/(2L∞)); the model groks exactly where that exceeds the level. At d_out = 1 and
    # ε = 1e-3 that means λ < 1 + 2.6e-4; the per-output plateau falls as d_out grows.
    lam = np.array([0.3, 0.9, 0.99, 1.0001, 1.001, 1.01, 1.1, 1.5, 2.0])
    d_out = np.geomspace(1, 1000, 10)
    out = phase.phase_diagram("d_out", "lam", d_out, lam)
    d, lm = np.meshgrid(d_out, lam)
    with np.errstate(divide="ignore"):
        plateau_accuracy = special.gammainc(d / 2, d * EPS / (2 * np.maximum(1 - 1 / lm, 0) / d))
    clear = np.abs(plateau_accuracy - LEVEL) > 1e-6
    assert clear.sum() > 80
    np.testing.assert_array_equal(out["groks"][clear], plateau_accuracy[clear] > LEVEL)
    assert out["groks"][lam < 1].all() and np.isfinite(out["t_train"]).all()
    assert out["groks"][:, 0].tolist() == [True] * 4 + [False] * 5  # d_out = 1
    assert np.all(out["grok_time"][out["groks"]] > 0)


def _fixed_point_loss(lam, d_out, gamma, train):
    """Independent t → ∞ loss with weight decay (docs/theory.md §11): each mode keeps
    ½(γ/2 / (ν/d_out + γ/2))² of the teacher; scipy quadrature of the MP density."""
    lo, hi = (1 - math.sqrt(lam)) ** 2, (1 + math.sqrt(lam)) ** 2

    def integrand(nu):
        density = math.sqrt(max((hi - nu) * (nu - lo), 0.0)) / (2 * math.pi * lam * nu)
        return (nu if train else 1.0) * 0.5 * (gamma / 2 / (nu / d_out + gamma / 2)) ** 2 * density

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)  # round-off near 1e-12
        value = integrate.quad(integrand, lo, hi, limit=200, epsabs=0, epsrel=1e-11)[0]
    atom = 0.5 * (1 - 1 / lam) if lam > 1 and not train else 0.0
    return (value + atom) / d_out


@pytest.mark.parametrize("d_out", [1.0, 10.0])
def test_weight_decay_fixed_point_decides_which_accuracies_reach_the_level(d_out):
    gamma = np.geomspace(1e-5, 1e-1, 9)
    lam = np.array([0.1, 0.5, 0.9, 0.99, 1.2])
    out = phase.phase_diagram("gamma", "lam", gamma, lam, d_out=d_out)
    for key, train in (("t_train", True), ("t_test", False)):
        limit = np.array([[special.gammainc(d_out / 2, d_out * EPS / (2 * _fixed_point_loss(
            lm, d_out, g, train))) for g in gamma] for lm in lam])
        clear = np.abs(limit - LEVEL) > 1e-6
        np.testing.assert_array_equal(np.isfinite(out[key])[clear], limit[clear] > LEVEL)
    assert out["monotone"].all()


def test_grokking_time_peaks_at_d_out_26_in_the_exact_theory():
    # Levi et al. (their Fig. 2, docs/theory.md §14) say the grokking time peaks near d_out ≈ 50
    # at λ = 0.9. In the exact MP theory (ε = 1e-3, 95 %) the maximum over integer d_out is at 26;
    # the peak is broad (within 10 % of its height from d_out = 12 to 55; 50 is at 92 %), and
    # d_out = 1 and 700 (their other curves) are far below it.
    d_out = np.concatenate([np.arange(1, 121), [700]])
    grok = phase.crossing_times(0.9, d_out, 0.0)["grok_time"]
    peak = grok[:120].max()
    assert d_out[np.argmax(grok)] == 26
    within = d_out[:120][grok[:120] >= 0.9 * peak]
    assert (within.min(), within.max()) == (12, 55)
    assert grok[49] / peak == pytest.approx(0.924, abs=2e-3)
    assert grok[0] / peak < 0.3 and grok[-1] / peak < 0.1


def test_fig4_diagrams_shapes_orientation_and_structure():
    diagrams = phase.fig4_diagrams(n=10)
    assert set(diagrams) == set(phase.FIG4_PAIRS)
    for (x_name, y_name), out in diagrams.items():
        assert out["t_train"].shape == out["groks"].shape == (10, 10)
        assert out["monotone"].all()
        finite = np.isfinite(out["grok_time"])
        assert np.all(out["grok_time"][finite] > 0)  # the test accuracy always lags
        # Rows follow y, columns x: a point equals its own single-point computation.
        i, j = 7, 3
        fixed = {"lam": 0.9, "d_out": 1.0, "gamma": 0.0}
        fixed.update({x_name: out["x"][j], y_name: out["y"][i]})
        single = phase.crossing_times(**fixed)
        assert float(single["t_train"]) == pytest.approx(out["t_train"][i, j], rel=1e-12)
        assert float(single["t_test"]) == pytest.approx(out["t_test"][i, j], rel=1e-12)
    lam_rows = diagrams[("gamma", "lam")]
    assert not lam_rows["groks"][lam_rows["y"] > 1].any()  # d_out = 1: λ > 1 never groks
    assert lam_rows["groks"][lam_rows["y"] < 1, 0].all()  # small γ: every λ < 1 groks


def test_first_crossing_of_a_loss_that_is_not_monotone(monkeypatch):
    # The theory's losses fall monotonically; a synthetic loss that dips below the target and
    # rises again checks that the first crossing is the one reported and that it is flagged.
    target = EPS / (2 * special.gammaincinv(0.5, LEVEL))

    def fake_loss(t, lam, d_out, gamma, train, eta, init_scale):
        return target * jnp.exp(2.0 * jnp.cos(jnp.log(t))) + 0.0 * lam

    phase._crossings.clear_cache()
    monkeypatch.setattr(phase, "_loss", fake_loss)
    try:
        out = phase.crossing_times(np.array([0.5, 0.9]), 1, 0.0)
    finally:
        monkeypatch.undo()
        phase._crossings.clear_cache()
    # cos(log t) first turns negative at log t = −3π/2 inside [1e-3, 1e14].
    np.testing.assert_allclose(out["t_train"], math.exp(-1.5 * math.pi), rtol=1e-9)
    assert not out["monotone"].any() and np.all(out["max_rise"] > 1)
    assert not out["groks"].any()


@pytest.mark.parametrize("call, name", [
    (lambda: phase.phase_diagram("lam", "eta", [0.5], [1.0]), "y_name"),
    (lambda: phase.phase_diagram("lam", "lam", [0.5], [0.6]), "x_name"),
    (lambda: phase.phase_diagram("lam", "d_out", [[0.5]], [1.0]), "x_values"),
    (lambda: phase.crossing_times(0.0), "lam"),
    (lambda: phase.crossing_times(0.5, d_out=0.5), "d_out"),
    (lambda: phase.crossing_times(0.5, gamma=-1e-3), "gamma"),
    (lambda: phase.crossing_times(0.5, level=1.0), "level"),
    (lambda: phase.crossing_times(0.5, t_min=10.0, t_max=1.0), "t_max"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_reference_crossing_is_a_root_of_the_accuracy():
    # The benchmark's reference itself: at its crossing the scipy accuracy equals the level.
    t = reference_crossing(0.9, 1.0, 1e-3, train=False)
    loss = reference_loss(t, 0.9, 1.0, 1e-3, train=False)
    assert float(special.erf(math.sqrt(EPS / (2 * loss)))) == pytest.approx(LEVEL, abs=1e-12)

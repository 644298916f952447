"""The cross-knob gap–sharpness question (docs/theory.md §21) against independent references:
the traced kernel's losses, crossings and slopes against scipy quadrature and the theory module's
own autodiff; the collapse of ε, d_out and α onto one ε-law against the theory module evaluated at
a threshold written with scipy's χ² median; the clock η; λ and γ off the law; the small-gap limit
(32) of the closed forms; and the command end to end."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from benchmarks.phase_benchmark import reference_crossing, reference_loss
from experiments import knob_sweep
from linear_grok.settings.linear import knobs, phase
from linear_grok.settings.linear import theory as th

BASE = dict(lam=0.9, d_out=1.0, gamma=0.0, eps=1e-3, init_scale=1.0)


def theory_measures(lam, eps, d_out=1, gamma=0.0, init_scale=1.0, eta=0.01):
    """Gap and relative sharpness at A = ½ by the theory module (bisection on its quadrature,
    slopes by its autodiff; d_out and γ static there): independent of the phase kernel."""
    kw = dict(eta=eta, d_out=d_out, gamma=gamma, init_scale=init_scale)
    t = {w: float(th.jump_time(0.5, np.asarray(lam), eps, which=w, **kw)) for w in ("train", "test")}
    slope = {w: float(th.accuracy_slope(t[w], lam, eps, which=w, **kw)) for w in t}
    return t["test"] / t["train"] - 1.0, slope["test"] / slope["train"]


def points(**overrides):
    """One-point arrays of the five parameters (the base with ``overrides``)."""
    return {k: np.atleast_1d(np.asarray(overrides.get(k, v), dtype=np.float64))
            for k, v in BASE.items()}


@pytest.mark.parametrize("lam, d_out, gamma, init_scale", [
    (0.9, 1.0, 0.0, 1.0), (0.6, 5.0, 1e-4, 2.5), (0.3, 40.0, 0.0, 0.2)])
def test_kernel_losses_crossings_and_slopes_against_independent_references(lam, d_out, gamma,
                                                                           init_scale):
    """Losses against scipy quadrature (written without the package), the ½-crossings against
    brentq on it, the slopes against the theory module's autodiff; α varies by point."""
    t = np.array([30.0, 3e3, 3e5])
    train, test = phase.loss_curves(t, lam, d_out, gamma, init_scale=init_scale)
    for i, ti in enumerate(t):
        for ours, is_train in ((train[i], True), (test[i], False)):
            ref = reference_loss(ti, lam, d_out, gamma, train=is_train, init_scale=init_scale)
            assert ours == pytest.approx(ref, rel=1e-9)
    both = phase.crossing_times([lam, 0.5], [d_out, 1.0], [gamma, 0.0], eps=[1e-3, 1e-5],
                                level=0.5, init_scale=[init_scale, 1.0])
    for key, is_train in (("t_train", True), ("t_test", False)):
        ref = reference_crossing(lam, d_out, gamma, train=is_train, level=0.5, init_scale=init_scale)
        assert both[key][0] == pytest.approx(ref, rel=1e-8)
        ref = reference_crossing(0.5, 1.0, 0.0, train=is_train, level=0.5, eps=1e-5)
        assert both[key][1] == pytest.approx(ref, rel=1e-8)
    t_half = np.array([both["t_train"][0], both["t_test"][0]])
    slopes = phase.accuracy_slopes(t_half, lam, d_out, gamma, eps=1e-3, init_scale=init_scale)
    for i, which in enumerate(("train", "test")):
        ref = th.accuracy_slope(t_half[i], lam, 1e-3, which=which, d_out=int(d_out), gamma=gamma,
                                init_scale=init_scale)
        assert slopes[i][i] == pytest.approx(float(ref), rel=1e-9)


def chi2_median_ratio(d_out: int) -> float:
    """``median(χ²_d)/d`` by scipy: the loss at which an accuracy (17) is ½ is ``ε`` over it."""
    return stats.chi2.median(d_out) / d_out


@pytest.mark.parametrize("knob, value, eps_law", [
    # L = (1 + α²)/(2 d_out) ℓ(ηt/d_out): the α and d_out points are the ε-law's point at the
    # threshold that puts their midpoint at the same ℓ (the clock ηt/d_out drops out of both
    # ratios).
    ("init_scale", 3.0, 1e-3 * 2.0 / (1.0 + 3.0**2)),
    ("init_scale", 0.3, 1e-3 * 2.0 / (1.0 + 0.3**2)),
    ("d_out", 7, 1e-3 * 7 * chi2_median_ratio(1) / chi2_median_ratio(7)),
    ("d_out", 120, 1e-3 * 120 * chi2_median_ratio(1) / chi2_median_ratio(120)),
])
def test_epsilon_d_out_and_initial_scale_fall_on_one_law(knob, value, eps_law):
    """The point with the knob moved equals the base point at another ε, to the theory module's
    precision: both computed by the theory module, the threshold written with scipy's χ²."""
    moved = theory_measures(**{**BASE, knob: value, "d_out": int(value) if knob == "d_out" else 1})
    on_law = theory_measures(BASE["lam"], eps_law)
    assert moved == pytest.approx(on_law, rel=1e-7)
    assert abs(moved[0] / theory_measures(BASE["lam"], BASE["eps"])[0] - 1) > 0.05  # it moved
    # The package's collapse check finds the same ε and the same agreement.
    p = points(**{knob: value})
    out = knobs.collapse(p, knobs.fit_free(p, 0.01), knobs.PRESETS["quick"])
    assert out["law_eps"][0] == pytest.approx(eps_law, rel=1e-10)
    assert out["law_deviation"][0] < 1e-8


def test_the_learning_rate_only_sets_the_clock():
    """Gradient flow: times scale as 1/η exactly, so the measures do not move."""
    slow, fast = (knobs.fit_free(points(), eta) for eta in (0.01, 0.37))
    assert fast["t_test"][0] == pytest.approx(slow["t_test"][0] * 0.01 / 0.37, rel=1e-9)
    for m in ("relative_gap", "relative_sharpness"):
        assert fast[m][0] == pytest.approx(slow[m][0], rel=1e-9)


def test_lambda_and_weight_decay_leave_the_epsilon_law():
    """λ changes the shape of ℓ and γ adds decay and a fixed point: no threshold puts them on the
    base λ's ε-law. The law's gap is below ~18 everywhere, and at equal gap its sharpness differs."""
    cfg = knobs.PRESETS["quick"]
    law = knobs.law_curve(cfg)
    assert np.nanmax(law["law_curve_relative_gap"]) < 20
    p = {k: np.array([v, v, BASE[k]]) for k, v in BASE.items()}
    p["lam"][:2] = 0.6, 0.97
    p["gamma"][2] = 1e-3
    free = knobs.fit_free(p, 0.01)
    distance = knobs.law_distance(free["relative_gap"], free["relative_sharpness"], law)
    assert distance[0] > 0.1  # λ = 0.6: R 35 % above the law at its gap
    assert free["relative_gap"][1] > 50 and distance[1] > 0.5  # λ = 0.97: beyond the law's gaps
    assert 0.005 < distance[2] < 0.05  # γ = 1e-3 sharpens less: small but resolved
    on_law = knobs.law_distance(*(law[f"law_curve_relative_{m}"][40:41]
                                  for m in ("gap", "sharpness")), law)
    assert on_law[0] < 1e-12


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_small_gap_limit_of_the_epsilon_law(lam):
    """(32): as ε → 0, 1 − R ≈ (3/2)(Δ + 1)/Δ² G² with Δ = −2 ln(1 − √λ), from the long-time
    forms (12)–(13); the next term is O(G), so the ratio converges linearly in G."""
    k = knobs.small_gap_coefficient(lam)
    assert k == pytest.approx(1.5 * (2 * math.log(1 / (1 - math.sqrt(lam))) + 1)
                              / (2 * math.log(1 / (1 - math.sqrt(lam)))) ** 2)
    gaps, errors = [], []
    for eps in (1e-50, 1e-100, 1e-200):
        free = knobs.fit_free(points(lam=lam, eps=eps), 0.01)
        gap, rel = free["relative_gap"][0], free["relative_sharpness"][0]
        gaps.append(gap)
        errors.append(abs((1 - rel) / gap**2 / k - 1))
    assert errors[-1] < 0.02
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] / errors[2] == pytest.approx(gaps[0] / gaps[2], rel=0.35)


def test_command_end_to_end(tmp_path, capsys):
    """A small sweep: every knob measured, the collapse printed and saved, figure and tables."""
    argv = ["--lam-values", "0.5", "0.7", "0.8", "--d-out-values", "1", "10", "100",
            "--gamma-values", "1e-5", "1e-4", "3e-2", "--eps-values", "1e-8", "1e-5", "1e-2",
            "--init-scale-values", "0.5", "2", "5", "--n-time", "200", "--out", str(tmp_path),
            "--figures", str(tmp_path / "fig"), "--no-progress"]
    assert knob_sweep.main(argv) == 0
    out = capsys.readouterr().out
    assert "exact collapse" in out and "all knobs pooled" in out
    (result,) = tmp_path.glob("knob_sweep_quick_*.json")
    meta = json.loads(result.read_text())
    law = meta["epsilon_law"]
    for knob in knobs.THROUGH_LOSS_LEVEL:
        assert law[knob]["same_level_difference_max"] < 1e-8
    assert law["lam"]["law_distance_max"] > 0.05
    arrays = np.load(result.with_suffix(".npz"), allow_pickle=False)
    keys = zip(arrays["knob"], arrays["value"], strict=True)
    reason = dict(zip(keys, arrays["reason"][:, 0], strict=True))
    assert "never reaches 99%" in reason[("gamma", 3e-2)]  # recorded; the sweep went on
    assert arrays["ok"].sum() == 14
    assert list((tmp_path / "fig").glob("knob_sweep_quick_*.png"))
    assert (tmp_path / f"{result.stem}_runs.csv").exists()

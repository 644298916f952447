"""Real training logs: fit windows, logs that start at step 0 on a log axis, jumps faster than the
log's grid (measured with bounds), and runs that grok and later collapse (docs/theory.md §17).

Expected values are derived here from the curves' definitions (the bracketing samples, the
erf's parameters and inverse), never copied from the code's output."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf, erfinv

from linear_grok import fitting as fg
from linear_grok import grokking, measure

SQRT_PI = math.sqrt(math.pi)


def erf_curve(t, a, b, c=0.5, d=0.5):
    return c * erf(a * (t - b)) + d


# ---------------------------------------------------------------------------------------------
# (a) The modular-addition log through the command.

CHANCE = 0.00885
C_MA, D_MA = (1 - CHANCE) / 2, 1 - (1 - CHANCE) / 2
A_TEST, B_TEST = 0.0026, 7775.0  # 0.16 at step 7500, 0.80 at 8000, 1.0 at 8500, < 0.05 before 7000


def modular_addition_log(path):
    """Logged every 100 steps from step 0: train 0.008, 0.19, 0.95, 1.0 at steps 0–300 (then 1.0),
    test an erf jump at step 7775."""
    t = np.arange(0.0, 10_001.0, 100.0)
    train = np.ones_like(t)
    train[:4] = [0.008, 0.19, 0.95, 1.0]
    test = erf_curve(t, A_TEST, B_TEST, C_MA, D_MA)
    lines = ["step,train_accuracy,test_accuracy"]
    lines += [f"{s:g},{float(a)!r},{float(b)!r}" for s, a, b in zip(t, train, test, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return t, train, test


def run_command(tmp_path, capsys, *extra):
    log, out = tmp_path / "log.csv", tmp_path / "m.json"
    modular_addition_log(log)
    code = measure.main([str(log), "--time", "step", "--train", "train_accuracy", "--test",
                         "test_accuracy", "--chance", str(CHANCE), "--ci", "0", "--json",
                         str(out), *extra])
    assert code == 0
    return capsys.readouterr().out, json.loads(out.read_text())["runs"]["all"]


def test_modular_addition_log_prints_a_gap_with_grid_bounds(tmp_path, capsys):
    # The curves as the issue describes them.
    t, train, test = modular_addition_log(tmp_path / "check.csv")
    assert test[t == 7500] == pytest.approx(0.16, abs=0.01)
    assert test[t == 8000] == pytest.approx(0.80, abs=0.01)
    assert np.all(test[t < 7000] < 0.05)
    printed, run = run_command(tmp_path, capsys)
    # Train crosses d between steps 100 (0.19 < d) and 200 (0.95 >= d); the test fit (noise-free
    # erf, resolved) recovers b = 7775, so the gap lies in [7775/200 − 1, 7775/100 − 1].
    lo, hi = B_TEST / 200 - 1, B_TEST / 100 - 1
    assert run["ok"] and run["reason"] == "" and run["resolution"] == "train"
    assert run["train"]["limited"] and not run["test"]["limited"]
    assert (run["train"]["jump_lo"], run["train"]["jump_hi"]) == (100.0, 200.0)
    assert run["bounds"]["jump_train"] == [100.0, 200.0]
    np.testing.assert_allclose(run["bounds"]["relative_gap"], [lo, hi], rtol=1e-6)
    assert lo < run["relative_gap"] < hi
    # Sharpness: train's maximum slope is at least (0.95 − 0.19)/100 per step, so its
    # erf-equivalent sharpness is at least that·√π/(2c), and R_rel = a_test/a_train at most
    # A_TEST over it; R_abs is the resolved test curve's 2c·a/√π.
    slope_min = (0.95 - 0.19) / 100
    assert run["train"]["max_slope_lo"] == pytest.approx(slope_min, rel=1e-12)
    r_rel_max = A_TEST / (slope_min * SQRT_PI / (2 * C_MA))
    assert run["relative_sharpness"] is None  # NaN: only bounded
    assert run["bounds"]["relative_sharpness"][0] == 0.0
    assert run["bounds"]["relative_sharpness"][1] == pytest.approx(r_rel_max, rel=1e-6)
    assert run["absolute_sharpness"] == pytest.approx(2 * C_MA * A_TEST / SQRT_PI, rel=1e-6)
    assert f"[{lo:.4g}, {hi:.4g}] (grid-limited: train)" in printed
    assert f"<={r_rel_max:.4g}" in printed
    assert "ok (grid-limited: train)" in printed
    assert "train jumps between step 100 and 200" in printed


def test_modular_addition_log_with_log_time_leaves_out_step_zero(tmp_path, capsys):
    printed, run = run_command(tmp_path, capsys, "--log-time")
    assert run["ok"] and run["resolution"] == "train"
    assert run["train"]["start"] == 1 and run["test"]["start"] == 1  # step 0 left out
    assert (run["train"]["jump_lo"], run["train"]["jump_hi"]) == (100.0, 200.0)
    b_test = run["bounds"]["jump_test"][0]
    # The test crosses d between steps 7500 (0.16) and 8000 (0.80): the gap's bounds lie inside
    # [7500/200 − 1, 8000/100 − 1] and follow the formula with the fitted test jump.
    assert 7500 < b_test < 8000
    lo, hi = run["bounds"]["relative_gap"]
    assert lo == pytest.approx(b_test / 200 - 1, rel=1e-12)
    assert hi == pytest.approx(b_test / 100 - 1, rel=1e-12)
    assert 7500 / 200 - 1 < lo < run["relative_gap"] < hi < 8000 / 100 - 1
    assert f"[{lo:.4g}, {hi:.4g}] (grid-limited: train)" in printed


# ---------------------------------------------------------------------------------------------
# (b) log_time with logs that start at step 0.

def test_log_time_fit_from_step_zero_equals_the_fit_without_it():
    rng = np.random.default_rng(2)
    t = np.linspace(0.0, 1000.0, 201)
    y = np.zeros_like(t)
    y[1:] = erf_curve(np.log(t[1:]), 1.5, math.log(80.0)) + 0.01 * rng.standard_normal(200)
    with_zero = fg.fit_erf(t, y, log_time=True)
    without = fg.fit_erf(t[1:], y[1:], log_time=True)
    assert with_zero.ok and without.ok
    assert (with_zero.start, with_zero.end) == (1, 201) and (without.start, without.end) == (0, 200)
    for name in ("a", "b", "c", "d", "a_se", "b_se", "r2", "rmse", "aic", "bic", "jump_time",
                 "sharpness"):
        assert getattr(with_zero, name) == pytest.approx(getattr(without, name), rel=1e-10), name


def test_log_time_needs_enough_positive_times_and_measures_need_no_negative_ones():
    t = np.arange(-10.0, 5.0)  # four points > 0
    with pytest.raises(ValueError, match="at least 6 points > 0 for log_time"):
        fg.fit_erf(t, np.linspace(0, 1, t.size), log_time=True)
    t = np.arange(-3.0, 30.0)
    y = erf_curve(t, 0.3, 15.0)
    with pytest.raises(ValueError, match="t must be >= 0"):
        grokking.measure_grokking(t, y, y, chance=0.0, log_time=True)


# ---------------------------------------------------------------------------------------------
# (c) Jumps faster than the grid: bounds instead of a refusal; resolved curves unchanged.

GRID = np.arange(0.0, 1001.0, 10.0)


@pytest.mark.parametrize("a", [5.0, SQRT_PI / 15.0])  # a step; a ramp 15 wide (2 samples)
def test_resolution_limited_jump_is_bracketed_by_its_samples(a):
    y = erf_curve(GRID, a, 503.0)
    fit = fg.fit_erf(GRID, y, c=0.5, d=0.5)
    assert not fit.ok and "narrower than the time grid resolves" in fit.reason
    # b = 503 lies between the samples at 500 (below ½) and 510 (above).
    assert fit.limited and (fit.jump_lo, fit.jump_hi) == (500.0, 510.0)
    assert 500.0 <= fit.jump_time <= 510.0
    rise = (erf_curve(510.0, a, 503.0) - erf_curve(500.0, a, 503.0)) / 10.0
    assert fit.max_slope_lo == pytest.approx(rise, rel=1e-12)
    # A lower bound on the true maximum slope 2c·a/√π, hence on the sharpness a.
    assert fit.max_slope_lo <= 2 * 0.5 * a / SQRT_PI
    assert fit.sharpness_lo == pytest.approx(rise * SQRT_PI, rel=1e-12) and fit.sharpness_lo <= a
    assert math.isnan(fit.sharpness) and math.isnan(fit.a_se)


def test_pair_with_a_limited_test_curve_gets_lower_bounds_on_sharpness():
    train = erf_curve(GRID, 0.01, 200.0)
    test = erf_curve(GRID, 5.0, 703.0)
    m = grokking.measure_grokking(GRID, train, test, chance=0.0)
    assert m.ok and m.reason == "" and m.resolution == "test"
    rise = (erf_curve(710.0, 5.0, 703.0) - erf_curve(700.0, 5.0, 703.0)) / 10.0
    assert m.bounds["jump_test"] == (700.0, 710.0)
    lo, hi = m.bounds["relative_gap"]
    assert lo == pytest.approx(700 / 200 - 1, rel=1e-8) and hi == pytest.approx(710 / 200 - 1, rel=1e-8)
    assert lo <= m.relative_gap <= hi
    assert math.isnan(m.relative_sharpness) and math.isnan(m.absolute_sharpness)
    assert m.bounds["absolute_sharpness"] == (pytest.approx(rise, rel=1e-12), math.inf)
    r_lo, r_hi = m.bounds["relative_sharpness"]
    assert r_lo == pytest.approx(rise * SQRT_PI / 0.01, rel=1e-6) and r_hi == math.inf
    assert r_lo <= 5.0 / 0.01  # below the true ratio


def test_pair_with_both_curves_limited_bounds_the_gap_from_both_brackets():
    m = grokking.measure_grokking(GRID, erf_curve(GRID, 5.0, 203.0), erf_curve(GRID, 5.0, 703.0),
                                  chance=0.0)
    assert m.ok and m.resolution == "both"
    lo, hi = m.bounds["relative_gap"]
    assert lo == pytest.approx(700 / 210 - 1) and hi == pytest.approx(710 / 200 - 1)
    assert m.bounds["relative_sharpness"] == (0.0, math.inf)  # unknown


def test_train_bracket_starting_at_zero_leaves_the_gap_unbounded_above(tmp_path, capsys):
    train, test = erf_curve(GRID, 5.0, 5.0), erf_curve(GRID, 0.01, 600.0)
    m = grokking.measure_grokking(GRID, train, test, chance=0.0)
    assert m.ok and m.resolution == "train" and m.bounds["jump_train"] == (0.0, 10.0)
    assert m.bounds["relative_gap"] == (pytest.approx(600 / 10 - 1, rel=1e-8), math.inf)
    log = tmp_path / "early.csv"
    log.write_text("step,train_acc,val_acc\n" + "".join(
        f"{s:g},{float(a)!r},{float(b)!r}\n" for s, a, b in zip(GRID, train, test, strict=True)))
    assert measure.main([str(log), "--ci", "0", "--json", str(tmp_path / "m.json")]) == 0
    assert "inf] (grid-limited: train)" in capsys.readouterr().out
    run = json.loads((tmp_path / "m.json").read_text())["runs"]["all"]
    assert run["bounds"]["relative_gap"][1] == "inf"


def test_a_train_curve_at_its_top_from_the_second_sample_is_limited_not_refused():
    # Memorised within the first logging interval: 0.01 at step 0, then ~1 (with noise and a late
    # wobble that a step still explains). The fit drives b to the window's edge; the crossing
    # lies between the first two samples all the same.
    rng = np.random.default_rng(9)
    train = np.clip(1.0 - 0.002 * rng.random(GRID.size), 0, 1)
    train[0] = 0.01
    train[60:63] = 0.93
    test = erf_curve(GRID, 0.01, 600.0)
    m = grokking.measure_grokking(GRID, train, test, chance=0.0)
    assert m.ok and m.resolution == "train" and m.bounds["jump_train"] == (0.0, 10.0)
    assert m.bounds["relative_gap"] == (pytest.approx(600 / 10 - 1, rel=1e-6), math.inf)
    # A train curve that falls back below its midpoint again and again is not a jump: refused.
    train[100:400:20] = 0.2
    assert not grokking.measure_grokking(GRID, train, test, chance=0.0).ok


def test_log_time_with_the_train_jump_before_the_first_positive_step():
    # Step 0 below the midpoint, step 10 already above it: on a log axis the jump lies between
    # the sample left out (t = 0) and the window's first; the gap is bounded below only.
    train = erf_curve(GRID, 5.0, 5.0)
    test = erf_curve(GRID, 0.01, 600.0)
    m = grokking.measure_grokking(GRID, train, test, chance=0.0, log_time=True)
    assert m.ok and m.resolution == "train" and m.bounds["jump_train"] == (0.0, 10.0)
    assert 0.0 < m.train.jump_time <= 10.0
    assert m.bounds["relative_gap"][0] == pytest.approx(m.test.jump_time / 10 - 1, rel=1e-12)
    assert m.bounds["relative_gap"][1] == math.inf


def test_resolved_pairs_are_measured_as_before():
    t = np.linspace(0.0, 1000.0, 4000)
    train, test = erf_curve(t, 0.02, 200.0), erf_curve(t, 0.008, 700.0)
    m = grokking.measure_grokking(t, train, test, chance=0.0)
    assert m.ok and m.resolution == "" and not m.train.limited and not m.test.limited
    assert m.relative_gap == pytest.approx(700 / 200 - 1, rel=1e-8)
    assert m.relative_sharpness == pytest.approx(0.4, rel=1e-8)
    for name in grokking.MEASURES:
        value = grokking.pair_measures(m.train, m.test)[name]
        assert m.bounds[name] == (value, value)
    assert math.isnan(m.train.jump_lo) and math.isnan(m.test.max_slope_lo)
    assert np.isnan([m.collapse_train_time, m.collapse_test_time, m.collapse_test_depth]).all()
    # The masked program (another curve of the batch has a shorter window) fits a full-window
    # curve as the unmasked one does.
    both = np.stack([test, train])
    alone = fg.fit_erf(t, test, c=0.5, d=0.5)
    masked = fg.fit_erf(t, both, c=0.5, d=0.5, window=([0, 100], [t.size, 3000]))
    for name in ("a", "b", "r2", "aic", "bic", "a_se", "b_se"):
        assert getattr(masked, name)[0] == pytest.approx(getattr(alone, name), rel=1e-12), name


# ---------------------------------------------------------------------------------------------
# (d) Grok, then collapse.

T_LONG = np.linspace(0.0, 12_000.0, 1201)  # every 10 steps


def grok_then_collapse(t):
    """An erf rise to 0.998 at step 5000, then a fall by 0.628 to 0.37 centred on step 8000."""
    return erf_curve(t, 0.002, 5000.0, 0.498, 0.5) - 0.314 * (1 + erf(0.002 * (t - 8000.0)))


def fall_crossing(level):
    """When the fall passes ``level``: 0.998 − 0.314(1 + erf(0.002(t − 8000))) = level (the rise
    is 0.998 to double precision there)."""
    return 8000.0 + erfinv((0.998 - level) / 0.314 - 1.0) / 0.002


def test_grok_then_collapse_is_measured_on_its_rise():
    train = erf_curve(T_LONG, 0.004, 800.0)
    test = grok_then_collapse(T_LONG)
    assert not fg.fit_erf(T_LONG, test, c=0.5, d=0.5).ok  # fitted whole, it is no measurement
    m = grokking.measure_grokking(T_LONG, train, test, chance=0.0)
    assert m.ok and m.test.jump_time == pytest.approx(5000.0, rel=1e-6)
    assert m.test.sharpness == pytest.approx(0.002, rel=0.02)
    assert m.collapse_test_time == pytest.approx(fall_crossing(0.5), abs=1.0)
    assert m.collapse_test_depth == pytest.approx(0.998 - 0.37, abs=0.005)
    # The window ends at the last sample at or above d + c/2 = 0.75 before the fall.
    assert T_LONG[m.test.end - 1] == 10.0 * math.floor(fall_crossing(0.75) / 10.0)
    assert math.isnan(m.collapse_train_time) and m.train.end == T_LONG.size


def test_noisy_grok_then_collapse_is_found_and_measured():
    rng = np.random.default_rng(4)
    train = erf_curve(T_LONG, 0.004, 800.0) + 0.01 * rng.standard_normal(T_LONG.size)
    test = grok_then_collapse(T_LONG) + 0.01 * rng.standard_normal(T_LONG.size)
    m = grokking.measure_grokking(T_LONG, train, test, chance=0.0)
    assert m.ok and m.test.jump_time == pytest.approx(5000.0, abs=20.0)
    assert m.collapse_test_time == pytest.approx(fall_crossing(0.5), abs=30.0)
    assert m.collapse_test_depth == pytest.approx(0.998 - 0.37, abs=0.03)
    assert math.isnan(m.collapse_train_time)


def test_a_train_curve_can_collapse_too():
    train = erf_curve(T_LONG, 0.004, 800.0) - 0.4 * (1 + erf(0.004 * (T_LONG - 9000.0)))
    m = grokking.measure_grokking(T_LONG, train, erf_curve(T_LONG, 0.002, 5000.0), chance=0.0)
    assert m.ok and m.train.jump_time == pytest.approx(800.0, rel=1e-6)
    # 1 − 0.4(1 + erf(0.004(t − 9000))) = ½ at erf = 0.25.
    assert m.collapse_train_time == pytest.approx(9000.0 + erfinv(0.25) / 0.004, abs=1.0)
    assert math.isnan(m.collapse_test_time)


def test_dips_that_recover_and_short_falls_at_the_end_are_not_collapses():
    rng = np.random.default_rng(5)
    rise = erf_curve(T_LONG, 0.002, 5000.0, 0.498, 0.5)
    # Below ½ for |t − 8000| < 300·√(−ln(0.498/0.6)) ≈ 130 (26 samples, a held run: more than
    # 1 % of the log), then back at the plateau.
    dip = (rise - 0.6 * np.exp(-(((T_LONG - 8000.0) / 300.0) ** 2))
           + 0.02 * rng.standard_normal(T_LONG.size))
    assert np.sum(dip[(T_LONG > 7000) & (T_LONG < 9000)] < 0.5) >= 20
    late = rise.copy()
    late[-5:] = 0.3  # five samples (< 1 % of the log) below ½ at the end
    train = np.tile(erf_curve(T_LONG, 0.004, 800.0), (2, 1))
    m = grokking.measure_grokking(T_LONG, train, np.stack([dip, late]), chance=0.0)
    assert np.isnan(m.collapse_test_time).all() and np.all(m.test.end == T_LONG.size)
    assert m.ok[1] and m.test.jump_time[1] == pytest.approx(5000.0, rel=1e-3)


# ---------------------------------------------------------------------------------------------
# (e) A window fit is the fit of the sliced curve.

FIELDS = ("a", "b", "c", "d", "a_se", "b_se", "c_se", "d_se", "r2", "rmse", "aic", "bic")


def assert_windows_equal_slices(t, y, start, end, **kwargs):
    batch = fg.fit_curve(t, y, window=(start, end), **kwargs)
    for i in range(len(y)):
        alone = fg.fit_curve(t[start[i]:end[i]], y[i, start[i]:end[i]], **kwargs)
        assert batch.ok[i] and alone.ok and batch.reason[i] == alone.reason
        assert (batch.start[i], batch.end[i]) == (start[i], end[i])
        for name in FIELDS:
            want = getattr(alone, name)
            if np.isfinite(want):
                assert getattr(batch, name)[i] == pytest.approx(want, rel=1e-8, abs=1e-300), name


@pytest.mark.parametrize("kwargs", [{}, {"c": 0.5, "d": 0.5}, {"log_time": True},
                                    {"shape": "richards"}])
def test_window_fits_equal_fits_of_the_sliced_curves(kwargs):
    rng = np.random.default_rng(1)
    t = np.linspace(1.0, 1000.0, 500)
    a, b = np.array([0.01, 0.02, 0.005, 0.015]), np.array([300.0, 500.0, 600.0, 400.0])
    y = erf_curve(t, a[:, None], b[:, None]) + 0.02 * rng.standard_normal((4, t.size))
    assert_windows_equal_slices(t, y, np.array([0, 30, 50, 10]), np.array([500, 350, 480, 460]),
                                **kwargs)


def test_window_fits_equal_sliced_fits_through_the_coarse_first_solve():
    # 12 000 points: the batch takes the coarse-then-full path; windows longer and shorter than
    # the 4 096 points above which a curve (or window) is first solved on 2 048 samples.
    rng = np.random.default_rng(3)
    t = np.linspace(1.0, 1e5, 12_000)
    a, b = np.array([1e-4, 3e-4, 2e-4]), np.array([3e4, 5e4, 6e4])
    y = erf_curve(t, a[:, None], b[:, None]) + 0.01 * rng.standard_normal((3, t.size))
    assert_windows_equal_slices(t, y, np.array([0, 4000, 1000]), np.array([12_000, 7500, 9500]),
                                c=0.5, d=0.5)


@pytest.mark.parametrize("window, match", [((0, 3), "at least 6 points"),
                                           ((-1, None), r"in \[0, 50\]"),
                                           ((0.5, None), "integer"),
                                           (([0, 1, 2], None), "one per curve")])
def test_bad_windows_are_clear_errors(window, match):
    t = np.linspace(0.0, 1.0, 50)
    with pytest.raises(ValueError, match=match):
        fg.fit_erf(t, np.stack([erf_curve(t, 5, 0.5)] * 2), window=window)


# ---------------------------------------------------------------------------------------------
# (f) The new fields through take_rows, as_single, as_batch, pick_fits.

def test_new_fields_survive_row_selection_and_single_conversion():
    t = np.linspace(0.0, 1000.0, 300)
    y = np.stack([erf_curve(t, 0.02, 400.0), erf_curve(t, 5.0, 501.0), erf_curve(t, 0.01, 600.0)])
    fit = fg.fit_erf(t, y, c=0.5, d=0.5, window=([0, 10, 20], [300, 290, 280]))
    assert list(fit.limited) == [False, True, False]
    row = fg.take_rows(fit, [1])
    assert row.start.tolist() == [10] and row.end.tolist() == [290] and row.limited.tolist() == [True]
    one = fg.as_single(row)
    assert isinstance(one.start, int) and (one.start, one.end) == (10, 290)
    assert one.limited is True and one.jump_lo <= one.jump_time <= one.jump_hi
    assert fg.as_batch(one).start.tolist() == [10]
    # Refitting on the same windows, as a bootstrap does, gives the same fits.
    again = fg.fit_erf(t, y, c=0.5, d=0.5, window=(fit.start, fit.end))
    np.testing.assert_array_equal(again.b, fit.b)
    # A pair: scalars for one, arrays for a batch of one, through shape="auto"'s pick_fits.
    single = grokking.measure_grokking(t, y[0], y[1], chance=0.0, shape="auto")
    batch = grokking.measure_grokking(t, y[:1], y[1:2], chance=0.0, shape="auto")
    assert single.resolution == "test" and batch.resolution.tolist() == ["test"]
    assert isinstance(single.train.start, int) and single.test.limited is True
    lo, hi = single.bounds["relative_gap"]
    assert isinstance(lo, float) and (lo, hi) == fg.as_single(batch).bounds["relative_gap"]
    assert fg.as_batch(single).bounds["relative_gap"][0].shape == (1,)


# ---------------------------------------------------------------------------------------------
# Intervals on real logs (linear_grok.intervals with windows and grid bounds).


def test_intervals_of_a_grid_limited_pair_are_its_grid_bounds(tmp_path, capsys):
    printed, run = run_command(tmp_path, capsys, "--ci")  # a bare --ci: 95 %
    iv = run["intervals"]
    # The train jump lies between steps 100 and 200 whatever the noise: no replicate can say more.
    assert (iv["lower"]["jump_train"], iv["upper"]["jump_train"]) == (100.0, 200.0)
    np.testing.assert_allclose([iv["lower"]["relative_gap"], iv["upper"]["relative_gap"]],
                               [B_TEST / 200 - 1, B_TEST / 100 - 1], rtol=1e-6)
    assert iv["n_ok"] == 200 and "95% bootstrap intervals" in printed  # every replicate measured


def test_intervals_of_a_collapsed_curve_are_those_of_its_rise():
    # Binomial noise (250 evaluation samples): the pair as logged, and the same curves cut where
    # the fit's window ends; the bootstrap resamples and refits the window only, so the two agree.
    from linear_grok import intervals

    rng = np.random.default_rng(8)
    train = rng.binomial(250, erf_curve(T_LONG, 0.004, 800.0)) / 250
    test = rng.binomial(250, np.clip(grok_then_collapse(T_LONG), 0, 1)) / 250
    whole = grokking.measure_grokking(T_LONG, train, test, chance=0.0)
    end = whole.test.end
    assert end < T_LONG.size
    cut = grokking.measure_grokking(T_LONG[:end], train[:end], test[:end], chance=0.0)
    assert cut.test.end == end and whole.test.jump_time == pytest.approx(cut.test.jump_time, rel=1e-9)
    a = intervals.bootstrap(T_LONG, train, test, whole, n_boot=100, seed=3).intervals
    b = intervals.bootstrap(T_LONG[:end], train[:end], test[:end], cut, n_boot=100, seed=3).intervals
    assert a.n_ok == 100
    for name in ("jump_test", "relative_gap"):
        width_a, width_b = a.upper[name] - a.lower[name], b.upper[name] - b.lower[name]
        assert width_a == pytest.approx(width_b, rel=0.3), name
    assert a.lower["jump_test"] < 5000.0 < a.upper["jump_test"]


# ---------------------------------------------------------------------------------------------
# A real public log (tests/data/real_logs: modular addition, AdamW, logged every 25 steps).

REAL_LOG = Path(__file__).parent / "data" / "real_logs" / "modadd_adamw_p97_wd0_seed0.jsonl"


def test_a_real_log_that_memorises_within_two_evaluations_gets_a_bounded_gap(tmp_path, capsys):
    records = [json.loads(line) for line in REAL_LOG.read_text().splitlines()]
    records = [r for r in records if "step" in r]
    t = np.array([r["step"] for r in records], dtype=float)
    train = np.array([r["train_acc"] for r in records])
    test = np.array([r["test_acc"] for r in records])
    chance = 1 / 97
    d = 1 - (1 - chance) / 2
    # Read off the log: train crosses d between steps 25 and 50; test reaches its quarter levels
    # d ∓ c/2 at steps 75 and 1400, and its fitted jump lies between.
    j = int(np.argmax(train >= d))
    assert (t[j - 1], t[j]) == (25.0, 50.0)
    out = tmp_path / "m.json"
    assert measure.main([str(REAL_LOG), "--time", "step", "--train", "train_acc", "--test", "test_acc",
                         "--chance", str(chance), "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"]["all"]
    assert run["ok"] and run["resolution"] == "train"
    assert run["bounds"]["jump_train"] == [25.0, 50.0]
    b_test = run["test"]["b"]
    quarter = [t[np.argmax(test >= level)] for level in (d - (1 - chance) / 4, d + (1 - chance) / 4)]
    assert quarter == [75.0, 1400.0] and quarter[0] < b_test < quarter[1]
    np.testing.assert_allclose(run["bounds"]["relative_gap"], [b_test / 50 - 1, b_test / 25 - 1], rtol=1e-9)
    assert "grid-limited: train" in capsys.readouterr().out
    # With intervals: the train jump keeps its bracket, the resolved test jump gets the width its
    # noise allows, and the gap's interval holds the grid's bounds.
    assert measure.main([str(REAL_LOG), "--time", "step", "--train", "train_acc", "--test", "test_acc",
                         "--chance", str(chance), "--ci", "--n-boot", "50", "--json", str(out)]) == 0
    iv = json.loads(out.read_text())["runs"]["all"]["intervals"]
    assert iv["lower"]["jump_train"] <= 25.0 and iv["upper"]["jump_train"] >= 50.0
    assert iv["lower"]["jump_test"] < b_test < iv["upper"]["jump_test"]
    assert iv["lower"]["relative_gap"] <= b_test / 50 - 1 and iv["upper"]["relative_gap"] >= b_test / 25 - 1

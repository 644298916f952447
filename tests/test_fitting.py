"""Fitting against independent references: known synthetic parameters, scipy's curve_fit,
hand-computed measures, and logistic curves whose slope is known analytically."""

import json
import math

import numpy as np
import pytest
from scipy.optimize import curve_fit
from scipy.special import erf

from linear_grok import fitting as fg
from linear_grok import grokking, measure, trends


def erf_curve(t, a, b, c=0.5, d=0.5):
    return c * erf(a * (t - b)) + d


T = np.linspace(0.0, 1000.0, 4000)


@pytest.mark.parametrize("a, b", [(0.02, 300.0), (0.005, 600.0), (0.2, 50.0)])
def test_noise_free_erf_recovered_exactly(a, b):
    fit = fg.fit_erf(T, erf_curve(T, a, b), c=0.5, d=0.5)
    assert fit.ok, fit.reason
    assert fit.a == pytest.approx(a, rel=1e-9) and fit.b == pytest.approx(b, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0) and fit.rmse < 1e-10


def test_noisy_erf_recovered_within_standard_errors_and_matches_curve_fit():
    rng = np.random.default_rng(0)
    a, b, c, d = 0.01, 420.0, 0.25, 0.75
    y = erf_curve(T, a, b, c, d) + 0.02 * rng.standard_normal(T.shape)
    fit = fg.fit_erf(T, y)
    assert fit.ok, fit.reason
    for got, true, se in [(fit.a, a, fit.a_se), (fit.b, b, fit.b_se), (fit.c, c, fit.c_se),
                          (fit.d, d, fit.d_se)]:
        assert abs(got - true) < 4 * se
    # scipy's curve_fit (a different optimiser) finds the same minimum and the same errors.
    p, cov = curve_fit(erf_curve, T, y, p0=[0.02, 400, 0.3, 0.7])
    np.testing.assert_allclose([fit.a, fit.b, fit.c, fit.d], p, rtol=1e-6)
    np.testing.assert_allclose([fit.a_se, fit.b_se, fit.c_se, fit.d_se], np.sqrt(np.diag(cov)),
                               rtol=1e-4)


def test_long_curves_reach_curve_fits_optimum():
    """Curves long enough for the coarse first solve (50 000 points; 2 048 samples first, then
    all of them) end at the least-squares optimum that a tightly converged curve_fit finds."""
    rng = np.random.default_rng(1)
    t = np.linspace(1.0, 1e5, 50_000)
    a, b = rng.uniform(5e-5, 1e-3, 12), rng.uniform(0.15, 0.7, 12) * 1e5
    y = erf_curve(t, a[:, None], b[:, None]) + 0.005 * rng.standard_normal((12, t.size))
    fit = fg.fit_erf(t, y, c=0.5, d=0.5)
    assert np.all(fit.ok)
    model = lambda t, a, b: erf_curve(t, a, b)  # noqa: E731
    ref = np.array([curve_fit(model, t, yi, p0=[ai, bi], ftol=1e-15, xtol=1e-15, gtol=1e-15)[0]
                    for yi, ai, bi in zip(y, a, b, strict=True)])
    np.testing.assert_allclose(fit.a, ref[:, 0], rtol=1e-6)
    np.testing.assert_allclose(fit.b, ref[:, 1], rtol=1e-6)


def test_batch_equals_single_fits():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.003, 0.05, 5)
    b = rng.uniform(200, 800, 5)
    y = erf_curve(T, a[:, None], b[:, None]) + 0.01 * rng.standard_normal((5, T.size))
    batch = fg.fit_erf(T, y, c=0.5, d=0.5)
    for i in range(5):
        single = fg.fit_erf(T, y[i], c=0.5, d=0.5)
        assert single.a == pytest.approx(batch.a[i], rel=1e-10)
        assert single.b == pytest.approx(batch.b[i], rel=1e-10)
    np.testing.assert_allclose(batch.a, a, rtol=0.05)


def test_logistic_curve_measured_sensibly():
    """A logistic jump 1/(1+e^{-(t-b)/s}) has midpoint b and maximum slope 1/(4s)."""
    b, s = 500.0, 25.0
    y = 1 / (1 + np.exp(-(T - b) / s))
    fit = fg.fit_erf(T, y, c=0.5, d=0.5)
    assert fit.ok and fit.r2 > 0.999
    assert fit.jump_time == pytest.approx(b, rel=1e-6)
    assert fit.max_slope == pytest.approx(1 / (4 * s), rel=0.1)


def test_log_time_fit_reports_linear_axis_quantities():
    t = np.logspace(0, 6, 3000)
    y = erf_curve(np.log(t), 2.0, math.log(1e3))
    fit = fg.fit_erf(t, y, c=0.5, d=0.5, log_time=True)
    assert fit.jump_time == pytest.approx(1e3, rel=1e-8)
    # dA/dt at the midpoint: 2c·a_log/(√π·t_jump).
    assert fit.max_slope == pytest.approx(2 * 0.5 * 2.0 / (math.sqrt(math.pi) * 1e3), rel=1e-8)


def test_measure_grokking_hand_computed():
    a_tr, b_tr, a_te, b_te = 0.02, 200.0, 0.008, 700.0
    m = grokking.measure_grokking(T, erf_curve(T, a_tr, b_tr), erf_curve(T, a_te, b_te), chance=0.0)
    assert m.ok
    assert m.relative_gap == pytest.approx(700 / 200 - 1, rel=1e-8)
    assert m.relative_sharpness == pytest.approx(0.4, rel=1e-8)
    assert m.absolute_sharpness == pytest.approx(a_te / math.sqrt(math.pi), rel=1e-8)
    assert m.midpoint_gap == pytest.approx(2.5, rel=1e-3)
    # Parity's chance level: c = 1/4, absolute sharpness a/(2√π).
    par = grokking.measure_grokking(T, erf_curve(T, a_tr, b_tr, 0.25, 0.75),
                              erf_curve(T, a_te, b_te, 0.25, 0.75), chance=0.5)
    assert par.absolute_sharpness == pytest.approx(a_te / (2 * math.sqrt(math.pi)), rel=1e-8)


@pytest.mark.parametrize("y, reason", [
    (np.full(T.size, 0.9), "starts at or above"),
    (np.full(T.size, 0.1), "never reaches"),
    (erf_curve(T, 0.02, 300.0) * 0 + 0.3, "never reaches"),
])
def test_curves_without_a_jump_are_recorded_failures(y, reason):
    fit = fg.fit_erf(T, y, c=0.5, d=0.5)
    assert not fit.ok and reason in fit.reason and math.isnan(fit.a)


def test_flat_curve_with_free_shape_fails_with_reason():
    fit = fg.fit_erf(T, np.full(T.size, 0.4))
    assert not fit.ok and "flat" in fit.reason


def test_train_already_at_top_fails_the_pair_with_reason():
    m = grokking.measure_grokking(T, np.ones_like(T), erf_curve(T, 0.01, 500.0), chance=0.0)
    assert not m.ok and m.reason.startswith("train:") and math.isnan(m.relative_gap)


def test_pure_noise_is_a_poor_fit():
    rng = np.random.default_rng(3)
    y = np.where(rng.random(T.size) < 0.5, 0.0, 1.0)
    fit = fg.fit_erf(T, y, c=0.5, d=0.5)
    # The solve stays at its start, a step at the first midpoint crossing with no sample on its
    # ramp, so the reason is the unresolved jump; it gets no bounds either (not `limited`):
    # noise is not a jump.
    assert not fit.ok and fit.reason.startswith("jump narrower than the time grid resolves")
    assert not fit.limited and math.isnan(fit.jump_lo) and math.isnan(fit.a)
    # That step misses every 0 from the crossing on (1998 of the 2000): R² = 1 − 1998/1000,
    # far worse than the mean.
    j = int(np.argmax(y >= 0.5))
    rss = np.sum(y[:j] == 1) + np.sum(y[j:] == 0)
    tss = np.sum((y - y.mean()) ** 2)
    assert fit.r2 == pytest.approx(1 - rss / tss, rel=1e-9) and fit.r2 < 0
    assert fit.rmse == pytest.approx(math.sqrt(rss / T.size), rel=1e-9)
    # No step anywhere in the data (each side replaced by its mean) comes near min_r2 = 0.9.
    n, k = T.size, np.arange(1, T.size)
    s = np.cumsum(y)[:-1]
    step_rss = s - s**2 / k + (y.sum() - s) - (y.sum() - s) ** 2 / (n - k)
    assert np.max(1 - step_rss / tss) < 0.01


@pytest.mark.parametrize("t, acc, match", [
    (T, np.where(T > 5, np.nan, 0.0), "acc must be finite"),
    (T[:4], np.zeros(4), "at least"),
    (T[::-1], np.zeros(T.size), "strictly increasing"),
    (T, np.zeros(T.size + 1), "shape"),
])
def test_malformed_input_is_a_clear_error(t, acc, match):
    with pytest.raises(ValueError, match=match):
        fg.fit_erf(t, acc)


def test_power_law_fit_recovers_exponent():
    x = np.geomspace(0.1, 10, 30)
    trend = trends.power_law_fit(x, 3.0 * x**-0.7)
    assert trend.slope == pytest.approx(-0.7) and trend.intercept == pytest.approx(math.log10(3))
    assert trend.n == 30 and trend.r2 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 3"):
        trends.power_law_fit([1, 2], [1, 2])


def test_power_law_fit_statistics_equal_scipy_linregress():
    from scipy import stats

    rng = np.random.default_rng(5)
    x = np.geomspace(0.5, 20, 25)
    y = 2.0 * x**-0.4 * np.exp(0.2 * rng.normal(size=x.size))
    law = trends.power_law_fit(x, y)
    ref = stats.linregress(np.log10(x), np.log10(y))
    for ours, theirs in ((law.slope, ref.slope), (law.intercept, ref.intercept),
                         (law.slope_se, ref.stderr), (law.intercept_se, ref.intercept_stderr),
                         (law.r2, ref.rvalue**2)):
        assert ours == pytest.approx(theirs, rel=1e-10)


def _write_csv(path, runs):
    lines = ["run,step,train_acc,val_acc"]
    for name, (t, tr, te) in runs.items():
        lines += [f"{name},{a},{b},{c}" for a, b, c in zip(t, tr, te, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_cli_round_trips_a_csv(tmp_path, capsys):
    t = np.arange(1, 3001, 5.0)
    runs = {"A": (t, erf_curve(t, 0.01, 400.0), erf_curve(t, 0.004, 1500.0)),
            "B": (t, erf_curve(t, 0.02, 200.0), np.full(t.size, 0.01))}
    _write_csv(tmp_path / "curves.csv", runs)
    out_json, out_png = tmp_path / "m.json", tmp_path / "m.png"
    code = measure.main([str(tmp_path / "curves.csv"), "--group", "run", "--json", str(out_json),
                         "--plot", str(out_png)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "ok" in printed and "never reaches" in printed
    data = json.loads(out_json.read_text())
    a = data["runs"]["A"]
    assert a["relative_gap"] == pytest.approx(1500 / 400 - 1, rel=1e-6)
    assert a["relative_sharpness"] == pytest.approx(0.4, rel=1e-6)
    assert data["runs"]["B"]["ok"] is False and data["runs"]["B"]["relative_gap"] is None
    assert out_png.stat().st_size > 1000


@pytest.mark.parametrize("content, args, match", [
    ("step,train_acc\n1,0.5\n", [], "missing column"),
    ("step,train_acc,val_acc\n1,0.5,x\n", [], "not a number"),
    ("step,train_acc,val_acc\n1,0.5,nan\n", [], "finite"),
    ("step,train_acc,val_acc\n1,0.1,0.1\n2,0.2,0.2\n", [], "at least"),
    ("step,train_acc,val_acc\n", [], "no data rows"),
])
def test_cli_bad_input_is_one_line_error(tmp_path, capsys, content, args, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert measure.main([str(path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and match in err and "\n" not in err


def test_cli_missing_file(tmp_path, capsys):
    assert measure.main([str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_shape_auto_prints_and_saves_every_familys_criteria(tmp_path, capsys):
    t = np.arange(1, 3001, 5.0)
    # A logistic jump (independent NumPy form 2σ(a(t − b)) − 1) with a little noise: noise-free,
    # the nested Richards fit (ν = 1) ties with it to rounding error and BIC cannot choose.
    rng = np.random.default_rng(5)
    logistic = lambda a, b: (0.5 * (2 / (1 + np.exp(-a * (t - b))) - 1) + 0.5  # noqa: E731
                             + 0.003 * rng.standard_normal(t.size))
    _write_csv(tmp_path / "curves.csv", {"L": (t, logistic(0.03, 400.0), logistic(0.01, 1500.0))})
    out_json = tmp_path / "m.json"
    assert measure.main([str(tmp_path / "curves.csv"), "--group", "run", "--shape", "auto",
                         "--ci", "0.9", "--n-boot", "50", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "erf BIC" in printed and "richards AIC" in printed and "* chosen" in printed
    assert "90% bootstrap intervals (50 replicates" in printed
    run = json.loads(out_json.read_text())["runs"]["L"]
    assert run["shape"] == "logistic" and set(run["candidates"]) == {"erf", "logistic", "richards"}
    assert run["candidates"]["logistic"]["bic"] < run["candidates"]["erf"]["bic"]
    assert run["relative_gap"] == pytest.approx(1500 / 400 - 1, rel=1e-2)
    iv = run["intervals"]
    assert iv["level"] == 0.9 and iv["n_boot"] == 50
    assert iv["lower"]["relative_gap"] < run["relative_gap"] < iv["upper"]["relative_gap"]
    # The erf-equivalent relative sharpness is the ratio of maximum slopes, a_test/a_train here.
    assert run["relative_sharpness"] == pytest.approx(1 / 3, rel=2e-2)


# docs/theory.md §17: a jump is resolved when at least 3 samples lie on its ramp |t − b| <= c/max A',
# an interval 2c/max A' = √π/a wide for erf. On a grid of spacing 10, counted by hand (the
# half-width interval |t − b| <= c/(2 max A') would hold 1, 1, 1 and 2 of them):
@pytest.mark.parametrize("width, b, samples", [
    (15.0, 503.0, 2),  # [495.5, 510.5]: 500, 510
    (19.0, 500.0, 1),  # [490.5, 509.5]: 500
    (21.0, 500.0, 3),  # [489.5, 510.5]: 490, 500, 510
    (45.0, 503.0, 4),  # [480.5, 525.5]: 490, 500, 510, 520
])
def test_jump_the_grid_does_not_resolve_is_flagged_not_measured(width, b, samples):
    t = np.arange(0.0, 1001.0, 10.0)
    assert np.sum(np.abs(t - b) <= width / 2) == samples
    fit = fg.fit_erf(t, erf_curve(t, math.sqrt(math.pi) / width, b), c=0.5, d=0.5)
    if samples < 3:
        assert not fit.ok and fit.reason == (f"jump narrower than the time grid resolves: {samples} "
                                             "sample(s) across its ramp (< 3)")
    else:  # resolved: measured, the true parameters recovered
        assert fit.ok, fit.reason
        assert fit.b == pytest.approx(b, rel=1e-8) and fit.a == pytest.approx(math.sqrt(math.pi) / width,
                                                                                rel=1e-6)


def test_version_flag_and_console_scripts():
    import subprocess
    import sys
    from importlib import metadata

    import linear_grok

    out = subprocess.run([sys.executable, "-m", "linear_grok.measure", "--version"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"linear_grok {metadata.version('linear_grok')}"
    assert linear_grok.__version__ == metadata.version("linear_grok")
    scripts = {e.name: e.value for e in metadata.entry_points(group="console_scripts")
               if e.name.startswith("linear-grok-")}
    assert scripts["linear-grok-measure"] == "linear_grok.measure:main"
    assert {"linear-grok-lambda-sweep", "linear-grok-parity-sweep", "linear-grok-figures"} <= set(scripts)

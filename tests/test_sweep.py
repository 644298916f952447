"""The λ sweep end to end on tiny sizes: the mirror map (docs/theory.md §13), fitted measures against the
theory's fit-free midpoint values, recorded failures, atomic results and figure regeneration."""

import csv
import json

import numpy as np
import pytest

from experiments import compare, figures, lambda_sweep
from linear_grok.results import load_results
from linear_grok.settings.linear import sweep


def test_mirror_keeps_one_minus_sqrt_lambda_squared():
    lam = np.linspace(1.003, 1.1, 7)
    lam_m = sweep.mirror(lam)
    np.testing.assert_allclose((1 - np.sqrt(lam_m)) ** 2, (1 - np.sqrt(lam)) ** 2, rtol=1e-12)
    assert np.all(lam_m < 1) and lam_m.min() == pytest.approx(0.905, abs=1e-3)


def test_paper_and_exact_modes_agree_within_mirror_tolerance():
    """docs/theory.md §13: the mirror changes (gap, R_rel, R_abs) by < 1.5 %."""
    kw = dict(n_lam=4, n_time=1500)
    paper = sweep.run_lambda_sweep(sweep.LambdaSweepConfig(mode="paper", **kw), progress=False)
    exact = sweep.run_lambda_sweep(sweep.LambdaSweepConfig(mode="exact", **kw), progress=False)
    assert paper["ok"].all() and exact["ok"].all()
    for key in ("relative_gap", "relative_sharpness", "absolute_sharpness"):
        np.testing.assert_allclose(exact[key], paper[key], rtol=0.015)


def test_fitted_measures_track_fit_free_theory():
    arrays = sweep.run_lambda_sweep(sweep.LambdaSweepConfig(n_lam=3, n_time=2000), progress=False)
    # The erf midpoint is the 50 % crossing: fitted jump times within 2 % of theory's.
    np.testing.assert_allclose(arrays["b_test"][:, 0], arrays["nofit_t_test"], rtol=0.02)
    np.testing.assert_allclose(arrays["relative_gap"][:, 0], arrays["nofit_gap"], rtol=0.05)
    # Both sharpness measures fall as the gap grows (the paper's finding).
    order = np.argsort(arrays["relative_gap"][:, 0])
    assert np.all(np.diff(arrays["relative_sharpness"][order, 0]) < 0)
    assert np.all(np.diff(arrays["absolute_sharpness"][order, 0]) < 0)


def test_bad_points_are_recorded_and_the_sweep_goes_on():
    # 5000 points: with ε = 1e-3 the train jump comes early in the window and a coarser grid
    # leaves it unresolved (flagged, as test_fitting checks).
    cfg = sweep.LambdaSweepConfig(lams=(0.9, 1.0, 1.5, 0.95), n_time=5000, eps=1e-3)
    arrays = sweep.run_lambda_sweep(cfg, progress=False)
    ok, reason = arrays["ok"][:, 0], arrays["reason"][:, 0]
    assert ok[0] and ok[3]
    assert "no finite time window" in reason[1]
    assert not ok[2] and "test" in reason[2]  # the λ > 1 plateau: test never reaches ½
    assert np.isnan(arrays["relative_gap"][2, 0])


def test_simulate_mode_runs_and_records_unstable_lambda():
    cfg = sweep.LambdaSweepConfig(mode="simulate", lams=(0.9, 0.95, 40.0), eps=1e-6, d_in=40,
                                  seeds=(0, 1), n_time_simulate=500, n_test=200, eta=0.02)
    arrays = sweep.run_lambda_sweep(cfg, progress=False)
    assert arrays["acc_train"].shape == (3, 2, 500)
    assert "stability" in arrays["reason"][2, 0]
    assert np.isfinite(arrays["relative_gap"][:2]).sum() >= 3


def test_config_errors_name_parameter():
    with pytest.raises(ValueError, match="^mode must be"):
        sweep.LambdaSweepConfig(mode="nope")
    with pytest.raises(ValueError, match="^eps must be > 0"):
        sweep.LambdaSweepConfig(eps=0.0)


def test_main_writes_results_and_figures_and_regenerates(tmp_path, capsys):
    out, figs = tmp_path / "results", tmp_path / "figs"
    code = lambda_sweep.main(["--mode", "all", "--n-lam", "3", "--n-time", "300", "--d-in", "30",
                              "--seeds", "0", "--out", str(out), "--figures",
                              str(figs), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "log-log slope" in printed
    # Flags changed the preset: every mode's name carries the same configuration hash.
    tags = {npz.stem.split("_")[-1] for npz in out.glob("lambda_sweep_quick_*.npz")}
    assert len(tags) == 1 and len(list(out.glob("*.npz"))) == 3
    (tag,) = tags
    arrays, meta = load_results(out / f"lambda_sweep_quick_exact_{tag}")
    assert meta["config"]["n_lam"] == 3 and meta["provenance"]["versions"]["jax"]
    assert meta["command"].startswith("python -m experiments.lambda_sweep --mode all")
    assert arrays["acc_test"].shape == (3, 1, 300)
    assert not list(out.glob(".*tmp"))  # atomic writes leave no temporary files
    # The tables as CSV: one row per run, the same numbers as the result file.
    sim, _ = load_results(out / f"lambda_sweep_quick_simulate_{tag}")
    with open(out / f"lambda_sweep_quick_simulate_{tag}_runs.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sim["ok"].size == 3 and rows[0]["lam"] == repr(float(sim["lam"][0]))
    gaps = [float(r["relative_gap"]) if r["relative_gap"] else np.nan for r in rows]
    np.testing.assert_array_equal(gaps, sim["relative_gap"].ravel())
    with open(out / f"lambda_sweep_quick_simulate_{tag}_trends.csv") as fh:
        trend_rows = {r["measure"]: r for r in csv.DictReader(fh)}
    assert set(trend_rows) == {"relative_sharpness", "absolute_sharpness"}
    drawn = {p.name for p in figs.iterdir()}
    assert {f"linear_fig1_quick_paper_{tag}.png", f"linear_fig3_quick_exact_{tag}.png",
            f"linear_fig6_quick_simulate_{tag}.png",
            f"linear_theory_vs_simulation_quick_{tag}.png"} <= drawn
    for p in figs.iterdir():
        p.unlink()
    assert figures.main(["--results", str(out), "--figures", str(figs)]) == 0
    assert len(list(figs.iterdir())) == len(drawn)
    # The same configuration again: refused before any work, unless --overwrite.
    again = ["--mode", "exact", "--n-lam", "3", "--n-time", "300", "--d-in", "30", "--seeds", "0",
             "--out", str(out), "--no-figures", "--no-progress"]
    capsys.readouterr()
    assert lambda_sweep.main(again) == 2
    assert "exists (same configuration); pass --overwrite" in capsys.readouterr().err
    assert lambda_sweep.main([*again, "--overwrite"]) == 0
    assert load_results(out / f"lambda_sweep_quick_exact_{tag}")[1]["pair"] != meta["pair"]
    # Another configuration: another name, nothing replaced.
    assert lambda_sweep.main([*again[:3], "4", *again[4:]]) == 0
    assert len(list(out.glob("lambda_sweep_quick_exact_*.npz"))) == 2


def test_compare_main(tmp_path, capsys):
    assert compare.main(["--lams", "0.5", "--d-in", "30", "--seeds", "2", "--steps", "200",
                         "--out", str(tmp_path), "--figures", str(tmp_path)]) == 0
    (sidecar,) = tmp_path.glob("compare_quick_*.json")  # flags change the preset: its hash
    meta = json.loads(sidecar.read_text())
    assert meta["deviations"][0]["lam"] == 0.5
    png = tmp_path / f"compare_theory_simulation_{sidecar.stem.removeprefix('compare_')}.png"
    drawn = png.read_bytes()
    png.unlink()
    # experiments.figures redraws it from the saved result, the same figure.
    assert figures.main(["--results", str(tmp_path), "--figures", str(tmp_path)]) == 0
    assert png.read_bytes() == drawn

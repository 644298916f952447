"""The shared measurement: per-run arrays from a setting's curves (skipped and diverged runs kept
with their reason), hand-computed measures, intervals and families through both sweeps'
commands, and reading result files written before families and intervals existed."""

import numpy as np
import pytest
from scipy import special, stats

from experiments import lambda_sweep
from linear_grok import pipeline
from linear_grok.curves import Curves
from linear_grok.results import load_results

T = np.linspace(0.0, 3000.0, 600)


def erf_curve(a, b):
    return 0.5 * special.erf(a * (T - b)) + 0.5


def test_measure_runs_keeps_the_run_shape_and_every_reason():
    jumps = np.array([[(400.0, 1200.0), (500.0, 1000.0), (300.0, 2100.0)],
                      [(600.0, 1500.0), (350.0, 700.0), (450.0, 900.0)]])  # (2, 3, train/test)
    acc_tr = erf_curve(0.01, jumps[..., 0, None])
    acc_te = erf_curve(0.004, jumps[..., 1, None])
    acc_te[1, 2, 10] = np.nan  # a diverged run
    skip = np.array([["", "invalid grid point", ""], ["", "", ""]])
    curves = Curves(T, acc_tr, acc_te, labels={}, chance=0.0, time_unit="steps", skip=skip)
    out = pipeline.measure_runs(curves)
    assert out["relative_gap"].shape == (2, 3) and out["theta_train"].shape == (2, 3, 0)
    assert out["reason"][0, 1] == "invalid grid point" and np.isnan(out["relative_gap"][0, 1])
    assert out["reason"][1, 2] == "non-finite accuracy (diverged run)"
    ok = out["ok"]
    assert ok.sum() == 4
    np.testing.assert_allclose(out["relative_gap"][ok], (jumps[..., 1] / jumps[..., 0] - 1)[ok], rtol=1e-9)
    np.testing.assert_allclose(out["relative_sharpness"][ok], 0.4, rtol=1e-9)
    np.testing.assert_allclose(out["absolute_sharpness"][ok], 0.004 / np.sqrt(np.pi), rtol=1e-9)
    assert set(out["shape"][ok]) == {"erf"} and set(out["shape"][~ok]) == {""}


def test_measure_runs_with_intervals_and_auto_shape():
    rng = np.random.default_rng(0)
    acc_tr = erf_curve(0.01, np.array([[400.0], [600.0]])) + 0.01 * rng.standard_normal((2, T.size))
    acc_te = erf_curve(0.004, np.array([[1200.0], [1500.0]])) + 0.01 * rng.standard_normal((2, T.size))
    options = pipeline.MeasureOptions(shape="auto", ci=0.9, n_boot=40, seed=1)
    curves = Curves(T, acc_tr, acc_te, labels={}, chance=0.0, time_unit="steps")
    out = pipeline.measure_runs(curves, options)
    assert out["ok"].all() and set(out["shape"]) <= {"erf", "logistic", "richards"}
    for name in ("jump_train", "relative_gap", "absolute_sharpness"):
        assert np.all(out[f"{name}_lo"] <= out[f"{name}_hi"])
    gap = out["relative_gap"]
    assert np.all((out["relative_gap_lo"] < gap) & (gap < out["relative_gap_hi"]))
    bars = pipeline.interval_bars(out, "relative_gap", out["ok"])
    assert bars.shape == (2, 2) and np.all(bars > 0)
    with pytest.raises(ValueError, match="^ci must be in"):
        pipeline.MeasureOptions(ci=95)


def test_lambda_sweep_records_the_measurement_and_draws_error_bars(tmp_path):
    out, figs = tmp_path / "results", tmp_path / "figs"
    assert lambda_sweep.main(["--n-lam", "4", "--n-time", "300", "--ci", "0.9", "--n-boot", "30",
                              "--out", str(out), "--figures", str(figs), "--no-progress"]) == 0
    (npz,) = out.glob("lambda_sweep_quick_exact_*.npz")  # flags changed: the config's hash
    arrays, meta = load_results(npz.with_suffix(""))
    assert meta["measure"] == {"shape": "erf", "ci": 0.9, "n_boot": 30, "seed": 0, "n_eval": None}
    assert arrays["relative_gap_lo"].shape == (4, 1)
    assert np.all(arrays["relative_gap_lo"] <= arrays["relative_gap_hi"])
    assert (figs / f"linear_fig1_{npz.stem.removeprefix('lambda_sweep_')}.png").stat().st_size > 1000


def test_saved_fit_reads_old_and_new_result_files():
    old = {"a_train": np.array([0.01]), "b_train": np.array([400.0])}  # before families: erf, fixed c, d
    assert pipeline.saved_fit(old, "train", 0, 0.5) == ("erf", (0.01, 400.0, 0.25, 0.75))
    new = {"shape": np.array(["richards"]), "a_test": np.array([0.02]), "b_test": np.array([9.0]),
           "c_test": np.array([0.5]), "d_test": np.array([0.5]), "theta_test": np.array([[0.3]])}
    assert pipeline.saved_fit(new, "test", 0, 0.0) == ("richards", (0.02, 9.0, 0.5, 0.5, 0.3))


def test_result_files_carry_their_format_and_old_ones_say_what_they_lack(tmp_path):
    from linear_grok import results

    results.save_results(tmp_path / "new", {"x": np.arange(3)}, {"command": "python -m demo"})
    arrays, meta = results.load_results(tmp_path / "new", require=("x",))
    assert meta["format"] == results.FORMAT
    sidecar = tmp_path / "new.json"
    old = sidecar.read_text().replace(f'"format": {results.FORMAT},', "")
    sidecar.write_text(old)  # as written before the version was recorded
    assert results.load_results(tmp_path / "new")[1]["format"] == 1
    with pytest.raises(ValueError, match=r"new: result format 1 has no shape; rerun: python -m demo"):
        results.load_results(tmp_path / "new", require=("x", "shape"))


def test_settings_hand_over_labelled_curves():
    from linear_grok.settings import parity
    from linear_grok.settings.linear import sweep

    cfg = sweep.preset("quick", mode="exact", lams=(0.9, 1.0), n_time=200)
    curves = sweep.lambda_curves(cfg, progress=False)
    assert curves.runs == (2, 1) and curves.chance == 0.0 and curves.time_unit == "GD steps"
    np.testing.assert_array_equal(curves.labels["lam"][:, 0], [0.9, 1.0])
    assert curves.skip[0, 0] == "" and "no finite time window" in curves.skip[1, 0]
    assert np.all(np.isnan(curves.test[1])) and np.all(np.diff(curves.train[0, 0]) >= -1e-12)
    metrics = {"epoch": np.arange(5.0), "train_acc": np.zeros((2, 5)), "val_acc": np.zeros((2, 5)),
               "input_size": np.array([25, 30]), "seed": np.array([0, 0])}
    pc = parity.accuracy_curves(metrics)
    assert pc.chance == 0.5 and pc.runs == (2,) and list(pc.labels["input_size"]) == [25, 30]


@pytest.mark.parametrize("command", ["lambda_sweep", "parity_sweep", "compare"])
@pytest.mark.parametrize("flag", ["--out", "--figures"])
def test_bad_output_folder_is_refused_before_any_work(tmp_path, capsys, command, flag):
    import importlib

    main = importlib.import_module(f"experiments.{command}").main
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    other = "--figures" if flag == "--out" else "--out"
    assert main([flag, str(blocker), other, str(tmp_path / "ok")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {flag} {blocker}: exists and is not a folder"
    assert not (tmp_path / "ok").exists()  # nothing computed, nothing written


def test_measure_refuses_to_write_over_its_input(tmp_path, capsys):
    from linear_grok import measure

    csv = tmp_path / "curves.csv"
    rows = [f"{t},{a:.6f},{b:.6f}" for t, a, b in zip(T, erf_curve(0.01, 400.0), erf_curve(0.004, 1200.0),
                                                       strict=True)]
    csv.write_text("step,train_acc,val_acc\n" + "\n".join(rows) + "\n")
    before = csv.read_text()
    for flag in ("--json", "--plot"):
        assert measure.main([str(csv), flag, str(csv), "--ci", "0"]) == 2
        assert capsys.readouterr().err.strip() == f"error: {flag} {csv}: would overwrite an input file"
    assert csv.read_text() == before
    assert measure.main([str(csv), "--json", str(tmp_path), "--ci", "0"]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("env, expected", [
    ({"LINEAR_GROK_CACHE_DIR": "{tmp}/cache"}, "{tmp}/cache"),
    ({"LINEAR_GROK_CACHE_DIR": "off"}, "None"),
    ({"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/linear_grok/jax"),
])
def test_compilation_cache_location_and_off_switch(tmp_path, env, expected):
    """A command's process points JAX's persistent compilation cache where the environment says
    (or nowhere), and compiled programs are stored there; importing the package alone does not."""
    import os
    import subprocess
    import sys

    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    base = {k: v for k, v in os.environ.items()
            if k not in ("LINEAR_GROK_CACHE_DIR", "XDG_CACHE_HOME")}
    code = ("import jax, linear_grok, jax.numpy as jnp; print(jax.config.jax_compilation_cache_dir);"
            "from linear_grok.cli import setup_process; setup_process();"
            "jax.jit(lambda x: x * 2)(jnp.ones(3)); print(jax.config.jax_compilation_cache_dir)")
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0] == "None"  # the import alone
    assert out[1] == expected.format(tmp=tmp_path)
    if out[1] != "None":
        assert any(p.is_file() for p in (tmp_path / out[1]).rglob("*"))  # programs were stored


def test_far_outliers_do_not_stretch_a_panel_and_figures_are_byte_reproducible(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from linear_grok.plotting import robust_limits, save

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.5, 2.0, 200), rng.uniform(0.7, 1.1, 200)
    x[7] = 155.0  # one run with a huge gap, as in the simulated paper preset
    pngs = []
    for k in range(2):
        fig, ax = plt.subplots()
        ax.plot(x, y, ".")
        assert robust_limits(ax, x, y, always=([8.0], [0.45])) == 1
        lo, hi = ax.get_xlim()
        assert 8.0 < hi < 9.0 and lo < 0.5  # the outlier is out, the theory curve is in
        assert ax.get_ylim()[0] < 0.45
        save(fig, tmp_path / f"f{k}.png")
        pngs.append((tmp_path / f"f{k}.png").read_bytes())
    assert pngs[0] == pngs[1]


def test_a_sweep_with_seeds_gets_intervals_over_its_seeds(tmp_path):
    out, figs = tmp_path / "results", tmp_path / "figs"
    assert lambda_sweep.main(["--mode", "simulate", "--n-lam", "3", "--d-in", "40", "--seeds", "0", "1",
                              "2", "--ci", "--n-boot", "20", "--out", str(out), "--figures", str(figs),
                              "--no-progress"]) == 0
    (npz,) = out.glob("lambda_sweep_quick_simulate_*.npz")
    arrays, _ = load_results(npz.with_suffix(""))
    for i in range(3):  # one interval per λ, the seeds' t interval (independent: scipy.stats)
        x = arrays["relative_gap"][i][arrays["ok"][i]]
        lo, hi = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        np.testing.assert_allclose(arrays["relative_gap_seeds_lo"][i], lo, rtol=1e-9)
        np.testing.assert_allclose(arrays["relative_gap_seeds_hi"][i], hi, rtol=1e-9)
    header = (npz.parent / f"{npz.stem}_runs.csv").read_text().splitlines()[0]
    assert "relative_gap_seeds_lo" in header and "relative_gap_lo" in header
    assert (figs / f"linear_fig1_{npz.stem.removeprefix('lambda_sweep_')}.png").stat().st_size > 1000

"""Early-prediction features and statistics against signals and data with known answers."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import stats

from experiments import early_prediction_adamw
from linear_grok import early
from linear_grok.measure import main as measure_main
from linear_grok.results import load_results
from linear_grok.settings import parity
from linear_grok.trends import average_ranks, spearman


def sine(k=800, cycles=40, amplitude=0.3, dt=1.0):
    t = np.arange(k) * dt
    return t, amplitude * np.sin(2 * np.pi * cycles / (k * dt) * t + 0.7)


@pytest.mark.parametrize("dt", [1.0, 10.0])
def test_sine_has_analytic_hjorth_parameters(dt):
    k, cycles, a = 800, 40, 0.3
    t, x = sine(k, cycles, a, dt)
    f = early.spectral_features(x, dt=dt, trend_degree=None, scale="linear")
    omega = 2 * np.pi * cycles / (k * dt)
    assert f["activity"] == pytest.approx(a**2 / 2, rel=1e-12)
    assert f["energy"] == pytest.approx(k * a**2 / 2, rel=1e-12)
    assert f["mobility"] == pytest.approx(omega, rel=1e-12)
    assert f["complexity"] == pytest.approx(1.0, rel=1e-10)
    # 40 cycles in 800 samples: 0.05 cycles per sample, in the middle band.
    assert f["band_mid"] == pytest.approx(1.0, rel=1e-12)


def test_cubic_trend_is_removed_and_the_oscillation_kept():
    t, x = sine()
    s = np.linspace(-1, 1, t.size)
    trend = 0.7 - 0.4 * s + 0.25 * s**2 - 0.1 * s**3  # a decaying loss, to third order
    f = early.spectral_features(x + trend, scale="linear")
    omega = 2 * np.pi * 40 / 800
    # The sine's own projection on cubics (40 whole cycles) is of order 1/40²; measured 3e-4.
    assert f["activity"] == pytest.approx(0.3**2 / 2, rel=3e-3)
    assert f["mobility"] == pytest.approx(omega, rel=3e-3)
    assert np.max(np.abs(early.detrend(trend))) < 1e-12
    # Without detrending, the level and the decay dominate: several times the sine's power, at a
    # mean frequency far below the sine's.
    raw = early.spectral_features(x + trend, trend_degree=None, scale="linear")
    assert raw["activity"] > 5 * f["activity"]
    assert raw["mobility"] < omega / 2


def test_white_noise_has_flat_spectrum_moments():
    """Flat spectrum on [0, π]: m2/m0 = π²/3, m4/m2 = 3π²/5, so mobility π/√3 and complexity
    √(9/5) per sample; Monte Carlo over 400 series of 1024 samples."""
    x = np.random.default_rng(0).normal(scale=2.0, size=(400, 1024))
    f = early.spectral_features(x, trend_degree=None, scale="linear")
    assert np.mean(f["activity"]) == pytest.approx(4.0, rel=0.01)
    assert np.mean(f["mobility"]) == pytest.approx(np.pi / np.sqrt(3), rel=0.005)
    assert np.mean(f["complexity"]) == pytest.approx(np.sqrt(9 / 5), rel=0.005)
    # Bands hold shares of the flat spectrum proportional to their widths (Nyquist ½).
    for name, (lo, hi) in early.BANDS.items():
        assert np.mean(f[f"band_{name}"]) == pytest.approx((hi - lo) / 0.5, abs=0.005)


def test_feature_errors_name_the_parameter():
    with pytest.raises(ValueError, match="k must be in"):
        early.spectral_features(np.ones(100), k=200)
    with pytest.raises(ValueError, match="dt must be > 0"):
        early.spectral_features(np.ones(100), dt=0.0)
    with pytest.raises(ValueError, match="finite"):
        early.spectral_features(np.r_[np.ones(50), np.nan, np.ones(49)])
    with pytest.raises(ValueError, match="scale='linear'"):
        early.spectral_features(np.r_[np.ones(50), 0.0, np.ones(49)])


def test_log_scale_follows_a_loss_falling_many_e_folds():
    """A loss falling e^-8 over the window with 2 % multiplicative ripple: in log space the trend
    is linear and the ripple a sine of amplitude 0.02; in linear space a cubic cannot follow the
    decay and its residual swamps the ripple."""
    t, ripple = sine(800, 40, 0.02)
    loss = np.exp(-8 * t / 800 + ripple)
    f = early.spectral_features(loss)
    assert f["activity"] == pytest.approx(0.02**2 / 2, rel=3e-3)
    assert f["mobility"] == pytest.approx(2 * np.pi * 40 / 800, rel=3e-3)
    lin = early.spectral_features(loss, scale="linear")
    assert lin["band_low"] > 0.5


def test_auc_equals_pairwise_count_with_ties():
    rng = np.random.default_rng(1)
    score = np.round(rng.normal(size=60), 1)  # rounded: ties
    label = score + rng.normal(size=60) > 0
    pairs = [(a > b) + 0.5 * (a == b) for a in score[label] for b in score[~label]]
    assert early.roc_auc(score, label) == pytest.approx(np.mean(pairs), abs=1e-14)
    assert np.isnan(early.roc_auc(score, np.ones(60, bool)))


def test_ranks_and_spearman_match_scipy_and_the_gaussian_formula():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 40))
    y = x + rng.normal(size=(3, 40))
    tied = np.round(y, 0)  # many ties
    np.testing.assert_array_equal(average_ranks(tied), stats.rankdata(tied, axis=-1))
    for i in range(3):
        for b in (y[i], tied[i]):
            assert spearman(x[i], b) == pytest.approx(stats.spearmanr(x[i], b).statistic,
                                                      abs=1e-12)
    # Bivariate normal with correlation r: Spearman's ρ = (6/π)·arcsin(r/2); a 95 % bootstrap
    # interval from 300 pairs holds it.
    r = 0.6
    z = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=300)
    rho, lo, hi = early.bootstrap_interval(spearman, z[:, 0], z[:, 1], rng=rng)
    assert lo < 6 / np.pi * np.arcsin(r / 2) < hi
    assert lo < rho < hi


def test_logistic_fit_recovers_the_generating_model():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20000, 3))
    w_true, b_true = np.array([1.5, -1.0, 0.0]), 0.5
    y = rng.random(20000) < 1 / (1 + np.exp(-(x @ w_true + b_true)))
    w, b = early.fit_logistic(x, y, l2=1e-6)
    np.testing.assert_allclose(w, w_true, atol=0.06)
    assert b == pytest.approx(b_true, abs=0.06)


def test_cross_validated_auc_separates_signal_from_noise():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 4))
    signal = x[:, 0] > 0
    assert early.roc_auc(early.cross_validated_scores(x, signal, rng), signal) > 0.95
    noise = rng.random(120) < 0.5
    assert abs(early.roc_auc(early.cross_validated_scores(x, noise, rng), noise) - 0.5) < 0.15
    with pytest.raises(ValueError, match="at least folds"):
        early.cross_validated_scores(x, np.arange(120) < 3, rng)


def test_parity_records_each_step_without_changing_training():
    cfg = dataclasses.replace(parity.PAPER, hidden=32, n_train=100, n_val=50, epochs=5,
                              input_sizes=(5, 7), seeds=(0,))
    recorded = dataclasses.replace(cfg, step_metrics=10)  # 4 batches an epoch: 3 epochs recorded
    plain = parity.train_sweep(cfg, chunk=2, progress=False)
    out = parity.train_sweep(recorded, chunk=2, progress=False)
    assert out["step_loss"].shape == (2, 10) and out["step"].tolist() == list(range(10))
    for name in ("train_loss", "train_acc", "val_loss", "val_acc"):  # float32: programs of
        np.testing.assert_allclose(out[name], plain[name], rtol=1e-6)  # other lengths round apart
    # Batch-mean train metrics are the mean over the epoch's minibatches (the last one smaller).
    np.testing.assert_allclose(out["step_loss"][:, :8].reshape(2, 2, 4).mean(-1),
                               out["train_loss"][:, :2], rtol=1e-6)
    np.testing.assert_allclose(out["step_acc"][:, :8].reshape(2, 2, 4).mean(-1),
                               out["train_acc"][:, :2], rtol=1e-6)
    with pytest.raises(ValueError, match="step_metrics must be in"):
        dataclasses.replace(cfg, step_metrics=21)


def _loss_log(path, dt=10, n=500, jitter=False):
    t, x = sine(n, 25, 0.01, dt)
    loss = np.exp(-t / (100 * dt) + x)  # 5 e-folds over the log, 1 % ripple
    if jitter:
        t = t + (np.arange(n) % 3 == 0)
    path.write_text("step,train_loss\n" + "".join(f"{a},{b}\n" for a, b in zip(t, loss, strict=True)))
    return path


def test_measure_early_prints_features_in_the_logs_time_unit(tmp_path, capsys):
    log = _loss_log(tmp_path / "loss.csv")
    assert measure_main([str(log), "--early", "500", "--json", str(tmp_path / "f.json")]) == 0
    assert "activity" in capsys.readouterr().out
    f = json.loads((tmp_path / "f.json").read_text())["runs"]["all"]
    assert f["interval"] == 10
    assert f["mobility"] == pytest.approx(2 * np.pi * 25 / 5000, rel=0.01)  # radians per step
    assert f["activity"] == pytest.approx(0.01**2 / 2, rel=0.02)


@pytest.mark.parametrize("argv, message", [
    (["--early", "800"], "needs 800 values of train_loss; the log has 500"),
    (["--early", "8"], "early must be >= 16"),
    (["--early", "100", "--loss", "nope"], "missing column(s) nope"),
])
def test_measure_early_bad_input(tmp_path, capsys, argv, message):
    log = _loss_log(tmp_path / "loss.csv")
    assert measure_main([str(log), *argv]) == 2
    assert message in capsys.readouterr().err


def test_measure_early_refuses_uneven_logging(tmp_path, capsys):
    log = _loss_log(tmp_path / "loss.csv", jitter=True)
    assert measure_main([str(log), "--early", "100"]) == 2
    assert "constant step interval" in capsys.readouterr().err


def test_early_prediction_command_end_to_end(tmp_path, capsys):
    """A tiny grid through the whole command: runs that never grok leave the classifiers
    undefined, which is recorded with its reason, not a crash; the figures are drawn."""
    from experiments import early_prediction

    argv = ["--n-train", "400", "600", "--input-sizes", "25", "--seeds", "0", "1", "--epochs", "30",
            "--windows", "32", "64", "--out", str(tmp_path / "r"), "--figures", str(tmp_path / "f"),
            "--no-progress"]
    assert early_prediction.main(argv) == 0
    out = capsys.readouterr().out
    assert "4 runs, 0 grok within the budget" in out
    assert "each class needs at least folds = 5 runs" in out
    figures = sorted(p.name.split("_")[1] for p in (tmp_path / "f").iterdir())
    assert figures == ["auc", "features"]
    arrays = np.load(next((tmp_path / "r").glob("*.npz")))
    assert arrays["step_loss"].shape == (4, 64)
    np.testing.assert_array_equal(arrays["training_fraction"], [0.4, 0.4, 0.6, 0.6])
    # A diverged run (NaN loss) loses its features, not the analysis.
    arrays = dict(arrays)
    arrays["step_loss"] = arrays["step_loss"].copy()
    arrays["step_loss"][1, 10] = np.nan
    preds = early.window_predictors(arrays, 32)
    assert np.isnan(preds["activity"][1]) and np.all(np.isfinite(preds["activity"][[0, 2, 3]]))
    assert early_prediction.main([*argv, "--n-train", "1000"]) == 2
    assert "--n-train must be a whole number in [1, 999]; got 1000" in capsys.readouterr().err


def test_analyse_finds_a_signal_that_separates_the_runs_that_grok():
    """A grid where half the runs grok and their early loss is noisier (white noise on log L, SD
    0.3 against 0.1): the activity's Spearman ρ with every outcome equals scipy's on the same
    runs, the spectral classifier separates the runs (AUC ≥ 0.95), and the baselines that carry
    no signal here (early accuracy, the design) stay near chance."""
    rng = np.random.default_rng(3)
    runs, steps, epochs = 40, 256, 50
    grokked = np.arange(runs) % 2 == 0
    sd = np.where(grokked, 0.3, 0.1)
    log_loss = -0.002 * np.arange(steps) + sd[:, None] * rng.standard_normal((runs, steps))
    val_acc = np.where(grokked[:, None], 1.0, 0.6) * np.ones((runs, epochs))
    gap = np.where(grokked, rng.uniform(0.5, 2.0, runs), np.nan)
    arrays = {"step_loss": np.exp(log_loss), "step_acc": rng.uniform(0.4, 0.6, (runs, steps)),
              "val_acc": val_acc, "first_val_above": np.where(grokked, 30.0, np.nan),
              "ok": grokked, "relative_gap": gap, "relative_sharpness": 1 / gap,
              "training_fraction": rng.choice([0.4, 0.6], runs),
              "input_size": rng.choice([25, 35], runs)}
    grid = early.EarlyGrid(windows=(64, 256), n_boot=200)
    result = early.analyse(arrays, grid)
    assert (result["n_runs"], result["n_grokked"]) == (runs, runs // 2)
    for k in ("64", "256"):
        window = result["windows"][k]
        activity = early.spectral_features(arrays["step_loss"], int(k))["activity"]
        outs = early.outcomes(arrays)
        for name in early.OUTCOMES:
            keep = np.isfinite(outs[name])
            cell = window["spearman"]["activity"][name]
            assert cell["n"] == keep.sum()
            if np.unique(outs[name][keep]).size > 1:
                expected = stats.spearmanr(activity[keep], outs[name][keep]).statistic
                assert cell["rho"] == pytest.approx(expected, abs=1e-12)
                assert cell["lo"] <= cell["rho"] <= cell["hi"]
        assert window["spearman"]["activity"]["grokked"]["rho"] > 0.8
        auc = window["auc"]
        assert auc["spectral features"]["auc"] >= 0.95 and auc["spectral features"]["reason"] == ""
        for baseline in ("early train accuracy", "design (training fraction, input size)"):
            assert 0.15 <= auc[baseline]["auc"] <= 0.85, (baseline, auc[baseline])


def test_loss_spikes_count_excursions_above_twice_the_running_minimum():
    t = np.arange(200.0)
    loss = np.exp(-t / 50)  # falls; then two slingshots of 10× and 3×, and a 1.5× bump
    loss[100:105] *= 10
    loss[150:152] *= 3
    loss[180] *= 1.5
    got = early.loss_spikes(np.stack([loss, np.exp(-t / 50), np.where(t == 7, np.nan, loss)]))
    np.testing.assert_array_equal(got["spike_count"][:2], [2, 0])
    np.testing.assert_allclose(got["spike_max"][:2], [1.0 - 1 / 50 / np.log(10), 0.0], atol=1e-12)
    assert np.isnan(got["spike_count"][2]) and np.isnan(got["spike_max"][2])


def test_adamw_early_prediction_command_end_to_end(tmp_path):
    """Four tiny AdamW runs: the per-step window, the spikes, the analysis with the design
    baseline named by its columns, both figures."""
    argv = ["--lrs", "0.01", "--weight-decays", "0", "1", "--train-fractions", "0.3", "0.6",
            "--hidden", "16", "--steps", "64", "--windows", "16", "32", "--out", str(tmp_path),
            "--figures", str(tmp_path / "fig"), "--no-progress"]
    assert early_prediction_adamw.main(argv) == 0
    (npz,) = tmp_path.glob("early_prediction_adamw_quick*.npz")
    arrays, meta = load_results(npz.with_suffix(""))
    assert arrays["step_loss"].shape == (4, 32) and arrays["val_acc"].shape == (4, 64)
    np.testing.assert_allclose(arrays["design"][:, 0], -2.0)
    window = meta["analysis"]["windows"]["32"]
    assert set(window["spearman"]) >= {"spike_count", "spike_max", "activity"}
    assert "design (log10 lr, weight decay, training fraction)" in window["auc"]
    assert len(list((tmp_path / "fig").glob("early_*_adamw_quick*.png"))) == 2

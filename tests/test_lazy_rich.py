"""The lazy→rich setting against independent references: the reduced dynamics against gradient
descent on the weights themselves, the closed-form population loss against Monte Carlo, the lazy
(large-α) limit against the linearised model, and the linearised model's end point against kernel
regression solved directly."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from linear_grok.settings import lazy_rich as lr

SMALL = lr.LazyRichConfig(d_in=12, n_train=40, hidden=30, n_test=60, alphas=(1.0,),
                          epsilons=(0.2,), steps=3000, n_records=30)


def problem(seed=0, cfg=SMALL):
    return lr.make_problem(jax.random.key(seed), cfg)


@pytest.mark.parametrize("alpha, eps", [(1.0, 0.2), (0.5, 0.05), (3.0, 0.3)])
def test_reduced_dynamics_equal_training_the_weights(alpha, eps):
    pr, records = problem(), jnp.asarray(SMALL.records)
    reduced = jax.jit(lambda: lr.train_reduced(pr, alpha, eps, records, SMALL))()["rich"]
    direct = jax.jit(lambda: lr.train_direct(pr, alpha, eps, records, SMALL))()
    for name, a, b in zip(("train", "test", "pop"), reduced[:3], direct[:3], strict=False):
        np.testing.assert_allclose(a, b, rtol=1e-9, err_msg=name)
    np.testing.assert_array_equal(reduced[3], direct[3])
    assert float(reduced[0][-1]) < 0.5 * float(jnp.mean(pr.y**2))  # it learns


def test_initial_state_predicts_zero_and_loss_is_the_targets_second_moment():
    pr = problem(1)
    d = SMALL.d_in
    zero_v, zero_m = jnp.zeros(d), jnp.zeros((d, d))
    assert np.all(np.asarray(lr.predict(zero_v, zero_m, pr.x, 1.0, 0.2)) == 0.0)
    # One step of size zero through the program equals the data's mean y² (the centred start).
    out = lr.train_direct(pr, 1.0, 0.2, jnp.asarray([0]), SMALL)
    np.testing.assert_allclose(out[0][0], jnp.mean(pr.y**2), rtol=1e-12)


def test_population_loss_against_monte_carlo():
    rng = np.random.default_rng(0)
    d, alpha, eps = 12, 1.7, 0.3
    beta = rng.standard_normal(d)
    dm, dM = 0.3 * rng.standard_normal(d), 0.5 * rng.standard_normal((d, d))
    x = rng.standard_normal((400_000, d)) / np.sqrt(d)
    err = np.asarray(lr.predict(dm, dM, x, alpha, eps)) - (x @ beta) ** 2 / 2
    mc, se = np.mean(err**2), np.std(err**2) / np.sqrt(x.shape[0])
    closed = float(lr.population_loss(jnp.asarray(dm), jnp.asarray(dM), jnp.asarray(beta), alpha,
                                      eps))
    assert abs(closed - mc) < 4 * se
    var_mc = np.var((x @ beta) ** 2 / 2)
    assert float(lr.output_variance(jnp.asarray(beta))) == pytest.approx(var_mc, rel=0.02)


def test_large_alpha_is_the_linearised_model_and_it_ends_at_kernel_regression():
    cfg = dataclasses.replace(SMALL, steps=40_000, n_records=40)
    pr, records = problem(2, cfg), jnp.asarray(cfg.records)
    gaps = []
    for alpha in (4.0, 400.0):
        out = jax.jit(lambda a=alpha: lr.train_reduced(pr, a, 0.2, records, cfg))()
        rich, lazy = np.asarray(out["rich"][1]), np.asarray(out["lazy"][1])
        gaps.append(np.max(np.abs(rich / lazy - 1)))
    assert gaps[1] < 0.02 and gaps[1] < gaps[0] / 20  # lazier as α grows, as 1/α
    # Gradient descent on the linearised model ends at ridgeless kernel regression (train MSE 0).
    k_train, k_test = lr.kernel_regression_mse(pr, 400.0, 0.2)
    lazy_test = float(out["lazy"][1][-1])
    assert float(out["lazy"][0][-1]) < 1e-6 * float(jnp.mean(pr.y**2)) and float(k_train) < 1e-12
    assert lazy_test == pytest.approx(float(k_test), rel=1e-3)
    # The kernel, from the closed form, equals the Jacobian product taken by autodiff.
    w0, x = pr.w0, pr.x[:5]

    def f(w):
        h = x @ w.T
        return 400.0 * jnp.mean(h + 0.1 * h**2, axis=1)

    jac = jax.jacobian(f)(w0).reshape(5, -1)
    np.testing.assert_allclose(lr.initial_kernel(pr, x, x, 400.0, 0.2), jac @ jac.T, rtol=1e-10)


def test_sweep_arrays_and_curves():
    cfg = dataclasses.replace(SMALL, alphas=(0.5, 1.0), seeds=(0, 1), steps=2000)
    arrays = lr.train_sweep(cfg)
    assert arrays["rich_train_loss"].shape == (2, 1, 2, cfg.records.size)
    assert arrays["rich_test_acc"].shape == (2, 1, 2, cfg.records.size, len(cfg.taus))
    curves = lr.accuracy_curves(arrays)
    assert curves.train.shape == (2, 1, 2, cfg.records.size) and curves.labels["alpha"][1, 0, 0] == 1.0
    # The sweep's run (α = 1, seed 1) equals the same run alone.
    alone = lr.train_reduced(problem(1, cfg), 1.0, 0.2, jnp.asarray(cfg.records), cfg)["rich"]
    np.testing.assert_allclose(arrays["rich_test_loss"][1, 0, 1], alone[1], rtol=1e-12)
    gap = lr.loss_gap(arrays, level=float(np.median(arrays["rich_train_loss"])))
    assert gap.shape == (2, 1, 2)


def test_sweep_command_saves_measures_tables_and_figures(tmp_path, capsys):
    from experiments import figures, lambda_sweep, lazy_rich_sweep

    out, figs = tmp_path / "results", tmp_path / "figs"
    assert lazy_rich_sweep.main(["--alphas", "0.5", "1", "--steps", "4000", "--out", str(out),
                                 "--figures", str(figs)]) == 0
    (npz,) = out.glob("lazy_rich_quick_*.npz")
    from linear_grok.results import load_results

    arrays, meta = load_results(npz.with_suffix(""))
    assert arrays["rich_test_loss"].shape[:3] == (2, 1, 1) and meta["config"]["steps"] == 4000
    assert "log_relative_gap" in arrays and arrays["loss_gap"].shape == (2, 1, 1)
    assert (npz.parent / f"{npz.stem}_runs.csv").exists()
    tag = npz.stem.removeprefix("lazy_rich_")
    drawn = {p.name for p in figs.iterdir()}
    assert {f"lazy_rich_fig1_{tag}.png", f"lazy_rich_alpha_sweep_{tag}.png",
            f"lazy_rich_trend_{tag}.png"} <= drawn
    # With a second setting saved, experiments.figures also draws the three-setting figure.
    assert lambda_sweep.main(["--n-lam", "5", "--n-time", "400", "--out", str(out),
                              "--no-figures", "--no-progress"]) == 0
    assert figures.main(["--results", str(out), "--figures", str(figs)]) == 0
    assert (figs / "three_settings.png").stat().st_size > 1000
    capsys.readouterr()

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
    return lr.make_problem(seed, cfg)


@pytest.mark.parametrize("alpha, eps", [(1.0, 0.2), (0.5, 0.05), (3.0, 0.3)])
def test_reduced_dynamics_equal_training_the_weights(alpha, eps):
    pr, records = problem(), jnp.asarray(SMALL.records)
    reduced = jax.jit(lambda: lr.train_reduced(pr, alpha, eps, records, SMALL))()["rich"]
    direct = jax.jit(lambda: lr.train_direct(pr, alpha, eps, records, SMALL))()
    for name, a, b in zip(("train", "test", "pop"), reduced[:3], direct[:3], strict=False):
        np.testing.assert_allclose(a, b, rtol=1e-9, err_msg=name)
    np.testing.assert_array_equal(reduced[3], direct[3])
    assert float(reduced[0][-1]) < 0.5 * float(jnp.mean(pr.y**2))  # it learns


@pytest.mark.parametrize("seed, keys", [(0, (0, 1, 2)), (1, (10, 11, 12))])
def test_authors_draws_are_their_notebooks_bit_for_bit(seed, keys):
    """``draws="authors"``: the notebook's lines (float32, as their JAX ran), written out here;
    seed 0 is theirs, seed 1 moves the keys to 10, 11, 12 (their own second draw)."""
    cfg = lr.PRESETS["paper"]
    assert cfg.draws == "authors"
    d, p, n = cfg.d_in, cfg.n_train, cfg.hidden
    random = jax.random
    theirs = {"x": random.normal(random.PRNGKey(keys[0]), (d, p), jnp.float32) / jnp.sqrt(
                  jnp.float32(d)),
              "x_test": random.normal(random.PRNGKey(keys[1]), (d, 1000), jnp.float32) / jnp.sqrt(
                  jnp.float32(d)),
              "beta": random.normal(random.PRNGKey(keys[2]), (d,), jnp.float32),
              "w0": random.normal(random.PRNGKey(keys[0]), (n, d), jnp.float32)}
    ours = lr.make_problem(seed, cfg)
    for name, value in theirs.items():
        mine = np.asarray(getattr(ours, name))
        mine = mine.T if name.startswith("x") else mine
        assert mine.dtype == np.float64
        np.testing.assert_array_equal(mine, np.asarray(value, dtype=np.float64), err_msg=name)


def test_their_figure_1_loop_in_float32_crosses_where_the_exact_dynamics_do():
    """The notebook's Figure-1 loop restated in float32 (centred MSE, η = N/α², SGD on W) on
    their draws at a fifth of their sizes: its first step with train loss below 0.1 is the exact
    float64 dynamics' to within one step."""
    cfg = dataclasses.replace(lr.PRESETS["paper"], d_in=20, n_train=110, hidden=100, n_test=200,
                              alphas=(0.5,), steps=3000, n_records=3000)
    alpha, eps = 0.5, cfg.epsilons[0]
    pr = lr.make_problem(0, cfg)
    x, y, w = (jnp.asarray(a, jnp.float32) for a in (pr.x.T, pr.y, pr.w0))

    def f(w):
        h = w @ x
        return alpha * jnp.mean(h + 0.5 * eps * h**2, axis=0)

    f0 = f(w)
    loss = lambda w: jnp.mean((f(w) - f0 - y) ** 2)  # noqa: E731
    eta = jnp.float32(cfg.hidden / alpha**2)

    def body(w, _):
        return w - eta * jax.grad(loss)(w), loss(w)

    theirs = np.asarray(jax.jit(lambda w: jax.lax.scan(body, w, None, length=cfg.steps))(w)[1])
    arrays = lr.train_sweep(cfg, linearised=False)
    steps, ours = arrays["step"], arrays["rich_train_loss"][0, 0, 0]
    # theirs[t]: the loss after t steps; ours at the records (log-spaced, up to steps - 1 here).
    keep = steps < cfg.steps
    np.testing.assert_allclose(ours[keep], theirs[steps[keep]], rtol=2e-4)
    t_theirs = int(np.argmax(theirs < 0.1))
    first = int(np.argmax(ours < 0.1))
    assert 100 < t_theirs < cfg.steps and steps[first - 1] < t_theirs <= steps[first]


def test_initial_state_predicts_zero_and_loss_is_the_targets_second_moment():
    pr = problem(1)
    d = SMALL.d_in
    zero_v, zero_m = jnp.zeros(d), jnp.zeros((d, d))
    assert np.all(np.asarray(lr.predict(zero_v, zero_m, pr.x, 1.0, 0.2)) == 0.0)
    # One step of size zero through the program equals the data's mean y² (the centred start).
    out = lr.train_direct(pr, 1.0, 0.2, jnp.asarray([0]), SMALL)
    np.testing.assert_allclose(out[0][0], jnp.mean(pr.y**2), rtol=1e-12)
    # The engine and the closed-form linearised model, compiled, at step 0: ΔM = 0 exactly.
    out = jax.jit(lambda: lr.train_reduced(pr, 1.0, 0.2, jnp.asarray([0]), SMALL))()
    for regime in ("rich", "lazy"):
        np.testing.assert_allclose(out[regime][0][0], jnp.mean(pr.y**2), rtol=1e-12)
        np.testing.assert_allclose(out[regime][1][0], jnp.mean(pr.y_test**2), rtol=1e-12)


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
    level = float(np.median(arrays["rich_train_loss"]))
    gap = lr.loss_gap(arrays, level=level)
    assert gap.shape == (2, 1, 2)
    # Against a loop over the runs: first record strictly below the level, test minus train.
    def first_below(loss):
        return next((float(s) for s, v in zip(arrays["step"], loss, strict=True) if v < level), np.nan)

    for run in np.ndindex(gap.shape):
        delay = first_below(arrays["rich_test_loss"][run]) - first_below(arrays["rich_train_loss"][run])
        np.testing.assert_equal(gap[run], np.nan if np.isnan(delay) else max(0.0, delay))


# Hand-built loss curves on uneven records (the gap is in steps, not record indices), level 0.1:
# the train curve below it first at step 20 (index 3), unless stated.
GAP_STEPS = np.array([0, 5, 10, 20, 40, 80, 160])
GAP_TRAIN = [1.0, 0.5, 0.2, 0.09, 0.05, 0.01, 0.001]


@pytest.mark.parametrize("train, test, expected", [
    (GAP_TRAIN, [1.0, 0.9, 0.8, 0.5, 0.3, 0.099, 0.05], 80.0 - 20.0),
    (GAP_TRAIN, [1.0, 0.9, 0.8, 0.5, 0.3, 0.1, 0.05], 160.0 - 20.0),  # at the level is not below
    (GAP_TRAIN, [1.0, 0.05, 0.5, 0.5, 0.5, 0.5, 0.5], 0.0),  # test first: no delay, not −15
    (GAP_TRAIN, GAP_TRAIN, 0.0),  # together
    (GAP_TRAIN, [1.0, 0.9, 0.8, 0.5, 0.3, 0.2, 0.1], np.nan),  # test never crosses
    ([1.0] * 7, [1.0, 0.9, 0.8, 0.5, 0.3, 0.05, 0.01], np.nan),  # train never crosses
    ([1.0, 0.09, 0.5, 0.3, 0.2, 0.05, 0.01], [1.0, 0.9, 0.8, 0.5, 0.3, 0.05, 0.01], 80.0 - 5.0),  # first
])
def test_loss_gap_is_the_delay_of_the_first_crossing(train, test, expected):
    arrays = {"step": GAP_STEPS, "rich_train_loss": np.array(train).reshape(1, 1, 1, -1),
              "rich_test_loss": np.array(test).reshape(1, 1, 1, -1)}
    gap = lr.loss_gap(arrays)  # the default level, 0.1
    assert gap.shape == (1, 1, 1)
    np.testing.assert_equal(gap[0, 0, 0], expected)
    # The same curves in a batch of (A, E, S) = (2, 1, 2) runs: each run its own.
    batch = {"step": GAP_STEPS,
             "rich_train_loss": np.array([train, GAP_TRAIN, [1.0] * 7, train]).reshape(2, 1, 2, -1),
             "rich_test_loss": np.array([test, GAP_TRAIN, GAP_TRAIN, test]).reshape(2, 1, 2, -1)}
    np.testing.assert_equal(lr.loss_gap(batch)[:, 0, :], [[expected, 0.0], [np.nan, expected]])


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
    # With a second setting saved, experiments.figures also draws the settings figure.
    assert lambda_sweep.main(["--n-lam", "5", "--n-time", "400", "--out", str(out),
                              "--no-figures", "--no-progress"]) == 0
    assert figures.main(["--results", str(out), "--figures", str(figs)]) == 0
    assert (figs / "settings_quick.png").stat().st_size > 1000
    assert not (figs / "settings_paper.png").exists()  # only from the full presets' results
    capsys.readouterr()


def test_initial_factors_carry_the_second_moment_for_wide_and_narrow_layers():
    for hidden in (30, 8):  # N > D and N < D (then the factor has N columns)
        w0 = np.asarray(jax.random.normal(jax.random.key(hidden), (hidden, 12), jnp.float64))
        v0 = np.asarray(lr.initial_factors(jnp.asarray(w0)))
        assert v0.shape == (12, 1 + min(hidden, 12))
        np.testing.assert_allclose(v0[:, 0], w0.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(v0 @ v0.T, w0.T @ w0 / hidden, rtol=1e-10, atol=1e-13)


def test_reduced_dynamics_equal_training_the_weights_with_fewer_units_than_inputs():
    cfg = dataclasses.replace(SMALL, hidden=8, steps=1000, n_records=20)
    pr, records = problem(3, cfg), jnp.asarray(cfg.records)
    reduced = jax.jit(lambda: lr.train_reduced(pr, 1.5, 0.3, records, cfg, linearised=False))()
    direct = jax.jit(lambda: lr.train_direct(pr, 1.5, 0.3, records, cfg))()
    np.testing.assert_allclose(reduced["rich"][1], direct[1], rtol=1e-9)


@pytest.mark.parametrize("a", [0.0, 1e-18, -1e-15, 3e-4, 0.7, 1.0, 1.6, 2.5])
def test_geometric_sum_against_the_sum_itself(a):
    for t in (0, 1, 2, 7, 40):
        direct = sum((1.0 - a) ** k for k in range(t))
        assert float(lr.geometric_sum(jnp.asarray(a), t)) == pytest.approx(direct, rel=1e-12,
                                                                          abs=1e-300)


def test_closed_form_linearised_model_equals_gradient_descent_on_the_linearised_network():
    """The reference: gradient steps on W of f(W₀) + J₀(W − W₀), built by autodiff (jax.jvp)."""
    cfg = dataclasses.replace(SMALL, steps=400, n_records=20)
    pr, records = problem(4, cfg), jnp.asarray(cfg.records)
    alpha, eps = 1.3, 0.25
    eta = cfg.lr_scale * cfg.hidden / alpha**2

    def f(w, x):
        h = x @ w.T
        return alpha * jnp.mean(h + 0.5 * eps * h**2, axis=1)

    def f_lin(w, x):
        return jax.jvp(lambda v: f(v, x), (pr.w0,), (w - pr.w0,))[1]  # centred: f_lin − f(W₀)

    grad = jax.jit(jax.grad(lambda w: jnp.mean((f_lin(w, pr.x) - pr.y) ** 2)))
    w, train, test = pr.w0, [], []
    for step in range(1, cfg.steps + 1):
        w = w - eta * grad(w)
        if step in set(cfg.records.tolist()):
            train.append(float(jnp.mean((f_lin(w, pr.x) - pr.y) ** 2)))
            test.append(float(jnp.mean((f_lin(w, pr.x_test) - pr.y_test) ** 2)))
    lazy = jax.jit(lambda: lr.train_linearised(pr, alpha, eps, records, cfg))()
    np.testing.assert_allclose(lazy[0], train, rtol=1e-8)
    np.testing.assert_allclose(lazy[1], test, rtol=1e-8)


def authors_rule(train, test, init_test, tol, lookback, max_steps, level):
    """Their loop's bookkeeping, transcribed: ``train[k]``, ``test[k]`` are the losses after step
    k + 1; returns (steps run, their first index below ``level`` for train and test, −1: none)."""
    tr, te = [], []
    t = 0
    while True:
        tr.append(train[t])
        te.append(test[t])
        if len(tr) > lookback:
            settled = (abs(tr[-1] - tr[-lookback]) < tol and abs(te[-1] - te[-lookback]) < tol
                       and te[-1] < init_test)
            if settled or t + 1 >= max_steps:
                break
        t += 1

    def first(losses):
        below = [k for k, value in enumerate(losses) if value < level]
        return below[0] if below else -1

    return len(tr), first(tr), first(te)


def test_heatmap_stopping_rule_and_crossings_against_dense_losses_of_the_weights():
    """The heat map's in-loop rule and first crossings against the authors' loop transcribed
    (:func:`authors_rule`) on every step's losses of gradient descent on W itself."""
    heat = lr.HeatmapConfig(d_in=12, n_train=40, hidden=30, n_test=60, alphas=(0.6, 1.5, 4.0),
                            epsilons=(0.05, 0.3), lr_scale=2.0, max_steps=1500, tol=1e-5,
                            level=0.1, chunk=400)
    out = lr.heatmap(heat)
    cfg = dataclasses.replace(SMALL, steps=heat.max_steps, lr_scale=heat.lr_scale)
    pr = lr.make_problem(heat.seed, heat)
    dense = jnp.arange(1, heat.max_steps + 1)
    direct = jax.jit(lambda a, e: lr.train_direct(pr, a, e, dense, cfg))
    init_test = float(jnp.mean(pr.y_test**2))
    reasons = set()
    for i, alpha in enumerate(heat.alphas):
        for j, eps in enumerate(heat.epsilons):
            train, test = (np.asarray(v) for v in direct(alpha, eps)[:2])
            steps, k_train, k_test = authors_rule(train, test, init_test, heat.tol, heat.lookback,
                                                  heat.max_steps, heat.level)
            assert out["stop_step"][i, j] == steps
            assert out["t_train"][i, j] == (k_train + 1 if k_train >= 0 else -1)
            assert out["t_test"][i, j] == (k_test + 1 if k_test >= 0 else -1)
            assert out["amount_authors"][i, j] == max(0, k_test - k_train)
            assert out["capped"][i, j] == (steps == heat.max_steps)
            np.testing.assert_allclose(out["final_test_loss"][i, j], test[steps - 1], rtol=1e-9)
            reasons.add(("capped" if steps == heat.max_steps else "settled",
                         k_test >= 0, k_test > k_train >= 0))
    # The case covers both ways of stopping, a run whose test loss never crossed, and grokking.
    assert {r[0] for r in reasons} == {"capped", "settled"}
    assert {r[1] for r in reasons} == {True, False} and (True in {r[2] for r in reasons})
    assert not out["diverged"].any()


def test_heatmap_config_refuses_bad_values():
    for kwargs, message in (({"lookback": 1}, "lookback must be an integer >= 2"),
                            ({"tol": 0.0}, "tol must be > 0"),
                            ({"max_steps": 0}, "max_steps must be >= 1"),
                            ({"alphas": (1.0, -2.0)}, "alphas must be > 0")):
        with pytest.raises(ValueError, match=message):
            lr.HeatmapConfig(**kwargs)


def test_heatmap_command_saves_and_draws(tmp_path, capsys):
    from experiments import figures, lazy_rich_sweep
    from linear_grok.results import load_results

    out, figs = tmp_path / "results", tmp_path / "figs"
    argv = ["--heatmap", "quick", "--alphas", "0.4", "2", "--epsilons", "0.02", "0.2",
            "--steps", "1500", "--out", str(out), "--figures", str(figs)]
    assert lazy_rich_sweep.main(argv) == 0
    (npz,) = out.glob("lazy_rich_heatmap_quick_*.npz")
    arrays, meta = load_results(npz.with_suffix(""))
    assert arrays["amount"].shape == (2, 2) and meta["config"]["max_steps"] == 1500
    assert (figs / f"{npz.stem}.png").stat().st_size > 1000
    assert lazy_rich_sweep.main(argv) == 2  # the same configuration again: refused
    assert "exists" in capsys.readouterr().err
    # experiments.figures draws heat maps beside the sweeps, and skips nothing.
    assert figures.main(["--results", str(out), "--figures", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / f"{npz.stem}.png").exists()
    assert lazy_rich_sweep.main([*argv, "--seeds", "0", "1"]) == 2  # a heat map is one draw
    assert "unrecognized arguments: --seeds 0 1" in capsys.readouterr().err

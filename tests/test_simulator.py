"""The simulator against independent references: the step engine against the spectral engine,
simulation against the MP theory (within docs/theory.md §9's finite-size tolerance), a NumPy solve of the
weight-decay fixed point, and the accuracy formula at the simulated loss."""

import warnings

import jax
import numpy as np
import optax
import pytest

from linear_grok.settings.linear import simulator as sim
from linear_grok.settings.linear import theory as th


@pytest.mark.parametrize("gamma", [0.0, 0.02])
def test_spectral_engine_equals_step_engine(gamma):
    cfg = sim.SimConfig(d_in=60, gamma=gamma, eta=0.05, eps=(1e-3, 1e-2), n_test=300)
    steps = np.array([0, 1, 2, 7, 50, 333, 1000])
    lams = [0.5, 1.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = sim.simulate_sweep(cfg, lams, [0, 1], steps, engine="steps")
        b = sim.simulate_sweep(cfg, lams, [0, 1], steps, engine="spectral")
    np.testing.assert_allclose(a.train_loss, b.train_loss, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(a.test_loss, b.test_loss, rtol=1e-10)
    np.testing.assert_allclose(a.gen_loss, b.gen_loss, rtol=1e-10)
    assert np.mean(a.train_acc != b.train_acc) < 1e-3  # a sample exactly at ε may flip
    np.testing.assert_allclose(a.test_acc, b.test_acc, atol=1e-2)


def test_spectral_engine_late_records_against_full_numpy_solution():
    """Records past the first chunk sum only the modes that have not decayed below float64
    resolution; a NumPy evaluation with every mode agrees to 1e-10 at every record (four chunks,
    log-spaced: from all modes needed to one)."""
    cfg = sim.SimConfig(d_in=70, eps=(1e-10,), n_test=200)
    steps = np.unique(np.r_[0, np.geomspace(1, 150_000, 240).round()])
    lam, seed = 0.7, 3
    out = sim.simulate_sweep(cfg, [lam], [seed], steps)
    n_max = int(cfg.n_train(lam))
    pr = jax.device_get(sim.make_problem(sim.seed_keys(seed)[0], lam, cfg, n_max))
    x, xt = np.asarray(pr.x_train), np.asarray(pr.x_test)
    nu, vecs = np.linalg.eigh(x.T @ x / n_max)
    c0 = vecs.T @ (np.asarray(pr.student) - np.asarray(pr.teacher))
    for k, n in enumerate(steps):
        delta = vecs @ ((1 - 2 * cfg.eta * np.maximum(nu, 0))[:, None] ** n * c0)
        np.testing.assert_allclose(out.train_loss[0, 0, k], np.mean((x @ delta) ** 2), rtol=1e-10)
        np.testing.assert_allclose(out.test_loss[0, 0, k], np.mean((xt @ delta) ** 2), rtol=1e-10)
        np.testing.assert_allclose(out.gen_loss[0, 0, k], np.sum(delta**2), rtol=1e-10)


def test_gradient_flow_engine_approaches_discrete_at_small_eta():
    cfg_d = sim.SimConfig(d_in=50, eta=1e-4, n_test=200)
    steps = np.array([0, 10_000, 100_000])
    d = sim.simulate_sweep(cfg_d, [0.7], [0], steps, engine="spectral")
    f = sim.simulate_sweep(cfg_d, [0.7], [0], steps, engine="flow")
    np.testing.assert_allclose(d.test_loss, f.test_loss, rtol=1e-3)


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_simulation_matches_discrete_mp_theory(lam):
    """docs/theory.md §9: d_in = 400, seed mean within a few percent for τ ≤ 3 (3.9 % and 5.3 % there
    for λ = 0.5). Tolerance: 5 % finite-size bias plus three standard errors of the seed mean."""
    cfg = sim.SimConfig(d_in=400, eta=0.01, n_test=100)
    steps = np.array([0, 10, 30, 100, 200, 300])
    out = sim.simulate_sweep(cfg, [lam], np.arange(16), steps)
    # Normalise each seed by its initial error ‖D_0‖² (the trivial ±7 % spread, docs/theory.md §9).
    norm = out.gen_loss[0, :, :1]
    for loss, which in ((out.train_loss, "train"), (out.gen_loss, "test")):
        ratio = loss[0] / norm
        theory = np.asarray(getattr(th, f"{which}_loss")(steps, lam, eta=0.01, discrete=True))
        se = ratio.std(0, ddof=1) / np.sqrt(ratio.shape[0])
        assert np.all(np.abs(ratio.mean(0) - theory) <= 0.05 * theory + 3 * se), which


def test_plateau_above_lambda_one():
    cfg = sim.SimConfig(d_in=300, n_test=100)
    with pytest.warns(UserWarning, match="cannot grok"):
        out = sim.simulate_sweep(cfg, [1.5], np.arange(16), np.array([0, 10**7]))
    ratio = out.gen_loss[0, :, 1] / out.gen_loss[0, :, 0]
    se = ratio.std(ddof=1) / np.sqrt(ratio.size)
    assert abs(ratio.mean() - (1 - 1 / 1.5)) < 0.01 + 3 * se  # docs/theory.md §7: 0.3323 vs 0.3333
    assert np.all(out.train_loss[0, :, 1] < 1e-20)


def test_weight_decay_fixed_point_against_numpy_solve():
    cfg = sim.SimConfig(d_in=40, d_out=2, gamma=0.05, eta=0.05, n_test=50)
    key = jax.random.key(3)
    problem = sim.make_problem(key, 0.5, cfg, n_max=80)
    x = np.asarray(problem.x_train)
    sigma = x.T @ x / 80
    teacher = np.asarray(problem.teacher)
    # ∇L + γS = 0 with ∇L = (2/d_out)Σ(S − T): D∞ = −(γ/2)(Σ/d_out + γ/2)^{-1} T.
    d_inf = -(cfg.gamma / 2) * np.linalg.solve(sigma / cfg.d_out + cfg.gamma / 2 * np.eye(40),
                                               teacher)
    train_loss, test_loss, gen_loss, _, _ = sim.simulate_spectral(problem, np.array([10**9]), cfg)
    expected_train = np.trace(d_inf.T @ sigma @ d_inf) / cfg.d_out
    assert float(train_loss[0]) == pytest.approx(expected_train, rel=1e-9)
    x_te = np.asarray(problem.x_test)
    assert float(test_loss[0]) == pytest.approx(np.mean((x_te @ d_inf) ** 2), rel=1e-9)
    assert float(gen_loss[0]) == pytest.approx(np.sum(d_inf**2) / cfg.d_out, rel=1e-9)


def test_test_accuracy_matches_formula_at_simulated_loss():
    """docs/theory.md (16): with D fixed, test accuracy = erf(√(ε/2L)) up to binomial error."""
    cfg = sim.SimConfig(d_in=200, n_test=20_000, eps=(1e-3,))
    steps = np.array([300, 600, 900])
    out = sim.simulate_sweep(cfg, [0.5], [0], steps)
    # The population loss ‖D‖²/d_out, not the sampled one, sets the exact accuracy; the sampled
    # test loss estimates it to ~1 %, well inside the binomial tolerance below.
    predicted = np.asarray(th.accuracy(out.test_loss[0, 0], 1e-3))
    empirical = out.test_acc[0, 0, :, 0]
    se = np.sqrt(predicted * (1 - predicted) / cfg.n_test)
    assert np.all(np.abs(empirical - predicted) < 4 * se + 5e-3)


def test_same_key_same_result_bit_for_bit_and_padding_invariance():
    cfg = sim.SimConfig(d_in=50, n_test=100)
    steps = np.array([0, 100, 1000])
    a = sim.simulate_sweep(cfg, [0.5, 0.8], [0, 1], steps)
    b = sim.simulate_sweep(cfg, [0.5, 0.8], [0, 1], steps)
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    np.testing.assert_array_equal(a.test_acc, b.test_acc)
    assert not np.array_equal(a.train_loss[:, 0], a.train_loss[:, 1])
    # λ = 0.8 alone (less padding) gives the same numbers as inside the sweep.
    alone = sim.simulate_sweep(cfg, [0.8], [0, 1], steps)
    np.testing.assert_allclose(alone.train_loss[0], a.train_loss[1], rtol=1e-12)


def test_records_in_small_chunks_give_the_same_metrics(monkeypatch):
    """At large d_out the records are evaluated a few at a time (bounded memory): the chunk size
    changes no number. Here 27 records in one chunk (at most 64), then in chunks of 2 (the modes
    padded to 64: ``record_chunk(117, 6, 64)``), the last one padded."""
    cfg = sim.SimConfig(d_in=40, d_out=6, n_test=50)
    steps = sim.record_schedule(5000, 27)
    whole = sim.simulate_sweep(cfg, [0.6], [0], steps)
    monkeypatch.setattr(sim, "_CHUNK_BYTES", 3 * 8 * (67 + 50 + 40) * 6)
    assert sim.record_chunk(67 + 50, 6, 40) == 3 and sim.record_chunk(67 + 50, 6, 64) == 2
    try:
        sim._sweep_program.cache_clear()  # the chunk is fixed when the program is traced
        part = sim.simulate_sweep(cfg, [0.6], [0], steps)
    finally:
        sim._sweep_program.cache_clear()
    for key in ("train_loss", "gen_loss", "train_acc", "test_acc"):
        np.testing.assert_allclose(getattr(part, key), getattr(whole, key), rtol=1e-12,
                                   atol=1e-300)


def test_unstable_learning_rate_is_refused_and_divergence_detected():
    cfg = sim.SimConfig(d_in=50, eta=0.4)  # λ₊ = 2.91 at λ = 0.5: stable only for η < 0.343
    with pytest.raises(ValueError, match="^eta must be < "):
        sim.simulate_sweep(cfg, [0.5], [0], np.array([0, 10]))
    # A user optimiser bypasses the check; the NaN/inf is then detected after the run.
    with pytest.raises(sim.SimulationDiverged, match="NaN or inf"):
        sim.simulate_sweep(cfg, [0.5], [0], np.array([0, 5000]), engine="steps",
                           optimizer=optax.sgd(2.0))


def test_minibatch_sgd_and_optax_optimizers_learn():
    cfg = sim.SimConfig(d_in=40, batch_size=8, eta=0.02, n_test=100)
    out = sim.simulate_sweep(cfg, [0.5], [0], np.array([0, 2000]), engine="steps")
    assert out.train_loss[0, 0, 1] < 0.1 * out.train_loss[0, 0, 0]
    cfg = sim.SimConfig(d_in=40, n_test=100)
    adam = sim.simulate_sweep(cfg, [0.5], [0], np.array([0, 500]), engine="steps",
                              optimizer=optax.adam(1e-2))
    assert adam.test_loss[0, 0, 1] < 0.2 * adam.test_loss[0, 0, 0]


@pytest.mark.parametrize("kwargs, name", [
    (dict(d_in=0), "d_in"), (dict(eta=-1.0), "eta"), (dict(eps=(0.0,)), "eps"),
    (dict(gamma=-0.1), "gamma"), (dict(d_out=0), "d_out"),
])
def test_bad_config_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must be"):
        sim.SimConfig(**kwargs)


def test_bad_lambda_and_schedule():
    cfg = sim.SimConfig(d_in=20)
    with pytest.raises(ValueError, match="^lam must be > 0"):
        sim.simulate_sweep(cfg, [0.0], [0], np.array([0, 1]))
    with pytest.raises(ValueError, match="strictly increasing"):
        sim.simulate_sweep(cfg, [0.5], [0], np.array([5, 1]))
    steps = sim.record_schedule(10**8, 50)
    assert steps[0] == 0 and steps[-1] == 10**8 and np.all(np.diff(steps) > 0)


def test_spectral_engine_reaches_1e8_steps_in_float64():
    cfg = sim.SimConfig(d_in=100, eps=(1e-10,))
    steps = np.array([0, 10**4, 10**6, 10**8])
    out = sim.simulate_sweep(cfg, [0.9], [0], steps)
    assert np.all(np.isfinite(out.train_loss)) and np.all(np.diff(out.train_loss[0, 0]) < 0)
    assert out.train_acc[0, 0, -1, 0] == 1.0


# ---------------------------------------------------------------------------------------------
# Label noise (docs/theory.md §12.1) and the student's initial scale α
# ---------------------------------------------------------------------------------------------


def test_label_noise_simulation_matches_mp_theory_and_least_squares():
    """docs/theory.md (27)–(30) against simulation: d_in = 200, d_out = 2, σ² = 0.05, 12 seeds,
    discrete-GD MP theory, within docs/theory.md §9's finite-size agreement (5 % plus three
    standard errors; the λ = 1.5 train loss, a steeper finite-size case, only for τ ≤ 1.5 at 7 %).
    At 1e6 steps also against the closed forms: L_gen → σ²λ/(1 − λ) and L_tr → σ²(1 − λ) for
    λ = 0.5, L_gen → (1 − 1/λ)/d_out + σ²/(λ − 1) and L_tr → 0 for λ = 1.5, and the train
    accuracy's ceiling P(1, ε/L_tr(∞)) = 1 − e^{−2} (ε = 0.05); and, for seed 0, against NumPy's
    least-squares solution of the noisy problem (lstsq for λ < 1; for λ > 1 the interpolating
    solution nearest to S_0, by pinv), 1e-8. With weight decay (γ = 0.02, λ = 0.5, seed 0) the
    step engine equals the spectral one (1e-10) and 1e9 steps reach NumPy's solve of
    ∇L + γS = 0. The noise has its own key: every other draw equals the noise-free one, so results
    without noise are unchanged; it has variance σ² and is zero on padded rows."""
    from functools import partial

    from linear_grok.precision import float64

    s2, eta, d_out, seeds = 0.05, 0.01, 2, np.arange(12)
    cfg = sim.SimConfig(d_in=200, d_out=d_out, n_test=50, label_noise=s2, eps=(0.05,))
    steps = np.array([0, 30, 100, 300, 1000, 3000, 10**6])
    with pytest.warns(UserWarning, match="cannot grok"):
        out = sim.simulate_sweep(cfg, [0.5, 1.5], seeds, steps)
    for i, lam in enumerate((0.5, 1.5)):
        log_tr, log_gen = th.log_losses(steps, lam, form="discrete", eta=eta, d_out=d_out,
                                        label_noise=s2)
        for loss, theory, keep in ((out.gen_loss[i], np.exp(log_gen), steps >= 0),
                                   (out.train_loss[i], np.exp(log_tr),
                                    steps <= (10**6 if lam < 1 else 300))):
            se = loss.std(0, ddof=1) / np.sqrt(loss.shape[0])
            bias = 0.05 if lam < 1 or loss is out.gen_loss[i] else 0.07
            assert np.all((np.abs(loss.mean(0) - theory) <= bias * theory + 3 * se)[keep])
    late_gen, late_tr = out.gen_loss[:, :, -1], out.train_loss[:, :, -1]
    for value, expected in ((late_gen[0], s2 * 0.5 / 0.5), (late_tr[0], s2 * 0.5),
                            (late_gen[1], (1 - 1 / 1.5) / d_out + s2 / 0.5)):
        assert abs(value.mean() - expected) <= 0.05 * expected + 3 * value.std(ddof=1) / np.sqrt(12)
    assert np.all(late_tr[1] < 1e-20)
    ceiling = 1 - np.exp(-2.0)  # P(d_out/2, d_out ε/(2 L)) at d_out = 2, ε/L = 2
    acc = out.train_acc[0, :, -1, 0]
    assert abs(acc.mean() - ceiling) < 0.01 + 4 * np.sqrt(ceiling * (1 - ceiling) / (400 * 12))

    n_max = int(cfg.n_train(0.5))  # the sweep's padding: λ = 1.5's 133 rows padded to 400
    key = sim.seed_keys(0)[0]
    quiet = sim.SimConfig(d_in=200, d_out=d_out, n_test=50, eps=(0.05,))
    decayed = sim.SimConfig(d_in=200, d_out=d_out, n_test=50, label_noise=s2, gamma=0.02,
                            eps=(0.05,))
    noise_draws = []
    for i, lam in enumerate((0.5, 1.5)):
        problem = sim.make_problem(key, lam, cfg, n_max)
        clean = jax.device_get(sim.make_problem(key, lam, quiet, n_max))
        assert clean.noise is None
        for field in ("x_train", "mask", "n_train", "x_test", "teacher", "student"):
            np.testing.assert_array_equal(getattr(problem, field), getattr(clean, field))
        n = int(problem.n_train)
        x, xt, teacher, student, noise = (np.asarray(v) for v in (
            problem.x_train[:n], problem.x_test, problem.teacher, problem.student, problem.noise))
        assert np.all(noise[n:] == 0.0)
        noise_draws.append(noise[:n])
        y = x @ teacher + noise[:n]
        s_inf = (np.linalg.lstsq(x, y, rcond=None)[0] if lam < 1
                 else student + np.linalg.pinv(x) @ (y - x @ student))
        assert out.gen_loss[i, 0, -1] == pytest.approx(np.sum((s_inf - teacher) ** 2) / d_out,
                                                       rel=1e-8)
        assert out.train_loss[i, 0, -1] == pytest.approx(np.mean((x @ s_inf - y) ** 2), rel=1e-8,
                                                         abs=1e-20)
        if lam > 1:
            continue
        few = np.array([0, 1, 7, 50, 333, 10**9])
        # Compiled whole: far cheaper than compiling each of the spectral engine's ops eagerly.
        spectral = float64(jax.jit(partial(sim.simulate_spectral, cfg=decayed)))(problem, few)
        stepped = sim.simulate_steps(problem, few[:-1], decayed)
        for a, b in zip(stepped[:3], spectral[:3], strict=True):
            np.testing.assert_allclose(a, np.asarray(b)[:-1], rtol=1e-10)
        # (2/d_out)Xᵀ(XS − y)/N + γS = 0 at d_out = 2
        s_inf = np.linalg.solve(x.T @ x / n + 0.02 * np.eye(200), x.T @ y / n)
        delta = s_inf - teacher
        assert float(spectral[0][-1]) == pytest.approx(np.mean((x @ s_inf - y) ** 2), rel=1e-8)
        assert float(spectral[1][-1]) == pytest.approx(np.mean((xt @ delta) ** 2), rel=1e-8)
        assert float(spectral[2][-1]) == pytest.approx(np.sum(delta**2) / d_out, rel=1e-8)
    noise = np.concatenate(noise_draws)  # 1066 draws: variance ±4 % s.e.
    assert np.mean(noise**2) == pytest.approx(s2, rel=0.2)
    with pytest.raises(ValueError, match="^label_noise must be"):
        sim.SimConfig(label_noise=-1.0)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_init_scale_simulation_matches_theory(alpha):
    """docs/theory.md §12, student scale α: the simulator applies ``init_scale`` (L(0) =
    (1 + α²)/2 within three standard errors plus 2 %), its losses follow the MP theory with α for
    τ ≤ 20 (8 % plus three standard errors, §9), and the steps at which the seed-mean train and
    test accuracy reach 95.45 % are the theory's jump times within 8 % (measured over four sets of
    12 seeds: 1–6 %), while α = 1's differ from them by 13–37 %."""
    from scipy import special

    lam, eps, eta = 0.5, 1e-2, 0.01
    level = float(special.erf(np.sqrt(2)))
    cfg = sim.SimConfig(d_in=200, n_test=1000, eps=(eps,), init_scale=alpha)
    steps = np.unique(np.r_[0, np.geomspace(30, 2000, 48).round()]).astype(int)
    out = sim.simulate_sweep(cfg, [lam], np.arange(12), steps)
    start = out.gen_loss[0, :, 0]
    assert abs(start.mean() - (1 + alpha**2) / 2) <= 0.02 * (1 + alpha**2) / 2 + 3 * start.std(
        ddof=1) / np.sqrt(start.size)
    theory_losses = th.log_losses(steps, lam, form="discrete", eta=eta, init_scale=alpha)
    for loss, acc, which, log_theory in ((out.train_loss, out.train_acc, "train", theory_losses[0]),
                                         (out.gen_loss, out.test_acc, "test", theory_losses[1])):
        theory = np.exp(log_theory)
        se = loss[0].std(0, ddof=1) / np.sqrt(loss.shape[1])
        assert np.all(np.abs(loss[0].mean(0) - theory) <= 0.08 * theory + 3 * se)
        mean_acc = acc[0, :, :, 0].mean(0)
        k = int(np.argmax(mean_acc >= level))  # first record at the level; interpolate in log t
        log_t = np.log(steps[k - 1]) + (level - mean_acc[k - 1]) * np.log(steps[k] / steps[k - 1]) / (
            mean_acc[k] - mean_acc[k - 1])
        t_theory = float(th.jump_time(level, lam, eps, which=which, form="discrete",
                                      init_scale=alpha))
        assert np.exp(log_t) == pytest.approx(t_theory, rel=0.08)


def test_accuracies_are_float64_fractions_of_whole_counts():
    """Both accuracies are k/n in float64: ``jnp.mean`` of booleans would give float32 even with
    x64 on, and 1/3 would then read 0.33333334."""
    cfg = sim.SimConfig(d_in=30, n_test=300, eps=(1e-3, 1e-1))
    m = sim.simulate_sweep(cfg, [0.5], [0, 1], np.array([0, 10, 100]))
    for acc, n in ((m.test_acc, cfg.n_test), (m.train_acc, 60)):
        assert acc.dtype == np.float64
        np.testing.assert_allclose(acc * n, np.round(acc * n), atol=1e-9)

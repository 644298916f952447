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

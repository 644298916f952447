"""The AdamW modular regime against independent references: the gather against the one-hot
product, training against a NumPy transcription of PyTorch's documented AdamW with the network's
gradient written out by hand, the vmapped sweep against each run alone, the grokking-time law
against data drawn from it (its intervals' coverage measured), and the command end to end."""

import dataclasses

import jax
import numpy as np
import pytest

from experiments import modular_adamw
from linear_grok.settings.modular import adamw
from linear_grok.settings.modular import task as md

TINY = adamw.AdamWConfig(p=7, train_fractions=(0.5, 0.7), weight_decays=(0.0, 2.0), lrs=(3e-2,),
                         seeds=(0, 3), hidden=6, steps=12, warmup=4, group=3)


def test_gather_is_the_one_hot_product():
    cfg = dataclasses.replace(TINY, p=11)
    a, b, _ = md.equations(md.ModularTask(p=11, train_fraction=0.5))
    params = adamw.init_params(jax.random.key(0), cfg)
    x = np.asarray(md.one_hot_pairs(a, b, 11), dtype=np.float64)
    w1, w2 = (np.asarray(w, dtype=np.float64) for w in params)
    np.testing.assert_allclose(np.asarray(adamw.quadratic_mlp(params, a, b)), (x @ w1) ** 2 @ w2,
                               rtol=1e-5, atol=1e-9)
    assert cfg.std == 0.5 / (2 * cfg.hidden) ** (1 / 3)  # Doshi et al.: 0.25**0.5 / (2N)**(1/3)


def torch_adamw_reference(w1, w2, x, y, x_test, y_test, lr, wd, cfg, steps):
    """float64 NumPy: the network's MSE gradient by hand and PyTorch's documented AdamW step
    (decoupled decay from the weights before the step; ε added to √v̂; bias corrections),
    with the warm-up factor min(t/warmup, 1) at update t; the training and test losses before
    each step."""
    params, m, v = [w1, w2], [0 * w1, 0 * w2], [0 * w1, 0 * w2]
    losses = []
    for t in range(steps):
        h = x @ params[0]
        out = (h**2) @ params[1]
        d_out = 2 * (out - y) / out.size
        grads = [x.T @ (2 * h * (d_out @ params[1].T)), (h**2).T @ d_out]
        test = np.mean(((x_test @ params[0]) ** 2 @ params[1] - y_test) ** 2)
        losses.append((np.mean((out - y) ** 2), test))
        rate = lr * min(t / cfg.warmup, 1.0) if cfg.warmup else lr
        for i in range(2):
            params[i] = params[i] * (1 - rate * wd)
            m[i] = cfg.b1 * m[i] + (1 - cfg.b1) * grads[i]
            v[i] = cfg.b2 * v[i] + (1 - cfg.b2) * grads[i] ** 2
            m_hat, v_hat = m[i] / (1 - cfg.b1 ** (t + 1)), v[i] / (1 - cfg.b2 ** (t + 1))
            params[i] = params[i] - rate * m_hat / (np.sqrt(v_hat) + cfg.eps)
    return np.asarray(losses)


def test_sweep_is_pytorch_adamw_on_each_run():
    """Every run of the vmapped, grouped sweep (2 fractions × 2 decays × 2 seeds, groups of 3,
    chunks of 6 steps) follows the float64 reference from its own split and initial weights."""
    swept = adamw.adamw_sweep(TINY, chunk=6, progress=False)
    assert swept["train_loss"].shape == (1, 2, 2, 2, 12)
    for j, wd in enumerate(TINY.weight_decays):
        for f, r in enumerate(TINY.train_fractions):
            for k, seed in enumerate(TINY.seeds):
                task = md.ModularTask(p=7, train_fraction=r)
                a, b, c = md.equations(task)
                x = np.asarray(md.one_hot_pairs(a, b, 7), dtype=np.float64)
                y = np.eye(7)[c]
                train, test = md.split(task, adamw.seed_keys(seed)[0])
                w1, w2 = (np.asarray(w, np.float64) for w in
                          adamw.init_params(adamw.seed_keys(seed)[1], TINY))
                ref = torch_adamw_reference(w1, w2, x[train], y[train], x[test], y[test],
                                            TINY.lrs[0], wd, TINY, TINY.steps)
                np.testing.assert_allclose(swept["train_loss"][0, j, f, k], ref[:, 0], rtol=2e-4)
                np.testing.assert_allclose(swept["test_loss"][0, j, f, k], ref[:, 1], rtol=2e-4)


def test_training_sets_are_nested_in_r_and_weights_shared():
    key = adamw.seed_keys(5)[0]
    small, _ = md.split(md.ModularTask(p=13, train_fraction=0.3), key)
    large, _ = md.split(md.ModularTask(p=13, train_fraction=0.6), key)
    assert set(small) < set(large)


def test_time_law_recovers_its_parameters_and_its_intervals_cover():
    """Grokking times drawn from a·r^(−γ) + b with 3 % multiplicative noise at seven fractions:
    the fit finds the parameters, and each 95 % interval covers its true value in 90–98 % of
    400 draws (the unweighted fit of t itself covered γ in 69 %)."""
    r = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    truth = dict(a=30.0, gamma=1.5, b=20.0)
    clean = adamw.time_law(r, **truth)
    rng = np.random.default_rng(0)
    covered, gammas = [], []
    for _ in range(400):
        law = adamw.fit_time_law(r, clean * np.exp(0.03 * rng.standard_normal(r.size)))
        gammas.append(law["gamma"])
        covered.append([law[f"{k}_lo"] <= v <= law[f"{k}_hi"] for k, v in truth.items()])
    assert abs(np.median(gammas) - 1.5) < 0.05
    coverage = np.mean(covered, axis=0)
    assert np.all((coverage >= 0.90) & (coverage <= 0.98)), coverage
    exact = adamw.fit_time_law(r, clean)
    assert exact["gamma"] == pytest.approx(1.5, rel=1e-6) and exact["a"] == pytest.approx(30, rel=1e-6)
    few = adamw.fit_time_law(r[:3], clean[:3])
    assert np.isnan(few["gamma"]) and "at least 4" in few["reason"]
    assert adamw.fit_time_law(r, np.where(r > 0.5, np.nan, clean))["n"] == 4


def test_command_end_to_end(tmp_path, capsys):
    """p = 23 at four fractions: every run memorises first and generalises later (a positive gap,
    the test jump later at smaller r), the law is fitted, the figure drawn."""
    argv = ["--p", "23", "--train-fractions", "0.6", "0.7", "0.8", "0.9", "--weight-decays", "5",
            "--hidden", "64", "--steps", "300", "--out", str(tmp_path), "--figures",
            str(tmp_path / "fig"), "--no-progress"]
    assert modular_adamw.main(argv) == 0
    out = capsys.readouterr().out
    assert "a·r^(−γ) + b" in out
    (npz,) = tmp_path.glob("modular_adamw_quick_*.npz")
    arrays = np.load(npz, allow_pickle=False)
    assert arrays["train_acc"].shape == (1, 1, 4, 1, 300)
    assert np.all(arrays["test_acc"][..., -1] == 1.0)
    ok = arrays["ok"][0, 0, :, 0]
    assert ok.all() and np.all(arrays["relative_gap"] > 0)
    assert np.all(np.diff(arrays["b_test"][0, 0, :, 0]) < 0)
    assert list((tmp_path / "fig").glob("modular_adamw_quick_*.png"))

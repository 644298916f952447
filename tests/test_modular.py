"""Modular arithmetic's data against Python's own integer arithmetic: every equation of each
operation, the split's sizes, disjointness and reproducibility, and both encodings."""

import dataclasses

import jax
import numpy as np
import pytest

from experiments import kumar_modular
from linear_grok.settings.modular import kumar
from linear_grok.settings.modular import task as md


@pytest.mark.parametrize("op", md.OPERATIONS)
def test_every_equation_is_right_and_each_appears_once(op):
    task = md.ModularTask(p=13, op=op, train_fraction=0.5)
    a, b, c = md.equations(task)
    ref = {"+": lambda x, y: (x + y) % 13, "-": lambda x, y: (x - y) % 13,
           "*": lambda x, y: (x * y) % 13, "/": lambda x, y: next(z for z in range(13)
                                                                 if (z * y) % 13 == x)}[op]
    assert a.size == task.n_equations == (13 * 12 if op == "/" else 169)
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == a.size
    assert all(int(ci) == ref(int(ai), int(bi)) for ai, bi, ci in zip(a, b, c, strict=True))


def test_split_sizes_disjoint_complete_and_seeded():
    task = md.ModularTask(p=23, op="+", train_fraction=0.9)
    assert task.n_train == int(0.9 * 23**2) == 476  # Kumar et al.: int(alpha * p**2)
    train, test = md.split(task, jax.random.key(1))
    assert train.size == 476 and test.size == 529 - 476
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(529))
    again, _ = md.split(task, jax.random.key(1))
    other, _ = md.split(task, jax.random.key(2))
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_encodings_and_accuracy():
    task = md.ModularTask(p=7, op="*", train_fraction=0.5)
    a, b, c = md.equations(task)
    x = np.asarray(md.one_hot_pairs(a, b, 7))
    assert x.shape == (49, 14) and np.array_equal(x.argmax(1), a) and np.array_equal(
        x[:, 7:].argmax(1), b) and np.all(x.sum(1) == 2)
    seq = np.asarray(md.tokens(a, b, task.p))
    assert seq.shape == (49, 4) and np.all(seq[:, 1] == 7) and np.all(seq[:, 3] == 8)
    logits = np.eye(7)[c] + 0.1
    logits[:10] = np.eye(7)[(c[:10] + 1) % 7]
    assert float(md.argmax_accuracy(logits, c)) == pytest.approx(39 / 49)


@pytest.mark.parametrize("kwargs, name", [
    (dict(p=15), "p must be prime"), (dict(p=2), "p must be"), (dict(p=10**30), "p must be"),
    (dict(op="%"), "op must be"), (dict(train_fraction=0.0), "train_fraction"),
    (dict(train_fraction=float("nan")), "train_fraction"), (dict(p=3, train_fraction=0.05),
                                                            "empty training")])
def test_bad_tasks_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        md.ModularTask(**kwargs)


def numpy_kumar_loop(w1, w2, x_tr, y_tr, x_te, y_te, alpha, eta, steps):
    """Their loop in NumPy, gradients by hand: f = α²(xW1)²W2/(DN), L = mean((f − y)²)/α²;
    train metrics before each step, test metrics after it."""
    d, n = w1.shape
    c = alpha**2 / (d * n)
    rows = []
    for _ in range(steps):
        h = x_tr @ w1
        f = c * (h**2 @ w2)
        train = (np.mean((f - y_tr) ** 2) / alpha**2, np.mean(f.argmax(1) == y_tr.argmax(1)),
                 np.linalg.norm(w1) + np.linalg.norm(w2))
        g = 2 * (f - y_tr) / (f.size * alpha**2)
        w1, w2 = (w1 - eta * c * x_tr.T @ ((g @ w2.T) * 2 * h), w2 - eta * c * (h**2).T @ g)
        f_te = c * ((x_te @ w1) ** 2 @ w2)
        rows.append(train + (np.mean((f_te - y_te) ** 2), np.mean(f_te.argmax(1) == y_te.argmax(1))))
    return np.array(rows).T


def test_kumar_training_equals_their_loop_by_hand():
    """float64, 40 steps recorded every step and every 8th: the jitted scan against NumPy."""
    from linear_grok.precision import float64

    cfg = kumar.KumarConfig(p=7, op="+", train_fraction=0.6, hidden=12, alphas=(1.5,), epochs=40,
                         record_every=1)
    data, params = float64(kumar.kumar_problem)(jax.random.key(3), cfg, dtype=np.float64)
    alpha, eta = 1.5, cfg.lr / 1.5**2
    ref = numpy_kumar_loop(*(np.asarray(a) for a in (*params, *data)), alpha, eta, 40)
    for every in (1, 8):
        c = dataclasses.replace(cfg, record_every=every)
        out = float64(kumar.kumar_train)(params, data, alpha, eta, c)
        names = ("train_loss", "train_acc", "weight_norm", "test_loss", "test_acc")
        for i, name in enumerate(names):
            np.testing.assert_allclose(np.asarray(out[name]), ref[i][::every], rtol=1e-10,
                                       err_msg=name)
    assert ref[0][-1] < 0.65 * ref[0][0]  # it learns


def test_kumar_sweep_is_each_run_alone():
    """The vmapped (α, seed) program gives each run's own numbers (float32, as theirs)."""
    cfg = kumar.KumarConfig(p=5, op="+", train_fraction=0.6, hidden=8, alphas=(0.5, 2.0),
                         seeds=(0, 4), epochs=30, record_every=10)
    swept = kumar.kumar_sweep(cfg)
    assert swept["train_loss"].shape == (2, 2, 3) and swept["train_loss"].dtype == np.float32
    data, params = kumar.kumar_problem(jax.random.key(4), cfg)
    alone = kumar.kumar_train(params, data, np.float32(2.0), np.float32(cfg.lr / 4.0), cfg)
    for name, value in alone.items():
        np.testing.assert_allclose(swept[name][1, 1], np.asarray(value), rtol=1e-5, err_msg=name)


def test_kumar_command_end_to_end(tmp_path, capsys):
    """A tiny task that groks in a few thousand steps: the table, a measured run, the figure."""
    argv = ["--p", "7", "--train-fraction", "0.8", "--hidden", "40", "--alphas", "1",
            "--seeds", "0", "1", "--epochs", "4000", "--record-every", "20", "--out",
            str(tmp_path), "--figures", str(tmp_path / "fig"), "--no-progress"]
    assert kumar_modular.main(argv) == 0
    out = capsys.readouterr().out
    assert "|W| start" in out
    (npz,) = tmp_path.glob("kumar_modular_quick_*.npz")
    arrays = np.load(npz, allow_pickle=False)
    assert arrays["train_acc"].shape == (1, 2, 200)
    assert np.all(arrays["train_acc"][..., -1] == 1.0)
    assert list((tmp_path / "fig").glob("kumar_fig2_quick_*.png"))

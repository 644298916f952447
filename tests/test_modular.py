"""Modular arithmetic's data against Python's own integer arithmetic: every equation of each
operation, the split's sizes, disjointness and reproducibility, and both encodings."""

import jax
import numpy as np
import pytest

from linear_grok.settings import modular as md


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
    seq = np.asarray(md.tokens(a, b, task))
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

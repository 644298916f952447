"""The concealed-parity MLP: the authors' constants, the data stream and labels against direct
counts, one epoch of the authors' procedure against an independent NumPy re-implementation,
padding equivalence, a tiny run that learns, and the sweep command end to end."""

import dataclasses

import jax
import numpy as np
import pytest

from experiments import parity_sweep
from linear_grok.curves import first_time_above
from linear_grok.results import load_results
from linear_grok.scurves import chance_to_cd
from linear_grok.settings import parity

TINY = dataclasses.replace(parity.PAPER, input_sizes=(7,), seeds=(0,), hidden=32, n_train=43,
                           n_val=21, batch_size=8, epochs=4, lr=0.05)


def test_paper_preset_is_the_authors_procedure():
    # tiny-gen, branch feat/sharpness-and-gap, tiny-gen.py, experiment_sharpness_and_grokking_gap:
    # weight_decay = 1e-2, learning_rate = 1e-2, batch_size = 32, k = 3, hidden_size = 1000,
    # epochs = 3000, number_training_samples = 750, number_validation_samples = 250,
    # random_seeds = [0, 1, 2], input_sizes = range(25, 46), threshold = 0.99, and the erf model
    # c = 1/4, d = 0.75 fitted on np.arange(len(accuracy)) (0-based epochs). Printed from the
    # authors' source by tests/reference/parity_authors_constants.py.
    p = parity.PAPER
    assert (p.weight_decay, p.lr, p.batch_size, p.k, p.hidden, p.epochs) == (1e-2, 1e-2, 32, 3, 1000, 3000)
    assert (p.n_train, p.n_val, p.seeds, p.input_sizes) == (750, 250, (0, 1, 2), tuple(range(25, 46)))
    assert (parity.THRESHOLD, *chance_to_cd(parity.CHANCE)) == (0.99, 0.25, 0.75)
    assert p.epoch_axis[0] == 0 and p.epoch_axis[-1] == 2999
    # src/dataset.py: torch.randint(0, 2, ...) bits, HiddenDataset re-seeds with the same seed;
    # src/model.py: nn.Linear's default bias; src/train.py: per-batch running means.
    assert p.procedure == {"inputs": "01", "bias_init": "torch", "accuracy": "batch-mean",
                           "spurious": "same-stream"}
    assert parity.PRESETS["paper"] == p
    clean = parity.PRESETS["clean"]
    assert clean.procedure == {"inputs": "pm1", "bias_init": "zero", "accuracy": "full-set",
                               "spurious": "independent"}
    assert clean.epoch_axis[0] == 1


def test_authors_run_reproduces_pytorch_streams():
    # Reference: the authors' ParityTask, HiddenDataset, random_split and TinyModel calls run in
    # PyTorch 2.13 (CPU) with seed 0, 64 samples (43 train), k = 3, input size 7, hidden 32:
    # tests/reference/parity_torch_streams.py (also without torch, from MT19937 written out).
    run = parity.authors_run(0, 7, TINY)
    x = run["x_train"][:2, :7].astype(int).tolist()
    assert x == [[0, 0, 1, 1, 1, 1, 0], [1, 0, 1, 0, 0, 0, 1]]
    assert run["y_train"][:6].tolist() == [1, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(run["b1"][:3], np.float32([-0.32754775881767273, 0.18723523616790771,
                                                             -0.2692168056964874]))
    np.testing.assert_array_equal(run["w1"][0, :3], np.float32([0.03276374936103821, 0.052560318261384964,
                                                               -0.2711241841316223]))
    np.testing.assert_array_equal(run["w2"][:3, 0], np.float32([0.057713449001312256, 0.3454175591468811,
                                                               -0.284010112285614]))


def test_spurious_bits_reread_one_stream_and_labels_are_parity():
    cfg = dataclasses.replace(TINY, input_sizes=(9, 12), n_train=60, n_val=20)
    n, k, total = 9, cfg.k, 80
    xs = {}
    for spurious in ("same-stream", "independent"):
        for inputs in ("01", "pm1"):
            run = parity.authors_run(3, n, dataclasses.replace(cfg, inputs=inputs, spurious=spurious))
            x = xs[spurious, inputs] = np.concatenate([run["x_train"], run["x_val"]])
            y = np.concatenate([run["y_train"], run["y_val"]])
            assert x.shape == (total, 12) and np.all(x[:, n:] == 0)
            # Labels: the product of the ±1 bits (0 → −1) is +1, as the authors' ParityTask.
            pm = 2 * x[:, :k] - 1 if inputs == "01" else x[:, :k]
            np.testing.assert_array_equal(y, (np.prod(pm, axis=1) > 0).astype(int))
        # The encodings differ only in the values of the bits, not in the samples or their split.
        np.testing.assert_array_equal(xs[spurious, "pm1"], (2 * xs[spurious, "01"] - 1) * (np.arange(12) < n))
    # Same stream: the spurious bits, read in sample order, start with the parity bits read in
    # sample order; an independent stream agrees with them on about half the bits.
    for spurious, lo, hi in (("same-stream", 1.0, 1.0), ("independent", 0.35, 0.65)):
        bits, order = parity.authors_bits(3, n, dataclasses.replace(cfg, spurious=spurious))
        assert lo <= np.mean(bits[:, k:].ravel()[: total * k] == bits[:, :k].ravel()) <= hi
        np.testing.assert_array_equal(xs[spurious, "01"][:, :n], bits[order])
        assert sorted(order) == list(range(total))
        # Spurious bits carry no information about the label.
        assert abs(np.corrcoef(bits[:, 5], np.prod(2 * bits[:, :k] - 1, axis=1))[0, 1]) < 0.3


def _numpy_epoch(params, data, train_order, val_order, lr, wd):
    """One epoch of the authors' train_model in float64 NumPy: per batch, forward, score, backprop
    by hand and take a coupled-weight-decay SGD step; then score the shuffled validation batches."""
    w1, b1, w2 = (np.asarray(params[k], np.float64) for k in ("w1", "b1", "w2"))
    x_tr, y_tr = np.asarray(data["x_train"], np.float64), np.asarray(data["y_train"])

    def forward(x):
        z = x @ w1 + b1
        h = np.maximum(z, 0)
        out = h @ w2
        p = np.exp(out - out.max(1, keepdims=True))
        return z, h, p / p.sum(1, keepdims=True)

    def score(p, y):
        return -np.mean(np.log(p[np.arange(y.size), y])), np.mean(p.argmax(1) == y)

    losses, accs = [], []
    for idx, w in zip(*train_order, strict=True):
        idx = idx[w > 0]
        x, y = x_tr[idx], y_tr[idx]
        z, h, p = forward(x)
        loss, acc = score(p, y)
        losses.append(loss)
        accs.append(acc)
        d_out = (p - np.eye(2)[y]) / y.size
        d_z = (d_out @ w2.T) * (z > 0)
        g_w2, g_w1, g_b1 = h.T @ d_out, x.T @ d_z, d_z.sum(0)
        w1, b1, w2 = w1 - lr * (g_w1 + wd * w1), b1 - lr * (g_b1 + wd * b1), w2 - lr * (g_w2 + wd * w2)
    x_va, y_va = np.asarray(data["x_val"], np.float64), np.asarray(data["y_val"])
    val = [score(forward(x_va[idx[w > 0]])[2], y_va[idx[w > 0]]) for idx, w in zip(*val_order, strict=True)]
    metrics = {"train_loss": np.mean(losses), "train_acc": np.mean(accs),
               "val_loss": np.mean([v[0] for v in val]), "val_acc": np.mean([v[1] for v in val])}
    return {"w1": w1, "b1": b1, "w2": w2}, metrics


def test_one_epoch_equals_numpy_reimplementation_of_the_authors_loop():
    state = parity.init_state({**parity.authors_run(0, 7, TINY), "seed": 0}, TINY)
    _, k_train, k_val = parity.epoch_keys(state["key"])
    orders = [tuple(np.asarray(a) for a in parity.batch_order(key, n, TINY.batch_size))
              for key, n in ((k_train, TINY.n_train), (k_val, TINY.n_val))]
    assert orders[0][1].sum(1).tolist() == [8, 8, 8, 8, 8, 3]  # last batch: the remainder
    assert orders[1][1].sum(1).tolist() == [8, 8, 5]
    ref_params, ref = _numpy_epoch(state["params"], state["data"], *orders, TINY.lr, TINY.weight_decay)
    new, metrics = jax.jit(parity.train_epochs, static_argnames=("cfg", "n_epochs"))(state, TINY, 1)
    for key in ("w1", "b1", "w2"):
        np.testing.assert_allclose(np.asarray(new["params"][key]), ref_params[key], rtol=1e-4, atol=1e-6)
    for key, value in ref.items():
        np.testing.assert_allclose(float(metrics[key][0]), value, rtol=1e-5, err_msg=key)
    # Unweighted batch means differ from sample means when the last batch is short.
    assert ref["train_acc"] != pytest.approx(0.0) and set(metrics) == set(ref)


def _train(cfg):
    states = jax.vmap(lambda run: parity.init_state(run, cfg))(parity.initial_runs(cfg))
    states, metrics = jax.vmap(lambda st: parity.train_epochs(st, cfg, cfg.epochs))(states)
    return states, {k: np.asarray(v) for k, v in metrics.items()}


@pytest.mark.parametrize("preset", ["paper", "clean"])
def test_padding_changes_nothing(preset):
    base = dataclasses.replace(TINY, **parity.PRESETS[preset].procedure)
    alone_states, alone = _train(base)
    padded_cfg = dataclasses.replace(base, input_sizes=(7, 13))
    padded_states, padded = _train(padded_cfg)
    # The same data and initial weights, zero-padded: {0, 1} inputs and a random bias included.
    one, two = parity.authors_run(0, 7, base), parity.authors_run(0, 7, padded_cfg)
    np.testing.assert_array_equal(two["x_train"][:, :7], one["x_train"])
    np.testing.assert_array_equal(two["w1"][:7], one["w1"])
    assert np.all(two["x_train"][:, 7:] == 0) and np.all(two["w1"][7:] == 0)
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(padded[key][0], alone[key][0], rtol=1e-5)
    for key in ("train_acc", "val_acc"):
        np.testing.assert_allclose(padded[key][0], alone[key][0], atol=1e-6)
    # The padded rows of the first layer stay exactly zero through training.
    assert np.all(np.asarray(padded_states["params"]["w1"])[0, 7:] == 0)


def test_full_set_metrics_beside_batch_means_and_the_grouped_program():
    cfg = dataclasses.replace(TINY, input_sizes=(5, 6, 7), full_set_metrics=True, epochs=3)
    out = parity.train_sweep(cfg, chunk=2, progress=False, group=2)
    assert {"train_acc", "val_acc", "train_acc_full", "val_acc_full"} <= set(out)
    np.testing.assert_array_equal(out["epoch"], [0, 1, 2])
    # Groups of 2 (lax.map over vmapped groups) equal all runs vmapped at once.
    _, direct = _train(cfg)
    for key in ("train_loss", "val_loss_full"):
        np.testing.assert_allclose(out[key], direct[key], rtol=1e-5)
    with pytest.raises(ValueError, match="^full_set_metrics must be False"):
        dataclasses.replace(cfg, accuracy="full-set")


def test_tiny_run_learns_parity():
    cfg = dataclasses.replace(TINY, input_sizes=(4,), hidden=128, n_train=200, epochs=60, lr=0.1,
                              weight_decay=1e-4, batch_size=20)
    _, m = _train(cfg)
    assert m["train_acc"][0, -1] > 0.9 and m["train_loss"][0, -1] < m["train_loss"][0, 0]


def test_first_time_above_is_strict_and_uses_the_time_labels():
    acc = np.array([[0.5, 0.99, 0.995, 1.0], [0.5, 0.6, 0.7, 0.8]])
    got = first_time_above(np.arange(4.0), acc, 0.99)
    assert got[0] == 2 and np.isnan(got[1])


def test_config_errors():
    with pytest.raises(ValueError, match="^input_sizes must be >= k"):
        parity.ParityConfig(input_sizes=(2,))
    with pytest.raises(ValueError, match="^lr must be > 0"):
        parity.ParityConfig(lr=0.0)
    with pytest.raises(ValueError, match="^inputs must be one of 01, pm1"):
        parity.ParityConfig(inputs="pm")


def test_sweep_main_saves_measures_procedure_and_figures(tmp_path):
    code = parity_sweep.main(["--epochs", "150", "--input-sizes", "4", "5", "--seeds", "0",
                              "--hidden", "128", "--chunk", "50", "--out", str(tmp_path),
                              "--figures", str(tmp_path), "--no-progress", "--inputs", "pm1",
                              "--shape", "logistic", "--ci", "0.9", "--n-boot", "20"])
    assert code == 0
    # Flags changed the preset: the name carries the configuration's hash.
    (npz,) = tmp_path.glob("parity_sweep_quick_*.npz")
    tag = npz.stem.removeprefix("parity_sweep_quick_")
    assert len(tag) == 8
    arrays, meta = load_results(npz.with_suffix(""))
    assert arrays["train_acc"].shape == (2, 150) and meta["config"]["epochs"] == 150
    assert meta["procedure"]["inputs"] == "pm1" and meta["procedure"]["bias_init"] == "torch"
    assert meta["measure"]["shape"] == "logistic" and "relative_gap_lo" in arrays
    assert set(arrays["shape"][arrays["ok"]]) <= {"logistic"}
    assert arrays["epoch"][0] == 0 and arrays["first_val_above"].shape == (2,)
    # Every run is either measured or recorded with a reason.
    assert np.all(arrays["ok"] | (arrays["reason"] != ""))
    assert {p.name for p in tmp_path.glob("parity_fig*_quick_*.png")} == {
        f"parity_fig{k}_quick_{tag}.png" for k in (2, 4, 5)}

"""The concealed-parity MLP: labels against a direct parity count, padding equivalence against
unpadded training, a tiny run that learns, and the shared fit on a recorded curve."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import parity_sweep
from linear_grok import parity
from linear_grok.results import load_results

TINY = parity.ParityConfig(input_sizes=(6,), seeds=(0,), hidden=32, n_train=100, n_val=60,
                           batch_size=16, epochs=4, lr=0.05)


def test_labels_are_parity_of_first_k_bits_and_padding_is_zero():
    data = parity.make_dataset(jax.random.key(0), 5, dataclasses.replace(TINY, input_sizes=(5, 9)))
    x = np.asarray(data["x_train"])
    assert x.shape == (100, 9) and np.all(x[:, 5:] == 0) and set(np.unique(x[:, :5])) == {-1, 1}
    ones = np.sum(x[:, :3] < 0, axis=1)  # count of −1 bits among the k = 3 parity bits
    np.testing.assert_array_equal(np.asarray(data["y_train"]), (ones % 2 == 0).astype(int))
    # Spurious bits carry no information about the label.
    assert abs(np.corrcoef(x[:, 4], np.asarray(data["y_train"]))[0, 1]) < 0.3


def test_xavier_fan_in_per_run():
    cfg = dataclasses.replace(TINY, input_sizes=(6, 40), hidden=1000)
    params = parity.init_params(jax.random.key(1), 6, cfg)
    w1 = np.asarray(params["w1"])
    assert np.all(w1[6:] == 0)
    assert np.abs(w1[:6]).max() <= np.sqrt(6 / (6 + 1000)) + 1e-7
    assert np.abs(w1[:6]).max() > 0.95 * np.sqrt(6 / (6 + 1000))


def _train(cfg, runs):
    sizes = jnp.asarray([n for n, _ in runs])
    seeds = jnp.asarray([s for _, s in runs])
    states = parity.init_sweep(seeds, sizes, cfg)
    _, metrics = parity.train_sweep(states, cfg, cfg.epochs)
    return {k: np.asarray(v) for k, v in metrics.items()}


def test_padding_changes_nothing():
    alone = _train(TINY, TINY.runs)
    padded_cfg = dataclasses.replace(TINY, input_sizes=(6, 13), seeds=(0,))
    padded = _train(padded_cfg, padded_cfg.runs)
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(padded[key][0], alone[key][0], rtol=1e-5)
    for key in ("train_acc", "val_acc"):
        np.testing.assert_allclose(padded[key][0], alone[key][0], atol=1 / 60 + 1e-6)
    # And the vmapped program equals one run trained alone.
    assert padded["train_loss"].shape == (2, TINY.epochs)


def test_tiny_run_learns_parity():
    cfg = dataclasses.replace(TINY, input_sizes=(4,), hidden=128, n_train=200, epochs=60, lr=0.1,
                              weight_decay=1e-4, batch_size=20)
    m = _train(cfg, cfg.runs)
    assert m["train_acc"][0, -1] > 0.9 and m["train_loss"][0, -1] < m["train_loss"][0, 0]


def test_config_errors():
    with pytest.raises(ValueError, match="^input_sizes must be >= k"):
        parity.ParityConfig(input_sizes=(2,))
    with pytest.raises(ValueError, match="^lr must be > 0"):
        parity.ParityConfig(lr=0.0)


def test_sweep_main_saves_measures_and_figures(tmp_path):
    code = parity_sweep.main(["--epochs", "150", "--input-sizes", "4", "5", "--seeds", "0",
                              "--hidden", "128", "--chunk", "50", "--out", str(tmp_path),
                              "--figures", str(tmp_path), "--no-progress"])
    assert code == 0
    arrays, meta = load_results(tmp_path / "parity_sweep_quick")
    assert arrays["train_acc"].shape == (2, 150) and meta["config"]["epochs"] == 150
    # Every run is either measured or recorded with a reason.
    assert np.all(arrays["ok"] | (arrays["reason"] != ""))
    assert {p.name for p in tmp_path.glob("parity_fig*_quick.png")} == {
        "parity_fig2_quick.png", "parity_fig4_quick.png", "parity_fig5_quick.png"}

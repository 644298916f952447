"""Power et al.'s transformer against a NumPy transcription written position by position and head
by head (float64), its parameter count against Power et al.'s ~4·10⁵, its FLOP count against
XLA's cost analysis, and a tiny AdamW run that learns its training set."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from linear_grok.settings.modular import adamw
from linear_grok.settings.modular import task as md
from linear_grok.settings.modular import transformer as tf


def reference_logits(params, seq, heads):
    """One sequence, loops over blocks, positions and heads; causal by summing j ≤ i only."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    d = p["embed"].shape[1]
    dh = d // heads
    x = np.stack([p["embed"][tok] for tok in seq])
    for i, pos in enumerate(range(len(seq))):
        for j in range(d):
            angle = pos / 10000 ** ((j - j % 2) / d)
            x[i, j] += np.sin(angle) if j % 2 == 0 else np.cos(angle)

    def norm(v, g, b):
        return (v - v.mean()) / np.sqrt(v.var() + 1e-5) * g + b

    for layer in range(p["wq"].shape[0]):
        w = {k: v[layer] for k, v in p.items() if k not in ("embed", "unembed")}
        q, k, v = x @ w["wq"], x @ w["wk"], x @ w["wv"]
        mixed = np.zeros_like(x)
        for i in range(len(seq)):
            for h in range(heads):
                cols = slice(h * dh, (h + 1) * dh)
                s = np.array([q[i, cols] @ k[j, cols] / np.sqrt(dh) for j in range(i + 1)])
                weights = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                mixed[i, cols] = sum(weights[j] * v[j, cols] for j in range(i + 1))
        mixed = mixed @ w["wo"]
        a = np.stack([norm(x[i] + mixed[i], w["ln1_g"], w["ln1_b"]) for i in range(len(seq))])
        ff = np.maximum(a @ w["w1"], 0) @ w["w2"]
        x = np.stack([norm(a[i] + ff[i], w["ln2_g"], w["ln2_b"]) for i in range(len(seq))])
    out = p["unembed"] if "unembed" in p else p["embed"].T
    return x[-1] @ out


@pytest.mark.parametrize("tie", [True, False])
def test_logits_equal_the_transcription(tie):
    shape = tf.TransformerShape(d_model=16, heads=4, layers=2, tie_embeddings=tie)
    params = tf.init_transformer(jax.random.key(0), 13, shape)
    # LayerNorm parameters away from 1 and 0, so that they are tested too
    params = {k: v + 0.1 * jax.random.normal(jax.random.key(1), v.shape, v.dtype) if k.startswith("ln") else v
              for k, v in params.items()}
    seqs = np.asarray(md.tokens(np.array([3, 0, 10]), np.array([7, 10, 0]), 11))
    got = np.asarray(tf.transformer_logits(params, jnp.asarray(seqs), shape.heads))
    want = np.stack([reference_logits(params, s, shape.heads) for s in seqs])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_parameter_count_and_flops():
    shape = tf.TransformerShape()
    params = tf.init_transformer(jax.random.key(0), 99, shape)
    count = sum(x.size for x in jax.tree_util.tree_leaves(params))
    assert count == tf.parameter_count(99, shape) == 406_912  # Power et al.: "about 4·10⁵"
    # XLA's cost analysis counts a loop's body once: one block, so that it counts every FLOP.
    one = dataclasses.replace(shape, layers=1)
    params = tf.init_transformer(jax.random.key(0), 99, one)
    tokens = jnp.zeros((64, 4), jnp.int32)
    cost = jax.jit(lambda p: tf.transformer_logits(p, tokens, one.heads)).lower(params).compile()
    analysis = cost.cost_analysis()
    xla = (analysis[0] if isinstance(analysis, list) else analysis)["flops"]
    assert xla == pytest.approx(64 * tf.flops_per_sequence(99, one), rel=0.05)


def test_init_is_pytorchs_default():
    shape = tf.TransformerShape(d_model=64, tie_embeddings=False)
    params = tf.init_transformer(jax.random.key(2), 99, shape)
    assert np.std(np.asarray(params["embed"])) == pytest.approx(1.0, rel=0.02)  # N(0, 1)
    w1 = np.asarray(params["w1"])
    assert np.abs(w1).max() <= 1 / 8 and np.std(w1) == pytest.approx(1 / 8 / np.sqrt(3), rel=0.02)
    np.testing.assert_array_equal(np.asarray(params["ln1_g"]), 1.0)


def test_adamw_transformer_learns_its_training_set():
    """p = 7 with cross-entropy: every run's training accuracy reaches 1 and its loss falls."""
    cfg = adamw.AdamWConfig(p=7, model="transformer", loss="ce", hidden=16, heads=2, layers=1,
                            train_fractions=(0.6,), weight_decays=(0.0, 0.1), lrs=(1e-2,),
                            steps=400, warmup=10)
    out = adamw.adamw_sweep(cfg, chunk=400, progress=False)
    assert out["train_acc"].shape == (1, 2, 1, 1, 400)
    assert np.all(out["train_acc"][..., -1] == 1.0)
    assert np.all(out["train_loss"][..., -1] < 0.1 * out["train_loss"][..., 0])
    with pytest.raises(ValueError, match="multiple of heads"):
        dataclasses.replace(cfg, hidden=10, heads=3)

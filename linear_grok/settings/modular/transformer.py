"""The decoder-only transformer of Power et al. (2022), in JAX without a framework, as Notsawo et
al. (2023) train it on modular arithmetic: two blocks, width 128, 4 heads, the input embedding
tied to the output layer.

Power et al.'s blocks (their ``grok/transformer.py``): causal multi-head self-attention with
bias-free query, key, value and output projections, then a bias-free ReLU feed-forward layer of
width ``4·d``, each added to its input and followed by a LayerNorm (post-norm:
``LN(x + attn(x))``, ``LN(a + ffn(a))``); fixed sinusoidal position encodings added to the token
embeddings; no dropout. The logits at the last position (the token ``=``) over the whole
vocabulary (``p + 2``: the residues, the operator, ``=``) predict the answer. With
``tie_embeddings`` (Notsawo et al.) the output layer is the transposed embedding; otherwise a
bias-free linear layer. Initialisation as PyTorch's defaults: embeddings ``N(0, 1)``, linear
weights ``U(−1/√fan_in, 1/√fan_in)``, LayerNorm scale 1 and shift 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from linear_grok.validation import require

__all__ = ["TransformerShape", "position_encoding", "init_transformer", "transformer_logits",
           "parameter_count", "flops_per_sequence"]

Array = jax.Array
SEQUENCE = 4  # a ∘ b =


@dataclass(frozen=True)
class TransformerShape:
    """The transformer's sizes (Power et al.: width 128, 4 heads, 2 blocks, feed-forward 4·d).

    Attributes:
      d_model: width ``d``, a multiple of ``heads``. heads: attention heads. layers: blocks.
      ffn: feed-forward width as a multiple of ``d``. tie_embeddings: output layer = embeddingᵀ.
    """

    d_model: int = 128
    heads: int = 4
    layers: int = 2
    ffn: int = 4
    tie_embeddings: bool = True

    def __post_init__(self):
        for name in ("d_model", "heads", "layers", "ffn"):
            require(name, getattr(self, name), lambda a: (a >= 1) & (a <= 8192) & (a == np.round(a)),
                    "a whole number in [1, 8192]")
        if self.d_model % self.heads:
            raise ValueError(f"d_model = {self.d_model} must be a multiple of heads = {self.heads}")


def position_encoding(length: int, d: int) -> np.ndarray:
    """Power et al.'s sinusoids (length, d): ``sin(t/10000^(i/d))`` at even ``i``,
    ``cos(t/10000^((i−1)/d))`` at odd ``i``."""
    t = np.arange(length)[:, None]
    i = np.arange(d)[None, :]
    angle = t / 10000.0 ** ((i - i % 2) / d)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


def init_transformer(key: Array, vocab: int, shape: TransformerShape) -> dict:
    """Parameters (float32) as PyTorch initialises them (module docstring): ``embed`` (vocab, d),
    per block ``wq, wk, wv, wo`` (d, d), ``w1`` (d, ffn·d), ``w2`` (ffn·d, d), LayerNorm
    ``ln1_g, ln1_b, ln2_g, ln2_b`` (d,), stacked over blocks; ``unembed`` (d, vocab) unless tied."""
    d, f, n = shape.d_model, shape.ffn * shape.d_model, shape.layers
    keys = iter(jax.random.split(key, 8))

    def linear(fan_in, fan_out):  # torch.nn.Linear: U(−1/√fan_in, 1/√fan_in), stored (in, out)
        bound = 1 / np.sqrt(fan_in)
        return jax.random.uniform(next(keys), (n, fan_in, fan_out), jnp.float32, -bound, bound)

    params = {"embed": jax.random.normal(next(keys), (vocab, d), jnp.float32),
              "wq": linear(d, d), "wk": linear(d, d), "wv": linear(d, d), "wo": linear(d, d),
              "w1": linear(d, f), "w2": linear(f, d),
              "ln1_g": jnp.ones((n, d), jnp.float32), "ln1_b": jnp.zeros((n, d), jnp.float32),
              "ln2_g": jnp.ones((n, d), jnp.float32), "ln2_b": jnp.zeros((n, d), jnp.float32)}
    if not shape.tie_embeddings:
        bound = 1 / np.sqrt(d)
        params["unembed"] = jax.random.uniform(next(keys), (d, vocab), jnp.float32, -bound, bound)
    return params


def _layer_norm(x, g, b, eps=1e-5):
    """PyTorch's LayerNorm over the last axis (biased variance, ε inside the root)."""
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps) * g + b


def _block(x, layer, heads: int):
    """One post-norm decoder block on (n, T, d)."""
    n, t, d = x.shape
    split = lambda y: y.reshape(n, t, heads, d // heads).transpose(0, 2, 1, 3)  # noqa: E731
    q, k, v = (split(x @ layer[w]) for w in ("wq", "wk", "wv"))
    scores = q @ k.transpose(0, 1, 3, 2) / float(np.sqrt(d // heads))  # (n, heads, T, T)
    causal = np.tril(np.ones((t, t), dtype=bool))
    att = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
    mixed = (att @ v).transpose(0, 2, 1, 3).reshape(n, t, d) @ layer["wo"]
    a = _layer_norm(x + mixed, layer["ln1_g"], layer["ln1_b"])
    return _layer_norm(a + jax.nn.relu(a @ layer["w1"]) @ layer["w2"], layer["ln2_g"], layer["ln2_b"])


def transformer_logits(params: dict, tokens: Array, heads: int) -> Array:
    """Logits (n, vocab) at the last position of token sequences (n, T)."""
    x = params["embed"][tokens] + position_encoding(tokens.shape[-1], params["embed"].shape[1])
    blocks = {k: v for k, v in params.items() if k not in ("embed", "unembed")}
    x, _ = jax.lax.scan(lambda h, layer: (_block(h, layer, heads), None), x, blocks)
    out = params["unembed"] if "unembed" in params else params["embed"].T
    return x[:, -1] @ out


def parameter_count(vocab: int, shape: TransformerShape) -> int:
    """Trainable parameters."""
    d = shape.d_model
    per_block = 4 * d * d + 2 * shape.ffn * d * d + 4 * d
    return vocab * d * (1 if shape.tie_embeddings else 2) + shape.layers * per_block


def flops_per_sequence(vocab: int, shape: TransformerShape, length: int = SEQUENCE) -> int:
    """Multiply-adds ×2 of one forward pass of a sequence (projections, attention, feed-forward,
    the last position's logits); a training step costs about 3× this per training sequence."""
    d, t = shape.d_model, length
    per_block = t * (4 * d * d + 2 * shape.ffn * d * d) + 2 * t * t * d
    return 2 * (shape.layers * per_block + d * vocab)

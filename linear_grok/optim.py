"""The optimiser both trained settings use by default."""

import optax


def sgd_coupled_weight_decay(lr: float, weight_decay: float) -> optax.GradientTransformation:
    """SGD with coupled weight decay, ``θ ← θ − lr·(∇L + weight_decay·θ)``: PyTorch's
    ``torch.optim.SGD(lr=lr, weight_decay=weight_decay)`` without momentum."""
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(lr))

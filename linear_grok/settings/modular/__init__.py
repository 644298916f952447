"""Modular arithmetic, the task on which grokking was found (Power et al. 2022).

* :mod:`.task`: the equations ``a ∘ b = c (mod p)``, the seeded split, the encodings (one-hot
  pairs, token sequences) and the arg-max accuracy.
* :mod:`.kumar`: Kumar et al.'s Figure 2, full-batch gradient descent without weight decay.
* :mod:`.adamw`: a one-hot MLP under full-batch AdamW that groks on a CPU in minutes, swept over
  the training fraction, the weight decay and the learning rate.
"""

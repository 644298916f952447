"""The settings in which grokking is measured, one module (or package) each.

* :mod:`linear_grok.settings.linear`: the linear student–teacher model of Levi et al. (2023):
  exact and long-time theory, the simulator, and the λ sweep.
* :mod:`linear_grok.settings.parity`: the concealed-parity MLP, run as the sharpness paper's
  authors ran it.
* :mod:`linear_grok.settings.lazy_rich`: the lazy→rich committee machine of Kumar et al. (2024),
  trained exactly through its weights' sufficient statistics.
* :mod:`linear_grok.settings.modular`: modular arithmetic: Kumar et al.'s Figure 2 (full-batch
  gradient descent), a one-hot MLP and Power et al.'s transformer under full-batch AdamW.

A setting produces accuracy curves; everything after that (fits, measures, intervals, trends,
figures) is shared and does not know which setting ran.
"""

"""The linear student–teacher model (docs/theory.md §1–§16): :mod:`.theory` (closed forms),
:mod:`.simulator` (jitted GD and its exact spectral solution) and :mod:`.sweep` (the λ sweep)."""

"""The project's commands (``python -m experiments.NAME``): sweeps, comparisons and figures."""

from linear_grok.cli import note_signals_from_start

note_signals_from_start()  # before the commands' heavy imports: Ctrl-C in the first second is clean

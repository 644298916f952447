"""Experiments of linear_grok; run each as ``python -m experiments.NAME``."""

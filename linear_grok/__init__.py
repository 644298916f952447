"""linear_grok: measure grokking in the linear student-teacher model and beyond.

Importing the package changes nothing global: JAX's dtype settings, its compilation cache and
matplotlib's backend stay the caller's. Code that needs float64 computes in float64 inside
(:mod:`linear_grok.precision`); the commands (:mod:`linear_grok.cli`) switch on float64, JAX's
persistent compilation cache and a file-only matplotlib backend for their own process.
"""

from linear_grok.cli import note_signals_from_start

note_signals_from_start()  # first, and only when this process is one of the commands: see its docstring

from importlib import metadata  # noqa: E402  (after the signals: it takes tens of milliseconds)

try:  # the version is written once, in pyproject.toml
    __version__ = metadata.version("linear_grok")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

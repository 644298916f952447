"""What every command shares: its process set up for the package, and Ctrl-C and SIGTERM
that stop it cleanly, with exit status 130.

A command (:func:`command`) runs with JAX in float64 for the whole process (the theory and the fits
need it; the library alone switches it on only inside its own functions), JAX's persistent
compilation cache (a second run loads its compiled programs instead of compiling them again:
seconds per command on a CPU; in ``$LINEAR_GROK_CACHE_DIR``, by default
``$XDG_CACHE_HOME/linear_grok/jax`` or ``~/.cache/linear_grok/jax``; ``LINEAR_GROK_CACHE_DIR=off``
turns it off; a cache set up beforehand is left alone) and matplotlib's file-only Agg backend.

A command's signal handler only takes note; the work stops at the next *stop point*
(:func:`stop_point`: before each result pair is written, between chunks of a sweep, at the end),
so no exception lands inside a compiled call or a library's callback, and a result pair is either
written whole or not at all. A second signal stops at once. The result files are complete pairs
(:func:`linear_grok.results.save_results`): an interrupted command leaves every pair it finished
and the previous version of the others.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from pathlib import Path

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose errors are one line on stderr, ``error: ...``, with exit status 2."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def user_error(err: Exception) -> int:
    """Report a user error found before any work (a bad value, a bad output path) as one line on
    stderr; returns the exit status 2."""
    print(f"error: {err}", file=sys.stderr)
    return 2


def _take_note(signum, frame):
    if _received:  # the second one: the user insists
        raise KeyboardInterrupt
    _received.append(signum)


_early: list[bool] = []  # handlers installed at import (note_signals_from_start)


def started_as_command(argv: list[str] | None = None) -> bool:
    """Whether this process was started as one of the project's commands: ``python -m`` of a
    module of ``linear_grok``, ``experiments`` or ``benchmarks``, or a ``linear-grok-*`` console
    script. Read from the interpreter's own command line (``sys.orig_argv``)."""
    argv = list(getattr(sys, "orig_argv", sys.argv) if argv is None else argv)
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            return i + 1 < len(argv) and argv[i + 1].startswith(("linear_grok.", "experiments.",
                                                                 "benchmarks."))
        if arg == "-c" or not arg.startswith("-"):
            break
        i += 2 if arg in ("-X", "-W") else 1  # the options that take a value
    return Path(sys.argv[0] if sys.argv else "").name.startswith("linear-grok-")


def note_signals_from_start() -> None:
    """In a command's process only (:func:`started_as_command`), take note of SIGINT and SIGTERM
    from the first import on, before the heavy imports: a signal then stops the command at its
    first stop point with one line, not with a traceback from inside an import. Imported as a
    library, the package leaves the caller's handlers alone."""
    if _early or not started_as_command():
        return
    for s in _SIGNALS:
        if signal.getsignal(s) is not signal.SIG_IGN:  # ignored by whoever started us: stays so
            signal.signal(s, _take_note)
    _early.append(True)


def stop_point() -> None:
    """Stop here (``KeyboardInterrupt``) if a command received SIGINT or SIGTERM; otherwise, and
    outside commands, nothing."""
    if _received:
        raise KeyboardInterrupt


def compilation_cache_dir() -> str | None:
    """Where compiled programs are kept, or ``None`` when the cache is off."""
    chosen = os.environ.get("LINEAR_GROK_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "0", "off", "none", "false") else chosen
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return str(Path(base) / "linear_grok" / "jax")


def setup_process() -> None:
    """float64, the compilation cache and the Agg backend for a command's process."""
    import jax
    import matplotlib

    jax.config.update("jax_enable_x64", True)
    if jax.config.jax_compilation_cache_dir is None and (cache := compilation_cache_dir()):
        jax.config.update("jax_compilation_cache_dir", cache)
        # Keep every program: on a 2-core CPU even the sub-second compiles add up to seconds.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    matplotlib.use("Agg")  # commands write figures to files; they never need a display


def command(main):
    """Decorate a command's ``main(argv=None) -> int`` with the handling above: an interrupted
    command prints one line on stderr and returns 130 instead of a traceback."""

    @functools.wraps(main)
    def run(argv=None) -> int:
        if not _early:  # a signal noted during the command's imports still counts
            _received.clear()
        previous = {s: signal.signal(s, _take_note) for s in _SIGNALS
                    if signal.getsignal(s) is not signal.SIG_IGN}  # nohup, a shell's background job
        try:
            stop_point()
            setup_process()
            status = main(argv)
            stop_point()  # a signal after the last stop point still reads as an interrupt
            return status
        except KeyboardInterrupt:
            print("interrupted: stopped before the end; result files already written are complete, "
                  "and the one due next was not started", file=sys.stderr)
            return INTERRUPTED
        finally:
            for s, handler in previous.items():
                # Run as the process's command (not called from Python), its status is settled:
                # a signal during the interpreter's shutdown must not replace it.
                signal.signal(s, signal.SIG_IGN if argv is None else handler)

    return run

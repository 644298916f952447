"""What every command shares: Ctrl-C and SIGTERM stop it cleanly, with exit status 130.

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
import signal
import sys

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


def stop_point() -> None:
    """Stop here (``KeyboardInterrupt``) if a command received SIGINT or SIGTERM; otherwise, and
    outside commands, nothing."""
    if _received:
        raise KeyboardInterrupt


def command(main):
    """Decorate a command's ``main(argv=None) -> int`` with the handling above: an interrupted
    command prints one line on stderr and returns 130 instead of a traceback."""

    @functools.wraps(main)
    def run(argv=None) -> int:
        _received.clear()
        previous = {s: signal.signal(s, _take_note) for s in _SIGNALS}
        try:
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

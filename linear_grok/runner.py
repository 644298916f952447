"""The one implementation every sweep command runs through.

A command module (``experiments/<name>.py``) declares a :class:`Command`: its setting's presets,
a table of :class:`Flag` rules (which field of the configuration each flag overrides and its valid
values), how to run a configuration, what to print and what to draw. :meth:`Command.main` does
the rest, the same way for every command:

1. parse the flags; the table's rules give each flag's ``--help`` text and are checked first
   (finite, in range, whole numbers): one line naming the flag and its range, exit status 2;
2. build each configuration (the preset with the flags' overrides; its own checks, memory
   estimates included), the measurement options and the device flags, and check every output
   before any work: the folders can be written, the result is new (or ``--overwrite``), and no
   other run is writing it (an exclusive lock, held for the run);
3. run (progress bars, Ctrl-C and SIGTERM stop at the next stop point: :mod:`linear_grok.cli`),
   print the setting's table, the trends and a summary line;
4. write the result pair (:func:`linear_grok.results.save_results`), the CSV tables and the
   figures (only process 0 of a multi-host run writes).

Result names: ``<out>/<prefix>_<preset>[_<variant>]``, with a short hash of the configuration and
the measurement appended when flags change the preset's (:func:`linear_grok.results.result_path`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linear_grok import __version__, distributed
from linear_grok.cli import ArgumentParser, command, user_error
from linear_grok.pipeline import DEFAULT_OPTIONS, MeasureOptions, options_from_args, write_tables
from linear_grok.pipeline import add_arguments as add_measure_arguments
from linear_grok.results import add_arguments as add_output_arguments
from linear_grok.results import (
    check_new_results,
    check_output_dir,
    print_written,
    result_path,
    save_results,
)
from linear_grok.trends import trends

__all__ = ["Command", "Flag", "Rule", "Variant"]


def _number(x: float) -> str:
    """A bound as the help text writes it: ``10**7``, ``2**32 - 1`` for such large whole numbers,
    other whole numbers in full, the rest as ``%g``."""
    if x == int(x) and abs(x) >= 10**5:
        n = int(abs(x))
        sign = "-" if x < 0 else ""
        if math.log10(n).is_integer():
            return f"{sign}10**{round(math.log10(n))}"
        for k, rest in ((n.bit_length() - 1, ""), (n.bit_length(), " - 1")):
            if 2**k - (1 if rest else 0) == n:
                return f"{sign}2**{k}{rest}"
        return f"{sign}{n}"
    return f"{int(x)}" if x == int(x) else f"{x:g}"


@dataclass(frozen=True)
class Rule:
    """The valid values of a numeric flag: ``lo ≤ x ≤ hi`` (``lo < x`` when ``lo_open``), whole
    numbers when ``integer``; NaN and ±inf are never valid (a run would break after it started).

    Attributes:
      lo, hi: the bounds (``None``: unbounded on that side, finite values only).
      lo_open: exclude ``lo`` itself (``> 0`` rather than ``≥ 0``).
      integer: whole numbers only.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    integer: bool = False

    def holds(self, x) -> bool:
        """Whether ``x`` is valid."""
        try:
            x = float(x)
        except (OverflowError, TypeError, ValueError):
            return False
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        return self.hi is None or x <= self.hi

    def text(self) -> str:
        """The range in words: ``"> 0 and finite"``, ``"a whole number in [1, 10**7]"``."""
        kind = "a whole number " if self.integer else ""
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            return f"{kind}in {left}{_number(self.lo)}, {_number(self.hi)}]"
        if self.lo is not None:
            return f"{kind}{'>' if self.lo_open else '>='} {_number(self.lo)} and finite".lstrip()
        if self.hi is not None:
            return f"{kind}<= {_number(self.hi)}".lstrip()
        return "finite"

    def outside(self) -> tuple[str, ...]:
        """Values just outside the range, and the non-finite ones, as a user would type them: the
        hostile tests try each."""
        values = ["nan", "inf", "-inf"] if not self.integer else []
        if self.lo is not None:
            values.append(_literal(self.lo if self.lo_open else self.lo - 1))
        if self.hi is not None:
            values.append(_literal(self.hi + 1 if self.integer else self.hi * 2 + 1))
        if self.hi is not None:  # numbers far beyond the range, as users mistype them
            values.append(str(10**30) if self.integer else "1e300")
        return tuple(dict.fromkeys(values))


def _literal(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e18 else repr(float(x))


@dataclass(frozen=True)
class Flag:
    """One flag of a command: the configuration field it overrides and its valid values.

    Attributes:
      name: as typed (``"--eps"``).
      help: what it sets, in words; the rule's range is appended in ``--help``.
      type: ``float``, ``int``, ``str`` (with ``choices``) or ``bool`` (a switch).
      many: takes one or more values (a tuple field).
      rule: valid values of a number (:class:`Rule`); every value of a ``many`` flag is checked.
      choices: valid values of a ``str`` flag.
      field: the configuration field it overrides (default: the name without dashes, ``_`` for
        ``-``); ``None`` with ``runtime``.
      runtime: passed to the command's ``run`` as a keyword instead of into the configuration
        (how it runs, not what: not part of the result's name).
      default: the default of a ``runtime`` flag.
    """

    name: str
    help: str
    type: type = float
    many: bool = False
    rule: Rule | None = None
    choices: tuple[str, ...] | None = None
    field: str | None = None
    runtime: bool = False
    default: Any = None

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    @property
    def target(self) -> str:
        return self.field or self.dest

    def add_to(self, parser) -> None:
        if self.type is bool:
            parser.add_argument(self.name, dest=self.dest, action="store_true", help=self.help)
            return
        text = self.help + (f"; {self.rule.text()}" if self.rule else "")
        if self.runtime and self.default is not None:
            text += f" (default {self.default})"
        parser.add_argument(self.name, dest=self.dest, type=self.type, choices=self.choices,
                            nargs="+" if self.many else None, help=text,
                            default=self.default if self.runtime else None,
                            metavar=None if self.choices else self.dest.upper())

    def check(self, value) -> None:
        """``ValueError`` naming the flag and its range unless every value satisfies the rule."""
        if value is None or self.rule is None:
            return
        for v in (value if self.many else (value,)):
            if not self.rule.holds(v):
                raise ValueError(f"{self.name} must be {self.rule.text()}; got {v}")

    def value(self, parsed):
        """The configuration's value for a parsed one (tuples for ``many``)."""
        return tuple(parsed) if self.many else parsed


@dataclass(frozen=True)
class Variant:
    """A field that splits one command line into several results (the λ sweep's ``--mode``):
    each choice is its own result, named ``<prefix>_<preset>_<choice>``; ``all`` runs every one.
    The configuration hash leaves it out, so that one command line's results share it."""

    flag: str
    field: str
    choices: tuple[str, ...]
    default: str
    help: str


@dataclass(frozen=True)
class Report:
    """What a run prints and keeps beside its arrays.

    Attributes:
      text: the setting's table (and any summary), printed after the run.
      meta: extra fields of the result's JSON sidecar (an analysis, the procedure...).
    """

    text: str
    meta: dict = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """One sweep command: what it declares, and :meth:`main`, which runs it.

    Attributes:
      module: the module users run (``"experiments.parity_sweep"``), for ``--help`` and the
        command line saved with each result.
      experiment: the name saved in the sidecar (the figures' key, :data:`linear_grok.figures.DRAW`).
      prefix: the results' file names start with it.
      doc: the ``--help`` description.
      presets: the named configurations (frozen dataclasses).
      flags: the command's own flags (:class:`Flag`).
      run: ``run(cfg, options, progress=..., **runtime) -> arrays`` (``options`` the measurement,
        ``None`` for a command that is not ``measured``).
      report: ``report(arrays, cfg) -> Report``.
      draw: ``draw(path, figdir) -> [figure paths]`` of one saved result, or ``None``.
      measured: the command measures curves: the measurement flags, trends, the runs' CSV table.
      labels: ``labels(arrays, cfg) -> {name: runs-shaped values}`` of the runs' CSV table.
      trend_sets: ``(sidecar key, array prefix, label)`` of each set of trends printed and saved
        (the lazy→rich sweep measures on linear and on log time).
      tables: ``tables(path, arrays, meta) -> [paths]`` for a command that is not ``measured``.
      variant: a field whose choices are separate results (:class:`Variant`).
      draw_together: ``draw_together({choice: path}, figdir) -> [paths]``: figures across variants.
      n_runs: ``n_runs(cfg)``, the runs sharded over devices; ``None``: no device flags.
      check: ``check(cfg)`` raises ``ValueError`` for a configuration this machine cannot run (a
        memory estimate that a preset's own checks leave to the command).
      default_preset: the preset without ``--preset``.
      preset_flag: the flag that names the preset (required when it is not ``--preset``).
      alternative: ``(flag, Command)``: when the flag is given, that command runs instead (the
        lazy→rich heat map); the flag's choices are its presets.
    """

    module: str
    experiment: str
    prefix: str
    doc: str
    presets: Mapping[str, Any]
    flags: tuple[Flag, ...]
    run: Callable[..., dict]
    report: Callable[[dict, Any], Report]
    draw: Callable[[Path, Path], list[Path]] | None = None
    measured: bool = True
    labels: Callable[[dict, Any], dict] | None = None
    trend_sets: tuple[tuple[str, str, str], ...] = (("trends", "", ""),)
    tables: Callable[[Path, dict, dict], list[Path]] | None = None
    variant: Variant | None = None
    draw_together: Callable[[dict, Path], list[Path]] | None = None
    n_runs: Callable[[Any], int] | None = None
    check: Callable[[Any], None] | None = None
    default_preset: str = "quick"
    preset_flag: str = "--preset"
    alternative: tuple[str, Command] | None = None

    def main(self, argv: list[str] | None = None) -> int:
        """Run the command on ``argv`` (default ``sys.argv[1:]``); returns the exit status: 0, 2
        for a bad value or output (one line on stderr, nothing written), 130 when interrupted."""
        return command(lambda args: _main(self, args))(argv)

    def parser(self) -> argparse.ArgumentParser:
        """The command's parser: every flag with its rule in its help."""
        p = ArgumentParser(prog=f"python -m {self.module}", description=self.doc, allow_abbrev=False)
        p.add_argument("--version", action="version", version=f"linear_grok {__version__}")
        presets = tuple(self.presets)
        if self.preset_flag == "--preset":
            p.add_argument("--preset", choices=presets, default=self.default_preset,
                           help=f"the configuration to start from (default {self.default_preset})")
        else:
            p.add_argument(self.preset_flag, dest="preset", choices=presets, required=True,
                           help="the configuration to start from")
        if self.alternative:
            flag, other = self.alternative
            p.add_argument(flag, choices=tuple(other.presets),
                           help=f"run {other.experiment.replace('_', ' ')} of this preset instead "
                                f"(its own flags: python -m {self.module} {flag} "
                                f"{next(iter(other.presets))} --help)")
        if self.variant:
            v = self.variant
            p.add_argument(v.flag, choices=(*v.choices, "all"), default=v.default,
                           help=f"{v.help} (default {v.default}; all: every one)")
        group = p.add_argument_group("configuration (each overrides the preset's value)")
        for flag in self.flags:
            flag.add_to(group)
        outputs = p.add_argument_group("outputs")
        add_output_arguments(outputs)
        outputs.add_argument("--no-progress", action="store_true", help="no progress bars")
        if self.measured:
            add_measure_arguments(p)
        if self.n_runs:
            distributed.add_arguments(p)
        return p


def _main(cmd: Command, argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if cmd.alternative and any(a == cmd.alternative[0] or a.startswith(cmd.alternative[0] + "=")
                               for a in argv):
        return _main(cmd.alternative[1], argv)
    try:
        args = cmd.parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a flag argparse refused (one line)
        return done.code if isinstance(done.code, int) else 2
    line = shlex.join(["python", "-m", cmd.module, *argv])
    try:  # every value and every output checked before any work
        for flag in cmd.flags:
            flag.check(getattr(args, flag.dest))
        options = options_from_args(args) if cmd.measured else None
        if cmd.n_runs:
            distributed.check_arguments(args.coordinator, args.num_processes, args.process_id)
        configs = _configs(cmd, args)
        for cfg in configs.values():
            if cmd.check:
                cmd.check(cfg)
        check_output_dir(args.out, "--out")
        if not args.no_figures:
            check_output_dir(args.figures, "--figures")
        paths = {name: _result_path(cmd, args.out, args.preset, name, cfg, options)
                 for name, cfg in configs.items()}
        for path in paths.values():
            check_new_results(path, args.overwrite)
    except ValueError as err:
        return user_error(err)
    runtime = {f.dest: getattr(args, f.dest) for f in cmd.flags if f.runtime}
    try:
        # Only process 0 of a multi-host run writes, so only it locks (the others share --out).
        writer = not cmd.n_runs or args.process_id in (None, 0)
        with _locked(paths.values() if writer else ()):
            for path in paths.values():  # a run that finished while this one started
                check_new_results(path, args.overwrite)
            if cmd.n_runs:
                distributed.setup(args, max(cmd.n_runs(cfg) for cfg in configs.values()))
            for name, cfg in configs.items():
                _run_one(cmd, args, name, cfg, options, paths[name], runtime, line)
    except (ValueError, _Busy, distributed.DistributedError) as err:
        return user_error(err)
    except FigureError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if cmd.draw_together and not args.no_figures and distributed.is_writer():
        print_written(cmd.draw_together(paths, args.figures))
    return 0


def _configs(cmd: Command, args) -> dict[str, Any]:
    """``{variant choice (or ""): configuration}`` of the choices to run; every variant's
    configuration is built (so checked), also those not run."""
    overrides = {f.target: f.value(getattr(args, f.dest)) for f in cmd.flags
                 if not f.runtime and getattr(args, f.dest) not in (None, False)}
    base = cmd.presets[args.preset]
    if cmd.variant is None:
        return {"": dataclasses.replace(base, **overrides)}
    v = cmd.variant
    every = {c: dataclasses.replace(base, **overrides, **{v.field: c}) for c in v.choices}
    chosen = getattr(args, v.flag.lstrip("-").replace("-", "_"))
    return every if chosen == "all" else {chosen: every[chosen]}


def _result_path(cmd: Command, out: Path, preset: str, variant: str, cfg, options) -> Path:
    """``out/<prefix>_<preset>[_<variant>]``, and the configuration's hash when it is not the
    preset's own (the variant field left out of the hash: one command line's results share it)."""
    config = dataclasses.asdict(cfg)
    own = cmd.presets[preset]
    if cmd.variant:
        config.pop(cmd.variant.field)
        own = dataclasses.replace(own, **{cmd.variant.field: variant})
    changed = cfg != own or (options is not None and options != DEFAULT_OPTIONS)
    key = {"config": config, **({"measure": options} if options is not None else {})}
    name = f"{cmd.prefix}_{preset}" + (f"_{variant}" if variant else "")
    return result_path(out, name, changed, key)


class FigureError(RuntimeError):
    """A result was saved but its figures could not be drawn."""


class _Busy(RuntimeError):
    """Another process holds the lock of a result this run would write."""


@contextlib.contextmanager
def _locked(paths) -> Iterator[None]:
    """Hold an exclusive lock on each result's lock file (``.<name>.lock`` beside it) for the
    run: a second run of the same result refuses at once instead of racing to replace it. The
    kernel releases the locks when the process ends, however it ends."""
    with contextlib.ExitStack() as stack:
        for path in paths:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = path.with_name(f".{path.name}.lock")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _Busy(f"{path}: another run is writing this result now; wait for it to end, "
                            "or pass --out to write elsewhere") from None
        yield


def trend_lines(trend: dict, label: str = "") -> list[str]:
    """The printed power law and rank correlation of each sharpness against the relative gap."""
    lines = []
    for name in ("relative_sharpness", "absolute_sharpness"):
        law, rho = trend[name].get("power_law"), trend[name].get("spearman")
        if law:
            lines.append(f"{name}{f' ({label})' if label else ''}: log-log slope {law['slope']:.3f} ± "
                         f"{law['slope_se']:.3f} (R² {law['r2']:.3f}), Spearman ρ vs gap {rho:+.3f}")
    return lines


def _run_one(cmd: Command, args, variant: str, cfg, options: MeasureOptions | None, path: Path,
             runtime: dict, line: str) -> None:
    """Run one configuration, print its report, and write its result pair, tables and figures."""
    title = cmd.experiment.replace("_", " ")
    print(f"\n== {title}: preset {args.preset}{f', {variant}' if variant else ''} ==\n{cfg}")
    start = time.perf_counter()
    if cmd.measured:
        arrays = cmd.run(cfg, options, progress=not args.no_progress, **runtime)
    else:
        arrays = cmd.run(cfg, progress=not args.no_progress, **runtime)
    seconds = time.perf_counter() - start
    report = cmd.report(arrays, cfg)
    print(report.text)
    meta = {"experiment": cmd.experiment, "preset": args.preset,
            **({cmd.variant.field: variant} if cmd.variant else {}),
            "config": dataclasses.asdict(cfg), **report.meta}
    if cmd.measured:
        meta["measure"] = dataclasses.asdict(options)
        for key, prefix, label in cmd.trend_sets:
            meta[key] = trends({k.removeprefix(prefix): v for k, v in arrays.items()
                                if k.startswith(prefix)})
            for text in trend_lines(meta[key], label):
                print(text)
        first = meta[cmd.trend_sets[0][0]]
        print(f"{first['n_ok']} runs measured, {first['n_failed']} recorded failures; {seconds:.1f} s")
    else:
        print(f"{seconds:.1f} s")
    meta.update(seconds=seconds, command=line)
    if not distributed.is_writer():  # every process holds the gathered results; one writes
        return
    npz, _ = save_results(path, arrays, meta)
    print(f"wrote {npz} (+ .json)")
    if cmd.measured:
        print_written(write_tables(path, arrays, cmd.labels(arrays, cfg), meta[cmd.trend_sets[0][0]]))
    elif cmd.tables:
        print_written(cmd.tables(path, arrays, meta))
    if cmd.draw and not args.no_figures:
        try:
            print_written(cmd.draw(path, args.figures))
        except Exception as err:  # the result is saved: a figure that fails must not hide that
            raise FigureError(f"{path}: saved, but its figures failed ({type(err).__name__}: {err}); "
                              f"python -m experiments.figures --results {args.out} redraws them") from err

"""The one way every command line of the tooling ends in failure: the invoke tasks (`reported`)
and each `python -m snapbuild.…` entry point (`run`).

A ToolError prints `error: <brief>`, its details and `Resolution: …` on stderr, with no
traceback, and exits 1. A UsageError (the command line itself is wrong) prints the same plus
the command's usage, and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import wraps
from typing import Any, NoReturn, TypeVar

from snapbuild.errors import ToolError

EXIT_ERROR = 1
EXIT_USAGE = 2
HELP = ("-h", "--help")

Function = TypeVar("Function", bound=Callable[..., Any])


class UsageError(ToolError):
    """The command line is wrong: an unknown command, missing or extra arguments, an option
    value or combination the command does not take. Nothing was done."""


def message(error: ToolError, usage: str = "") -> str:
    """What is printed for `error`; a usage error's details end with the usage."""
    if isinstance(error, UsageError) and usage:
        error = replace(error, details="\n".join(t for t in (error.details.rstrip(), usage.rstrip()) if t))
    return f"error: {error}"


def exit_code(error: ToolError) -> int:
    return EXIT_USAGE if isinstance(error, UsageError) else EXIT_ERROR


def report(error: ToolError, usage: str = "") -> int:
    """Print `error` on stderr; return the exit status it calls for."""
    print(message(error, usage), file=sys.stderr, flush=True)
    return exit_code(error)


def run(command: Callable[[list[str]], object], argv: Sequence[str] | None = None, *, usage: str = "") -> int:
    """Run an entry point's `command(args)` (args: `argv`, default the process's) and return its
    exit status: 0, or 1 or 2 after reporting its error. `-h`/`--help` alone prints `usage`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if usage and len(args) == 1 and args[0] in HELP:
        print(usage)
        return 0
    try:
        command(args)
    except ToolError as error:
        return report(error, usage)
    return 0


def wrong_arguments(args: Sequence[str]) -> UsageError:
    """The usage error of a command given arguments it does not take."""
    return UsageError(
        f"unexpected arguments: {' '.join(args) if args else '(none)'}",
        resolution="give the arguments the usage line above shows",
    )


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose complaints are UsageErrors, reported by `run` like every other error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, details=self.format_usage().rstrip(), resolution=f"see `{self.prog} --help`")


def reported(function: Function) -> Function:
    """For invoke tasks: a ToolError raised by the task ends the process through `report`."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ToolError as error:
            sys.exit(report(error))

    return wrapper  # type: ignore[return-value]

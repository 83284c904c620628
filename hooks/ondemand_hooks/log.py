"""Hook logging: full lines to $SNAP_COMMON/var/log/hooks.log (0600), concise ones to stderr.

stderr is what an admin sees in `snap set` errors and in `snap changes`/journal output,
so it gets the message only; the file gets time, hook and level for later forensics.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

LOGGER_NAME = "ondemand_hooks"
log = logging.getLogger(LOGGER_NAME)


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Warnings are marked; errors are the hook's failure message and speak for themselves.
        prefix = "warning: " if record.levelno == logging.WARNING else ""
        return prefix + record.getMessage()


def setup(hook: str, log_file: Path | None, stderr_level: int = logging.INFO) -> None:
    """(Re)configure the package logger for one hook run."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    log.setLevel(logging.DEBUG)
    log.propagate = False

    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(stderr_level)
    to_stderr.setFormatter(_StderrFormatter())
    log.addHandler(to_stderr)

    if log_file is not None and log_file.parent.is_dir():
        try:
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.close(fd)
            os.chmod(log_file, 0o600)
            to_file = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as error:
            log.warning("cannot write %s (%s); logging to stderr only", log_file, error)
        else:
            to_file.setLevel(logging.DEBUG)
            to_file.setFormatter(
                logging.Formatter(f"%(asctime)s {hook}[%(process)d] %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
            )
            log.addHandler(to_file)


def close() -> None:
    for handler in list(log.handlers):
        handler.flush()
        log.removeHandler(handler)
        handler.close()

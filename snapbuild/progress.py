"""Progress lines for long work: every step prints when it starts and how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label ...` now and `label: done in N.Ns` (or `failed`) when the block ends."""
    say(f"==> {label} ...")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"==> {label}: failed after {time.monotonic() - started:.1f}s")
        raise
    say(f"==> {label}: done in {time.monotonic() - started:.1f}s")

"""Errors an admin can act on, and the one kind that is a bug in the snap."""

from __future__ import annotations


class HookError(Exception):
    """Something went wrong; `resolution` says what to do about it (keyword-only, as in
    craft-parts' errors)."""

    def __init__(self, brief: str, *, resolution: str = "") -> None:
        super().__init__(brief)
        self.brief = brief
        self.resolution = resolution

    def lines(self) -> list[str]:
        out = [self.brief]
        if self.resolution:
            out.append(f"Resolution: {self.resolution}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class InternalError(HookError):
    """A state the code should never reach (a broken invariant, not bad input): logged with
    its traceback and reported as a bug, never dressed up as something an admin can fix."""

    def __init__(self, brief: str) -> None:
        super().__init__(
            f"internal error: {brief}",
            resolution="this is a bug in the ondemand snap; report it with the traceback from hooks.log",
        )


class ConfigError(HookError):
    """The configuration has problems; every one is listed, one per line, naming its key."""

    def __init__(self, problems: list[str], brief: str = "configuration refused") -> None:
        super().__init__(brief)
        self.problems = list(problems)

    def lines(self) -> list[str]:
        n = len(self.problems)
        head = f"{self.brief} ({n} problem{'s' if n != 1 else ''}; nothing was changed):"
        return [head] + [f"  {p}" for p in self.problems]

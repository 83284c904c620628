"""One error type for the whole tool: what went wrong, where, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ToolError(Exception):
    """An error a maintainer can act on.

    brief: one line saying what failed, naming the file/key/part at fault.
    resolution: what to do about it.
    details: optional longer context (command output, the offending value).
    """

    brief: str
    resolution: str = ""
    details: str = ""

    def __str__(self) -> str:
        text = self.brief
        if self.details:
            text += "\n" + self.details.rstrip()
        if self.resolution:
            text += "\nResolution: " + self.resolution
        return text


def describe(problems: list[str]) -> str:
    """Render a list of problems as a numbered block (for errors that report everything)."""
    return "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))

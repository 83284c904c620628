"""One error type for the whole tool: what went wrong, where, and how to fix it.

Shaped like craft-parts' errors: a one-line `brief`, optional `details`, and the `resolution`,
both keyword-only so a call site says which is which.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass


@dataclass
class ToolError(Exception):
    """An error a maintainer can act on.

    brief: one line saying what failed, naming the file/key/part at fault.
    details: optional longer context (command output, the offending value).
    resolution: what to do about it.
    """

    brief: str
    _: KW_ONLY
    details: str = ""
    resolution: str = ""

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

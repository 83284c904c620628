"""snapbuild.errors: ToolError's shape (craft-parts' brief/details/resolution, keyword-only) and text."""

from __future__ import annotations

import pytest

from snapbuild.errors import ToolError, describe


def test_details_and_resolution_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ToolError("brief", "what to do")  # type: ignore[misc]
    error = ToolError("brief", resolution="what to do", details="output")
    assert (error.brief, error.details, error.resolution) == ("brief", "output", "what to do")


def test_the_text_is_brief_details_then_resolution() -> None:
    error = ToolError("part nginx: build failed", details="make: *** [all] Error 2\n\n", resolution="read its log")
    assert str(error) == "part nginx: build failed\nmake: *** [all] Error 2\nResolution: read its log"


def test_missing_parts_are_left_out_of_the_text() -> None:
    assert str(ToolError("only a brief")) == "only a brief"
    assert str(ToolError("brief", resolution="fix it")) == "brief\nResolution: fix it"
    assert str(ToolError("brief", details="context")) == "brief\ncontext"


def test_it_is_an_exception_that_keeps_its_fields() -> None:
    with pytest.raises(ToolError) as raised:
        raise ToolError("bad", resolution="good")
    assert isinstance(raised.value, Exception)
    assert raised.value.resolution == "good" and raised.value.details == ""


def test_describe_numbers_each_problem() -> None:
    assert describe(["first", "second"]) == "  1. first\n  2. second"
    assert describe([]) == ""

"""snapbuild.progress: every long step says when it starts and how long it took, or that it failed."""

from __future__ import annotations

import re

import pytest

from snapbuild import progress


def test_a_step_prints_its_start_and_its_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.step("pack ondemand.snap"):
        progress.say("inside")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[:2] == ["==> pack ondemand.snap ...", "inside"]
    assert re.fullmatch(r"==> pack ondemand\.snap: done in \d+\.\ds", lines[2])


def test_a_failed_step_says_so_and_lets_the_error_through(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KeyboardInterrupt):
        with progress.step("lifecycle"):
            raise KeyboardInterrupt
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(r"==> lifecycle: failed after \d+\.\ds", last)

"""snapbuild.cli: the one error path of every command line (invoke tasks and `python -m snapbuild.…`):
`error: <brief>`, details, `Resolution: …` on stderr; exit 1 for a ToolError, 2 for a usage error."""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snapbuild import cli
from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT
from tests.unit.modules import MODULES


def fails(error: ToolError):
    def command(args: list[str]) -> None:
        raise error

    return command


def test_a_command_that_succeeds_exits_0_with_its_arguments() -> None:
    seen = []
    assert cli.run(seen.append, ["a", "b"]) == 0
    assert seen == [["a", "b"]]


def test_a_tool_error_exits_1_with_brief_details_and_resolution(capsys: pytest.CaptureFixture[str]) -> None:
    error = ToolError("part nginx: build failed", details="make: Error 2", resolution="read its log")
    assert cli.run(fails(error), [], usage="usage: x") == 1
    captured = capsys.readouterr()
    assert captured.err == "error: part nginx: build failed\nmake: Error 2\nResolution: read its log\n"
    assert captured.out == ""  # and no usage: the command line was right


def test_a_usage_error_exits_2_and_shows_the_usage_before_the_resolution(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(fails(cli.UsageError("no SNAP_FILE", resolution="name one")), [], usage="usage: x SNAP_FILE") == 2
    assert capsys.readouterr().err == "error: no SNAP_FILE\nusage: x SNAP_FILE\nResolution: name one\n"


def test_wrong_arguments_name_what_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.wrong_arguments([]).brief == "unexpected arguments: (none)"
    error = cli.wrong_arguments(["a", "b"])
    assert isinstance(error, cli.UsageError) and error.brief == "unexpected arguments: a b"
    assert cli.exit_code(error) == 2 and cli.exit_code(ToolError("x")) == 1


def test_help_prints_the_usage_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    ran = []
    for flag in cli.HELP:
        assert cli.run(ran.append, [flag], usage="usage: x SNAP_FILE") == 0
        assert capsys.readouterr().out == "usage: x SNAP_FILE\n"
    assert ran == []
    assert cli.run(ran.append, ["--help"]) == 0 and ran == [["--help"]]  # no usage given: the command's own


def test_argparse_complaints_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.ArgumentParser(prog="python -m demo")
    parser.add_argument("--source", required=True, choices=("upstream", "archive"))
    assert cli.run(parser.parse_args, ["--source", "debian"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --source: invalid choice: 'debian'")
    assert "\nusage: python -m demo [-h] --source {upstream,archive}\n" in err
    assert err.endswith("Resolution: see `python -m demo --help`\n")


def test_reported_tasks_exit_1_or_2_and_pass_results_through(capsys: pytest.CaptureFixture[str]) -> None:
    @cli.reported
    def task(c: object, kind: str = "") -> str:
        """A task."""
        if kind == "usage":
            raise cli.UsageError("--kind usage: unknown", resolution="use another")
        if kind == "error":
            raise ToolError("it failed", resolution="fix it")
        return "done"

    assert task(None) == "done"
    assert task.__name__ == "task" and task.__doc__ == "A task." and task.__wrapped__  # invoke reads these
    for kind, code, text in (
        ("error", 1, "error: it failed\nResolution: fix it\n"),
        ("usage", 2, "error: --kind usage: unknown\nResolution: use another\n"),
    ):
        with pytest.raises(SystemExit) as exit_:
            task(None, kind=kind)
        assert exit_.value.code == code
        assert capsys.readouterr().err == text


def test_every_task_goes_through_reported() -> None:
    import invoke

    import tasks

    found = {name: value for name, value in vars(tasks).items() if isinstance(value, invoke.Task)}
    assert len(found) == 10
    for name, value in found.items():
        assert getattr(value.body, "__wrapped__", None) is not None, f"tasks.{name}: decorate it with @reported"


def test_a_task_refuses_options_it_does_not_take_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    import tasks

    with pytest.raises(SystemExit) as exit_:
        tasks.build.body(None, compression="zstd")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: --compression zstd: unknown\nResolution: use lzo or xz\n"


def test_a_task_that_fails_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tasks

    with pytest.raises(SystemExit) as exit_:
        tasks.publish.body(None, snap=str(tmp_path / "absent.snap"), dry_run=True)
    assert exit_.value.code == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'absent.snap'}: no such snap file\nResolution: ")


# --- the entry points ------------------------------------------------------------------------------


def main_blocks() -> dict[str, ast.If]:
    """Module name -> its `if __name__ == "__main__":` block."""
    found = {}
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "__name__ == '__main__'",
                '__name__ == "__main__"',
            ):
                found[name] = node
    return found


ENTRY_POINTS = sorted(main_blocks())


def test_the_entry_points_are_these() -> None:
    assert ENTRY_POINTS == [
        "snapbuild.build.devtry",
        "snapbuild.machines.gotools",
        "snapbuild.machines.images",
        "snapbuild.machines.lxd",
        "snapbuild.machines.systemtest",
        "snapbuild.review.audit",
        "snapbuild.review.snapcheck",
    ]


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_every_main_block_only_runs_main(name: str) -> None:
    assert [ast.unparse(s) for s in main_blocks()[name].body] == ["raise SystemExit(main())"]


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_every_entry_point_refuses_arguments_it_does_not_take_with_exit_2(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(name)
    assert module.main(["--no-such-option", "x", "y", "z"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"usage: python -m {name}" in err and "\nResolution: " in err


def commands_in(text: str) -> set[str]:
    return set(re.findall(r"-m\s+(snapbuild(?:\.\w+)+)", text)) | set(
        re.findall(r'"-m", "(snapbuild(?:\.\w+)+)"', text)
    )


def test_every_python_m_named_in_the_repository_is_an_entry_point() -> None:
    root = DEFAULT.root
    files = [
        *root.glob(".github/workflows/*.yml"),
        root / ".ci" / "run",
        root / "spread.yaml",
        root / "README.md",
        *root.glob("docs/*.md"),
        *root.glob("tests/spread/**/*.yaml"),
        *root.glob("tests/system/*.py"),
        *MODULES.values(),
    ]
    named = {command: path for path in files if path.is_file() for command in commands_in(path.read_text())}
    # The CI jobs and spread's adhoc backend call these before any task exists.
    assert {
        "snapbuild.review.snapcheck",
        "snapbuild.review.audit",
        "snapbuild.machines.gotools",
        "snapbuild.machines.systemtest",
        "snapbuild.build.devtry",
    } <= set(named)
    for command, path in named.items():
        assert command in ENTRY_POINTS, f"{path.relative_to(root)} runs `python -m {command}`, which has no entry point"


@pytest.mark.skipif(shutil.which("unsquashfs") is None, reason="needs squashfs-tools")
def test_a_real_entry_point_exits_1_on_a_tool_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snapbuild.review.audit", str(tmp_path / "absent.snap")],
        capture_output=True,
        text=True,
        cwd=DEFAULT.root,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"error: {tmp_path / 'absent.snap'}: no such snap\n"
        "Resolution: build it first (`invoke build`) or give the right path\n"
    )

"""snapbuild.bench: what `invoke bench-build` reports (the timing runs need LXD and are not run here)."""

from __future__ import annotations

import subprocess

import pytest

from snapbuild import bench
from snapbuild.machines import lxd


def test_the_build_report_has_each_parts_steps_and_the_best_rebuild_against_a_bare_pack() -> None:
    timings = {"steps": {"nginx": {"pull": 1.0, "build": 20.0}, "hooks": {"build": 2.5, "stage": 0.5}}, "last": {}}
    lines = bench.build_report(timings, rebuilds=[30.0, 24.0], inner=[9.0, 12.0], bare=6.0).splitlines()
    assert lines[0] == "" and lines[1].split()[:6] == ["part", "pull", "build", "stage", "prime", "total"]
    assert lines[2].split() == ["hooks", "0.0", "2.5", "0.5", "0.0", "3.0"]  # parts in name order
    assert lines[3].split() == ["nginx", "1.0", "20.0", "0.0", "0.0", "21.0"]
    assert lines[4].split() == ["all", "parts", "24.0"]
    assert "inside the container :    9.0 s" in lines[6] and "`invoke build` (LXD) :   24.0 s" in lines[7]
    assert lines[-1].startswith("ratio rebuild/bare pack: 1.50x inside, 4.00x end to end")


def test_the_try_report_takes_the_best_of_each_and_lists_every_run() -> None:
    runs = {
        "try": [8.0, 6.0],
        "snap try": [3.0, 2.0],
        "repack+install": [30.0, 24.0],
        "snap pack": [5.0, 4.0],
        "snap install": [9.0, 8.0],
    }
    text = bench.try_report(runs, repeats=2)
    assert "(best of 2; seconds)" in text
    assert "`invoke try` (rebuild + snap try)                 :    6.0 s" in text
    assert "of the unchanged prime   :    2.0 s   ratio 3.00x" in text
    assert "`snap pack` + `snap install`        :   12.0 s   (4.0 + 8.0) ratio 2.00x" in text
    assert "repack path / try path                            : 4.00x" in text
    assert text.splitlines()[-1] == (
        "  every run: try 8.0, 6.0; snap try 3.0, 2.0; repack+install 30.0, 24.0; "
        "snap pack 5.0, 4.0; snap install 9.0, 8.0"
    )


@pytest.mark.parametrize(
    ("code", "out", "expected"),
    [
        (
            0,
            '{"steps": {"a": {"build": 1.0}}, "last": {"pack": 2.0}}',
            {"steps": {"a": {"build": 1.0}}, "last": {"pack": 2.0}},
        ),
        (1, "", {"steps": {}, "last": {}}),  # no timings.json yet
        (0, "  \n", {"steps": {}, "last": {}}),
    ],
)
def test_timings_are_read_from_the_container(
    monkeypatch: pytest.MonkeyPatch, code: int, out: str, expected: dict
) -> None:
    calls = []

    def exec_(name: str, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append((name, argv))
        return subprocess.CompletedProcess(argv, code, out, "")

    monkeypatch.setattr(lxd, "exec_", exec_)
    assert bench._container_json("b", "/root/work/w/timings.json") == expected
    assert calls == [("b", ["cat", "/root/work/w/timings.json"])]


def test_a_timed_run_is_its_duration() -> None:
    assert 0.0 <= bench._timed(lambda: None) < 1.0

"""The scale-out wiring: spread's google backend and the workflow that runs both paths."""

from __future__ import annotations

import yaml

from snapbuild.recipe.project import DEFAULT

WORKFLOW = DEFAULT.root / ".github" / "workflows" / "scale-out.yml"


def google() -> dict:
    return yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())["backends"]["google"]


def test_google_backend_runs_ubuntu_24_04_on_amd64_and_arm64() -> None:
    backend = google()
    assert backend.get("type", "google") == "google"
    assert backend["key"] == '$(HOST: echo "$SPREAD_GOOGLE_KEY")'
    project, zone = backend["location"].split("/")  # spread wants <google project>/<compute zone>
    assert project and zone
    systems = {name: spec for entry in backend["systems"] for name, spec in entry.items()}
    assert systems["ubuntu-24.04-64"]["image"] == "ubuntu-os-cloud/ubuntu-2404-lts-amd64"
    assert systems["ubuntu-24.04-arm-64"]["image"] == "ubuntu-os-cloud/ubuntu-2404-lts-arm64"
    assert systems["ubuntu-24.04-arm-64"]["plan"].startswith("t2a-")  # an Arm machine type
    assert systems["ubuntu-24.04-64"]["plan"].startswith("n2-")


def test_each_google_machine_installs_its_own_architectures_snap() -> None:
    assert 'ondemand_*_"$(dpkg --print-architecture)".snap' in google()["environment"]["SNAP_FILE"]


def test_the_lxd_backends_stay() -> None:
    backends = yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())["backends"]
    assert {"lxd-ubuntu", "lxd-local", "google"} <= set(backends)


def test_workflow_runs_the_tasks_not_copies_of_them() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    runs = {name: "\n".join(step.get("run", "") for step in job["steps"]) for name, job in workflow["jobs"].items()}
    assert ".venv/bin/invoke build --remote" in runs["remote-build"]
    assert "snapcraft remote-build" not in runs["remote-build"]  # the task holds the command line
    assert '"$SPREAD" -v google:' in runs["spread-google"]
    checkout = next(s for s in workflow["jobs"]["remote-build"]["steps"] if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # remote-build refuses shallow clones
    env = {k: v for s in workflow["jobs"]["remote-build"]["steps"] for k, v in (s.get("env") or {}).items()}
    assert env["LAUNCHPAD_CREDENTIALS"] == "${{ secrets.LAUNCHPAD_CREDENTIALS }}"

"""Go tools the project uses (actionlint), built from source into a project-local GOBIN.

`go_install` puts the binary in build/tools/bin and does nothing when the binary there was
already built from the requested module version (read from the Go build information every
Go binary embeds, so the check needs neither `go` nor a `--version` flag).

Go itself: the `go` on PATH is used. Where there is none, `golang` is installed with apt.
Debian 12's golang is 1.19, older than most tools need and too old to switch toolchains by
itself (GOTOOLCHAIN, Go >= 1.21): then the toolchain the tool's go.mod asks for is fetched
through the Go module proxy as the module golang.org/toolchain, exactly what newer Go
versions do on their own.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from snapbuild import cli
from snapbuild.errors import ToolError, describe
from snapbuild.progress import say, step
from snapbuild.recipe.project import DEFAULT, Project

# The workflow linter; a version the Go module proxy serves (go list -m -versions).
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
ACTIONLINT_VERSION = "v1.7.12"
# spread (the integration-test runner) has no releases: a pseudo-version of its master branch
# (commit ded9133cdbce, 2023-03-01 09:06:29 UTC).
SPREAD_MODULE = "github.com/snapcore/spread/cmd/spread"
SPREAD_VERSION = "v0.0.0-20230301090629-ded9133cdbce"
TOOLS = {"actionlint": (ACTIONLINT_MODULE, ACTIONLINT_VERSION), "spread": (SPREAD_MODULE, SPREAD_VERSION)}

# Markers around the module information in a Go binary (runtime/debug.modinfo).
_MODINFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_MODINFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
_GO_VERSION = re.compile(r"\bgo(\d+)\.(\d+)(?:\.(\d+))?")
_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def tools_bin(project: Project = DEFAULT) -> Path:
    """The project-local GOBIN."""
    return project.build_dir / "tools" / "bin"


def module_info(binary: Path) -> str:
    """The build information a Go binary embeds (`path`, `mod`, `dep` lines); '' if none."""
    try:
        data = binary.read_bytes()
    except OSError:
        return ""
    start = data.find(_MODINFO_START)
    if start < 0:
        return ""
    end = data.find(_MODINFO_END, start)
    if end < 0:
        return ""
    return data[start + len(_MODINFO_START) : end].decode("utf-8", "replace")


def built_from(binary: Path, package: str, version: str) -> bool:
    """Whether `binary` is `package` built from its module at `version`."""
    info = module_info(binary)
    lines = info.splitlines()
    if f"path\t{package}" not in lines:
        return False
    return any(line.startswith("mod\t") and line.split("\t")[2:3] == [version] for line in lines)


def go_version(go: str, runner: Runner = subprocess.run) -> tuple[int, int]:
    """(major, minor) of a `go` command; (0, 0) if it does not say."""
    done = runner([go, "version"], capture_output=True, text=True, check=False)
    match = _GO_VERSION.search(done.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _apt_install(package: str, runner: Runner) -> None:
    prefix: list[str] = []
    if os.geteuid() != 0 and shutil.which("sudo") is not None:
        # CI runners: passwordless sudo. -n: never prompt, fail instead.
        if runner(["sudo", "-n", "true"], capture_output=True, text=True, check=False).returncode == 0:
            prefix = ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    if (os.geteuid() != 0 and not prefix) or shutil.which("apt-get") is None:
        raise ToolError(
            f"`go` is not installed, and installing {package} needs apt-get as root (or passwordless sudo)",
            resolution="install Go (`sudo apt-get install golang`, or a release from go.dev) and run again",
        )
    with step(f"apt-get install {package} (Go is needed to build the project's tools)"):
        done = runner(
            [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", package],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if done.returncode != 0:
        raise ToolError(
            f"apt-get install {package} failed (exit {done.returncode})",
            resolution="run `apt-get update` (or install Go from go.dev) and try again",
            details="\n".join((done.stderr or done.stdout).strip().splitlines()[-10:]),
        )


def find_go(runner: Runner = subprocess.run) -> str:
    """The `go` command, installing Debian's golang with apt when there is none."""
    found = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin:/usr/lib/go/bin")
    if found:
        return found
    _apt_install("golang", runner)
    found = shutil.which("go") or shutil.which("go", path="/usr/lib/go/bin")
    if not found:
        raise ToolError(
            "apt-get installed golang but no `go` command appeared", resolution="install Go from go.dev and run again"
        )
    return found


def _run_go(go: str, args: list[str], env: Mapping[str, str], runner: Runner, what: str) -> str:
    done = runner([go, *args], capture_output=True, text=True, check=False, env=dict(env))
    if done.returncode != 0:
        output = (done.stderr + done.stdout).strip()
        raise ToolError(
            f"{what} failed (exit {done.returncode})",
            resolution=(
                "check that the Go module proxy is reachable (`go env GOPROXY`; proxy.golang.org by default) "
                "and that the module path and version exist (`go list -m -versions MODULE`)"
            ),
            details="\n".join(output.splitlines()[-15:]),
        )
    return done.stdout


def required_go(gomod_text: str) -> str:
    """The toolchain a go.mod asks for: its `toolchain` line, else its `go` line (as go1.X.Y)."""
    toolchain = re.search(r"^toolchain\s+(go\S+)", gomod_text, re.M)
    if toolchain:
        return toolchain.group(1)
    go = re.search(r"^go\s+(\d+)\.(\d+)(?:\.(\d+))?", gomod_text, re.M)
    if not go:
        return "go1.21.0"
    major, minor, patch = go.group(1), go.group(2), go.group(3)
    # Before 1.21 release versions had no `.0`; from 1.21 on the first release is X.Y.0.
    if patch is None and (int(major), int(minor)) >= (1, 21):
        patch = "0"
    return f"go{major}.{minor}" + (f".{patch}" if patch is not None else "")


def _module_root(package: str, env: Mapping[str, str], go: str, version: str, runner: Runner) -> str:
    """The module that holds `package` at `version`: the longest path prefix the proxy knows."""
    parts = package.split("/")
    for cut in range(len(parts), 2, -1):
        candidate = "/".join(parts[:cut])
        done = runner(
            [go, "mod", "download", "-json", f"{candidate}@{version}"],
            capture_output=True,
            text=True,
            check=False,
            env=dict(env),
        )
        if done.returncode == 0:
            return candidate
    return "/".join(parts[:3])


def newer_toolchain(go: str, package: str, version: str, env: Mapping[str, str], runner: Runner) -> str:
    """With a Go too old to switch toolchains itself: fetch the one the tool needs via the proxy."""
    import json

    module = _module_root(package, env, go, version, runner)
    info = json.loads(
        _run_go(
            go, ["mod", "download", "-json", f"{module}@{version}"], env, runner, f"go mod download {module}@{version}"
        )
    )
    wanted = required_go(Path(info["GoMod"]).read_text())
    arch = _GOARCH.get(platform.machine(), platform.machine())
    toolchain = f"golang.org/toolchain@v0.0.1-{wanted}.linux-{arch}"
    with step(f"fetch Go toolchain {wanted} through the module proxy (this Go is too old for {package})"):
        info = json.loads(
            _run_go(go, ["mod", "download", "-json", toolchain], env, runner, f"go mod download {toolchain}")
        )
    root = Path(info["Dir"])
    # Module zips carry no file modes: make the toolchain's programs executable, as Go does.
    for directory in [root / "bin", *sorted((root / "pkg" / "tool").glob("*"))]:
        for program in directory.glob("*") if directory.is_dir() else []:
            if program.is_file():
                program.chmod(0o555)
    return str(root / "bin" / "go")


def go_install(
    module_path: str,
    version: str,
    name: str,
    *,
    project: Project = DEFAULT,
    runner: Runner = subprocess.run,
    gobin: Path | None = None,
) -> Path:
    """`go install module_path@version` into build/tools/bin; returns the binary's path.

    Skipped when the binary there was built from that version already.
    """
    bindir = gobin or tools_bin(project)
    binary = bindir / name
    if binary.is_file() and built_from(binary, module_path, version):
        return binary
    go = find_go(runner)
    flags = os.environ.get("GOFLAGS", "")
    env = {
        **os.environ,
        "GOBIN": str(bindir),
        "CGO_ENABLED": "0",
        "GOFLAGS": flags if "-modcacherw" in flags else f"{flags} -modcacherw".strip(),
    }
    env.setdefault("GOTOOLCHAIN", "auto")  # a newer Go is fetched through the proxy if go.mod needs it
    if go_version(go, runner) < (1, 21):
        go = newer_toolchain(go, module_path, version, env, runner)
        env.pop("GOROOT", None)  # the fetched toolchain is its own GOROOT (and has its own go.env)
    bindir.mkdir(parents=True, exist_ok=True)
    with step(f"go install {module_path}@{version}"):
        _run_go(go, ["install", f"{module_path}@{version}"], env, runner, f"go install {module_path}@{version}")
    if not binary.is_file():
        shown = project.relative(binary) if binary.is_relative_to(project.root) else binary
        raise ToolError(
            f"go install {module_path}@{version} succeeded but left no {shown}",
            resolution=f"check that the package's command is named {name!r} (the last element of its import path)",
        )
    return binary


def actionlint(project: Project = DEFAULT, runner: Runner = subprocess.run) -> Path:
    return go_install(ACTIONLINT_MODULE, ACTIONLINT_VERSION, "actionlint", project=project, runner=runner)


def workflow_files(project: Project) -> list[Path]:
    directory = project.root / ".github" / "workflows"
    return sorted(p for p in directory.glob("*") if p.suffix in (".yml", ".yaml"))


def actionlint_workflows(project: Project = DEFAULT, runner: Runner = subprocess.run) -> None:
    """Run actionlint on .github/workflows; ToolError listing every finding."""
    files = workflow_files(project)
    if not files:
        raise ToolError(
            ".github/workflows: no workflow files to lint", resolution="add the CI workflows (.github/workflows/*.yml)"
        )
    binary = actionlint(project, runner)
    if shutil.which("shellcheck") is None:
        say(
            "note: shellcheck is not installed, so actionlint skips the shell in `run:` steps "
            "(`apt-get install shellcheck` to check them too)"
        )
    done = runner(
        [
            str(binary),
            "-no-color",
            "-format",
            "{{range $e := .}}{{$e.Filepath}}:{{$e.Line}}:{{$e.Column}}: {{$e.Message}} [{{$e.Kind}}]\n{{end}}",
            *[project.relative(f) for f in files],
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=project.root,
    )
    findings = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode == 0 and not findings:
        say(f"actionlint {ACTIONLINT_VERSION}: {len(files)} workflow file(s), no findings")
        return
    if done.returncode not in (0, 1):  # 2: bad invocation, 3: actionlint itself failed
        raise ToolError(
            f"actionlint could not run (exit {done.returncode})",
            resolution="see its message below",
            details=done.stderr.strip(),
        )
    raise ToolError(
        f"actionlint: {len(findings)} finding(s) in .github/workflows",
        resolution="fix each finding at the file:line:column shown, then run the lint again",
        details=describe(findings),
    )


USAGE = f"usage: python -m snapbuild.machines.gotools lint-workflows | path {{{','.join(sorted(TOOLS))}}}"


def _command(args: list[str]) -> None:
    if args == ["lint-workflows"]:
        actionlint_workflows()
    elif len(args) == 2 and args[0] == "path" and args[1] in TOOLS:
        module, version = TOOLS[args[1]]
        print(go_install(module, version, args[1]))
    else:
        raise cli.wrong_arguments(args)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m snapbuild.machines.gotools lint-workflows | path TOOL` (CI uses it before tasks exist)."""
    return cli.run(_command, argv, usage=USAGE)


if __name__ == "__main__":
    raise SystemExit(main())

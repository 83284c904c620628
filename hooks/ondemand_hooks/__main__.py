"""Entry point: `python3 -m ondemand_hooks <hook> [--force]`, `... import-config [--dry-run] [--force] [DIR]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import hooks, importsite, log
from .env import Paths
from .errors import HookError, InternalError
from .snapctl import Snapctl

COMMANDS = ("install", "configure", "post-refresh", "remove", "update-portal", "import-config")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m ondemand_hooks",
        description="Hooks and admin commands of the Open OnDemand snap.",
    )
    parser.add_argument(
        "command", choices=COMMANDS, help="the hook to run, or update-portal or import-config (admin commands)"
    )
    parser.add_argument(
        "dir",
        nargs="?",
        type=Path,
        help=f"import-config: the existing site's config directory (default {importsite.DEFAULT_DIR})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=(
            "update-portal: replace the Apache config even if it was edited by hand (a timestamped backup is kept); "
            "import-config: replace an existing ood_portal.site.yml and clashing clusters.d files"
        ),
    )
    parser.add_argument("--dry-run", action="store_true", help="import-config: print the plan, change nothing")
    return parser


def run(command: str, ctx: hooks.Context, force: bool = False) -> None:
    if command == "install":
        hooks.install(ctx)
    elif command == "configure":
        hooks.configure(ctx)
    elif command == "post-refresh":
        hooks.post_refresh(ctx)
    elif command == "remove":
        hooks.remove(ctx)
    elif command == "update-portal":
        hooks.update_portal(ctx, force)
    else:  # pragma: no cover - argparse restricts the choices
        raise HookError(f"unknown command {command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)  # `import-config --dry-run DIR`
    if args.force and args.command not in ("update-portal", "import-config"):
        print("--force only applies to update-portal and import-config", file=sys.stderr)
        return 2
    if (args.dry_run or args.dir is not None) and args.command != "import-config":
        print("--dry-run and a directory only apply to import-config", file=sys.stderr)
        return 2
    try:
        paths = Paths.from_environ()
    except HookError as error:
        print("\n".join(error.lines()), file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print(f"{args.command}: must run as root (try sudo)", file=sys.stderr)
        return 1
    if args.command in ("install", "post-refresh"):
        try:
            hooks.ensure_tree(paths)  # so the log file below has somewhere to go
        except OSError as error:
            print(f"{args.command}: cannot create {paths.snap_common} tree: {error}", file=sys.stderr)
            return 1
    log.setup(args.command, paths.hooks_log)
    log.log.debug("%s: start (snap %s revision %s)", args.command, paths.name, paths.revision)
    try:
        if args.command == "import-config":
            source = args.dir or importsite.DEFAULT_DIR
            importsite.import_config(source, paths, dry_run=args.dry_run, force=args.force)
        else:
            run(args.command, hooks.Context(paths=paths, snapctl=Snapctl()), args.force)
    except InternalError as error:
        # A bug, not bad input: the traceback goes to the log for the report.
        import traceback  # only on this path: it costs every hook run ~10 ms to import

        log.log.error("%s", traceback.format_exc().rstrip())
        for line in error.lines():
            log.log.error("%s", line)
        return 1
    except HookError as error:
        for line in error.lines():
            log.log.error("%s", line)
        return 1
    except Exception:  # noqa: BLE001 - last resort: full story in the log, short one on stderr
        import traceback

        log.log.debug("%s", traceback.format_exc())
        log.log.error("%s: unexpected error: %s (details in %s)", args.command, sys.exc_info()[1], paths.hooks_log)
        return 1
    finally:
        log.log.debug("%s: end", args.command)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

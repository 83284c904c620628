"""Where the project's inputs live, and loading them (metadata + part files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from snapbuild.errors import ToolError
from snapbuild.recipe.partfile import PartFile, load_parts

ROOT = Path(__file__).resolve().parents[2]  # snapbuild/recipe/project.py -> the repository

# The part whose upstream version is the snap's version.
VERSION_PART = "ondemand"


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def metadata_file(self) -> Path:
        return self.root / "snap" / "metadata.yaml"

    @property
    def parts_dir(self) -> Path:
        return self.root / "parts"

    @property
    def recipe_file(self) -> Path:
        return self.root / "snap" / "snapcraft.yaml"

    @property
    def hooks_dir(self) -> Path:
        return self.root / "snap" / "hooks"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def load_metadata(self) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.metadata_file.read_text())
        except FileNotFoundError:
            raise ToolError(f"{self.relative(self.metadata_file)}: missing", resolution="restore it from git") from None
        except yaml.YAMLError as error:
            raise ToolError(
                f"{self.relative(self.metadata_file)}: not valid YAML",
                resolution="fix the syntax at the position shown",
                details=str(error),
            ) from None
        if not isinstance(data, dict):
            raise ToolError(
                f"{self.relative(self.metadata_file)}: must be a mapping of snap keys",
                resolution="see snapcraft.yaml's top-level keys",
            )
        return data

    def load_parts(self, arch: str | None = None) -> tuple[dict[str, PartFile], list[str]]:
        """The part files; per-architecture sources resolve to `arch`'s (default: this machine's)."""
        return load_parts(self.parts_dir, arch)


DEFAULT = Project(ROOT)

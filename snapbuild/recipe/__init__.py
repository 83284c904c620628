"""The recipe: the repository's inputs (snap/metadata.yaml, parts/*.yaml) and the files generated
from them (snap/snapcraft.yaml, docs/configuration.md, docs/audit.md), with `invoke check`.

The lowest layer of the tooling: it imports only snapbuild's top-level modules (errors,
fileutil, progress); craft-parts only inside check.py's functions.
"""

"""Building the snap: sources, the craft-parts lifecycle, packing, build-info, the relocation
test, and the backends (destructive, LXD, snapcraft, Launchpad, `invoke try`).

Imports the machines and recipe layers and the top-level modules. This file stays empty of
imports: review/ imports buildfacts and relocation from here on machines with PyYAML only.
"""

"""Tooling for the Open OnDemand snap: recipe generation and checks, builds, tests, audit.

Layers, lowest first (each imports only lower ones; docs/layout.md): errors, fileutil, progress;
cli; recipe/; machines/; build/; review/; release, bench.
"""

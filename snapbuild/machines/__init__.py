"""Machines: LXD containers and the locally built images they run, the Go tools built into
build/tools/bin, and the spread suite run in real snapd (systemtest).

Imports the recipe layer and the top-level modules only; knows nothing of how a snap is built.
"""

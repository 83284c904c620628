"""Tooling for the Open OnDemand snap: recipe generation and checks, builds, tests, audit."""

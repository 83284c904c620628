"""Fixtures for the hooks' unit tests (helpers and FakeSnapctl live in hooktest_support)."""

from hooktest_support import _quiet_logging, env, env_od, env_without_ondemand, sudo_host  # noqa: F401

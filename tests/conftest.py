"""Shared fixtures: a private NUT layout per test, process bookkeeping, and the real-NUT gate."""

from __future__ import annotations

import os

import pytest

from tests.procs import NutDirs, Procs, real_nut


@pytest.fixture
def nut(tmp_path):
    """A private conf/state layout; its .env points every NUT program at it."""
    return NutDirs(tmp_path / "nut")


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.stop_all()


def pytest_collection_modifyitems(config, items):
    """Interop tests need Debian's NUT 2.8.0.  Locally they skip without it; in CI they must run."""
    missing = real_nut("upsd") is None or real_nut("upsc") is None
    for item in items:
        if "/tests/interop/" in str(item.fspath):
            item.add_marker(pytest.mark.interop)
        if "interop" in item.keywords and missing:
            if os.environ.get("CI"):
                raise pytest.UsageError("CI must have Debian's nut-server and nut-client installed")
            item.add_marker(pytest.mark.skip(reason="Debian's NUT 2.8.0 is not installed"))

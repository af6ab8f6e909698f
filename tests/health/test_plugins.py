"""Third-party checkers arrive through the `aime.health_checks` entry-point group."""
from __future__ import annotations

import textwrap

import pytest

PLUGIN = '''
from aime.health.checkers import Checker, failed, passed


class QueueChecker(Checker):
    """A plugin checker class (instantiated without arguments)."""

    name = "fake_queue"
    component_type = "component"
    measurement = "depth"

    def check(self):
        return passed("queue empty", 0, "jobs")


class _Critical(Checker):
    critical = True

    def __init__(self, name):
        self.name = name

    def check(self):
        return failed("vault sealed")


def make_critical(app):
    """A plugin factory: called with the app."""
    return _Critical("fake_vault_" + app.name)
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A tiny distribution (module + dist-info with entry points) on sys.path for this test only."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "aime_fake_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "aime_fake_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aime-fake-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[aime.health_checks]\n"
        "fake_queue = aime_fake_plugin:QueueChecker\n"
        "fake_vault = aime_fake_plugin:make_critical\n"
        "fake_broken = aime_fake_plugin_missing:Nothing\n")
    monkeypatch.syspath_prepend(str(site))  # undone (and import caches invalidated) after the test
    monkeypatch.delitem(__import__("sys").modules, "aime_fake_plugin", raising=False)
    return site


def test_plugins_are_discovered_run_and_aggregated(make_app, installed_plugin, token_headers):
    app = make_app()
    response = app.test_client().get("/health", headers=token_headers)
    checks = response.json["checks"]
    assert checks["fake_queue"]["status"] == "pass"
    assert (checks["fake_queue"]["output"], checks["fake_queue"]["observed_value"]) == ("queue empty", 0)
    assert checks["fake_vault_aime"]["critical"] is True
    assert checks["fake_vault_aime"]["output"] == "vault sealed"
    # A plugin that cannot load is reported, not fatal.
    assert checks["fake_broken"]["status"] == "warn"
    assert checks["fake_broken"]["output"] == "plugin failed to load (ModuleNotFoundError)"
    # The critical plugin failing makes the whole service unhealthy.
    assert (response.status_code, response.json["status"]) == (503, "unhealthy")


def test_without_the_plugin_nothing_extra_is_registered(make_app):
    checks = make_app().test_client().get("/health").json["checks"]
    assert not [name for name in checks if name.startswith("fake_")]

"""Reading [tool.castoff.announce]: a monorepo package's settings."""

from __future__ import annotations

from pathlib import Path

from castoff.config import Config
from castoff.release.announce.settings import load_settings


def test_a_package_is_announced_under_its_own_name_with_its_overrides() -> None:
    """A package's project name is its own (not the repository's); its table overrides keys."""
    config = Config(
        root=Path("/nowhere"),
        data={
            "version": {"packages": {"pkg-a": {"path": "a"}, "pkg-b": {"path": "b"}}},
            "announce": {
                "project_name": "Widgets",
                "channels": ["slack"],
                "packages": {"pkg-b": {"project_name": "Widget B", "channels": ["github"]}},
            },
        },
    )
    a, b, whole = (load_settings(config, p) for p in ("pkg-a", "pkg-b", None))
    assert (a.project_name, a.channels) == ("pkg-a", ("slack",))
    assert (b.project_name, b.channels) == ("Widget B", ("github",))
    assert whole.project_name == "Widgets"

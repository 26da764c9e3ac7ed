"""Fixtures for the release-workflow tests: the light sample repository, built once."""

from workflow_sample import light_repo, light_template, released

__all__ = ["light_repo", "light_template", "released"]

"""Specialist role data files."""

from __future__ import annotations

from castoff.orchestrator.models import SpecialistType
from castoff.orchestrator.roles import all_roles, role_for


def test_every_specialist_type_has_a_role() -> None:
    """Each specialist type, release roles included, has a role file."""
    assert [r.specialist_type for r in all_roles()] == list(SpecialistType)


def test_release_roles_have_instructions_and_artifacts() -> None:
    """The five release roles say what to do and what to hand back."""
    for name in (
        "release_notes",
        "version_tagging",
        "deployment_validation",
        "rollback_planning",
        "announcement",
    ):
        role = role_for(SpecialistType(name))
        assert len(role.instructions) > 50
        assert role.expected_artifacts

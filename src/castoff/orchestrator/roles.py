"""Specialist roles: one TOML data file per specialist type in ``roles/``.

Each file holds ``title``, ``instructions`` and ``expected_artifacts``;
:func:`role_for` returns the parsed :class:`Role`.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from castoff.errors import ConfigError
from castoff.orchestrator.models import ArtifactType, Role, SpecialistType


@cache
def role_for(specialist_type: SpecialistType) -> Role:
    """The role definition for ``specialist_type``."""
    source = resources.files("castoff.orchestrator") / "roles" / f"{specialist_type.value}.toml"
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return Role(
            specialist_type=specialist_type,
            title=str(data["title"]),
            instructions=" ".join(str(data["instructions"]).split()),
            expected_artifacts=[ArtifactType(a) for a in data["expected_artifacts"]],
        )
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"the role file for {specialist_type} is missing or invalid: {exc}"
        ) from exc


def all_roles() -> list[Role]:
    """Every specialist role, in the order of :class:`SpecialistType`."""
    return [role_for(s) for s in SpecialistType]

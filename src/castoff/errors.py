"""castoff's one exception hierarchy.

Every error castoff raises on purpose derives from :class:`CastoffError`. Each
class carries the process exit code it maps to (DESIGN.md) and an MCP-facing
message; the CLI (``castoff.cli.app``) and the MCP server (``castoff.mcp``) each
translate them in exactly one place.

::

    CastoffError                      exit 1  a check or task failed
    ├── CheckFailed                   exit 1  a gate / validation failed
    ├── UsageError                    exit 2  bad input or configuration
    │   ├── ConfigError                       missing / malformed configuration
    │   ├── NotFound                          unknown id, ref, tag, session
    │   ├── InvalidTransition                 lifecycle refuses the move
    │   ├── DependencyCycle                   the dependency graph would loop
    │   ├── NotAGitRepository
    │   ├── GitError                          git refused an operation
    │   ├── TemplateError                     unreadable / broken template
    │   ├── VersionError                      malformed / non-increasing version
    │   └── NotSupportedYet                   a documented, unbuilt feature
    ├── ConflictError                 exit 3  existing state disagrees
    │   ├── DirtyWorkingTree
    │   ├── TagConflict                       tag exists on another commit
    │   └── LeaseConflict                     task claimed by someone else
    ├── ReleaseIncomplete             exit 4  stopped part-way; resume finishes it
    └── StoreError                    exit 1  the database failed after retries

The docstring of each class is its default message, so subclasses stay short.
"""

from __future__ import annotations

from typing import Any


class CastoffError(Exception):
    """castoff failed."""

    exit_code: int = 1

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or "castoff failed.").strip()
        self.details = details
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class CheckFailed(CastoffError):
    """A check failed."""


class StoreError(CastoffError):
    """The store failed."""


class UsageError(CastoffError):
    """Bad input."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration is invalid."""


class NotFound(UsageError):
    """Not found."""


class InvalidTransition(UsageError):
    """That status change is not allowed."""


class DependencyCycle(UsageError):
    """The dependencies would form a cycle."""


class NotAGitRepository(UsageError):
    """Not a git repository (or any parent up to the mount point)."""


class GitError(UsageError):
    """git refused the operation."""


class TemplateError(UsageError):
    """The template could not be rendered."""


class VersionError(UsageError):
    """The version is invalid."""


class NotSupportedYet(UsageError):
    """This is not supported yet."""


class ConflictError(CastoffError):
    """The operation conflicts with existing state."""

    exit_code = 3


class DirtyWorkingTree(ConflictError):
    """The working tree has uncommitted changes."""


class TagConflict(ConflictError):
    """The tag already exists on another commit."""


class LeaseConflict(ConflictError):
    """The task is leased by another worker."""


class ReleaseIncomplete(CastoffError):
    """The release stopped part-way; run `castoff release resume` to finish it."""

    exit_code = 4


__all__ = [
    "CastoffError",
    "CheckFailed",
    "ConfigError",
    "ConflictError",
    "DependencyCycle",
    "DirtyWorkingTree",
    "GitError",
    "InvalidTransition",
    "LeaseConflict",
    "NotAGitRepository",
    "NotFound",
    "NotSupportedYet",
    "ReleaseIncomplete",
    "StoreError",
    "TagConflict",
    "TemplateError",
    "UsageError",
    "VersionError",
]

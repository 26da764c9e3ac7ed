"""The two validation operations as the CLI and the MCP server call them.

``validate_preflight`` and ``validate_postdeploy`` take a project directory and
the tool parameters, pick the version to check when none is given, run the
checks, store the report under ``.castoff/validate/`` and return it (with
``artifacts``: the stored files). The adapters add nothing but presentation.

Which version is checked by default lives here, once:

- pre-flight: the next version computed from the commits (``version next``);
  nothing releasable → :func:`preflight_release` says why;
- post-deploy: the latest release tag reachable from HEAD, prereleases
  included; with nothing configured no version is needed at all.

In a monorepo both take ``package``: its next version / latest tag, in its tag format.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from castoff.config import Config, load_config
from castoff.errors import UsageError
from castoff.release.validate.model import ProgressCallback, ValidationReport
from castoff.release.validate.postdeploy import run_postdeploy
from castoff.release.validate.preflight import run_preflight
from castoff.release.validate.report import write_report
from castoff.release.validate.runner import select_checks
from castoff.release.validate.settings import load_settings
from castoff.release.version import tag_format_of, version_settings

REPORT_DIR = "validate"
logger = logging.getLogger("castoff.validate")


@dataclass(frozen=True, slots=True)
class Release:
    """The version (and tag) a validation checks; ``version`` is None when there is none
    (``reason`` says why)."""

    version: str | None
    tag: str | None
    reason: str = ""


def _tag(config: Config, version: str, package: str | None = None) -> str:
    return tag_format_of(config, package).replace("{version}", version)


def preflight_release(
    root: Path, config: Config, version: str | None = None, package: str | None = None
) -> Release:
    """``version`` (tag from ``tag_format``), else the next version computed from the commits.

    ``package``: a monorepo package (its tag format, its commits).
    """
    if version is not None:
        return Release(version, _tag(config, version, package))
    from castoff.release.next_version import compute_next

    nxt = compute_next(root, config, package=package)
    if nxt.no_release or nxt.next is None:
        return Release(None, None, nxt.message)
    return Release(nxt.next, nxt.tag or _tag(config, nxt.next, package))


def postdeploy_release(
    root: Path, config: Config, version: str | None = None, package: str | None = None
) -> Release:
    """``version``, else the latest release tag reachable from HEAD (prereleases included);
    a monorepo ``package``'s own tags."""
    if version is not None:
        return Release(version, _tag(config, version, package))
    from castoff.errors import NotAGitRepository
    from castoff.release import git

    try:
        latest = git.latest_release_tag(
            root, tag_format_of(config, package), include_prereleases=True
        )
    except NotAGitRepository:
        latest = None
    if latest is None:
        return Release(None, None, "no release tag found")
    return Release(latest.version, latest.name)


def postdeploy_configured(config: Config, package: str | None = None) -> bool:
    """True when ``[tool.castoff.validate]`` has a health endpoint or an index to check."""
    settings = load_settings(config, package)
    return bool(settings.health) or settings.index is not None


def store_report(root: Path, report: ValidationReport) -> ValidationReport:
    """Store ``report`` under ``<root>/.castoff/validate/``; the report with its ``artifacts``.

    The earlier report of the same kind and version is replaced, logs included.
    A report that cannot be stored (a read-only checkout) is returned without
    artifacts, and a warning is logged: the checks' result matters more.
    """
    from castoff.workspace import ensure_state_dir, state_dir

    try:
        paths = write_report(report, ensure_state_dir(state_dir(root)) / REPORT_DIR)
    except OSError as exc:
        logger.warning("castoff: warning: the %s report could not be stored: %s", report.kind, exc)
        return report
    return replace(report, artifacts=tuple(str(p) for p in paths))


def validate_preflight(
    root: Path,
    *,
    version: str | None = None,
    tag: str | None = None,
    checks: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    package: str | None = None,
) -> ValidationReport:
    """Run the pre-flight checks for ``version`` (default: the next version); store the report.

    ``package``: a monorepo package (its version, tag, files, build). Nothing
    releasable and no ``version`` is bad input (:class:`UsageError`); the CLI
    asks :func:`preflight_release` first to say so plainly instead.
    """
    config = load_config(root)
    release = preflight_release(root, config, version, package)
    if release.version is None:
        raise UsageError(f"nothing to release: {release.reason}; pass a version to validate anyway")
    report = run_preflight(
        root,
        config,
        version=release.version,
        tag=tag or release.tag or _tag(config, release.version, package),
        on_progress=on_progress,
        checks=set(checks) if checks else None,
        skip=set(skip),
        concurrency=concurrency,
        package=package,
    )
    return store_report(root, report)


def validate_postdeploy(
    root: Path,
    *,
    version: str | None = None,
    checks: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    on_progress: ProgressCallback | None = None,
    package: str | None = None,
) -> ValidationReport:
    """Run the post-deploy checks for ``version`` (default: the latest release tag; of
    monorepo ``package``, its latest tag).

    With nothing configured the report has no checks (status ``pass``), needs
    no version and is not stored. Checks configured but no version given and no
    release tag: :class:`UsageError`.
    """
    config = load_config(root)
    if package is not None:
        version_settings(config, package)  # an unknown package is bad input, said first
    selected = set(checks) if checks else None
    release = postdeploy_release(root, config, version, package)
    if not postdeploy_configured(config, package):
        select_checks([], selected, skip)  # an unknown id is still bad input
        if release.version is None:
            return ValidationReport.build(
                kind="postdeploy",
                version="",
                tag=None,
                started_at=datetime.now(UTC),
                duration_seconds=0.0,
                concurrency=0,
                checks=(),
                package=package,
            )
        return run_postdeploy(config, version=release.version, package=package)
    if release.version is None:
        raise UsageError(f"{release.reason}: pass a version to check (--version X)")
    report = run_postdeploy(
        config,
        version=release.version,
        on_progress=on_progress,
        checks=selected,
        skip=skip,
        package=package,
    )
    return store_report(root, report)

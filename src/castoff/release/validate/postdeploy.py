"""Post-deploy checks: the deployed service and the package index show the release.

Each HTTP endpoint is polled with exponential backoff until it answers as
expected or its deadline passes: a rolling deployment that is still on the old
version, or a service that is still starting, passes as soon as it is ready.
Index checks read the PEP 691 JSON simple API (PyPI and compatible indexes) or
the npm registry's package document. TLS is verified unless turned off.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from castoff.config import Config
from castoff.errors import ConfigError
from castoff.release.validate.commands import pause, stop_requested
from castoff.release.validate.model import Check, Outcome, ProgressCallback, ValidationReport
from castoff.release.validate.package import project_name, same_version
from castoff.release.validate.runner import run_report, select_checks, skip_check
from castoff.release.validate.settings import HealthCheck, IndexCheck, load_settings

if TYPE_CHECKING:
    import httpx

FIRST_DELAY = 0.25
MAX_DELAY = 5.0
#: The shortest attempt worth starting; with less time left the check ends.
MIN_ATTEMPT_SECONDS = 0.2
PEP691 = "application/vnd.pypi.simple.v1+json"
USER_AGENT = "castoff-validate"
INDEX_REQUEST_TIMEOUT = 10.0


class _NotReadyError(Exception):
    """This attempt did not see the expected answer (the message says what it saw)."""


def poll(
    attempt: Callable[[float], Outcome],
    *,
    deadline_seconds: float,
    request_timeout: float = 10.0,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
) -> Outcome:
    """Call ``attempt(timeout)`` until it succeeds or ``deadline_seconds`` pass.

    Exponential backoff between attempts. Each attempt's timeout is
    ``request_timeout`` clamped to the time left, and no attempt starts once
    less than :data:`MIN_ATTEMPT_SECONDS` is left, so the check ends at its
    deadline instead of one request after it. ``attempt`` raises
    :class:`_NotReadyError` (or an httpx error) to ask for a retry; the last
    problem becomes the failure message.
    """
    import httpx

    start = time.monotonic()
    end = start + deadline_seconds
    delay = first_delay
    tries = 0
    while True:
        tries += 1
        left = end - time.monotonic()
        try:
            outcome = attempt(max(min(request_timeout, left), MIN_ATTEMPT_SECONDS))
            return Outcome(
                outcome.status,
                outcome.message,
                outcome.remediation,
                outcome.output,
                {**outcome.details, "attempts": tries},
            )
        except _NotReadyError as exc:
            last = str(exc)
        except httpx.HTTPError as exc:
            last = _describe_http_error(exc)
        if stop_requested():
            return Outcome.skipped("the validation was cancelled", details={"attempts": tries})
        left = end - time.monotonic()
        if left <= MIN_ATTEMPT_SECONDS:
            pause(max(left, 0.0))  # a few tenths at most: the check ends at its deadline
            if stop_requested():
                return Outcome.skipped("the validation was cancelled", details={"attempts": tries})
            return Outcome.failed(
                f"{last} (after {tries} attempt(s) over {deadline_seconds:g}s)",
                details={"attempts": tries},
            )
        pause(min(delay, left - MIN_ATTEMPT_SECONDS))
        delay = min(delay * 2, max_delay)


def _describe_http_error(exc: Exception) -> str:
    import httpx

    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate" in reason.lower():
            return f"TLS certificate verification failed: {reason}"
        return f"unreachable: {reason}"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    return f"request failed: {reason}"


def _tls_hint(message: str, where: str) -> str | None:
    """The fix for a failed TLS verification (None for any other failure)."""
    if not message.startswith("TLS certificate verification failed"):
        return None
    return (
        "fix the server's certificate (or trust its CA via SSL_CERT_FILE), or set "
        f"verify_tls = false {where} (never in production)"
    )


def json_field(data: Any, dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"`` (list indexes allowed); KeyError when absent."""
    for part in dotted.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            raise KeyError(dotted)
    return data


def _client(timeout: float, verify: bool) -> httpx.Client:
    import httpx

    return httpx.Client(
        timeout=timeout, verify=verify, follow_redirects=True, headers={"User-Agent": USER_AGENT}
    )


def check_health(spec: HealthCheck, version: str, *, first_delay: float = FIRST_DELAY) -> Outcome:
    """The endpoint answers ``expect_status`` and reports ``version`` in its JSON."""
    with _client(min(spec.request_timeout, spec.deadline_seconds), spec.verify_tls) as client:

        def attempt(timeout: float) -> Outcome:
            response = client.get(spec.url, timeout=timeout)
            if response.status_code != spec.expect_status:
                raise _NotReadyError(
                    f"{spec.url} answered {response.status_code}, expected {spec.expect_status}"
                )
            if spec.version_field is None:
                return Outcome.passed(f"{spec.url} answered {response.status_code}")
            try:
                reported = json_field(response.json(), spec.version_field)
            except ValueError as exc:
                raise _NotReadyError(f"{spec.url} did not answer JSON") from exc
            except KeyError as exc:
                raise _NotReadyError(
                    f"{spec.url} has no {spec.version_field!r} field in its JSON"
                ) from exc
            if not same_version(str(reported), version):
                raise _NotReadyError(
                    f"{spec.url} reports {spec.version_field} = {reported}, expected {version}"
                )
            return Outcome.passed(
                f"{spec.url} answered {response.status_code} with version {version}"
            )

        outcome = poll(
            attempt,
            deadline_seconds=spec.deadline_seconds,
            request_timeout=spec.request_timeout,
            first_delay=first_delay,
        )
    if outcome.status.value == "fail":
        hint = (
            "check the deployment rolled out, or raise deadline_seconds"
            if "reports" in outcome.message
            else "check the service is up and reachable from here"
        )
        hint = _tls_hint(outcome.message, "for this endpoint") or hint
        return Outcome.failed(outcome.message, hint, details={**outcome.details, "url": spec.url})
    return Outcome(outcome.status, outcome.message, details={**outcome.details, "url": spec.url})


def normalize_name(name: str) -> str:
    """PEP 503 project-name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pypi_versions(data: Any, package: str) -> set[str]:
    versions = set(data.get("versions") or ()) if isinstance(data, dict) else set()
    if not versions and isinstance(
        data, dict
    ):  # indexes without PEP 700 "versions": read filenames
        prefix = re.sub(r"[-_.]+", "_", package).lower()
        for entry in data.get("files") or ():
            filename = str(entry.get("filename", "")) if isinstance(entry, dict) else ""
            stem = filename.removesuffix(".tar.gz").removesuffix(".zip").removesuffix(".whl")
            name, _, rest = stem.partition("-")
            if re.sub(r"[-_.]+", "_", name).lower() == prefix and rest:
                versions.add(rest.split("-")[0])
    return versions


def check_index(
    spec: IndexCheck, package: str, version: str, *, first_delay: float = FIRST_DELAY
) -> Outcome:
    """``version`` of ``package`` is listed by the index."""
    if spec.kind == "pypi":
        url = f"{spec.url}/{normalize_name(package)}/"
        headers = {"Accept": f"{PEP691}, application/json;q=0.5"}
    else:
        url = f"{spec.url}/{package.replace('/', '%2F')}"
        headers = {"Accept": "application/json"}
    with _client(min(INDEX_REQUEST_TIMEOUT, spec.deadline_seconds), spec.verify_tls) as client:

        def attempt(timeout: float) -> Outcome:
            response = client.get(url, headers=headers, timeout=timeout)
            if response.status_code == 404:
                raise _NotReadyError(f"{package} is not on the index at {url} (404)")
            if response.status_code != 200:
                raise _NotReadyError(f"the index answered {response.status_code} for {url}")
            try:
                data = response.json()
            except ValueError as exc:
                raise _NotReadyError(
                    f"the index at {url} did not answer JSON (is it a PEP 691 index?)"
                ) from exc
            if spec.kind == "pypi":
                listed = _pypi_versions(data, package)
            else:
                listed = set((data.get("versions") or {}) if isinstance(data, dict) else ())
            if any(same_version(v, version) for v in listed):
                return Outcome.passed(f"{package} {version} is visible at {url}")
            raise _NotReadyError(
                f"{package} {version} is not listed at {url} yet ({len(listed)} other version(s))"
            )

        outcome = poll(
            attempt,
            deadline_seconds=spec.deadline_seconds,
            request_timeout=INDEX_REQUEST_TIMEOUT,
            first_delay=first_delay,
        )
    if outcome.status.value == "fail":
        hint = _tls_hint(outcome.message, "in [tool.castoff.validate] index") or (
            "check the upload succeeded; indexes and CDNs can lag: raise index.deadline_seconds"
        )
        return Outcome.failed(outcome.message, hint, details={**outcome.details, "url": url})
    return Outcome(outcome.status, outcome.message, details={**outcome.details, "url": url})


def postdeploy_checks(config: Config, version: str, package: str | None = None) -> list[Check]:
    """Every configured post-deploy check (of monorepo ``package``, when given).

    The index is asked for ``index.package``, else the project's name: a monorepo
    package's from its own directory (``[project].name`` / package.json), else the
    package's name.
    """
    from castoff.release.version import version_settings

    settings = load_settings(config, package)
    checks = [
        Check(f"health.{spec.id}", f"Health {spec.url}", partial(check_health, spec, version))
        for spec in settings.health
    ]
    if settings.index is not None:
        index = settings.index
        found: str | None
        if package is not None:
            directory = version_settings(config, package).directory
            found = index.package or project_name(config.root / directory) or package
        else:
            found = index.package or project_name(config.root)
        if found is None:
            raise ConfigError(
                "[tool.castoff.validate] index.package is needed (no project name found)"
            )
        package_name = found
        checks.append(
            Check(
                "index",
                f"Visible on {index.url}",
                lambda: check_index(index, package_name, version),
            )
        )
    return checks


def run_postdeploy(
    config: Config,
    *,
    version: str,
    on_progress: ProgressCallback | None = None,
    checks: set[str] | None = None,
    skip: Iterable[str] = frozenset(),
    package: str | None = None,
) -> ValidationReport:
    """Check the deployed ``version`` (of monorepo ``package``): health endpoints and the
    package index.

    With nothing configured the report has no checks (status ``pass``) — the
    CLI says so plainly. Unreachable endpoints are failed checks, never errors.
    """
    from castoff.release.version import tag_format_of

    settings = load_settings(config, package)
    all_checks = postdeploy_checks(config, version, package)
    selected, skipped = select_checks(
        all_checks, checks, set(skip) | (settings.skip & {c.id for c in all_checks})
    )
    return run_report(
        "postdeploy",
        [skip_check(c) if c.id in skipped else c for c in selected],
        version=version,
        tag=tag_format_of(config, package).replace("{version}", version),
        concurrency=max(1, len(selected)),
        on_progress=on_progress,
        package=package,
    )

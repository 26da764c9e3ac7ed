"""The dashboard's routes: HTML pages and the JSON API, read-only.

=====================================  =============================================
``/``                                  the session: counts, progress, leases, release
``/tasks``                             the task tree (filters; pages of 200)
``/tasks/{id}``                        one task: fields, context, artifacts, events
``/tasks/{id}/artifacts/{sha256}``     an artifact's content as text
``/events``                            the event log, newest first (``before=`` pages)
``/release``                           the latest (or open) release and its report
``/api/status``                        ``castoff orchestrator get-status --json``
``/api/tasks``                         ``castoff orchestrator query-tasks --json``
``/api/tasks/{id}``                    the task (every field, with artifacts)
``/api/tasks/{id}/artifacts/{sha256}`` the artifact's raw content (text/plain)
``/api/events``                        ``castoff orchestrator events --json``
``/api/release``                       ``castoff release status [--package P] --json``
=====================================  =============================================

Only GET and HEAD are answered (405 otherwise). Data is read through the
orchestrator the server opened (``orchestrator()``) and the release workflow's
``status``. :mod:`castoff.dashboard.http` holds the plumbing: GET only, the
security headers on every answer (``nosniff``, ``no-referrer``, ``no-store`` and a
strict Content-Security-Policy: styles from ``/static`` only, no scripts, no
frames), and the one mapping of castoff's errors to HTTP statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from castoff.dashboard import views
from castoff.dashboard.http import (
    RAW_CSP,
    ReadOnly,
    bool_param,
    http_status,
    int_param,
    json_response,
)
from castoff.errors import CastoffError, NotFound

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from castoff.orchestrator.models import Artifact, Task, TaskPage
    from castoff.orchestrator.service import Orchestrator
    from castoff.release.workflow.outcome import ReleaseOutcome

logger = logging.getLogger("castoff.dashboard")

OrchestratorSource = Callable[[], "Orchestrator"]
REPORT_NAME = "release-report.md"
TREE_LIMIT = 200
EVENT_LIMIT = 50
TASK_EVENT_LIMIT = 100
SHOWN_BYTES = 512 * 1024
"""An artifact page shows this much of the content; the raw link has all of it."""
REFRESH_RANGE = range(2, 3601)
REFRESH_DEFAULT = 10


def build_app(root: Path, orchestrator: OrchestratorSource) -> ASGIApp:
    """The dashboard for the project at ``root``, reading through ``orchestrator()``.

    ``orchestrator`` returns the open orchestrator (blocking until the server has
    opened the store; it raises the reason when it could not).
    """
    return ReadOnly(Dashboard(root, orchestrator).app)


class Dashboard:
    """The pages and the API of one project, over its open orchestrator."""

    def __init__(self, root: Path, orchestrator: OrchestratorSource) -> None:
        self.root = root
        self.orchestrator = orchestrator
        self._repository: Path | None = None
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("castoff.dashboard", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(views.FILTERS)
        self.css = files("castoff.dashboard").joinpath("static", "dashboard.css").read_bytes()
        page, api = self._page_routes(), self._api_routes()
        self.app = Starlette(
            routes=[*page, *api, Route("/static/dashboard.css", self.stylesheet)],
            exception_handlers={CastoffError: self.error, HTTPException: self.http_error},
        )

    def _page_routes(self) -> list[Route]:
        return [
            Route("/", self.overview),
            Route("/tasks", self.tasks),
            Route("/tasks/{task_id}", self.task),
            Route("/tasks/{task_id}/artifacts/{sha256}", self.artifact),
            Route("/events", self.events),
            Route("/release", self.release),
        ]

    def _api_routes(self) -> list[Route]:
        return [
            Route("/api", self.api_index),
            Route("/api/status", self.api_status),
            Route("/api/tasks", self.api_tasks),
            Route("/api/tasks/{task_id}", self.api_task),
            Route("/api/tasks/{task_id}/artifacts/{sha256}", self.api_artifact),
            Route("/api/events", self.api_events),
            Route("/api/release", self.api_release),
        ]

    # -- pages ----------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        orch = self.orchestrator()
        status = orch.get_status(include_completed=True)
        try:
            release: ReleaseOutcome | None = self._release()
            release_note = None
        except CastoffError as exc:
            release, release_note = None, exc.message
        return self._page(
            request,
            "overview.html",
            "Overview",
            nav="overview",
            status=status,
            release=release,
            release_note=release_note,
        )

    def tasks(self, request: Request) -> Response:
        page = self._query(request, default_limit=TREE_LIMIT)
        orch = self.orchestrator()
        now = datetime.now(UTC)
        rows = views.tree_rows(page.tasks, orch.durations(page.tasks), now)
        return self._page(
            request,
            "tasks.html",
            "Tasks",
            nav="tasks",
            page=page,
            rows=rows,
            statuses=[s.value for s in _statuses()],
            chosen=request.query_params.getlist("status"),
            search=request.query_params.get("search_text", ""),
            parent=request.query_params.get("parent_task_id", ""),
        )

    def task(self, request: Request) -> Response:
        orch = self.orchestrator()
        task = orch.get_task(request.path_params["task_id"])
        children = orch.query_tasks(parent_task_id=task.id, limit=TREE_LIMIT)
        now = datetime.now(UTC)
        return self._page(
            request,
            "task.html",
            task.title,
            nav="tasks",
            task=task,
            duration=orch.durations([task]).get(task.id),
            lease_expired=views.lease_expired(task, now),
            children=children,
            child_durations=orch.durations(children.tasks),
            events=orch.events(task_id=task.id, limit=TASK_EVENT_LIMIT),
            event_limit=TASK_EVENT_LIMIT,
        )

    def artifact(self, request: Request) -> Response:
        task, artifact, content = self._artifact(request)
        try:
            text: str | None = content[:SHOWN_BYTES].decode("utf-8")
        except UnicodeDecodeError:  # binary, or cut inside a character
            text = _cut_text(content[:SHOWN_BYTES])
        return self._page(
            request,
            "artifact.html",
            artifact.name,
            nav="tasks",
            task=task,
            artifact=artifact,
            text=text,
            cut=len(content) > SHOWN_BYTES,
        )

    def events(self, request: Request) -> Response:
        limit = int_param(request, "limit", EVENT_LIMIT)
        before = int_param(request, "before", None)
        task_id = request.query_params.get("task_id") or None
        kind = request.query_params.get("kind") or None
        found = self.orchestrator().events(task_id=task_id, limit=limit, kind=kind, before=before)
        return self._page(
            request,
            "events.html",
            "Events",
            nav="events",
            events=found,
            limit=limit,
            before=before,
            task_id=task_id or "",
            kind=kind or "",
            older=found[-1].id if len(found) == limit else None,
        )

    def release(self, request: Request) -> Response:
        package = request.query_params.get("package") or None
        try:
            outcome = self._release(package)
        except CastoffError as exc:  # no release yet, not a git repository, unknown package
            return self._page(
                request,
                "release.html",
                "Release",
                nav="release",
                outcome=None,
                note=exc.message,
                package=package or "",
            )
        report = None
        sha = (outcome.report or {}).get(REPORT_NAME)
        if sha is not None:
            report = views.markdown_html(self.orchestrator().read_artifact(sha).decode("utf-8"))
        return self._page(
            request,
            "release.html",
            f"Release {outcome.tag or ''}".strip(),
            nav="release",
            outcome=outcome,
            note=None,
            report=report,
            report_sha=sha,
            package=package or "",
        )

    def stylesheet(self, _request: Request) -> Response:
        return Response(self.css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    # -- the JSON API ---------------------------------------------------------------
    def api_index(self, _request: Request) -> Response:
        paths = [r.path for r in self._api_routes() if r.path != "/api"]
        return json_response({"endpoints": paths, "docs": "docs/dashboard.md"})

    def api_status(self, request: Request) -> Response:
        include = bool_param(request, "include_completed", default=True)
        return json_response(self.orchestrator().get_status(include_completed=include))

    def api_tasks(self, request: Request) -> Response:
        return json_response(self._query(request, default_limit=50))

    def api_task(self, request: Request) -> Response:
        return json_response(self.orchestrator().get_task(request.path_params["task_id"]))

    def api_artifact(self, request: Request) -> Response:
        _task, artifact, content = self._artifact(request)
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            filename = artifact.name.encode("ascii", "replace").decode().replace('"', "_")
            return Response(
                content,
                media_type="application/octet-stream",
                headers={
                    "content-disposition": f'attachment; filename="{filename}"',
                    "content-security-policy": RAW_CSP,
                },
            )
        return Response(
            content,
            media_type="text/plain; charset=utf-8",
            headers={"content-security-policy": RAW_CSP},
        )

    def api_events(self, request: Request) -> Response:
        found = self.orchestrator().events(
            task_id=request.query_params.get("task_id") or None,
            limit=int_param(request, "limit", EVENT_LIMIT),
            kind=request.query_params.get("kind") or None,
            before=int_param(request, "before", None),
        )
        return json_response(found)

    def api_release(self, request: Request) -> Response:
        return json_response(self._release(request.query_params.get("package") or None))

    # -- reading --------------------------------------------------------------------
    def _query(self, request: Request, *, default_limit: int) -> TaskPage:
        """``query_tasks`` with the request's filters (the tool's parameter names)."""
        params = request.query_params
        parent = params.get("parent_task_id") or None
        return self.orchestrator().query_tasks(
            status=params.getlist("status") or None,
            task_type=params.getlist("task_type") or None,
            specialist_type=params.getlist("specialist_type") or None,
            complexity=params.getlist("complexity") or None,
            parent_task_id=parent,
            search_text=params.get("search_text") or None,
            created_after=params.get("created_after") or None,
            created_before=params.get("created_before") or None,
            include_children=bool_param(request, "include_children", default=parent is not None),
            include_artifacts=bool_param(request, "include_artifacts", default=False),
            limit=int_param(request, "limit", default_limit),
            offset=int_param(request, "offset", 0),
        )

    def _artifact(self, request: Request) -> tuple[Task, Artifact, bytes]:
        """The task, the artifact of it with that sha256, and its content."""
        orch = self.orchestrator()
        task = orch.get_task(request.path_params["task_id"])
        sha256 = request.path_params["sha256"]
        artifact = next((a for a in task.artifacts if a.sha256 == sha256), None)
        if artifact is None:
            raise NotFound(f"task {task.id} has no artifact {sha256}")
        return task, artifact, orch.read_artifact(sha256)

    def _release(self, package: str | None = None) -> ReleaseOutcome:
        """``castoff release status [--package P]``: the open release, else the latest one
        (of monorepo ``package``: its latest release)."""
        from castoff.release.workflow.runner import status

        if self._repository is None:
            from castoff.release.git import repo_root

            self._repository = repo_root(self.root)
        return status(self._repository, package=package)

    # -- answers --------------------------------------------------------------------
    def _page(
        self, request: Request, template: str, title: str, *, status_code: int = 200, **data: Any
    ) -> Response:
        refresh = _refresh(request)

        def url(path: str, **params: Any) -> str:
            """``path`` with ``params`` (None dropped), keeping auto-refresh on."""
            merged = {**params, "refresh": refresh} if refresh else params
            query = urlencode({k: v for k, v in merged.items() if v is not None}, doseq=True)
            return f"{path}?{query}" if query else path

        def here(**changes: Any) -> str:
            """This page with some query parameters changed (None removes one)."""
            params: dict[str, Any] = {}
            for key in request.query_params:
                params[key] = request.query_params.getlist(key)
            params.update(changes)
            query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
            return f"{request.url.path}?{query}" if query else request.url.path

        html = self.env.get_template(template).render(
            title=title,
            project=self.root.name or str(self.root),
            refresh=refresh,
            refresh_default=REFRESH_DEFAULT,
            generated=datetime.now(UTC),
            url=url,
            here=here,
            **data,
        )
        return HTMLResponse(html, status_code=status_code)

    def error(self, request: Request, exc: Exception) -> Response:
        """An expected error: its message, with the status it maps to."""
        assert isinstance(exc, CastoffError)
        code = http_status(exc)
        if code >= 500:
            logger.warning("dashboard %s: %s", request.url.path, exc.message)
        if request.url.path.startswith("/api"):
            return json_response({"error": exc.message, "kind": type(exc).__name__}, code)
        return self._page(
            request, "error.html", "Error", status_code=code, nav="", message=exc.message
        )

    def http_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's own errors (no such page)."""
        assert isinstance(exc, HTTPException)
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        if request.url.path.startswith("/api"):
            return json_response({"error": message}, exc.status_code)
        return self._page(
            request, "error.html", "Error", status_code=exc.status_code, nav="", message=message
        )


def _refresh(request: Request) -> int | None:
    """Seconds between reloads when ``?refresh=N`` asks for it (a ``<meta refresh>``)."""
    raw = request.query_params.get("refresh", "")
    return int(raw) if raw.isdigit() and int(raw) in REFRESH_RANGE else None


def _cut_text(content: bytes) -> str | None:
    """The text of content cut inside a UTF-8 character; None for binary content."""
    for end in range(len(content), max(len(content) - 4, 0), -1):
        try:
            return content[:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def _statuses() -> list[Any]:
    from castoff.orchestrator.models import TaskStatus

    return list(TaskStatus)

"""The read-only dashboard: the third thin adapter, beside the CLI and the MCP server.

``castoff serve`` (and ``castoff mcp --transport http``) serves it at ``/`` on the
MCP server's port, behind the same guard (:mod:`castoff.mcp.http`). Pages are
rendered on the server from Jinja2 templates (``templates/``), and ``/api/``
returns the same data as JSON, spelled as the CLI's ``--json``. Everything is
read through :class:`castoff.orchestrator.service.Orchestrator` and
:func:`castoff.release.workflow.runner.status`; see docs/dashboard.md.

- :mod:`castoff.dashboard.app` — the routes: pages and the JSON API.
- :mod:`castoff.dashboard.http` — GET only, security headers, errors to HTTP
  statuses, JSON answers, query parameters.
- :mod:`castoff.dashboard.views` — shaping data for the templates (tree order,
  durations, sizes, the report's Markdown).
"""

"""The task orchestrator: sessions, tasks, lifecycle, leases, artifacts, events.

The one API is :class:`castoff.orchestrator.service.Orchestrator`; its types
live in :mod:`castoff.orchestrator.models`.
"""

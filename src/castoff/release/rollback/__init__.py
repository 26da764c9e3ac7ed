"""Rollback planning: a verified way back before anything ships.

- :mod:`.model` — the plain data (RollbackPlan, RollbackStep, Risk, Verification).
- :mod:`.risks` / :mod:`.manifests` — pure risk analysis of the diff between releases.
- :mod:`.plan` — pure plan assembly and Markdown / JSON rendering.
- :mod:`.settings` — ``[tool.castoff.rollback]``.
- :mod:`.repo` — reads the repository and calls the pure parts (:func:`plan_rollback`).
- :mod:`.verify` — builds the target release in a scratch worktree (:func:`verify_plan`).
- :mod:`.execute` — runs the steps as orchestrator tasks (:func:`run_rollback`).
"""

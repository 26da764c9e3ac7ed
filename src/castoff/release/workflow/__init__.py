"""The release workflow: the five components as one durable, resumable task graph.

- :mod:`.steps` — which tasks a release has and how they depend on each other;
- :mod:`.executors` — one executor per step, wiring the pure engines in; the
  executors live by concern in :mod:`.git_steps` (version, notes, release
  commit, tag, push), :mod:`.check_steps` (validate, rollback) and
  :mod:`.announce_steps` (drafts, highlights, delivery), the types they share
  in :mod:`.contract`;
- :mod:`.runner` — plan or resume the graph and run it through the orchestrator,
  with :mod:`.decision` (what to release), :mod:`.run_lock` (one run at a time)
  and :mod:`.tag_guards` (only the commit that was checked is tagged);
- :mod:`.report` — the release report synthesized from the steps' results;
- :mod:`.deliveries` — the announcement ledger in the store, for the delivery
  step and for ``castoff announce send`` / MCP ``announce_send``.
"""

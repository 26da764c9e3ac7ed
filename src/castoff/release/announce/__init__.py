"""Announcement prep: drafts for every channel, and delivery that never posts twice.

- ``drafts``: :func:`draft_all` turns :class:`ReleaseNotes` into one :class:`Draft` per channel.
- ``limits``: platform size limits, the social-post counter, graceful truncation.
- ``templating``: the Jinja2 templates (package defaults, user overrides).
- ``ledger``: the exactly-once record of deliveries (a protocol; the store keeps it).
- ``delivery``: HTTP (httpx) and SMTP senders, retries, the send loop.
- ``redact``: secrets out of every message.
- ``service``: ``announce_draft`` and ``announce_send`` (given a ledger; the CLI and MCP
  reach it through ``castoff.release.workflow.deliveries``, which supplies the store's).
"""

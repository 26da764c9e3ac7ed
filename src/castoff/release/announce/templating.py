"""Jinja2 templates of the drafts: the package's defaults, or the user's overrides.

Each text a draft renders has a name (``settings.TEMPLATE_NAMES``). A name the
config lists under ``[tool.castoff.announce] templates`` is read from that file;
otherwise the package's template in ``castoff/release/templates/announce/`` is
used. User templates may ``{% import "_macros.md.j2" as m %}`` like ours do.
Only the HTML e-mail is autoescaped; Slack text goes through the ``slack``
filter (``&``, ``<``, ``>`` escaped as Slack requires).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import jinja2

from castoff.errors import TemplateError
from castoff.release.announce.settings import AnnounceSettings
from castoff.release.model import Change, Person, Reference

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "templates" / "announce"
_USER = "user:"
# Template name -> the package file that renders it by default.
DEFAULT_FILES = {
    "release": "release.md.j2",
    "github": "release.md.j2",
    "gitlab": "release.md.j2",
    "gitea": "release.md.j2",
    "email_subject": "email_subject.txt.j2",
    "email_text": "email.txt.j2",
    "email_html": "email.html.j2",
    "slack": "slack.mrkdwn.j2",
    "discord": "chat.md.j2",
    "teams": "chat.md.j2",
    "mattermost": "chat.md.j2",
    "social": "social.txt.j2",
    "blog": "blog.md.j2",
}
# A forge-specific override falls back to the user's shared "release" template.
_FALLBACK = {"github": "release", "gitlab": "release", "gitea": "release"}
_NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9-]+)@users\.noreply\.github\.com$")


_REPO_URL: ContextVar[str | None] = ContextVar("castoff_announce_repo_url", default=None)


class Templates:
    """Renders named draft templates with the given context."""

    def __init__(self, settings: AnnounceSettings, *, repo_url: str | None = None) -> None:
        self._overrides = dict(settings.templates)
        self._repo_url = repo_url
        self._env = _environment(tuple(sorted(self._overrides.items())))

    def _file_for(self, name: str) -> str:
        if name in self._overrides:
            return _USER + name
        fallback = _FALLBACK.get(name)
        if fallback and fallback in self._overrides:
            return _USER + fallback
        return DEFAULT_FILES[name]

    def render(self, name: str, context: dict[str, Any]) -> str:
        """Render template ``name``; blank-line runs are squeezed and the ends trimmed."""
        file = self._file_for(name)
        token = _REPO_URL.set(self._repo_url)
        try:
            text = self._env.get_template(file).render(**context)
        except jinja2.TemplateError as exc:
            where = self._overrides.get(file.removeprefix(_USER), file)
            raise TemplateError(f"announce template {name} ({where}): {exc}") from exc
        finally:
            _REPO_URL.reset(token)
        return tidy(text)


@functools.lru_cache(maxsize=32)
def _environment(overrides: tuple[tuple[str, Path], ...]) -> jinja2.Environment:
    """One compiled-template cache per set of user overrides (files reloaded when changed)."""
    paths = dict(overrides)

    def load(name: str) -> tuple[str, str, Callable[[], bool]]:
        path = paths[name.removeprefix(_USER)] if name.startswith(_USER) else PACKAGE_DIR / name
        try:
            source = path.read_text(encoding="utf-8")
            mtime = path.stat().st_mtime_ns
        except OSError as exc:
            raise TemplateError(f"cannot read announce template {path}: {exc.strerror}") from exc
        return source, str(path), lambda: path.is_file() and path.stat().st_mtime_ns == mtime

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=lambda name: name in (DEFAULT_FILES["email_html"], f"{_USER}email_html"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        handle=handle,
        join_and=join_and,
        slack=slack_escape,
        md=md_escape,
        ref_label=ref_label,
        new_refs=new_refs,
        ref_url=lambda r: ref_url(r, _REPO_URL.get()),
        commit_url=lambda c: commit_url(c, _REPO_URL.get()),
    )
    return env


def tidy(text: str) -> str:
    """Trailing spaces removed, 3+ newlines squeezed to 2, ends trimmed, one final newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text + "\n" if text else ""


def handle(person: Person) -> str:
    """``@login`` for a GitHub no-reply e-mail, else the person's name."""
    match = _NOREPLY.match(person.email or "")
    return f"@{match.group(1)}" if match else person.name


def join_and(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    values = [str(v) for v in items]
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_escape(text: str) -> str:
    """Backslash-escape ``<`` so Markdown renderers show it instead of taking it for HTML."""
    return str(text).replace("<", "\\<")


def ref_label(ref: Reference) -> str:
    """``#12`` or ``owner/repo#12``."""
    return f"{ref.repo}#{ref.number}" if ref.repo else f"#{ref.number}"


def new_refs(change: Change) -> list[Reference]:
    """The change's references its description does not already mention."""
    return [r for r in change.refs if ref_label(r) not in change.description]


def ref_url(ref: Reference, repo_url: str | None) -> str | None:
    """The reference's own URL, else the issue URL in this repository (when known)."""
    if ref.url:
        return ref.url
    if repo_url and not ref.repo:
        return f"{repo_url.rstrip('/')}/issues/{ref.number}"
    return None


def commit_url(change: Change, repo_url: str | None) -> str | None:
    """The change's commit URL in this repository (when known)."""
    if not repo_url or not change.sha:
        return None
    return f"{repo_url.rstrip('/')}/commit/{change.sha}"

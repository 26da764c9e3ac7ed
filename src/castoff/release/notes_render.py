"""Release notes as text: Jinja2 templates shipped in the package, overridable from config.

Formats: ``md`` (a Keep a Changelog section), ``github`` (a release body),
``text`` and ``json`` (docs/notes.md documents the schema). Each template
renders ONE release; :meth:`NotesRenderer.document` joins sections into a
whole CHANGELOG / JSON document for ``--full``. Templates load (and fail)
when the renderer is built, before any git work, so a broken template stops
a run before anything is written.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff.errors import TemplateError
from castoff.release.model import Change, Reference, ReleaseNotes
from castoff.release.notes import (
    FIRST_TIMERS_UNKNOWN,
    NotesConfig,
    notes_json,
    notes_to_data,
)
from castoff.release.refs import Forge

if TYPE_CHECKING:
    import jinja2

FORMATS = ("md", "github", "text", "json")
TEMPLATE_FILES = {
    "md": "markdown.md.j2",
    "github": "github.md.j2",
    "text": "text.txt.j2",
    "json": "json.j2",
}
#: Keys accepted in ``[tool.castoff.notes] templates`` for each format.
CONFIG_KEYS = {
    "md": ("markdown", "md"),
    "github": ("github",),
    "text": ("text",),
    "json": ("json",),
}
CHANGELOG_TITLE = "# Changelog"
CHANGELOG_HEADER = f"""{CHANGELOG_TITLE}

All notable changes to this project are documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).
"""


def _json_filter(value: Any, indent: int | None = None) -> str:
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(value, indent=indent, ensure_ascii=False, separators=separators)


def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("castoff.release", "templates/notes"),
        autoescape=False,  # Markdown and text, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["json"] = _json_filter
    env.filters["new_refs"] = _new_refs
    env.filters["notes_json"] = notes_json
    env.filters["continued"] = _continued
    return env


def _template_frames(exc: BaseException) -> list[str]:
    """``name, line N`` of each template frame of ``exc``'s traceback, outermost first.

    Jinja2 rewrites tracebacks so that template code shows as frames of the
    template file; everything else is Python.
    """
    found = []
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            found.append(f"{Path(filename).name}, line {tb.tb_lineno}")
        tb = tb.tb_next
    return found


def _continued(text: str, width: int) -> str:
    """``text`` with its continuation lines indented by ``width`` spaces.

    Keeps a multi-line breaking-change note inside its list item. Each
    paragraph is dedented first (a footer's folded lines are indented, the
    next footer's are not), so relative indentation inside one is kept.
    """
    first, _, rest = text.partition("\n")
    if not rest:
        return first
    pad = " " * width
    paragraphs = [textwrap.dedent(p) for p in re.split(r"\n[ \t]*\n", rest)]
    lines = "\n\n".join(paragraphs).split("\n")
    return "\n".join([first, *[pad + line if line.strip() else "" for line in lines]])


def _new_refs(change: Change) -> list[Reference]:
    """The references of ``change`` its description does not already spell out."""
    text = change.description
    if "#" not in text and "://" not in text and "!" not in text:
        return list(change.refs)
    return [
        r
        for r in change.refs
        if (r.url is None or r.url not in text)
        and f"{r.repo or ''}#{r.number}" not in text
        and (r.kind != "pull" or f"{r.repo or ''}!{r.number}" not in text)
    ]


def _plain_label(ref: Reference) -> str:
    return f"{ref.repo or ''}#{ref.number}"


class NotesRenderer:
    """Renders release notes in one format (the project's template if configured)."""

    def __init__(
        self,
        config: NotesConfig,
        fmt: str = "md",
        *,
        forge: Forge | None = None,
        full: bool = False,
    ) -> None:
        if fmt not in FORMATS:
            raise TemplateError(f"unknown notes format {fmt!r} (choose {', '.join(FORMATS)})")
        self.fmt = fmt
        self.full = full
        self.config = config
        self.forge = forge
        self.override = next(
            (config.templates[k] for k in CONFIG_KEYS[fmt] if k in config.templates), None
        )
        # The shipped json.j2 is exactly `data | json(indent)` / `notes | notes_json`: without
        # an override, JSON is written directly and Jinja2 is not even imported.
        self.template = None if fmt == "json" and self.override is None else self._load()
        # `data` (the JSON-ready dict) costs a pass over every entry: only when used.
        self.wants_data = self.override is not None or (fmt == "json" and not full)

    def _load(self) -> jinja2.Template:
        import jinja2

        override = self.override
        self.env = _environment()
        try:
            if override is None:
                return self.env.get_template(TEMPLATE_FILES[self.fmt])
            path = Path(override)
            if not path.is_absolute() and self.config.root is not None:
                path = self.config.root / path
            try:
                source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise TemplateError(f"cannot read notes template {path}: {reason}") from exc
            # Compiled with its file name, so render errors can say where they happened.
            code = self.env.compile(source, name=override, filename=str(path))
            return self.env.template_class.from_code(
                self.env, code, self.env.make_globals(None), None
            )
        except jinja2.TemplateSyntaxError as exc:
            where = override or TEMPLATE_FILES[self.fmt]
            raise TemplateError(f"{where}, line {exc.lineno}: {exc.message}") from exc

    def section(self, notes: ReleaseNotes) -> str:
        """One release rendered with the format's template."""
        if self.template is None:  # the stock JSON template, without Jinja2
            if self.full:
                return notes_json(notes) + "\n"
            return _json_filter(notes_to_data(notes), 2) + "\n"
        import jinja2

        context: dict[str, Any] = {
            "notes": notes,
            "breaking_title": self.config.breaking_title,
            "commit_url": self.forge.commit_url if self.forge is not None else None,
            "indent": None if self.full else 2,
            "first_timers_unknown": notes.extra.get(FIRST_TIMERS_UNKNOWN),
            "ref_label": self.forge.label if self.forge is not None else _plain_label,
        }
        if self.wants_data:
            context["data"] = notes_to_data(notes)
        try:
            text = self.template.render(context)
        except jinja2.TemplateError as exc:
            where = _template_frames(exc) or [self.override or TEMPLATE_FILES[self.fmt]]
            inner = where[-1] + (f" (from {where[0]})" if len(where) > 1 else "")
            raise TemplateError(f"notes template {inner}: {exc}") from exc
        return text.rstrip("\n") + "\n"

    __call__ = section

    def document(self, sections: list[str]) -> str:
        """Sections (newest first) joined into one document of this format."""
        return "".join(self.document_parts(sections))

    def document_parts(self, sections: list[str]) -> Iterator[str]:
        """:meth:`document` in pieces, to write without joining (whole histories are big)."""
        if self.fmt == "json":
            if not self.full:
                yield from sections
                return
            yield '{"releases":['
            for i, section in enumerate(sections):
                yield ("," if i else "") + section.rstrip("\n")
            yield "]}\n"
            return
        if self.fmt == "md" and self.full:
            yield f"{CHANGELOG_HEADER}\n"
        for i, section in enumerate(sections):
            yield ("\n" if i else "") + section

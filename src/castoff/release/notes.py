"""The release-notes engine: git history in, :class:`ReleaseNotes` out.

Three layers:

- :class:`NotesConfig` — the ``[tool.castoff.notes]`` settings (docs/notes.md).
- :func:`build_notes` — pure: parsed changes plus contributor data become
  grouped :class:`ReleaseNotes` (reverts cancelled, hidden types dropped).
- :func:`generate_notes` / :func:`generate_full` — read git (through
  :mod:`castoff.release.git`) and call the above. ``generate_full`` reads the
  ranges between release tags in parallel (:mod:`castoff.release.sections`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from castoff.config import DEFAULT_TAG_FORMAT, Config, load_config
from castoff.errors import ConfigError, UsageError
from castoff.release import git
from castoff.release.commits import STANDARD_TYPES, header_of, reapplied
from castoff.release.model import Change, Group, Person, Reference, ReleaseNotes, TagInfo
from castoff.release.refs import STYLES, Forge, parse_remote

#: Key of ``ReleaseNotes.extra`` saying why first-time contributors are unknown.
FIRST_TIMERS_UNKNOWN = "first_timers_unknown"

DEFAULT_TYPES: Mapping[str, str] = {
    "feat": "Features",
    "fix": "Bug Fixes",
    "perf": "Performance",
    "refactor": "Refactoring",
    "docs": "Documentation",
    "revert": "Reverts",
}


@dataclass(frozen=True)
class NotesConfig:
    """Settings of the notes engine (``[tool.castoff.notes]`` plus the shared tag format)."""

    root: Path | None = None
    tag_format: str = DEFAULT_TAG_FORMAT
    types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TYPES))
    other_group: str | None = "Other"
    breaking_title: str = "Breaking Changes"
    include_merges: bool = False
    include_prereleases: bool = False
    link_style: str | None = None
    templates: Mapping[str, str] = field(default_factory=dict)
    changelog: str = "CHANGELOG.md"
    workers: int = 2

    @classmethod
    def from_config(cls, config: Config, package: str | None = None) -> NotesConfig:
        """Read and validate the ``notes`` section of ``config``.

        With monorepo ``package``: its tag format and changelog (the commits are
        filtered by its paths where the notes are generated).
        """
        section = config.section("notes")
        where = f"[notes] in {config.source}"
        known = {
            "types",
            "other_group",
            "breaking_title",
            "include_merges",
            "include_prereleases",
            "link_style",
            "templates",
            "workers",
        }
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(unknown)} in {where}")
        types = section.get("types", DEFAULT_TYPES)
        if not isinstance(types, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in types.items()
        ):
            raise ConfigError(f'types must be a table of type = "Title" in {where}')
        other = section.get("other_group", "Other")
        if other is True:
            other = "Other"
        if other is not False and not isinstance(other, str):
            raise ConfigError(f"other_group must be a title or false in {where}")
        templates = section.get("templates", {})
        if not isinstance(templates, Mapping) or not all(
            isinstance(v, str) for v in templates.values()
        ):
            raise ConfigError(f'templates must be a table of format = "path" in {where}')
        style = section.get("link_style")
        if style is not None and style not in STYLES:
            raise ConfigError(f"link_style must be one of {', '.join(STYLES)} in {where}")
        workers = section.get("workers", 2)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError(f"workers must be a positive integer in {where}")
        for key in ("include_merges", "include_prereleases"):
            if not isinstance(section.get(key, False), bool):
                raise ConfigError(f"{key} must be true or false in {where}")
        tag_format = config.tag_format
        changelog = str(config.data.get("changelog", "CHANGELOG.md"))
        if package is not None:
            from castoff.release.version import version_settings

            vs = version_settings(config, package)
            tag_format = vs.tag_format
            changelog = vs.changelog.relative_to(config.root).as_posix()
        return cls(
            root=config.root,
            tag_format=tag_format,
            types={k.lower(): v for k, v in types.items()},
            other_group=other or None,
            breaking_title=str(section.get("breaking_title", "Breaking Changes")),
            include_merges=bool(section.get("include_merges", False)),
            include_prereleases=bool(section.get("include_prereleases", False)),
            link_style=style,
            templates=dict(templates),
            changelog=changelog,
            workers=workers,
        )


def notes_config(repo: Path, config: Config | NotesConfig | None) -> NotesConfig:
    """``config`` as a NotesConfig (loading the project's config when None)."""
    if isinstance(config, NotesConfig):
        return config
    return NotesConfig.from_config(config if config is not None else load_config(repo))


# -- pure core ---------------------------------------------------------------------


def cancel_reverts(changes: Sequence[Change]) -> list[Change]:
    """``changes`` without each revert whose reverted change is also present (nor that change).

    A revert names its targets by sha (``This reverts commit …``, a ``Refs:``
    footer; ``Change.reverts`` holds them space-separated) or by the reverted
    header (``Revert "X"`` for a revert of a revert); ``changes`` are newest
    first, so a revert of a revert cancels the first revert and the original
    change stays.
    """
    if not any(c.type == "revert" for c in changes):
        return list(changes)
    by_sha: dict[str, list[int]] = {}
    by_header: dict[str, list[int]] = {}
    for i, c in enumerate(changes):
        by_sha.setdefault(c.sha, []).append(i)
        header = header_of(c)
        by_header.setdefault(header, []).append(i)
        if "!:" in header:
            by_header.setdefault(header.replace("!:", ":", 1), []).append(i)
        if c.type == "revert":
            by_header.setdefault(f'Revert "{c.description}"', []).append(i)
    dropped: set[int] = set()
    for i, rev in enumerate(changes):
        if rev.type != "revert" or i in dropped:
            continue
        targets: list[int] = []
        for prefix in rev.reverts.split() if rev.reverts else ():
            full = (
                prefix
                if prefix in by_sha
                else next((s for s in by_sha if s.startswith(prefix)), "")
            )
            targets += [j for j in by_sha.get(full, ()) if j != i and j not in dropped]
        if not targets:
            targets = [
                j for j in by_header.get(rev.description, ()) if j != i and j not in dropped
            ][:1]
        if targets:
            dropped.add(i)
            dropped.update(targets)
    return [c for i, c in enumerate(changes) if i not in dropped]


def build_notes(
    changes: Iterable[Change],
    *,
    config: NotesConfig | None = None,
    version: str | None = None,
    on: date | None = None,
    tag: str | None = None,
    previous_tag: str | None = None,
    contributors: Sequence[Person] = (),
    first_timers: Sequence[Person] = (),
    forge: Forge | None = None,
    commit_count: int = 0,
    first_timers_unknown: str | None = None,
    to_ref: str = "HEAD",
    compare_from: str | None = None,
) -> ReleaseNotes:
    """Group ``changes`` into release notes (pure).

    The compare link runs from ``compare_from`` (default ``previous_tag``) to
    ``tag``, or to ``to_ref`` when there is no tag (see :func:`compare_target`).

    ``first_timers_unknown`` is why first-time contributors could not be
    computed (a shallow clone); it is kept in ``extra`` under that key.

    Reverts cancel the change they revert when both are present; a revert of
    a revert whose target is not present lists the change it brings back
    (:func:`~castoff.release.commits.reapplied`). Types listed
    in ``config.types`` get a group each, in that order; the other standard
    types (``chore``, ``ci``, … :data:`~castoff.release.commits.STANDARD_TYPES`)
    are hidden unless breaking; non-conventional commits and types nobody
    knows (``WIP: …``) go to ``config.other_group`` (dropped when it is None).
    """
    cfg = config or NotesConfig()
    kept = [reapplied(c) if c.type == "revert" else c for c in cancel_reverts(list(changes))]
    buckets: dict[str, list[Change]] = {t: [] for t in cfg.types}
    other: list[Change] = []
    breaking: list[Change] = []
    for change in kept:
        if change.breaking:
            breaking.append(change)
        if not change.conventional:
            if cfg.other_group and change.description:
                other.append(change)
            continue
        bucket = buckets.get(change.type)
        if bucket is not None:
            bucket.append(change)
        elif cfg.other_group and change.type not in STANDARD_TYPES:  # `WIP: …`, `cli: …`
            other.append(
                replace(change, type="other", description=header_of(change), conventional=False)
            )
    groups = [Group(t, cfg.types[t], tuple(entries)) for t, entries in buckets.items() if entries]
    if other and cfg.other_group:
        groups.append(Group("other", cfg.other_group, tuple(other)))
    compare = None
    if forge is not None and previous_tag:
        compare = forge.compare_url(compare_from or previous_tag, tag or to_ref)
    return ReleaseNotes(
        version=version,
        date=on or datetime.now(UTC).date(),
        groups=tuple(groups),
        tag=tag,
        previous_tag=previous_tag,
        breaking=tuple(breaking),
        contributors=tuple(sorted(contributors, key=lambda p: (p.name.casefold(), p.key))),
        first_timers=tuple(sorted(first_timers, key=lambda p: (p.name.casefold(), p.key))),
        compare_url=compare,
        repo_url=forge.repo_url if forge is not None else None,
        commit_count=commit_count,
        extra={FIRST_TIMERS_UNKNOWN: first_timers_unknown} if first_timers_unknown else {},
    )


# -- reading git ------------------------------------------------------------------


def _tag_at(tags: Sequence[TagInfo], sha: str, ref: str) -> TagInfo | None:
    exact = next((t for t in tags if t.name == ref), None)
    if exact is not None:
        return exact
    return next((t for t in reversed(tags) if t.sha == sha), None)


def generate_notes(
    repo: Path,
    from_ref: str | None = None,
    to_ref: str = "HEAD",
    *,
    config: Config | NotesConfig | None = None,
    version: str | None = None,
    on: date | None = None,
    paths: Sequence[str] = (),
) -> ReleaseNotes:
    """Release notes for the commits in ``from_ref..to_ref``.

    - ``repo``: any path inside the work tree.
    - ``from_ref``: start (excluded); default: the newest release tag
      reachable from ``to_ref`` (matching ``tag_format``; prereleases skipped
      unless ``include_prereleases``), or the root of history when none.
    - ``to_ref``: end (included), default ``HEAD``.
    - ``config``: a Config, a NotesConfig, or None to load the project's.
    - ``version``: the version these notes are for (e.g. the release being
      prepared); default: the version of the release tag at ``to_ref``, else
      None (Unreleased).
    - ``on``: the release date; default: the tag's date, else today (UTC).
    - ``paths``: only commits touching these paths (a monorepo package's).

    Raises NotAGitRepository, NotFound (unknown ref), GitError (shallow
    clone missing the range's history) or UsageError (no commits in range).
    When a shallow clone has the range but not all history before it, the
    first-time contributors are left empty and ``extra["first_timers_unknown"]``
    says why.
    """
    from castoff.release.sections import Section, collect_sections, shallow_boundary

    root = git.repo_root(repo)
    cfg = notes_config(root, config)
    if not git.has_commits(root):
        raise UsageError(f"{root} has no commits yet: nothing to write notes about")
    to_sha = git.resolve_ref(root, to_ref)
    tags = git.list_tags(root, cfg.tag_format)
    to_tag = _tag_at(tags, to_sha, to_ref)
    if from_ref is None:
        previous = git.latest_release_tag(
            root,
            cfg.tag_format,
            to_sha,
            include_prereleases=cfg.include_prereleases,
            exclude_sha=to_sha,
        )
        from_sha = previous.sha if previous is not None else None
        previous_name = previous.name if previous is not None else None
        compare_from = previous_name
    else:
        from_sha = git.resolve_ref(root, from_ref)
        found = _tag_at(tags, from_sha, from_ref)
        previous_name = found.name if found is not None else from_ref
        compare_from = found.name if found is not None else compare_target(from_ref, from_sha)
    section = Section(index=0, tip=to_sha, tag=to_tag, previous=previous_name)
    forge = forge_of(root, cfg)
    excluded = [from_sha] if from_sha else []
    shallow = shallow_boundary(root)
    (result,) = collect_sections(
        root, [section], excluded, cfg, forge, shallow=shallow, paths=paths
    ).sections
    if result.commit_count == 0:
        span = f"{from_ref or previous_name}..{to_ref}" if (from_ref or previous_name) else to_ref
        raise UsageError(f"no commits in {span}: nothing to write notes about")
    known: set[str] = set()
    complete = True
    if from_sha:
        known, complete = git.contributor_history(root, from_sha, shallow)
    first = [p for p in result.contributors if p.key not in known] if complete else []
    unknown = None
    if not complete:
        unknown = (
            f"shallow clone: the history before {previous_name} is cut, so first-time "
            "contributors are unknown (run `git fetch --unshallow --tags`)"
        )
    if version is None and to_tag is not None:
        version = to_tag.version
    tag_name = to_tag.name if to_tag is not None else None
    if tag_name is None and version is not None:
        tag_name = cfg.tag_format.replace("{version}", version)
    when = on
    if when is None and to_tag is not None and to_tag.created_at is not None:
        when = to_tag.created_at.date()
    return build_notes(
        result.changes,
        config=cfg,
        version=version,
        on=when,
        tag=tag_name,
        previous_tag=previous_name,
        contributors=result.contributors,
        first_timers=first,
        forge=forge,
        commit_count=result.commit_count,
        first_timers_unknown=unknown,
        to_ref=compare_target(to_ref, to_sha),
        compare_from=compare_from,
    )


_REF_NAME = re.compile(r"[\w.-]+(?:/[\w.-]+)*")


def compare_target(to_ref: str, to_sha: str) -> str:
    """What a compare link ends at for an untagged ``to_ref``: the ref itself when it is a
    plain name (``HEAD``, a branch, a tag, a sha), else the commit it resolves to
    (``topic~1``, ``main^2`` and other expressions mean nothing to a forge)."""
    if _REF_NAME.fullmatch(to_ref) and ".." not in to_ref:
        return to_ref
    return to_sha


def forge_of(root: Path, cfg: NotesConfig) -> Forge | None:
    """The forge of the ``origin`` remote (None without one)."""
    return parse_remote(git.remote_url(root), cfg.link_style)


def generate_full(
    repo: Path,
    to_ref: str = "HEAD",
    *,
    config: Config | NotesConfig | None = None,
    workers: int | None = None,
    paths: Sequence[str] = (),
) -> list[ReleaseNotes]:
    """Notes for every release in history (one per release tag, plus Unreleased), newest first.

    With ``workers`` > 1 the ranges between tags are read by that many
    processes in parallel (default 1 here: pickling notes back costs more than
    it saves; ``castoff notes --full`` renders in the workers instead, see
    :func:`castoff.release.sections.render_full`). ``paths``: only commits
    touching them (a monorepo package's; give the package's NotesConfig for its
    tags). Same errors as :func:`generate_notes`.
    """
    from castoff.release.sections import full_history

    root = git.repo_root(repo)
    cfg = notes_config(root, config)
    # In-process unless asked: shipping notes objects between processes costs more than it saves.
    result = full_history(root, to_ref, cfg, workers=workers or 1, render=None, paths=paths)
    return list(result)  # type: ignore[arg-type]


def notes_to_data(notes: ReleaseNotes) -> dict[str, Any]:
    """The documented JSON schema of one release (docs/notes.md)."""

    def person(p: Person) -> dict[str, str]:
        return {"name": p.name, "email": p.email}

    def ref(r: Reference) -> dict[str, Any]:
        return {
            "number": r.number,
            "kind": r.kind,
            "repo": r.repo,
            "url": r.url,
            "action": r.action,
        }

    def entry(c: Change) -> dict[str, Any]:
        return {
            "hash": c.sha,
            "type": c.type,
            "scope": c.scope,
            "description": c.description,
            "breaking": c.breaking,
            "breaking_description": c.breaking_description,
            "refs": [
                {
                    "number": r.number,
                    "kind": r.kind,
                    "repo": r.repo,
                    "url": r.url,
                    "action": r.action,
                }
                for r in c.refs
            ],
            "authors": [person(p) for p in c.authors],
        }

    return {
        "version": notes.version,
        "tag": notes.tag,
        "previous_tag": notes.previous_tag,
        "date": notes.date.isoformat(),
        "compare_url": notes.compare_url,
        "commit_count": notes.commit_count,
        "groups": [
            {"type": g.type, "title": g.title, "entries": [entry(c) for c in g.entries]}
            for g in notes.groups
        ],
        "breaking": [entry(c) for c in notes.breaking],
        "contributors": [person(p) for p in notes.contributors],
        "first_timers": [person(p) for p in notes.first_timers],
        "first_timers_unknown": FIRST_TIMERS_UNKNOWN in notes.extra,
    }


_enc = json.encoder.encode_basestring  # the C encoder json.dumps(ensure_ascii=False) uses


def _opt(value: str | None) -> str:
    return "null" if value is None else _enc(value)


def notes_json(notes: ReleaseNotes) -> str:
    """``notes_to_data(notes)`` as compact JSON, built directly (one pass, no dicts).

    Equal to ``json.dumps(notes_to_data(notes), ensure_ascii=False,
    separators=(",", ":"))``; whole-history output is mostly this.
    """
    people: dict[Person, str] = {}

    def person(p: Person) -> str:
        text = people.get(p)
        if text is None:
            text = people[p] = f'{{"name":{_enc(p.name)},"email":{_enc(p.email)}}}'
        return text

    def ref(r: Reference) -> str:
        return (
            f'{{"number":{r.number},"kind":{_enc(r.kind)},"repo":{_opt(r.repo)},'
            f'"url":{_opt(r.url)},"action":{_opt(r.action)}}}'
        )

    def entry(c: Change) -> str:
        refs = ",".join([ref(r) for r in c.refs]) if c.refs else ""
        authors = ",".join([person(p) for p in c.authors])
        return (
            f'{{"hash":{_enc(c.sha)},"type":{_enc(c.type)},"scope":{_opt(c.scope)},'
            f'"description":{_enc(c.description)},"breaking":{"true" if c.breaking else "false"},'
            f'"breaking_description":{_opt(c.breaking_description)},'
            f'"refs":[{refs}],"authors":[{authors}]}}'
        )

    groups = ",".join(
        f'{{"type":{_enc(g.type)},"title":{_enc(g.title)},'
        f'"entries":[{",".join([entry(c) for c in g.entries])}]}}'
        for g in notes.groups
    )
    return (
        f'{{"version":{_opt(notes.version)},"tag":{_opt(notes.tag)},'
        f'"previous_tag":{_opt(notes.previous_tag)},"date":{_enc(notes.date.isoformat())},'
        f'"compare_url":{_opt(notes.compare_url)},"commit_count":{notes.commit_count},'
        f'"groups":[{groups}],"breaking":[{",".join([entry(c) for c in notes.breaking])}],'
        f'"contributors":[{",".join([person(p) for p in notes.contributors])}],'
        f'"first_timers":[{",".join([person(p) for p in notes.first_timers])}],'
        f'"first_timers_unknown":{"true" if FIRST_TIMERS_UNKNOWN in notes.extra else "false"}}}'
    )

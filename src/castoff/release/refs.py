"""Issue / pull-request references in commit messages, and links to the forge.

:func:`find_refs` extracts ``#123``, ``GH-123``, ``owner/repo#123``, full
issue / pull / merge-request URLs and the closing keywords before them
(``Closes #4``, ``fixes: #5``), and GitLab's ``!12`` merge requests when
asked. :class:`Forge` turns the ``origin`` remote URL
(ssh or https) into link builders in the URL style of GitHub, GitLab,
Gitea / Forgejo or Bitbucket. Pure functions: no git, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from castoff.release.model import Reference

STYLES = ("github", "gitlab", "gitea", "bitbucket")

_URL_REF = re.compile(
    r"https?://(?P<host>[\w.-]+(?::\d+)?)/(?P<repo>[\w.-]+(?:/[\w.-]+)+?)/(?:-/)?"
    r"(?P<kind>issues|pull|pulls|merge_requests|pull-requests)/(?P<num>\d+)\b"
)
_NUMBER = re.compile(r"\d+\b")
_OWNER_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_GROUP_PROJECT = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[\w.-]+)+")
_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_TOKEN = _WORDISH | {"/"}
#: The character just before a reference that a closing keyword can precede.
_BEFORE_ACTION_REF = frozenset(" \t:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CLOSING = re.compile(
    r"\b(?P<kw>close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?[ \t]*$",
    re.IGNORECASE,
)
_ACTIONS = {"close": "closes", "fix": "fixes", "resolve": "resolves"}


_NEW = object.__new__
_SET_NUMBER, _SET_KIND, _SET_REPO, _SET_URL, _SET_ACTION = (
    Reference.__dict__[name].__set__ for name in ("number", "kind", "repo", "url", "action")
)


def new_reference(
    number: int, kind: str, repo: str | None, url: str | None, action: str | None
) -> Reference:
    """``Reference(...)`` built through its slots (equal result, cheaper than the frozen init)."""
    ref = _NEW(Reference)
    _SET_NUMBER(ref, number)
    _SET_KIND(ref, kind)
    _SET_REPO(ref, repo)
    _SET_URL(ref, url)
    _SET_ACTION(ref, action)
    return ref


def _action(text: str, pos: int) -> str | None:
    """The closing keyword right before ``pos`` ("Closes #4", "fixes: #5"), if any."""
    if pos < 3 or text[pos - 1] not in _BEFORE_ACTION_REF:
        return None
    window = text[max(0, pos - 24) : pos]
    low = window.lower()
    if "clos" not in low and "fix" not in low and "resolv" not in low:
        return None
    m = _CLOSING.search(window)
    if m is None:
        return None
    word = m["kw"].lower()
    for stem, action in _ACTIONS.items():
        if word.startswith(stem):
            return action
    return None  # pragma: no cover - the regex only matches the three stems


def find_refs(text: str, merge_requests: bool = False) -> tuple[Reference, ...]:
    """References in ``text``, in order of appearance, without duplicates.

    ``merge_requests`` (GitLab) also reads ``!12`` and ``group/project!12`` as
    merge requests (kind ``pull``).
    """
    first_hash = text.find("#")
    has_hash = first_hash >= 0
    bangs = merge_requests and "!" in text
    if not has_hash and "GH-" not in text and "://" not in text and not bangs:
        return ()
    if (
        has_hash
        and not bangs
        and text.find("#", first_hash + 1) < 0
        and "://" not in text
        and "GH-" not in text
    ):
        # The common case, one "#": "fix: crash (#123)" or "Closes #4".
        number = _NUMBER.match(text, first_hash + 1)
        if number is None:
            return ()
        before = text[first_hash - 1] if first_hash else " "
        if before not in _TOKEN and before != "&":
            ref = new_reference(int(number.group()), "issue", None, None, None)
            action = _action(text, first_hash)
            if action is not None:
                _SET_ACTION(ref, action)
            return (ref,)
    found: dict[tuple[str | None, int, str], tuple[int, Reference]] = {}
    spans: list[tuple[int, int]] = []
    if "://" in text:
        for m in _URL_REF.finditer(text):
            kind = "issue" if m["kind"] == "issues" else "pull"
            action = _action(text, m.start())
            ref = new_reference(int(m["num"]), kind, m["repo"], m.group(0), action)
            found.setdefault((m["repo"], ref.number, "#"), (m.start(), ref))
            spans.append(m.span())
    hash_at = text.find("#") if has_hash else -1
    while hash_at >= 0:
        start = hash_at
        hash_at = text.find("#", start + 1)
        number = _NUMBER.match(text, start + 1)
        if number is not None:
            if spans and any(a <= start < b for a, b in spans):
                continue
            repo = None
            before = text[start - 1] if start else " "
            if before in _WORDISH:  # "owner/repo#12", or "abc#12" which is no reference
                head = start
                while head > 0 and text[head - 1] in _TOKEN:
                    head -= 1
                token = text[head:start]
                if not _OWNER_REPO.fullmatch(token) or (head and text[head - 1] == "&"):
                    continue
                repo, start = token, head
            elif before in "/&":
                continue
            key = (repo, int(number.group()), "#")
            if key not in found:
                found[key] = (
                    start,
                    new_reference(key[1], "issue", repo, None, _action(text, start)),
                )
    if bangs:
        _merge_requests(text, found)
    gh_at = text.find("GH-")
    while gh_at >= 0:
        start = gh_at
        gh_at = text.find("GH-", start + 3)
        number = _NUMBER.match(text, start + 3)
        if (
            number is None
            or (start and text[start - 1] in _TOKEN)
            or text[start - 1 : start] == "&"
        ):
            continue
        key = (None, int(number.group()), "#")
        if key not in found:
            found[key] = (start, new_reference(key[1], "issue", None, None, _action(text, start)))
    if len(found) == 1:
        return (next(iter(found.values()))[1],)
    return tuple(ref for _, ref in sorted(found.values(), key=lambda pair: pair[0]))


def _merge_requests(
    text: str, found: dict[tuple[str | None, int, str], tuple[int, Reference]]
) -> None:
    """Add GitLab's ``!12`` / ``group/project!12`` merge-request references to ``found``."""
    at = text.find("!")
    while at >= 0:
        start = at
        at = text.find("!", start + 1)
        number = _NUMBER.match(text, start + 1)
        if number is None:
            continue
        repo = None
        before = text[start - 1] if start else " "
        if before in _WORDISH:  # "group/sub/project!12", or "Wow!12" which is no reference
            head = start
            while head > 0 and text[head - 1] in _TOKEN:
                head -= 1
            token = text[head:start]
            if not _GROUP_PROJECT.fullmatch(token) or (head and text[head - 1] == "&"):
                continue
            repo, start = token, head
        elif before in "/&":
            continue
        key = (repo, int(number.group()), "!")
        if key not in found:
            found[key] = (start, new_reference(key[1], "pull", repo, None, None))


@dataclass(frozen=True, slots=True)
class Forge:
    """Where a repository lives and how its web links are spelled."""

    base: str  # https://host[/prefix]
    path: str  # owner/repo (GitLab: group/subgroup/repo)
    style: str = "github"

    @property
    def repo_url(self) -> str:
        return f"{self.base}/{self.path}"

    def issue_url(self, number: int, kind: str = "issue", repo: str | None = None) -> str:
        """The web page of issue / pull request ``number`` (in ``repo`` if given)."""
        root = f"{self.base}/{repo or self.path}"
        if self.style == "gitlab":
            return f"{root}/-/{'merge_requests' if kind == 'pull' else 'issues'}/{number}"
        if self.style == "bitbucket":
            return f"{root}/{'pull-requests' if kind == 'pull' else 'issues'}/{number}"
        if self.style == "gitea":
            return f"{root}/{'pulls' if kind == 'pull' else 'issues'}/{number}"
        return f"{root}/{'pull' if kind == 'pull' else 'issues'}/{number}"

    def commit_url(self, sha: str) -> str:
        """The web page of commit ``sha``."""
        if self.style == "gitlab":
            return f"{self.repo_url}/-/commit/{sha}"
        if self.style == "bitbucket":
            return f"{self.repo_url}/commits/{sha}"
        return f"{self.repo_url}/commit/{sha}"

    def compare_url(self, old: str, new: str) -> str:
        """The page comparing ``old`` to ``new`` (tags or shas)."""
        if self.style == "gitlab":
            return f"{self.repo_url}/-/compare/{old}...{new}"
        if self.style == "bitbucket":
            return f"{self.repo_url}/branches/compare/{quote(new)}%0D{quote(old)}"
        return f"{self.repo_url}/compare/{old}...{new}"

    def label(self, ref: Reference) -> str:
        """How ``ref`` is written here: ``#12``, ``o/r#12``; GitLab merge requests ``!12``."""
        sigil = "!" if ref.kind == "pull" and self.style == "gitlab" else "#"
        return f"{ref.repo or ''}{sigil}{ref.number}"

    def link(self, ref: Reference) -> Reference:
        """``ref`` with its ``url`` filled in (kept if the message gave one)."""
        if ref.url:
            return ref
        url = self.issue_url(ref.number, ref.kind, ref.repo)
        return new_reference(ref.number, ref.kind, ref.repo, url, ref.action)


_SCP = re.compile(r"^(?:[\w.+-]+@)?(?P<host>[\w.-]+):(?!//)(?P<path>[^\\]+)$")
_URL = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::(?P<port>\d+))?/(?P<path>.+)$"
)


def guess_style(host: str) -> str:
    """The URL style a forge host most likely uses (GitHub when unknown)."""
    host = host.lower()
    if "gitlab" in host:
        return "gitlab"
    if "bitbucket" in host:
        return "bitbucket"
    if any(word in host for word in ("gitea", "forgejo", "codeberg")):
        return "gitea"
    return "github"


def parse_remote(url: str | None, style: str | None = None) -> Forge | None:
    """A :class:`Forge` from a remote URL (``git@host:o/r.git``, ``https://host/o/r``, ``ssh://``).

    ``style`` forces the link style (for self-hosted forges with plain host
    names); local paths and ``file://`` remotes give None.
    """
    if not url:
        return None
    url = url.strip()
    m = _URL.match(url)
    if m is not None:
        if m["scheme"] == "file":
            return None
        host = m["host"]
        port = m["port"] if m["scheme"] in ("http", "https") else None
        scheme = "http" if m["scheme"] == "http" else "https"
        base = f"{scheme}://{host}" + (f":{port}" if port else "")
        path = m["path"]
    else:
        scp = _SCP.match(url)
        if scp is None:
            return None
        host, path = scp["host"], scp["path"]
        base = f"https://{host}"
    path = path.strip("/").removesuffix(".git").strip("/")
    if "bitbucket" in host and path.startswith("scm/"):
        path = path.removeprefix("scm/")
    if "/" not in path:
        return None
    if style is not None and style not in STYLES:
        style = None
    return Forge(base=base, path=path, style=style or guess_style(host))

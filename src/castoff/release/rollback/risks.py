"""Risk analysis: what in the new release makes going back to the previous one hard.

Pure functions over the diff between the two releases (:class:`FileChange`),
the parsed commits (:class:`~castoff.release.model.Change`) and the texts of
the few files whose content matters (migrations, dependency manifests). The
caller asks :func:`paths_needing_content` which texts to read.

Kinds: ``migration``, ``dependencies``, ``lockfile``, ``config``,
``entry_points``, ``removed_files``, ``breaking_change``.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from castoff.release.model import Change
from castoff.release.rollback.manifests import manifest_delta
from castoff.release.rollback.model import FileChange, Risk, Severity

DEFAULT_MIGRATION_PATTERNS = (
    "alembic/versions/*",
    "*/alembic/versions/*",
    "migrations/*",
    "*/migrations/*",
    "db/migrate/*",
    "*.sql",
)
_NOT_MIGRATIONS = ("__init__.py", "env.py", "README*", "*.md", "*.mako", "*.ini", "*.cfg", "*.pyc")
_DOWN_FILES = ("down.sql", "*.down.sql", "*_down.sql", "*-down.sql", "U[0-9]*__*.sql")
_SQL_DOWN_MARKERS = ("-- +goose down", "-- migrate:down", "-- +migrate down", "-- !downs")

MANIFESTS = ("pyproject.toml", "package.json", "Cargo.toml")
OTHER_MANIFESTS = (
    "setup.py", "setup.cfg", "Pipfile", "requirements*.txt", "requirements/*.txt",
    "*/requirements*.txt", "go.mod", "Gemfile", "composer.json", "pom.xml",
    "build.gradle", "build.gradle.kts", "environment.yml", "*.csproj",
)  # fmt: skip
LOCKFILES = (
    "poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock", "package-lock.json",
    "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock",
    "Cargo.lock", "go.sum", "Gemfile.lock", "composer.lock", "requirements*.lock",
    "constraints*.txt",
)  # fmt: skip
CONFIG_PATTERNS = (
    ".env", ".env.*", "*.env", ".envrc", "config/*", "conf/*", "*/config/*", "settings.py",
    "*/settings.py", "*/settings/*.py", "docker-compose*.y*ml", "compose.y*ml", "Dockerfile*",
    "*.tf", "k8s/*", "kubernetes/*", "helm/*", "deploy/*", "*.ini", "*.conf",
)  # fmt: skip
_NOT_CONFIG = ("tox.ini", "pytest.ini", "mypy.ini", ".flake8", "setup.cfg")
_NOT_PUBLIC = (
    "tests/*", "test/*", "*/tests/*", "docs/*", "doc/*", "*.md", "*.rst", ".github/*",
    "CHANGELOG*", "bench/*", "examples/*",
)  # fmt: skip


def _matches(path: str, patterns: Iterable[str]) -> bool:
    """``fnmatch`` on the whole path (``*`` crosses ``/``) or on the basename."""
    base = posixpath.basename(path)
    return any(fnmatchcase(path, p) or ("/" not in p and fnmatchcase(base, p)) for p in patterns)


def is_migration(path: str, patterns: Sequence[str] = DEFAULT_MIGRATION_PATTERNS) -> bool:
    """True for a schema migration file (not a downgrade-only file or package marker)."""
    base = posixpath.basename(path)
    if any(fnmatchcase(base, p) for p in _NOT_MIGRATIONS):
        return False
    return _matches(path, patterns) and not _is_down_file(path)


def _is_down_file(path: str) -> bool:
    base = posixpath.basename(path)
    return any(fnmatchcase(base.lower(), p.lower()) for p in _DOWN_FILES)


def _kind_of(path: str, migration_patterns: Sequence[str]) -> str | None:
    if is_migration(path, migration_patterns) or _is_down_file(path):
        return "migration"
    if _matches(path, LOCKFILES):
        return "lockfile"
    if _matches(path, MANIFESTS) or _matches(path, OTHER_MANIFESTS):
        return "manifest"
    if not _matches(path, _NOT_PUBLIC) and _matches(path, CONFIG_PATTERNS):
        base = posixpath.basename(path)
        return None if base in _NOT_CONFIG else "config"
    return None


def paths_needing_content(
    changed: Sequence[FileChange], migration_patterns: Sequence[str] = DEFAULT_MIGRATION_PATTERNS
) -> tuple[list[str], list[str]]:
    """Which file texts :func:`analyze_risks` reads: (new-side paths, old-side paths)."""
    new_side: list[str] = []
    old_side: list[str] = []
    for fc in changed:
        kind = _kind_of(fc.path, migration_patterns)
        if kind == "migration" and fc.status != "D" and is_migration(fc.path, migration_patterns):
            new_side.append(fc.path)
        elif kind == "manifest" and _matches(fc.path, MANIFESTS):
            if fc.status != "D":
                new_side.append(fc.path)
            if fc.status != "A":
                old_side.append(fc.old_path or fc.path)
    return new_side, old_side


# -- migrations -----------------------------------------------------------


def _trivial_body(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or `...`
        return False
    return True


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _python_downgrade(text: str) -> bool | None:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            if _trivial_body(node.body):
                return False
            raises = all(isinstance(s, ast.Raise) for s in node.body if not _trivial_body([s]))
            return not raises
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if any(_call_name(c) == "Migration" for c in calls) or "class Migration" in text:
        for call in calls:
            kw = {k.arg for k in call.keywords}
            if _call_name(call) == "RunPython" and len(call.args) < 2 and "reverse_code" not in kw:
                return False
            if _call_name(call) == "RunSQL" and len(call.args) < 2 and "reverse_sql" not in kw:
                return False
        return True  # Django operations are reversible unless told otherwise
    return None


def _sql_downgrade(path: str, text: str, tree: frozenset[str]) -> bool:
    lowered = text.lower()
    if any(marker in lowered for marker in _SQL_DOWN_MARKERS):
        return True
    folder, base = posixpath.split(path)
    candidates = {
        base.replace("up.sql", "down.sql"),
        base.replace(".up.", ".down."),
        base.replace("_up.", "_down."),
        base.replace("-up.", "-down."),
    }
    if base[:1] == "V" and "__" in base:  # Flyway: V3__x.sql undone by U3__x.sql
        candidates.add("U" + base[1:])
    candidates.discard(base)
    return any(posixpath.join(folder, c) in tree for c in candidates)


def migration_downgrade(
    path: str, text: str | None, tree: frozenset[str] = frozenset()
) -> bool | None:
    """Whether the migration at ``path`` can be undone: True, False, or None (cannot tell)."""
    if text is None:
        return None
    if path.endswith(".py"):
        return _python_downgrade(text)
    if path.endswith(".sql"):
        return _sql_downgrade(path, text, tree)
    if path.endswith(".rb"):
        if "IrreversibleMigration" in text:
            return False
        return "def down" in text or "def change" in text
    return None


def _migration_risks(
    changed: Sequence[FileChange],
    texts: Mapping[str, str],
    tree: frozenset[str],
    patterns: Sequence[str],
    previous: str,
) -> list[Risk]:
    irreversible: list[str] = []
    reversible: list[str] = []
    edited: list[str] = []
    deleted: list[str] = []
    for fc in changed:
        if not is_migration(fc.path, patterns):
            continue
        if fc.status == "D":
            deleted.append(fc.path)
        elif fc.status in ("M", "T"):
            edited.append(fc.path)
        elif migration_downgrade(fc.path, texts.get(fc.path), tree):
            reversible.append(fc.path)
        else:
            irreversible.append(fc.path)
    risks: list[Risk] = []
    if irreversible:
        risks.append(
            Risk(
                kind="migration",
                severity=Severity.HIGH,
                title=f"{len(irreversible)} database migration(s) added without a downgrade",
                advice=(
                    f"Rolling back to {previous} leaves the schema of the new release behind. "
                    "Back up the database, then write and test a downgrade (or a forward fix) "
                    f"before redeploying {previous}; consider fixing forward instead."
                ),
                paths=tuple(irreversible),
            )
        )
    if edited:
        risks.append(
            Risk(
                kind="migration",
                severity=Severity.HIGH,
                title=f"{len(edited)} existing migration(s) edited",
                advice=(
                    "Databases that already applied the old text will not re-run it; check each "
                    "environment's schema by hand before and after the rollback."
                ),
                paths=tuple(edited),
            )
        )
    if reversible:
        risks.append(
            Risk(
                kind="migration",
                severity=Severity.MEDIUM,
                title=f"{len(reversible)} database migration(s) added (downgrade present)",
                advice=(
                    f"Run the downgrade of these migrations BEFORE redeploying {previous} "
                    "(e.g. `alembic downgrade <revision of " + previous + ">`); back up first: "
                    "dropped columns lose their data."
                ),
                paths=tuple(reversible),
            )
        )
    if deleted:
        risks.append(
            Risk(
                kind="migration",
                severity=Severity.MEDIUM,
                title=f"{len(deleted)} migration file(s) deleted",
                advice=f"{previous} still expects them; make sure the migration history matches.",
                paths=tuple(deleted),
            )
        )
    return risks


def _dependency_risks(
    changed: Sequence[FileChange],
    new_texts: Mapping[str, str],
    old_texts: Mapping[str, str],
    patterns: Sequence[str],
    previous: str,
) -> list[Risk]:
    dep_paths: list[str] = []
    dep_details: list[str] = []
    lock_paths: list[str] = []
    removed_entries: list[str] = []
    added_entries: list[str] = []
    entry_paths: list[str] = []
    for fc in changed:
        kind = _kind_of(fc.path, patterns)
        if kind == "lockfile":
            lock_paths.append(fc.path)
        elif kind == "manifest" and _matches(fc.path, MANIFESTS):
            delta = manifest_delta(
                fc.path,
                old_texts.get(fc.old_path or fc.path) if fc.status != "A" else None,
                new_texts.get(fc.path) if fc.status != "D" else None,
            )
            if delta is None:
                dep_paths.append(fc.path)
                continue
            if delta.dependencies:
                dep_paths.append(fc.path)
                dep_details.extend(delta.dependencies)
            if delta.entry_points_removed or delta.entry_points_added:
                entry_paths.append(fc.path)
                removed_entries.extend(delta.entry_points_removed)
                added_entries.extend(delta.entry_points_added)
        elif kind == "manifest":
            dep_paths.append(fc.path)
    risks: list[Risk] = []
    if dep_paths:
        detail = f": {', '.join(dep_details[:8])}" if dep_details else ""
        more = f" (+{len(dep_details) - 8} more)" if len(dep_details) > 8 else ""
        risks.append(
            Risk(
                kind="dependencies",
                severity=Severity.MEDIUM,
                title=f"Dependencies changed{detail}{more}",
                advice=(
                    f"Redeploy {previous} from its own manifests and rebuild environments "
                    "(virtualenvs, images, caches); packages upgraded for the new release may "
                    "have changed data formats."
                ),
                paths=tuple(dep_paths),
            )
        )
    if lock_paths:
        risks.append(
            Risk(
                kind="lockfile",
                severity=Severity.MEDIUM,
                title=f"Lockfile changed: {', '.join(lock_paths)}",
                advice=(
                    f"Install from {previous}'s lockfile, not the current one; artifacts and "
                    "images built from the new lock must not be reused."
                ),
                paths=tuple(lock_paths),
            )
        )
    if removed_entries:
        risks.append(
            Risk(
                kind="entry_points",
                severity=Severity.MEDIUM,
                title=f"Entry points removed in the new release: {', '.join(removed_entries)}",
                advice=(
                    f"Rolling back brings them back; anything switched over to their "
                    f"replacements must be switched back to the {previous} names."
                ),
                paths=tuple(entry_paths),
            )
        )
    if added_entries:
        risks.append(
            Risk(
                kind="entry_points",
                severity=Severity.MEDIUM,
                title=f"Entry points added in the new release: {', '.join(added_entries)}",
                advice="They disappear on rollback; scripts and jobs calling them will fail.",
                paths=tuple(entry_paths),
            )
        )
    return risks


def _config_and_removal_risks(
    changed: Sequence[FileChange], patterns: Sequence[str], previous: str
) -> list[Risk]:
    config = [fc.path for fc in changed if _kind_of(fc.path, patterns) == "config"]
    removed = [
        fc.old_path or fc.path
        for fc in changed
        if fc.status in ("D", "R")
        and not _matches(fc.old_path or fc.path, _NOT_PUBLIC)
        and _kind_of(fc.old_path or fc.path, patterns) is None
    ]
    risks: list[Risk] = []
    if config:
        risks.append(
            Risk(
                kind="config",
                severity=Severity.MEDIUM,
                title=f"Configuration / environment changed: {', '.join(config[:6])}",
                advice=(
                    f"Restore {previous}'s configuration and environment variables together with "
                    "the redeploy; settings new in this release may be rejected or ignored."
                ),
                paths=tuple(config),
            )
        )
    if removed:
        risks.append(
            Risk(
                kind="removed_files",
                severity=Severity.LOW,
                title=f"{len(removed)} file(s) removed or renamed in the new release",
                advice=(
                    "They come back on rollback; importers or URLs that moved to the new paths "
                    f"break against {previous}."
                ),
                paths=tuple(removed),
            )
        )
    return risks


def _breaking_risks(changes: Sequence[Change], previous: str) -> list[Risk]:
    breaking = [c for c in changes if c.breaking]
    if not breaking:
        return []
    lines = [c.breaking_description or c.description for c in breaking]
    return [
        Risk(
            kind="breaking_change",
            severity=Severity.HIGH,
            title=f"{len(breaking)} breaking change(s): {'; '.join(lines[:3])}",
            advice=(
                "Users who already adapted to the new behaviour break again when going back to "
                f"{previous}; announce the rollback clearly, or prefer a forward fix."
            ),
            commits=tuple(dict.fromkeys(c.sha for c in breaking)),
        )
    ]


def analyze_risks(
    changed: Sequence[FileChange],
    changes: Sequence[Change],
    *,
    new_texts: Mapping[str, str] | None = None,
    old_texts: Mapping[str, str] | None = None,
    tree: frozenset[str] = frozenset(),
    migration_patterns: Sequence[str] = DEFAULT_MIGRATION_PATTERNS,
    previous: str = "the previous release",
) -> list[Risk]:
    """Risks of going back from the new release to ``previous``, highest severity first.

    ``new_texts`` / ``old_texts`` hold the contents :func:`paths_needing_content`
    named (new side / previous side); ``tree`` lists every path of the new
    release (to find a migration's separate downgrade file).
    """
    new_texts = new_texts or {}
    old_texts = old_texts or {}
    risks = [
        *_migration_risks(changed, new_texts, tree, migration_patterns, previous),
        *_dependency_risks(changed, new_texts, old_texts, migration_patterns, previous),
        *_config_and_removal_risks(changed, migration_patterns, previous),
        *_breaking_risks(changes, previous),
    ]
    return sorted(risks, key=lambda r: -r.severity.rank)

"""Session history: every analysed clip or live session in one SQLite file, and per-cue trends.

Where the file lives, first match wins:

1. the ``path`` argument,
2. the ``FORMCHECK_HISTORY`` environment variable,
3. ``$XDG_DATA_HOME/formcheck/history.sqlite``,
4. ``~/.local/share/formcheck/history.sqlite``.

Each session row keeps the date, source, kind (``clip`` or ``live``), direction,
cadence and score, plus the full JSON report; each rule's value and status also
go in their own table so a trend is one indexed query. Up to three small JPEG key
frames (skeleton drawn) per session make a before/after comparison visual, and one
session can be marked as the runner's forward-running baseline.

Schema 2 added the key frames and settings tables, schema 3 the application id and WAL
mode; an older file gains them the first time it is opened. The file is marked as formcheck's (SQLite's application id), kept
in WAL mode (the app's readers never wait for a write) and deleted sessions are overwritten
(secure_delete); another program's database is refused, never changed.
"""

from __future__ import annotations

import contextlib
import json
import math
import hashlib
import os
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from formcheck.errors import InputError, OutputError

SCHEMA_VERSION = 3
KINDS = ("clip", "live")
MAX_KEY_FRAMES = 3
MAX_KEY_FRAME_BYTES = 200_000  # a 480 px JPEG is 30-60 kB; anything bigger is not a thumbnail
BASELINE_KEY = "forward_baseline"
ATHLETE_KEY = "athlete"  # in an athlete's own file: their name
APPLICATION_ID = 0x46434B48  # "FCKH" in the file's header: this file is a formcheck history

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,          -- ISO 8601, UTC
    source TEXT NOT NULL,              -- file name or camera description
    kind TEXT NOT NULL CHECK (kind IN ('clip', 'live')),
    direction TEXT,
    gait_type TEXT,
    cadence_spm REAL,
    score INTEGER,
    duration_s REAL,
    report_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_results (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    rule_id TEXT NOT NULL,
    title TEXT,
    status TEXT NOT NULL,
    value REAL,
    unit TEXT,
    PRIMARY KEY (session_id, rule_id)
);
CREATE INDEX IF NOT EXISTS rule_results_by_rule ON rule_results(rule_id, session_id);
CREATE TABLE IF NOT EXISTS key_frames (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    caption TEXT,
    jpeg BLOB NOT NULL,
    PRIMARY KEY (session_id, position)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT
);
"""


def default_path() -> Path:
    """The history file used when no path is given."""
    env = os.environ.get("FORMCHECK_HISTORY")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "formcheck" / "history.sqlite"


def athlete_path(athlete: str | None) -> Path:
    """The athlete's own history file beside the default one; the default file for None.
    The app's visitors and ``formcheck batch --history`` share this rule."""
    if athlete is None:
        return default_path()
    slug = re.sub(r"[^a-z0-9]+", "-", athlete.lower()).strip("-")[:40] or "athlete"
    tag = hashlib.sha256(athlete.encode()).hexdigest()[:8]  # two names with one slug stay apart
    return default_path().with_name(f"history-{slug}-{tag}.sqlite")


def athlete_histories() -> dict[str, Path]:
    """Athlete -> their history file, for every athlete's file beside the default one (by name)."""
    found = {}
    for path in sorted(default_path().parent.glob("history-*.sqlite")):
        with contextlib.suppress(OutputError):
            name = History(path).athlete()
            if name and athlete_path(name) == path:
                found[name] = path
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _report_dict(report) -> dict:
    if isinstance(report, dict):
        return report
    if hasattr(report, "to_dict"):
        return report.to_dict()
    raise TypeError(f"expected a Report or its dict, got {type(report).__name__}")


class History:
    """One history file. Cheap to create: every call opens and closes its own connection,
    so an instance can be shared between Streamlit reruns and threads."""

    busy_timeout_s = 10.0  # how long a write waits for another writer before saying the file is busy

    def __init__(self, path: str | os.PathLike | None = None, athlete: str | None = None):
        """``athlete``: whose file this is, recorded in it on the first save so it can be listed by name."""
        self.path = Path(path).expanduser() if path else default_path()
        self._owner = athlete

    @classmethod
    def of_athlete(cls, athlete: str | None) -> History:
        """The athlete's own history (the default one for None)."""
        return cls(athlete_path(athlete), athlete=athlete)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"Cannot open the history file {self.path}: {exc}. "
                              "Set FORMCHECK_HISTORY to a writable file path.") from exc
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA secure_delete = ON")  # a deleted session's stills are overwritten, not left
            self._prepare(con)
            with con:  # one transaction, committed on success
                yield con
        except sqlite3.DatabaseError as exc:
            raise OutputError(_database_message(self.path, exc)) from exc
        finally:
            con.close()

    def _prepare(self, con: sqlite3.Connection) -> None:
        """Create or upgrade formcheck's tables; refuse a file that belongs to another program."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        if version > SCHEMA_VERSION and app_id in (0, APPLICATION_ID):
            raise OutputError(f"The history file {self.path} was written by a newer formcheck "
                              f"(schema {version}); upgrade formcheck or use another file.")
        foreign = app_id not in (0, APPLICATION_ID) or (version == 0 and _tables(con))
        if foreign:
            raise OutputError(f"{self.path} is another program's database, not a formcheck history; it was left "
                              "as it is. Set FORMCHECK_HISTORY to a new file path.")
        if version < SCHEMA_VERSION:
            con.execute("PRAGMA journal_mode = WAL")  # readers never wait for the server's writes
            con.executescript(_SCHEMA)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing -----------------------------------------------------------

    def save(self, report, source: str, kind: str = "clip", when: datetime | None = None,
             key_frames: list[tuple[str, bytes]] | None = None) -> int:
        """Store one session; returns its id. ``report`` is a Report or its ``to_dict()``;
        ``key_frames`` up to three (caption, JPEG bytes) stills of the runner."""
        if kind not in KINDS:
            raise InputError(f"History kind must be one of {', '.join(KINDS)}, not {kind!r}.")
        frames = _checked_key_frames(key_frames or [])
        data = _report_dict(report)
        when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
        video = data.get("video") or {}
        duration = _finite(video.get("duration_s"))
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO sessions (created_at, source, kind, direction, gait_type, cadence_spm, score, "
                "duration_s, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (when.isoformat(timespec="seconds"), str(source), kind, data.get("direction"),
                 data.get("gait_type"), _finite(data.get("cadence_spm")), data.get("score"), duration,
                 json.dumps(data)))
            session_id = int(cur.lastrowid)
            con.executemany(
                "INSERT OR REPLACE INTO rule_results (session_id, rule_id, title, status, value, unit) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(session_id, r["id"], r.get("title"), r.get("status", "unknown"), _finite(r.get("value")),
                  r.get("unit")) for r in data.get("rules", [])])
            con.executemany("INSERT INTO key_frames (session_id, position, caption, jpeg) VALUES (?, ?, ?, ?)",
                            [(session_id, i, caption, sqlite3.Binary(jpeg)) for i, (caption, jpeg) in enumerate(frames)])
            if self._owner is not None:
                con.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", (ATHLETE_KEY, self._owner))
        return session_id

    def delete(self, session_id: int) -> bool:
        if not self.path.exists():
            return False
        with self._connect() as con:
            return con.execute("DELETE FROM sessions WHERE id = ?", (int(session_id),)).rowcount > 0

    # -- reading -----------------------------------------------------------

    def list_sessions(self, limit: int | None = None, kind: str | None = None) -> list[dict]:
        """Newest first: id, created_at, source, kind, direction, gait_type, cadence_spm, score, duration_s."""
        sql = ("SELECT id, created_at, source, kind, direction, gait_type, cadence_spm, score, duration_s "
               "FROM sessions")
        args: list = []
        if kind:
            sql += " WHERE kind = ?"
            args.append(kind)
        sql += " ORDER BY created_at DESC, id DESC"
        if not self.path.exists():
            return []
        if limit:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._connect() as con:
            return [dict(row) for row in con.execute(sql, args)]

    def get(self, session_id: int) -> dict | None:
        """One session's row plus ``report`` (the full JSON dict) and ``rules``; None if absent."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT * FROM sessions WHERE id = ?", (int(session_id),)).fetchone()
            if row is None:
                return None
            rules = [dict(r) for r in con.execute(
                "SELECT rule_id, title, status, value, unit FROM rule_results WHERE session_id = ? "
                "ORDER BY rowid", (int(session_id),))]
        out = dict(row)
        out["report"] = _report(out.pop("report_json"))
        out["rules"] = rules
        return out

    def trend(self, rule_id: str) -> list[dict]:
        """Oldest first: session_id, created_at, source, kind, value, status, unit for one rule."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            return [dict(row) for row in con.execute(
                "SELECT s.id AS session_id, s.created_at, s.source, s.kind, r.value, r.status, r.unit, r.title "
                "FROM rule_results r JOIN sessions s ON s.id = r.session_id WHERE r.rule_id = ? "
                "ORDER BY s.created_at, s.id", (rule_id,))]

    def key_frames(self, session_id: int) -> list[tuple[str, bytes]]:
        """The session's (caption, JPEG bytes) stills, in order; empty if none were stored."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            return [(r["caption"] or "", bytes(r["jpeg"])) for r in con.execute(
                "SELECT caption, jpeg FROM key_frames WHERE session_id = ? ORDER BY position", (int(session_id),))]

    def athlete(self) -> str | None:
        """Whose file this is, if it was saved as an athlete's."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT value FROM settings WHERE key = ?", (ATHLETE_KEY,)).fetchone()
        return row["value"] if row else None

    # -- the forward-running baseline ------------------------------------------

    def set_baseline(self, session_id: int) -> None:
        """Mark a session as the runner's forward-running baseline (replacing any earlier one)."""
        entry = self.get(session_id)
        if entry is None:
            raise InputError(f"There is no session {session_id} in the history.")
        if entry["direction"] == "backward":
            raise InputError(f"Session {session_id} is backward running: the baseline is a clip of your "
                             "normal, forward running, to compare your backward running with.")
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (BASELINE_KEY, str(session_id)))

    def clear_baseline(self) -> None:
        if self.path.exists():
            with self._connect() as con:
                con.execute("DELETE FROM settings WHERE key = ?", (BASELINE_KEY,))

    def baseline_id(self) -> int | None:
        """The baseline session's id; None if none is set or it was deleted."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT s.id FROM settings k JOIN sessions s ON s.id = CAST(k.value AS INTEGER) "
                              "WHERE k.key = ?", (BASELINE_KEY,)).fetchone()
        return int(row["id"]) if row else None

    def baseline(self) -> dict | None:
        """The baseline session (as ``get``), or None."""
        sid = self.baseline_id()
        return self.get(sid) if sid is not None else None

    def rule_ids(self) -> list[tuple[str, str]]:
        """(rule_id, title) of every rule seen, in first-seen order."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute("SELECT rule_id, title, MIN(rowid) AS first FROM rule_results "
                               "GROUP BY rule_id ORDER BY first").fetchall()
        return [(r["rule_id"], r["title"] or r["rule_id"]) for r in rows]


def _tables(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _database_message(path: Path, exc: sqlite3.DatabaseError) -> str:
    """What went wrong with the history file, in words that say what to do: busy, full, read-only
    and damaged files need different things."""
    code = getattr(exc, "sqlite_errorname", "")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (f"The history file {path} is busy: another formcheck (or another program) is writing it. "
                "Nothing was lost; try again in a moment.")
    if code.startswith("SQLITE_FULL"):
        return f"The disk holding the history file {path} is full. Free some space and try again."
    if code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return (f"The history file {path} cannot be written (read-only or no permission). "
                "Set FORMCHECK_HISTORY to a file you can write.")
    if code.startswith("SQLITE_IOERR"):
        return f"The history file {path} could not be read or written ({exc}). Check the disk and try again."
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (f"The history file {path} is damaged or not a database. Move it away to start a new history "
                "(keep the old file: it may be recoverable with sqlite3's .recover).")
    return f"The history file {path} cannot be used ({exc}). Check the file and try again."


def _report(text: str) -> dict:
    """A stored report; a row damaged outside formcheck reads as a report with nothing in it."""
    try:
        report = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return {"rules": [], "damaged": True}
    return report if isinstance(report, dict) else {"rules": [], "damaged": True}


def _checked_key_frames(frames: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Key frames must be small JPEGs: the history is a database, not a video store."""
    if len(frames) > MAX_KEY_FRAMES:
        raise InputError(f"At most {MAX_KEY_FRAMES} key frames are kept per session, not {len(frames)}.")
    for caption, jpeg in frames:
        if not bytes(jpeg[:3]) == b"\xff\xd8\xff":
            raise InputError(f"Key frame '{caption}' is not a JPEG image.")
        if len(jpeg) > MAX_KEY_FRAME_BYTES:
            raise InputError(f"Key frame '{caption}' is {len(jpeg) // 1000} kB; keep key frames under "
                             f"{MAX_KEY_FRAME_BYTES // 1000} kB (a few hundred pixels wide).")
    return [(str(caption), bytes(jpeg)) for caption, jpeg in frames]


# Module-level shortcuts on the default (or given) file.

def save(report, source: str, kind: str = "clip", path: str | os.PathLike | None = None,
         when: datetime | None = None, key_frames: list[tuple[str, bytes]] | None = None) -> int:
    return History(path).save(report, source, kind, when=when, key_frames=key_frames)


def list_sessions(path: str | os.PathLike | None = None, limit: int | None = None) -> list[dict]:
    return History(path).list_sessions(limit=limit)


def get(session_id: int, path: str | os.PathLike | None = None) -> dict | None:
    return History(path).get(session_id)


def trend(rule_id: str, path: str | os.PathLike | None = None) -> list[dict]:
    return History(path).trend(rule_id)

"""What the bot remembers, in SQLite next to the index: questions asked, feedback, and the state behind buttons.

Only user ids are kept (no names). Button state has a short random id (callback data stays under Telegram's
64 bytes) and expires after BUTTON_TTL_HOURS. Every method is blocking: handlers call them in a worker thread.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sqlite3
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.understand import Turn
from index.errors import IndexFailure

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, day TEXT NOT NULL, user_id INTEGER NOT NULL,
    question TEXT NOT NULL, found INTEGER NOT NULL,
    answer TEXT NOT NULL DEFAULT '', sources TEXT NOT NULL DEFAULT '[]', previous TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS questions_day ON questions(day);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER NOT NULL, user_id INTEGER NOT NULL, value INTEGER NOT NULL, passages TEXT NOT NULL,
    given_at REAL NOT NULL, PRIMARY KEY (question_id, user_id)
);
CREATE TABLE IF NOT EXISTS buttons (
    id TEXT PRIMARY KEY, created_at REAL NOT NULL, payload TEXT NOT NULL, user_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS buttons_created ON buttons(created_at);
CREATE INDEX IF NOT EXISTS buttons_user ON buttons(user_id, created_at);
CREATE TABLE IF NOT EXISTS conversations (
    key TEXT PRIMARY KEY, updated_at REAL NOT NULL, site TEXT NOT NULL, subject TEXT NOT NULL,
    question TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
"""
# PRAGMA user_version: 0 before versions were kept (buttons without their user); 1: buttons keep their user; 2: a
# question keeps its answer text, its sources and the question it followed (feedback becomes an evaluation file), a
# conversation its last question. Each step upgrades the one before in place, so that an upgrade keeps history and
# feedback; a column is added only to a table that exists (the tables missing are created whole afterwards).
SCHEMA_VERSION = 2
_MIGRATIONS: dict[int, tuple[tuple[str, str, str], ...]] = {
    1: (("buttons", "user_id", "INTEGER NOT NULL DEFAULT 0"),),
    2: (("questions", "answer", "TEXT NOT NULL DEFAULT ''"), ("questions", "sources", "TEXT NOT NULL DEFAULT '[]'"),
        ("questions", "previous", "TEXT NOT NULL DEFAULT ''"),
        ("conversations", "question", "TEXT NOT NULL DEFAULT ''")),
}


def _migrate(db: sqlite3.Connection, step: int) -> None:
    db.execute("BEGIN")
    try:
        for table, column, declaration in _MIGRATIONS[step]:
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if columns and column not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        db.execute(f"PRAGMA user_version = {step}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
MAX_BUTTONS_PER_USER = 500  # button states kept per user (the oldest go first), whatever their age
MAX_CONVERSATIONS = 100_000  # the oldest are forgotten beyond this, whatever their age
PRUNE_EVERY = 1_000  # turns between two passes that enforce MAX_CONVERSATIONS (so at most this many more are kept)


@dataclass(frozen=True)
class RatedAnswer:
    """An answer a user rated, as `vve feedback export` writes it (no user id)."""

    question: str
    previous: str  # the question it followed, when it was read as a follow-up
    found: bool
    answer: str  # the text the user read
    sources: tuple[dict[str, Any], ...]  # {"title", "source", "section", "page"}
    positive: bool
    date: str  # of the rating, YYYY-MM-DD


@dataclass(frozen=True)
class Stats:
    days: tuple[tuple[str, int, int], ...]  # (day, questions, answered), newest first
    questions: int
    answered: int
    thumbs_up: int
    thumbs_down: int
    unanswered: tuple[tuple[str, int], ...]  # most frequent unanswered questions, with their count
    cited: tuple[tuple[str, int], ...] = ()  # most-cited documents (titles) in the answers given, with their count
    disliked: tuple[RatedAnswer, ...] = ()  # the last 👎 answers, newest first


# a rated answer as the export and /stats read it (no user id)
_RATED = ("SELECT q.question, q.previous, q.found, q.answer, q.sources, f.value, f.given_at FROM feedback f "
          "JOIN questions q ON q.id = f.question_id ")


def _rated(row: tuple[Any, ...]) -> RatedAnswer:
    question, previous, found, answer, sources, value, given_at = row
    return RatedAnswer(question, previous, bool(found), answer, tuple(_sources(sources)), value > 0,
                       time.strftime("%Y-%m-%d", time.localtime(given_at)))


def _sources(raw: str) -> list[dict[str, Any]]:
    try:
        sources = json.loads(raw)
    except ValueError:
        return []
    return [source for source in sources if isinstance(source, dict)] if isinstance(sources, list) else []


class StateUnusable(IndexFailure):
    """The bot's memory cannot be opened nor set aside (a folder with files in it, a newer version's database)."""


def _open(path: Path) -> sqlite3.Connection:
    """The database, created or upgraded to SCHEMA_VERSION; DatabaseError when the file is not a database at all.

    Nothing is written to a file that is current (a locked or read-only memory still opens: the bot answers, and
    skips what it cannot remember), and nothing at all to another application's database (StateUnusable)."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=2.0)
    try:
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across a crash of the process (no write)
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        existing = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise StateUnusable(f"mémoire du bot « {path.name} » écrite par une version plus récente (schéma "
                                f"{version}, celle-ci lit jusqu’au {SCHEMA_VERSION}) : mettez le bot à jour")
        if existing and not {"questions", "feedback", "buttons"} <= existing:
            raise StateUnusable(f"« {path.name} » est la base d’une autre application (tables "
                                f"{', '.join(sorted(existing))[:120]}) : elle n’est pas touchée ; indiquez un autre "
                                "STATE_DB")
        if version == SCHEMA_VERSION and {"questions", "feedback", "buttons", "conversations"} <= existing:
            return db  # current: opened without a write
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        if existing and version < SCHEMA_VERSION:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                _migrate(db, step)
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return db
    except BaseException:
        db.close()
        raise


def _read_only(path: Path, error: sqlite3.OperationalError) -> sqlite3.Connection:
    """A current memory in a folder that cannot be written (a read-only mount, a full disk: SQLite cannot even make
    its -shm file) is read as it is: the bot answers and exports, and skips what it cannot remember."""
    full = _disk_full(path)
    if path.is_file():
        db = sqlite3.connect(path.resolve().as_uri() + "?immutable=1", uri=True, check_same_thread=False,
                             isolation_level=None)
        try:
            if int(db.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION:
                log.warning("mémoire du bot « %s » en lecture seule (%s%s) : les réponses partent, rien n’est retenu",
                            path, error, ", disque plein" if full else "")
                return db
        except sqlite3.DatabaseError:
            pass
        db.close()
    raise StateUnusable(f"mémoire du bot « {path} » inaccessible ({error}{', disque plein' if full else ''}) : "
                        "vérifiez ce fichier et son dossier, ou indiquez un autre STATE_DB") from None


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1_048_576
    except OSError:
        return False


class BotState:
    def __init__(self, path: Path, button_ttl_seconds: float = 48 * 3600,
                 conversation_ttl_seconds: float = 30 * 60) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.button_ttl_seconds = button_ttl_seconds
        self.conversation_ttl_seconds = conversation_ttl_seconds
        try:
            self._db = _open(path)
        except sqlite3.OperationalError as error:  # locked, read-only, a folder: nothing to set aside
            self._db = _read_only(path, error)
        except sqlite3.DatabaseError as error:  # not a database, damaged, another application's: set aside
            aside = path.with_name(f"{path.name}.illisible-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                path.rename(aside)
            except OSError as move:
                raise StateUnusable(f"mémoire du bot « {path} » illisible ({error}) et impossible à mettre de "
                                    f"côté ({move.strerror}) : indiquez un autre STATE_DB") from None
            log.warning("mémoire du bot illisible (%s) : mise de côté sous %s, une nouvelle est créée", error,
                        aside.name)
            self._db = _open(path)
        self._lock = threading.Lock()
        self._turns_written = 0

    def __repr__(self) -> str:
        return f"BotState({self.path})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_question(self, user_id: int, question: str, found: bool, now: float | None = None,
                        answer: str = "", sources: Sequence[dict[str, Any]] = (), previous: str = "") -> int:
        """A question asked, with the answer text given, its sources and the question it followed (a follow-up)."""
        now = time.time() if now is None else now
        day = time.strftime("%Y-%m-%d", time.localtime(now))
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO questions (asked_at, day, user_id, question, found, answer, sources, previous) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (now, day, user_id, question, int(found), answer,
                                                     json.dumps(list(sources), ensure_ascii=False), previous))
        return int(cursor.lastrowid or 0)

    def rated_answers(self) -> list[RatedAnswer]:
        """Every rated answer, oldest first, without who asked or rated it (`vve feedback export`)."""
        with self._lock:
            rows = self._db.execute(_RATED + "ORDER BY f.given_at, q.id").fetchall()
        return [_rated(row) for row in rows]

    def record_feedback(self, question_id: int, user_id: int, positive: bool, passages: list[str]) -> None:
        """One opinion per user and question: a second tap replaces the first."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?)",
                             (question_id, user_id, 1 if positive else -1, json.dumps(passages, ensure_ascii=False),
                              time.time()))

    def feedback_of(self, question_id: int) -> list[tuple[int, int, list[str]]]:
        with self._lock:
            rows = self._db.execute("SELECT user_id, value, passages FROM feedback WHERE question_id = ?",
                                    (question_id,)).fetchall()
        return [(user, value, json.loads(passages)) for user, value, passages in rows]

    def save_buttons(self, payload: dict[str, Any], user_id: int = 0) -> str:
        """Keep the state behind a message's buttons; its key. Expired states go, and a user's oldest beyond
        MAX_BUTTONS_PER_USER (one user at the rate limit cannot fill the disk)."""
        key = secrets.token_urlsafe(6)  # 8 characters
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM buttons WHERE created_at < ?", (now - self.button_ttl_seconds,))
            self._db.execute("INSERT INTO buttons (id, created_at, payload, user_id) VALUES (?, ?, ?, ?)",
                             (key, now, json.dumps(payload, ensure_ascii=False), user_id))
            self._db.execute("DELETE FROM buttons WHERE user_id = ? AND id IN (SELECT id FROM buttons WHERE "
                             "user_id = ? ORDER BY created_at DESC LIMIT -1 OFFSET ?)",
                             (user_id, user_id, MAX_BUTTONS_PER_USER))
        return key

    def load_buttons(self, key: str) -> dict[str, Any] | None:
        """The payload behind a button, or None when it expired (or never existed)."""
        with self._lock:
            row = self._db.execute("SELECT created_at, payload FROM buttons WHERE id = ?", (key,)).fetchone()
        if row is None or row[0] < time.time() - self.button_ttl_seconds:
            return None
        payload: dict[str, Any] = json.loads(row[1])
        return payload

    # conversations: the previous turn of each chat (of each user in a group), bounded in age and in number

    def last_turn(self, key: str, now: float | None = None) -> Turn | None:
        """The conversation's previous turn, None when there is none or it is older than the quiet period."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT updated_at, site, subject FROM conversations WHERE key = ?",
                                   (key,)).fetchone()
        if row is None or row[0] < now - self.conversation_ttl_seconds:
            return None
        return Turn(row[1], row[2])

    def last_question(self, key: str) -> str:
        """The question asked last in a conversation (what a follow-up followed), kept as long as its turn."""
        with self._lock:
            row = self._db.execute("SELECT question FROM conversations WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def remember_turn(self, key: str, turn: Turn, now: float | None = None, question: str = "") -> None:
        """Keep a conversation's turn; expired turns go at once, the oldest beyond MAX_CONVERSATIONS every
        PRUNE_EVERY turns (that pass walks the whole table: at every question it was 13 % of a busy bot's time)."""
        now = time.time() if now is None else now
        with self._lock:
            self._turns_written += 1
            self._db.execute("BEGIN")
            try:
                self._db.execute("INSERT OR REPLACE INTO conversations (key, updated_at, site, subject, question) "
                                 "VALUES (?, ?, ?, ?, ?)", (key, now, turn.site, turn.subject, question))
                self._db.execute("DELETE FROM conversations WHERE updated_at < ?",
                                 (now - self.conversation_ttl_seconds,))
                if self._turns_written % PRUNE_EVERY == 0:
                    self._db.execute("DELETE FROM conversations WHERE key IN (SELECT key FROM conversations "
                                     "ORDER BY updated_at DESC LIMIT -1 OFFSET ?)", (MAX_CONVERSATIONS,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def forget_conversation(self, key: str) -> bool:
        """`/nouveau`: True when there was something to forget."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM conversations WHERE key = ?", (key,))
        return cursor.rowcount > 0

    def stats(self, days: int = 7, top: int = 5) -> Stats:
        with self._lock:
            per_day = self._db.execute(
                "SELECT day, COUNT(*), SUM(found) FROM questions GROUP BY day ORDER BY day DESC LIMIT ?", (days,)
            ).fetchall()
            questions, answered = self._db.execute("SELECT COUNT(*), COALESCE(SUM(found), 0) FROM questions"
                                                   ).fetchone()
            up, down = self._db.execute("SELECT COALESCE(SUM(value > 0), 0), COALESCE(SUM(value < 0), 0) "
                                        "FROM feedback").fetchone()
            unanswered = self._db.execute(
                "SELECT question, COUNT(*) AS n FROM questions WHERE found = 0 GROUP BY lower(question) "
                "ORDER BY n DESC, MAX(asked_at) DESC LIMIT ?", (top,)).fetchall()
            recent_sources = self._db.execute(  # the last thousand answers: enough to rank, bounded in cost
                "SELECT sources FROM questions WHERE found = 1 AND sources != '[]' ORDER BY id DESC LIMIT 1000"
            ).fetchall()
            disliked = self._db.execute(_RATED + "WHERE f.value < 0 ORDER BY f.given_at DESC LIMIT ?",
                                        (top,)).fetchall()
        cited: Counter[str] = Counter()
        for (raw,) in recent_sources:
            cited.update({str(source.get("title") or source.get("source") or "") for source in _sources(raw)} - {""})
        return Stats(tuple((day, int(n), int(ok or 0)) for day, n, ok in per_day), int(questions), int(answered),
                     int(up), int(down), tuple((q, int(n)) for q, n in unanswered), tuple(cited.most_common(top)),
                     tuple(_rated(row) for row in disliked))


class RateLimiter:
    """At most `per_minute` questions per user in any sliding minute; idle users are forgotten."""

    def __init__(self, per_minute: int, clock: Any = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._asked: dict[int, deque[float]] = defaultdict(deque)
        self._warned: dict[int, float] = {}  # when each user was last told to slow down
        self._lock = threading.Lock()

    def first_refusal(self, user_id: int) -> bool:
        """Whether a user over the limit should be told so: once a minute, not once per message (a flood of
        refusals is itself a flood, and Telegram answers it with 429s that delay every other user)."""
        now = self._clock()
        with self._lock:
            for user in [u for u, when in self._warned.items() if when < now - 60]:
                del self._warned[user]
            if user_id in self._warned:
                return False
            self._warned[user_id] = now
            return True

    def allow(self, user_id: int) -> bool:
        now = self._clock()
        with self._lock:
            for user in [u for u, times in self._asked.items() if not times or times[-1] < now - 60]:
                del self._asked[user]  # keeps the table as small as the users of the last minute
            times = self._asked[user_id]
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            return True

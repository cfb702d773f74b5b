"""API keys, stored in the index as salted scrypt hashes (the ``api_keys`` table).

A key reads ``ssk_<id>_<secret>``: the id is public (``key list`` shows it, the server
finds the row by it) and the secret is 32 random bytes that are shown once and never
stored. A stolen index therefore holds no usable key, and checking a key costs one
scrypt only the first time the server sees it (afterwards a digest kept in memory
stands in for it, and is checked against the row still being there, so ``key remove``
takes effect on the next request).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from sceneseek.errors import SceneseekError, reporting_damage
from sceneseek.index.catalogue import Catalogue, check_schema, connect, database_path, has_index

Role = Literal["read", "admin"]
ROLES: tuple[Role, ...] = ("read", "admin")
PREFIX = "ssk"
# scrypt at n=2**14, r=8 costs ~50 ms and 16 MiB: slow for guessing, fine once per key.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
# What `add` makes: 4 random bytes of id in hex, 32 of secret in URL-safe base64.
KEY_FORMAT = re.compile(rf"{PREFIX}_([0-9a-f]{{8}})_[A-Za-z0-9_-]{{43}}")


def key_id(key: str) -> str | None:
    """The id of a well-formed key; None for anything `add` could not have made, which
    is refused without a database lookup or a hash."""
    match = KEY_FORMAT.fullmatch(key)
    return match.group(1) if match else None


@dataclass(frozen=True)
class ApiKey:
    id: str
    role: Role
    name: str | None
    created: datetime


def _hash(key: str, salt: bytes) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, **SCRYPT)


@dataclass(frozen=True)
class StoredKey:
    """A key's row: its role, and the salt and scrypt hash of its secret."""

    role: Role
    salt: bytes
    hash: bytes


class KeyStore:
    """The keys of one index directory, over its own SQLite connection (the table sits
    in the index so keys travel with it, but checking one never loads the vectors)."""

    def __init__(self, db: Path) -> None:
        if not has_index(db):
            Catalogue(db).close()  # creates the schema
        path = database_path(db)
        self._db = connect(db)
        self._lock = threading.Lock()
        self._verified: dict[bytes, tuple[str | None, bytes]] = {}  # sha256(key) -> (id, hash)
        try:
            with reporting_damage(path):
                check_schema(self._db, path)
        except SceneseekError:
            self._db.close()
            raise

    def add(self, role: Role, name: str | None = None) -> str:
        """Create a key and return it; only its salted hash is stored."""
        if role not in ROLES:
            raise SceneseekError(f"role {role!r}: choose read or admin")
        key_id = secrets.token_hex(4)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_bytes(16)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    role,
                    name,
                    salt,
                    _hash(key, salt),
                    datetime.now().astimezone().isoformat(),
                ),
            )
        return key

    def entries(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, role, name, created FROM api_keys ORDER BY created"
            ).fetchall()
        return [ApiKey(r[0], r[1], r[2], datetime.fromisoformat(r[3])) for r in rows]

    def remove(self, key_id: str) -> bool:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM api_keys WHERE id = ?", (key_id,)).rowcount > 0

    def has_keys(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None

    def stored(self, key: str) -> StoredKey | None:
        """What the store holds for a presented key's id (one lookup, which
        ``known_role`` and ``role_of`` then share); None for a malformed key or an
        unknown id."""
        ident = key_id(key)
        if ident is None:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT role, salt, hash FROM api_keys WHERE id = ?", (ident,)
            ).fetchone()
        return None if row is None else StoredKey(row[0], row[1], row[2])

    def known_role(self, key: str, stored: StoredKey | None) -> Role | None:
        """The role of a key this store has verified before and that still exists;
        None otherwise. Never runs scrypt, so it may answer before any rate limit."""
        if stored is None:
            return None
        digest = hashlib.sha256(key.encode()).digest()
        return stored.role if self._verified.get(digest) == (key_id(key), stored.hash) else None

    def role_of(self, key: str, stored: StoredKey | None) -> Role | None:
        """The role of a presented key, or None when it is not (or no longer) valid.
        Costs one scrypt the first time a well-formed key with an existing id is seen."""
        if stored is None:
            return None
        if (known := self.known_role(key, stored)) is not None:
            return known
        if not hmac.compare_digest(_hash(key, stored.salt), stored.hash):
            return None
        self._verified[hashlib.sha256(key.encode()).digest()] = (key_id(key), stored.hash)
        return stored.role

    def close(self) -> None:
        with self._lock:
            self._db.close()

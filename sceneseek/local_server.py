"""How `sceneseek search` finds a `serve` running on the same index and lets it answer,
instead of loading the models itself (a cold search pays for the imports and the model
loads; the server has paid for them once).

``serve`` writes ``DB/serve.json`` as it starts: its pid, the loopback address and port
it answers on, the index directory, and a random token. The file is created mode 0600,
replaced atomically, and removed on a clean exit (only while it still holds this server's
token: a second server on the same index replaced it). A server bound to another
interface announces nothing, since loopback cannot reach it.

A search trusts the file only as far as it can check it: a regular file owned by this
user and readable by no one else, naming this very index directory, whose pid is alive.
It connects to loopback only, with a short connect timeout, presents the token (the
server answers a wrong or missing token, or a client not on loopback, with 403, keys or
no keys), and sends a fingerprint of its own configuration: a server started with other
settings answers 412 instead of other results. On anything but a 200 the caller gets
None and searches in-process, which prints the same results, and the same errors, as
before; so does a stale file, a dead server, or one that answers late.

Standard library only, imported where used: this module loads with every command.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ANNOUNCEMENT = "serve.json"
TOKEN_HEADER = "X-Sceneseek-Local"
SEARCH_PATH = "/api/local/search"
CONNECT_TIMEOUT_S = 0.5  # a live server on loopback accepts at once
ANSWER_TIMEOUT_S = 60.0  # a busy server (a long ingest holds no read lock) still answers
# Hosts a server may bind to and how loopback reaches each; other hosts announce nothing.
LOOPBACK_FOR = {
    "127.0.0.1": "127.0.0.1",
    "localhost": "127.0.0.1",
    "0.0.0.0": "127.0.0.1",
    "": "127.0.0.1",
    "::1": "::1",
    "::": "::1",
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Announcement:
    """What a running server tells CLI commands on this machine."""

    pid: int
    host: str  # a loopback address
    port: int
    db: str  # the index directory, resolved
    token: str


def announce(db: Path, host: str, port: int) -> Announcement | None:
    """Write ``DB/serve.json`` for a server about to listen on ``host:port``; None (and
    no file) when loopback cannot reach that interface."""
    if host not in LOOPBACK_FOR:
        return None
    announcement = Announcement(
        os.getpid(), LOOPBACK_FOR[host], port, str(db.resolve()), secrets.token_urlsafe(32)
    )
    partial = db / f".{ANNOUNCEMENT}.{os.getpid()}"
    try:
        partial.unlink(missing_ok=True)
        # Created 0600 from the start: the token never sits in a file others may read.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(announcement), file)
        partial.replace(db / ANNOUNCEMENT)
    except OSError as exc:  # searches load the models themselves, as without a server
        log.warning("%s: cannot announce this server to CLI searches: %s", db, exc)
        return None
    return announcement


def withdraw(db: Path, announcement: Announcement) -> None:
    """Remove ``DB/serve.json`` if it is still this server's."""
    if read_announcement(db) == announcement:
        (db / ANNOUNCEMENT).unlink(missing_ok=True)


def read_announcement(db: Path) -> Announcement | None:
    """The announcement of a live server on ``db``; None for no file, a file that is not
    this user's own and private, one written for another directory (a copied index), one
    that does not parse, or a server that is gone."""
    path = db / ANNOUNCEMENT
    try:
        status = os.lstat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.getuid():
            return None
        if status.st_mode & 0o077:
            return None
        announcement = Announcement(**json.loads(path.read_text()))
        if announcement.db != str(db.resolve()) or announcement.host not in LOOPBACK_FOR.values():
            return None
        os.kill(announcement.pid, 0)  # raises if no such process, or not ours
    except (OSError, ValueError, TypeError):
        return None
    return announcement


def search_request(
    db: Path, fingerprint: str, image: bytes | None, arguments: dict[str, Any]
) -> str:
    """The body of a local search: ``Library.search``'s keyword ``arguments``."""
    picture = base64.b64encode(image).decode() if image is not None else None
    asked = {"db": str(db.resolve()), "config": fingerprint, "image": picture, **arguments}
    return json.dumps(asked)


def ask_server(announcement: Announcement, body: str) -> dict[str, Any] | None:
    """The search response of the announced server, or None when it could not or would
    not answer (the caller then searches in-process)."""
    import http.client  # here: every other command, --help too, does without it

    connection = http.client.HTTPConnection(
        announcement.host, announcement.port, timeout=CONNECT_TIMEOUT_S
    )
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(ANSWER_TIMEOUT_S)
        headers = {"Content-Type": "application/json", TOKEN_HEADER: announcement.token}
        connection.request("POST", SEARCH_PATH, body.encode(), headers)
        reply = connection.getresponse()
        content = reply.read()
        if reply.status != 200:
            log.debug("serve pid %d answered %d; searching here", announcement.pid, reply.status)
            return None
        answer = json.loads(content)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.debug("serve pid %d did not answer (%s); searching here", announcement.pid, exc)
        return None
    finally:
        connection.close()
    log.debug("answered by serve pid %d on port %d", announcement.pid, announcement.port)
    return answer if isinstance(answer, dict) else None

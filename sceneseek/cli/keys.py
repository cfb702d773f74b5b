"""API keys for `serve`."""

import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from sceneseek.cli.common import DbOption, err, fail, out

if TYPE_CHECKING:
    from sceneseek.index.keys import KeyStore, Role


@contextmanager
def _keys(db: Path) -> Iterator["KeyStore"]:
    """The key table of ``db`` for one command, errors (a damaged database too) as one line."""
    from sceneseek.errors import SceneseekError, reporting_damage
    from sceneseek.index.catalogue import database_path
    from sceneseek.index.keys import KeyStore

    try:
        with closing(KeyStore(db)) as keys, reporting_damage(database_path(db)):
            yield keys
    except SceneseekError as exc:
        raise fail(str(exc)) from None


def key_add(
    db: DbOption,
    role: Annotated[str, typer.Option(help="read: search and view; admin: also change")] = "read",
    name: Annotated[str | None, typer.Option(help="who or what uses it")] = None,
) -> None:
    """Create a key and print it once; it cannot be shown again."""
    from sceneseek.index.keys import ROLES

    if role not in ROLES:
        raise fail(f"--role {role!r}: choose {' or '.join(ROLES)}")
    with _keys(db) as keys:
        key = keys.add(cast("Role", role), name)
    sys.stdout.write(key + "\n")
    err.print(f"{role} key {key.split('_')[1]} added; store it now, it is not kept")


def key_list(db: DbOption) -> None:
    """Keys by id, role and name (the keys themselves are not stored)."""
    from rich.table import Table

    with _keys(db) as keys:
        listed = keys.entries()
    table = Table("id", "role", "name", "created", title_justify="left")
    for key in listed:
        table.add_row(key.id, key.role, key.name or "", key.created.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


def key_remove(
    key_id: Annotated[str, typer.Argument(help="key id (see `key list`)")], db: DbOption
) -> None:
    """Revoke a key; a running server refuses it from the next request."""
    with _keys(db) as keys:
        removed = keys.remove(key_id)
    if not removed:
        raise fail(f"no key with id {key_id}")
    out.print(f"removed key {key_id}")

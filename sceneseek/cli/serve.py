"""The HTTP API and web UI over one index, announced to CLI searches on this machine."""

from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import DbOption, ModalitiesOption, config_for, err, fail


def serve(
    db: DbOption,
    host: Annotated[
        str, typer.Option(help="interface to listen on (0.0.0.0 exposes the index to the network)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    ingest_root: Annotated[
        list[Path] | None,
        typer.Option(
            "--ingest-root",
            help="API ingest reads only files inside these folders (repeatable);"
            " default: the current folder",
        ),
    ] = None,
    modalities: ModalitiesOption = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="let pages from this origin call the API (repeatable)"),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and web UI over the same Library.
    Beyond loopback it refuses to start without an API key (`sceneseek key add`)."""
    import uvicorn

    from sceneseek.api import ApiSettings, create_app
    from sceneseek.api.access import is_loopback
    from sceneseek.errors import PathError, SceneseekError
    from sceneseek.index.keys import KeyStore
    from sceneseek.library import Library
    from sceneseek.local_server import announce, withdraw
    from sceneseek.paths import user_path

    library = Library(db, config_for(modalities))
    try:
        library.index_store  # noqa: B018 - creates or checks the index before the key table
        keys = KeyStore(db)
    except SceneseekError as exc:
        library.close()
        raise fail(str(exc)) from None
    exposed = not is_loopback(host)
    if exposed and not keys.has_keys():
        keys.close()
        library.close()
        raise fail(
            f"--host {host} exposes the index beyond this machine: add an API key first "
            f"(sceneseek key add --db {db} --role admin)"
        )
    # Never unconfined: an API client that may ingest must not be able to crawl the disk.
    try:
        roots = tuple(user_path(root).resolve() for root in ingest_root or [Path.cwd()])
    except PathError as exc:
        keys.close()
        library.close()
        raise fail(f"--ingest-root: {exc}") from None
    if missing := [str(root) for root in roots if not root.is_dir()]:
        keys.close()
        library.close()
        raise fail(f"--ingest-root: no such folder: {', '.join(missing)}")
    announcement = announce(db, host, port)
    settings = ApiSettings(
        ingest_roots=roots,
        keys=keys,
        require_keys=exposed,
        cors_origins=tuple(cors_origin or ()),
        announcement=announcement,
    )
    try:
        api = create_app(library, settings)
        err.print(f"sceneseek: http://{host}:{port}/ (API docs at /docs) over {db}")
        err.print(f"ingest from: {', '.join(map(str, roots))} (--ingest-root to change)")
        # Logging is configured already (--log-format); the app writes the access log.
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)
    except SceneseekError as exc:
        raise fail(str(exc)) from None
    finally:
        if announcement:  # the app withdraws it on shutdown; this covers a failed start
            withdraw(db, announcement)
        keys.close()
        library.close()

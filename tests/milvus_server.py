"""A real Milvus standalone server (the `milvus` wheel's ``milvus-server``) for tests.

The server binds about ten ports on every interface, so it runs inside a network
namespace made for it (we run as root; where ``ip netns`` is refused the fixture fails,
it never skips). The client stays in the test process: a small relay, started inside the
namespace too, joins a Unix socket on the file system (which namespaces do not
separate) to the server's gRPC port, and pymilvus connects to ``unix:<socket>``: the
same client code as ``http://host:19530``, without moving pytest into the namespace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

GRPC_PORT = 19530
START_TIMEOUT = 180.0  # seconds; it usually answers after 15-30

RELAY = """
import asyncio, sys

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

async def handle(reader, writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, server_writer), pipe(server_reader, writer),
                         return_exceptions=True)

async def main():
    async with await asyncio.start_unix_server(handle, sys.argv[1]) as server:
        await server.serve_forever()

asyncio.run(main())
"""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


@contextmanager
def milvus_server(data: Path) -> Iterator[str]:
    """Start ``milvus-server --data DATA`` in a fresh network namespace; yield the URI
    to reach it; stop everything in the namespace and delete it, whatever happened."""
    from pymilvus import MilvusClient

    namespace = f"sceneseek-{uuid.uuid4().hex[:8]}"
    socket = data / "milvus.sock"
    _ip("netns", "add", namespace)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        server_bin = Path(sys.executable).parent / "milvus-server"
        log = (data / "server.log").open("wb")
        processes.append(
            subprocess.Popen(
                ["ip", "netns", "exec", namespace, str(server_bin), "--data", str(data / "db")],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        processes.append(
            subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    namespace,
                    sys.executable,
                    "-c",
                    RELAY,
                    str(socket),
                    str(GRPC_PORT),
                ],
                start_new_session=True,
            )
        )
        uri = f"unix:{socket}"
        _wait_ready(uri, processes[0], data / "server.log", MilvusClient)
        yield uri
    finally:
        for process in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        _stop_namespace(namespace, processes)


def _wait_ready(uri: str, server: subprocess.Popen[bytes], log: Path, client: type) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(
                f"milvus-server exited ({server.returncode}): {log.read_text()[-2000:]}"
            )
        try:
            connection = client(uri=uri, timeout=5)
            connection.list_collections()
            connection.close()
            return
        except Exception as exc:  # noqa: BLE001 - not up yet: any client error means retry
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"milvus-server not ready after {START_TIMEOUT} s: {exc}"
                ) from exc
            time.sleep(1)


def _stop_namespace(namespace: str, processes: list[subprocess.Popen[bytes]]) -> None:
    """Everything still running in our namespace was started by us: end it, then
    delete the namespace."""
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    left = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    for pid in left.stdout.split():
        with suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "delete", namespace], check=False)

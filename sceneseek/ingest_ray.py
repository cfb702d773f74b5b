"""Distributed ingest: decoding and encoding of a batch fanned out over a Ray cluster.

Each worker is a long-lived Ray actor holding its own ``Encoders``, so the models load
once per worker, not once per video. The driver (``ingest.Ingest``) still hashes, probes
and skips unchanged files, and stays the index's only writer: workers return ``Analysed``
records (their numpy vectors travel through Ray's object store), which the driver stores
as they complete, in any order. Ray is optional (``pip install 'sceneseek[ray]'``) and
imported only here, on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from sceneseek.config import Config
from sceneseek.encoders.zones import Zone
from sceneseek.errors import SceneseekError
from sceneseek.ingest import Analysed, Encoders, PendingVideo, analyse_or_fail
from sceneseek.media.decode import MediaInfo


@dataclass(frozen=True)
class RayCluster:
    """Where ingest runs. ``address`` of a running cluster ("auto", "HOST:6379",
    "ray://HOST:10001"), or None to start a private one on this machine, bound to
    127.0.0.1 and gone when the batch is done. ``workers``: how many actors (each holds
    every enabled model); default one per CPU of the cluster."""

    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise SceneseekError(f"Ray workers must be at least 1, got {self.workers}")


class IngestWorker:
    """One Ray actor: the configured encoders, loaded once, analysing file after file."""

    def __init__(self, config: Config) -> None:
        import torch

        torch.set_num_threads(config.threads)
        self.config = config
        self.encoders = Encoders(config)

    def versions(self) -> dict[str, str]:
        """Encoder name@version per role; loads every enabled model (so it happens at
        start-up, on all workers at once, and a node with other models is caught)."""
        return self.encoders.versions()

    def analyse(self, info: MediaInfo, zones: tuple[Zone, ...]) -> Analysed:
        return analyse_or_fail(info, self.config, self.encoders, zones)


def analyse_on_ray(
    pending: Iterable[PendingVideo],
    config: Config,
    cluster: RayCluster,
    versions: dict[str, str],
) -> Iterator[tuple[PendingVideo, Analysed]]:
    """Analyse every pending file on the cluster's workers and yield each with its
    result as soon as it is done. ``versions`` are the driver's encoders; a worker whose
    models differ (another install on that node) stops the batch before any work."""
    jobs = list(pending)
    if not jobs:
        return  # nothing changed: no cluster to start
    ray, started_here = connect(cluster)
    actors: list[Any] = []
    try:
        actors = _start_workers(ray, config, cluster, len(jobs))
        try:
            loaded = ray.get([actor.versions.remote() for actor in actors])
        except ray.exceptions.RayError as exc:
            raise SceneseekError(f"Ray workers could not load the models: {exc}") from None
        for found in loaded:
            if found != versions:
                raise SceneseekError(
                    f"a Ray worker has other encoders than this machine ({found} vs "
                    f"{versions}); install the same sceneseek on every node"
                )
        idle, running = list(actors), {}
        queue = iter(jobs)
        while True:
            while idle and (job := next(queue, None)) is not None:
                actor = idle.pop()
                # Workers run in other directories, or on other machines sharing the files.
                info = replace(job.info, path=job.info.path.absolute())
                running[actor.analyse.remote(info, job.zones)] = (job, actor)
            if not running:
                return
            [ready], _ = ray.wait(list(running), num_returns=1)
            job, actor = running.pop(ready)
            idle.append(actor)
            yield job, _result(ray, ready)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()


def connect(cluster: RayCluster) -> tuple[ModuleType, bool]:
    """The ray module, connected; True when this call connected (and must disconnect).
    A program that already connected (``ray.init`` or this) keeps its connection, and
    ingest batches then reuse it (a local cluster is started once, not per batch)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    if cluster.address is None:
        # Ray's switch for a single-machine cluster on 127.0.0.1 (read when ray is first
        # imported); without it every Ray process listens on the machine's public address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise SceneseekError(
            "--ray needs Ray: pip install 'sceneseek[ray]' (the same version on every node)"
        ) from None
    if ray.is_initialized():
        return ray, False
    if cluster.address is None and ray.util.get_node_ip_address() != "127.0.0.1":
        raise SceneseekError(
            "ray was imported before sceneseek could keep a local cluster on 127.0.0.1: "
            "call ray.init() yourself first (ingest then uses that connection), or set "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing ray"
        )
    try:
        ray.init(
            address=cluster.address,
            include_dashboard=False,
            log_to_driver=False,  # failures come back as results; model chatter stays out
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SceneseekError(f"cannot connect to Ray at {cluster.address}: {exc}") from None
    return ray, True


def _start_workers(ray: ModuleType, config: Config, cluster: RayCluster, jobs: int) -> list[Any]:
    """Actors sharing the cluster's CPUs evenly; each runs its models on its share of
    threads so that workers on one node do not oversubscribe its cores."""
    cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1)))
    wanted = cluster.workers or int(cpus)
    count = min(wanted, jobs)
    share = cpus / wanted
    threads = max(1, int(share))
    worker_config = config.model_copy(update={"threads": threads})
    actor_class = ray.remote(IngestWorker).options(
        num_cpus=share if share < 1 else int(share),  # Ray takes whole CPUs above one
        max_restarts=3,  # a worker killed mid-video (out of memory) comes back for the next
        runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}},
    )
    return [actor_class.remote(worker_config) for _ in range(count)]


def _result(ray: ModuleType, ref: Any) -> Analysed:
    """A worker's answer; a worker lost mid-video fails that video, not the batch."""
    try:
        result: Analysed = ray.get(ref)
    except ray.exceptions.RayError as exc:
        return Analysed(failure=f"Ray worker lost: {type(exc).__name__}: {exc}")
    return result

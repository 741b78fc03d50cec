"""Where a partitioned send runs: the Dask client, the endpoint every worker can reach, the
quota's scope, and the shared directories, probed from every worker before anything is sent.

Usage (what :func:`toolkit.cluster.run.send_partitioned` does)::

    with connected(client) as (dask_client, local), endpoint_for(options, local) as where:
        ...
        check_directories(dask_client, ddf, job)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import pickle
import uuid
from collections.abc import Iterator
from typing import Any

from toolkit.errors import ConfigurationError
from toolkit.job import default_target
from toolkit.options import SendOptions
from toolkit.targets import AwsTarget, Quota, SmtpTarget, Target, is_loopback_host
from toolkit.transports.registry import TransportKind

__all__ = ["check_directories", "connected", "endpoint_for", "scope_of"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def connected(client: Any) -> Iterator[tuple[Any, bool]]:
    """The Dask client to use, and whether every worker is on this machine (loopback), so
    that a sandbox started here can serve them. With no client: a LocalCluster of worker
    processes, one per CPU, started here and closed at the end."""
    from distributed import Client, LocalCluster

    if isinstance(client, Client):
        yield client, _on_this_machine(client)
        return
    if isinstance(client, str):
        with Client(client) as connected:
            yield connected, _on_this_machine(connected)
        return
    if client is not None:
        raise ConfigurationError(
            "client= takes a distributed.Client, a scheduler address or None, "
            f"not {type(client).__name__}"
        )
    cluster = LocalCluster(
        n_workers=max(1, os.cpu_count() or 1), threads_per_worker=1, processes=True,
        host="127.0.0.1", dashboard_address="127.0.0.1:0",
    )  # fmt: skip
    try:
        with Client(cluster) as local:
            yield local, True
    finally:
        cluster.close()


def _on_this_machine(client: Any) -> bool:
    workers = client.scheduler_info().get("workers", {})
    hosts = {address.split("://")[-1].rsplit(":", 1)[0] for address in workers}
    return bool(hosts) and all(is_loopback_host(host) for host in hosts)


@contextlib.contextmanager
def endpoint_for(
    options: SendOptions, local: bool
) -> Iterator[tuple[AwsTarget | SmtpTarget | None, Quota | None, str, Target | None]]:
    """Where the workers send (a plain, picklable target), the quota read once here, where
    that is in words, and the target itself (a sandbox's mailbox is read here, on the
    client); with no target, the one default (an embedded sandbox)."""
    if options.dry_run:
        yield None, None, "none (dry run: nothing was sent)", None
        return
    if options.target is None and not local:
        raise ConfigurationError(
            "give target=: the workers are not all on this machine, so they need an "
            "endpoint they can all reach (an embedded sandbox listens on 127.0.0.1 only)"
        )
    with default_target(options.target) as (target, where):
        kind = options.kind
        yield shippable(target.resolve(kind)), target.quota(kind), where, target


def shippable(endpoint: AwsTarget | SmtpTarget) -> AwsTarget | SmtpTarget:
    """A copy of the endpoint that pickles to the workers (no session or client inside)."""
    if isinstance(endpoint, AwsTarget) and (endpoint.session or endpoint.client) is not None:
        raise ConfigurationError(
            "an AwsTarget with a ready session= or client= cannot travel to Dask workers; "
            "give region/profile/credentials instead"
        )
    clean = dataclasses.replace(endpoint)
    try:
        pickle.dumps(clean)
    except Exception as exc:  # a target that cannot travel is a setting to fix
        raise ConfigurationError(f"the target cannot be sent to the workers: {exc}") from exc
    return clean


def scope_of(kind: TransportKind, endpoint: AwsTarget | SmtpTarget | None) -> str:
    """The quota's scope: one provider account and endpoint (no secret goes into it)."""
    if isinstance(endpoint, AwsTarget):
        parts: tuple[Any, ...] = ("aws", endpoint.region, endpoint.endpoint_url,
                                  endpoint.profile, endpoint.access_key_id)  # fmt: skip
    elif isinstance(endpoint, SmtpTarget):
        parts = ("smtp", endpoint.host, endpoint.port, endpoint.username)
    else:
        parts = ("dry-run",)
    return hashlib.sha256(repr((kind.endpoint, *parts)).encode()).hexdigest()[:16]


def check_directories(client: Any, ddf: Any, job: Any) -> None:
    """Every worker must open (and share) the directories; ledgers already there must be
    this frame's partitions (a resume with other partitions could send rows twice); a file
    where a partition's results go must be toolkit results, never another program's file."""
    from toolkit.cluster.partition import IDENTITY_META, identity_frame
    from toolkit.cluster.storage import foreign_results, probe

    paths = [job.out_dir, *([job.ledger_dir] if job.ledger_dir else [])]
    token = uuid.uuid4().hex[:8]
    written = client.run(probe, "write", paths, token, job.ledger_dir)
    if not written:
        raise ConfigurationError("the Dask cluster has no workers")
    try:
        for worker, answer in written.items():
            if "error" in answer:
                raise ConfigurationError(
                    f"worker {worker} cannot use {' and '.join(paths)}: {answer['error']} "
                    "(the output and ledger directories must be storage every worker can write)"
                )
        names = {answer["name"] for answer in written.values()}
        seen = client.run(probe, "see", paths, token, job.ledger_dir)
        for worker, answer in seen.items():
            if "error" in answer:
                raise ConfigurationError(f"worker {worker} cannot list {' and '.join(paths)}: "
                                         f"{answer['error']}")  # fmt: skip
            for folder, found in answer["probes"].items():
                if not names <= set(found):
                    raise ConfigurationError(
                        f"worker {worker} does not see the other workers' files in {folder}: "
                        "the output and ledger directories must be shared storage (the same "
                        "path on every machine)"
                    )
        worker, listing = next(iter(seen.items()))
        existing = listing.get("ledgers", [])
        results = listing.get("results", [])
    finally:
        client.run(probe, "clean", paths, token, job.ledger_dir)
    if job.dry_run:
        existing = []
    if not existing and not results:
        return
    ids = client.compute(ddf.map_partitions(identity_frame, job, meta=IDENTITY_META)).result()
    mine = set(ids["identity"].astype(str))
    colliding = sorted(set(results) & mine)
    if colliding:
        foreign = client.run(foreign_results, job.out_dir, colliding, workers=[worker])[worker]
        if foreign:
            more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
            raise ConfigurationError(
                f"{job.out_dir} already holds {foreign[0]}{more}, which is not a toolkit "
                "results file, where a partition's results go: move it, or give another out="
            )
    stray = sorted(set(existing) - mine)
    if stray:
        raise ConfigurationError(
            f"the ledger directory {job.ledger_dir} holds {len(stray)} partition ledger(s) that "
            "match no partition of this frame: they are another frame's (another run into the "
            "same out=: give this one its own out= or ledger=), or this frame's partitions "
            "changed since the run that wrote them (other files, columns or partition sizes) "
            "and rows sent then could be sent again (resume with the same frame)."
        )

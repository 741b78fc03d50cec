"""The sweep: users' actions of issue 16 replayed against the embedded sandbox, counted from
ground truth (the sandbox's mailbox) — duplicates, lost results, false ``sent`` rows.

Run ``python -m benchmarks.sweep`` (about 400 cases) or ``--quick`` (about 40); not part of
the test run. ``ground`` counts one case, ``world`` is what a case acts on (a directory, a
sandbox, the CLI with real signals), ``cli_families`` and ``api_families`` the stories.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from benchmarks.sweep.cases import Case

QUICK_PER_FAMILY = 4


@contextlib.contextmanager
def all_cases(*, quick: bool = False, only: tuple[str, ...] = (), dask: bool = True,
              cluster: bool = True) -> Iterator[list[Case]]:  # fmt: skip
    """The sweep's cases (``quick``: a few drawn from each family, no Dask); a LocalCluster
    of two worker processes lives while the block runs when a Dask case is chosen (and
    ``cluster``: listing needs none)."""
    from benchmarks.sweep import api_families as api
    from benchmarks.sweep import cli_families as cli

    families = [cli.reexport_cases(), cli.content_cases(), cli.interrupt_cases(),
                cli.refused_cases(), cli.input_cases(), cli.stall_cases(),
                api.api_reexport_cases(), api.fault_cases(), api.background_cases(),
                api.foreign_cases()]  # fmt: skip
    wants_disk = not only or any(o.startswith("disk") or "disk/".startswith(o) for o in only)
    if wants_disk and cli.small_disk_works():
        families.append(cli.disk_cases())
    chosen: list[Case] = []
    for family in families:
        chosen += _pick(list(family), quick, only)
    client = None
    if dask and not quick:
        dask_cases = _pick(list(api.partitioned_cases(None)), quick, only)
        if dask_cases and not cluster:
            chosen += dask_cases
        elif dask_cases:
            client = _local_cluster()
            chosen += _pick(list(api.partitioned_cases(client)), quick, only)
    try:
        yield chosen
    finally:
        if client is not None:
            local = client.cluster
            client.close()
            local.close()


def _pick(cases: list[Case], quick: bool, only: tuple[str, ...]) -> list[Case]:
    if only:
        return [c for c in cases if c.name.startswith(only)]
    if not quick or len(cases) <= QUICK_PER_FAMILY:
        return cases
    import random

    picked = sorted(random.Random(len(cases)).sample(range(len(cases)), QUICK_PER_FAMILY))
    return [cases[i] for i in picked]


def _local_cluster() -> Any:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                           host="127.0.0.1", dashboard_address=None)  # fmt: skip
    return Client(cluster)

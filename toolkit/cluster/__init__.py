"""Beyond one process: a partitioned (Dask) frame sent on Dask workers, sharing one quota.

One job per module:

* :mod:`.run` – :func:`send_partitioned`, the entry point (the client side);
* :mod:`.connect` – the Dask client, the endpoint the workers reach, the shared directories;
* :mod:`.partition` – the task that sends one partition on a worker (compose, engine,
  transport and ledger as in a single-process send);
* :mod:`.pacer` – the worker side of the shared quota (the engine's pacer, the daily budget);
* :mod:`.service` – the scheduler side: a plugin that leases the rate and fences dead workers;
* :mod:`.quota` – the accounting both sides rely on (no Dask in it);
* :mod:`.storage` – ledgers, claims and result files on storage every worker sees;
* :mod:`.pool` – the run's transports, kept open on each worker across its partitions.

Dask is optional (``pip install "toolkit[dask]"``): importing this package does not import
it; calling :func:`send_partitioned` without it raises
:class:`~toolkit.errors.MissingDependencyError`.

Usage::

    from toolkit.cluster import send_partitioned
    done = send_partitioned(dd.read_parquet("recipients/"), via="ses", out="/mnt/nfs/run",
                            target=..., sender=..., subject=..., text=...)
"""

from toolkit.cluster.run import PartitionedResults, send_partitioned

__all__ = ["PartitionedResults", "send_partitioned"]

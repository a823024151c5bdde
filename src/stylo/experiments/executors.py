"""Where sweep cells run: in this process, in a process pool, or as tasks on a Ray cluster.

Each executor takes ``(fn, tasks, on_result)``, calls ``fn(task)`` for every task somewhere, and hands each
result to ``on_result`` in this process as soon as it arrives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

from stylo.errors import StyloError
from stylo.experiments.sweep import CellTask

Fn = Callable[[CellTask], dict[str, Any]]
OnResult = Callable[[dict[str, Any]], None]


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def sequential(fn: Fn, tasks: list[CellTask], on_result: OnResult) -> None:
    for task in tasks:
        on_result(fn(task))


def process_pool(workers: int) -> Callable[[Fn, list[CellTask], OnResult], None]:
    """A pool of ``workers`` processes, each with cores/workers threads so the cores are not oversubscribed."""

    def run(fn: Fn, tasks: list[CellTask], on_result: OnResult) -> None:
        threads = max(1, cpu_count() // workers)
        for task in tasks:
            task.threads = task.threads or threads
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for future in as_completed([pool.submit(fn, t) for t in tasks]):
                on_result(future.result())

    return run


def ray_executor(address: str | None = None, num_cpus: int | None = None
                 ) -> Callable[[Fn, list[CellTask], OnResult], None]:
    """Each cell a Ray task, with a GPU where the cluster has them; Ray is imported only here."""

    def run(fn: Fn, tasks: list[CellTask], on_result: OnResult) -> None:
        try:
            import ray
        except ImportError:
            raise StyloError("the ray executor needs Ray: pip install 'stylo[cluster]'") from None
        started = not ray.is_initialized()
        if started:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        try:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
            cpus = 1 if gpus else max(1, int(ray.cluster_resources().get("CPU", 1)) // max(1, len(tasks)))
            for task in tasks:
                task.threads = task.threads or cpus
            remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(fn)
            pending = [remote.remote(t) for t in tasks]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                on_result(ray.get(done[0]))
        finally:
            if started:
                ray.shutdown()

    return run


def make_executor(name: str, workers: int = 1, ray_address: str | None = None
                  ) -> Callable[[Fn, list[CellTask], OnResult], None]:
    if name == "ray":
        return ray_executor(ray_address, num_cpus=workers if workers > 1 else None)
    if name == "local":
        return sequential if workers <= 1 else process_pool(workers)
    raise StyloError(f"unknown executor {name!r}; choose local or ray")

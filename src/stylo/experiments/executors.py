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


def gpu_count() -> int:
    """CUDA devices, counted without initializing CUDA in this process (pool workers must do that)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"])
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA means no GPU workers
        return 0


def pool_size(cores: int, gpus: int) -> tuple[int, int]:
    """(workers, threads per worker) for ``--workers auto``: one worker per GPU; on CPUs one worker per
    4 cores (convolutions scale well up to about 4 threads), never more threads than cores in all."""
    if gpus > 0:
        return gpus, max(1, cores // gpus)
    workers = max(1, cores // 4)
    return workers, max(1, cores // workers)


def _pin_gpu(ids: Any) -> None:
    """Pool initializer: give this worker one GPU of its own before it touches CUDA."""
    os.environ["CUDA_VISIBLE_DEVICES"] = str(ids.get())


def sequential(fn: Fn, tasks: list[CellTask], on_result: OnResult) -> None:
    for task in tasks:
        on_result(fn(task))


def process_pool(workers: int, gpus: int = 0) -> Callable[[Fn, list[CellTask], OnResult], None]:
    """A pool of ``workers`` processes, each with cores/workers threads so the cores are not oversubscribed;
    with ``gpus``, worker i sees only GPU i."""

    def run(fn: Fn, tasks: list[CellTask], on_result: OnResult) -> None:
        threads = max(1, cpu_count() // workers)
        for task in tasks:
            task.threads = task.threads or threads
        ctx = get_context("spawn")
        init: dict[str, Any] = {}
        if gpus:
            ids = ctx.Queue()
            for i in range(workers):
                ids.put(i % gpus)
            init = {"initializer": _pin_gpu, "initargs": (ids,)}
        pool = ProcessPoolExecutor(workers, mp_context=ctx, **init)
        try:
            for future in as_completed([pool.submit(fn, t) for t in tasks]):
                on_result(future.result())
        except BaseException:  # Ctrl-C, SIGTERM, a broken worker: stop the cells under way, start no more
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()

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


def make_executor(name: str, workers: int | str = 1, ray_address: str | None = None
                  ) -> Callable[[Fn, list[CellTask], OnResult], None]:
    """``local`` with ``workers`` 1: this process; N: a process pool; ``"auto"``: sized to cores and GPUs."""
    gpus = 0
    if workers == "auto":
        gpus = gpu_count()
        workers = pool_size(cpu_count(), gpus)[0]
    workers = int(workers)
    if name == "ray":
        return ray_executor(ray_address, num_cpus=workers if workers > 1 else None)
    if name == "local":
        return sequential if workers <= 1 and not gpus else process_pool(workers, gpus)
    raise StyloError(f"unknown executor {name!r}; choose local or ray")

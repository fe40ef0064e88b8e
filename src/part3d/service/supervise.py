"""Worker processes and their supervision: one Huey consumer process per worker (one job at a
time each), restarted when it dies; jobs whose worker died run again once their lease runs
out (``jobs.reap``). ``STATE`` is what ``/healthz`` reports."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

log = logging.getLogger("part3d.workers")


@dataclass
class WorkerState:
    expected: int = 0
    alive: int = 0
    restarts: int = 0
    last_reap: float = 0.0

    def report(self) -> dict:
        return {"expected": self.expected, "alive": self.alive, "restarts": self.restarts}


STATE = WorkerState()


class Supervisor:
    """Starts ``count`` consumer processes and keeps them running until ``stop``."""

    def __init__(self, count: int, parent: int | None, interval: float = 1.0) -> None:
        self.count = max(1, count)
        self.parent = parent
        self.interval = interval
        self.context = multiprocessing.get_context("spawn")
        self.processes: list = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True, name="supervisor")
        # This machine's entry in the shared records (see _heartbeat).
        self.machine = socket.gethostname()
        self.worker_id = f"{self.machine}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.last_beat = -1e9

    def _start(self, index: int):
        proc = self.context.Process(
            target=run_consumer,
            args=(self.parent, index == 0),
            name=f"part3d-worker-{index}",
        )
        proc.start()
        return proc

    def start(self) -> None:
        self.processes = [self._start(i) for i in range(self.count)]
        STATE.expected, STATE.alive = self.count, self.count
        self.thread.start()

    def _watch(self) -> None:
        from part3d.service.config import config
        from part3d.service.jobs import reap
        from part3d.service.queue import process

        lease = config().lease_s
        while not self.stopping.wait(self.interval):
            for i, proc in enumerate(self.processes):
                if not proc.is_alive() and not self.stopping.is_set():
                    log.warning(
                        "worker %s died (exit code %s); starting a new one", i, proc.exitcode
                    )
                    STATE.restarts += 1
                    self.processes[i] = self._start(i)
            STATE.alive = sum(p.is_alive() for p in self.processes)
            self._heartbeat()
            now = time.monotonic()
            if now - STATE.last_reap >= min(lease / 3, 5.0):
                STATE.last_reap = now
                try:
                    reap(process)
                except Exception:  # noqa: BLE001 - the next pass tries again
                    log.exception("reaping dead workers' jobs failed")

    def _heartbeat(self) -> None:
        """Record this machine's workers in the shared records (for every front door's
        /metrics), every few seconds."""
        now = time.monotonic()
        if now - self.last_beat < 5.0:
            return
        self.last_beat = now
        try:
            from part3d.service.config import store

            store().worker_seen(self.worker_id, self.machine, self.count, STATE.alive)
        except Exception:  # noqa: BLE001 - the next beat tries again
            log.warning("recording this machine's workers failed")

    def stop(self) -> None:
        self.stopping.set()
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            proc.join(10)


def run_consumer(parent: int | None, periodic: bool) -> None:
    """One worker process: a Huey consumer with one job thread, under the job memory cap.
    With ``parent`` (the process id of `serve` or `worker`), it ends when that process does."""
    import resource

    from part3d.service.config import config

    if parent is not None:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()

    cap = config().job_memory
    if cap > 0:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    from part3d.pipeline import warm_up
    from part3d.service.observe import setup_logging
    from part3d.service.queue import huey

    setup_logging()
    # Import and start up now what jobs use, so that the first job does not pay for it.
    import part3d.io.fbx.writer  # noqa: F401
    import part3d.io.meshes  # noqa: F401
    import part3d.service.jobs  # noqa: F401

    warm_up()
    # Poll the queue often (at most every 0.1 s): a job should start at once, not after
    # Huey's default idle back-off of up to 10 s.
    huey.create_consumer(
        workers=1,
        worker_type="thread",
        periodic=periodic,
        initial_delay=0.05,
        backoff=1.2,
        max_delay=0.1,
    ).run()

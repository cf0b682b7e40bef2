"""The worker process: reconcile once, then run RQ jobs, reconcile every minute and long-poll
Telegram bots that have no webhook.

RQ's scheduler (it moves jobs made with `enqueue_at` to the queue when they are due: snooze
wake-ups, delivery retries) runs as a thread of this process: RQ forks a process for it, which
costs ~76 MB of resident memory on a host whose whole stack must stay under 300 MB.
"""

import logging
import threading
import time

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

from jobs import QUEUE, set_app
from jobs.reconcile import reconcile, reconcile_channels
from jobs.telegram_poll import run_poller

log = logging.getLogger(__name__)

RECONCILE_EVERY = 60  # seconds
RESTART_PAUSE = 5  # seconds between attempts while Redis is away
SCHEDULER_SOCKET_TIMEOUT = 5  # seconds; the scheduler's commands are quick, none blocks
SCHEDULER_JOIN_TIMEOUT = 5  # seconds the worker waits for the scheduler thread when it stops


class ThreadScheduler(RQScheduler):
    """RQ's scheduler run by a thread of the worker instead of a forked process (memory).

    `start()` stores the thread as `_process`, so RQ's maintenance (which restarts the scheduler
    when `_process.is_alive()` is false) works unchanged. The loop is RQScheduler.work's without
    its signal handlers (only the main thread may install them) and with a sleep that a stop
    request cuts short. Redis going away ends the thread; the worker's maintenance starts it
    again once Redis is back and the lock is ours.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the worker's socket timeout is raised above its blocking dequeue (70 s): a thread that
        # must stop within a second can't wait that long on a Redis that stopped answering
        self._pool_kwargs = {**self._pool_kwargs, "socket_timeout": SCHEDULER_SOCKET_TIMEOUT}
        self._wake = threading.Event()

    def start(self) -> threading.Thread:
        self._status = self.Status.STARTED
        self._stop_requested = False
        self._wake.clear()
        self._process = threading.Thread(target=self._run, name="rq-scheduler", daemon=True)
        self._process.start()
        return self._process

    def request_stop(self, signum=None, frame=None) -> None:
        self._stop_requested = True
        self._wake.set()

    def _install_signal_handlers(self) -> None:
        """Never from a thread (signal.signal raises there); the worker handles SIGTERM and Ctrl-C."""

    def _run(self) -> None:
        self.log.info("Scheduler for %s started in a thread", ", ".join(self._queue_names))
        try:
            self.register_birth()
            while not self._stop_requested:
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                self._wake.wait(self.interval)
            self.stop()  # releases the locks, removes its entry
        except RedisError as exc:
            self.log.warning("Scheduler stopped, Redis unavailable (%s): the worker will start it again", exc)
        except Exception:  # a bug must not go unseen; the worker's maintenance starts a new thread
            self.log.exception("Scheduler stopped on an error")
        else:
            self.log.info("Scheduler thread has stopped")

    def stop_thread(self, timeout: float = SCHEDULER_JOIN_TIMEOUT) -> None:
        self.request_stop()
        thread = self._process
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class OknoWorker(SimpleWorker):
    """A SimpleWorker that remembers it was asked to stop (SIGTERM, Ctrl-C), so the loop ends,
    and runs RQ's scheduler in a thread (ThreadScheduler) rather than a process of its own."""

    stopping = False

    def request_stop(self, signum, frame):
        self.stopping = True
        super().request_stop(signum, frame)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ):
        """RQ's own, with ThreadScheduler: one scheduler per queue across workers (RQ's lock);
        in burst mode it enqueues what is due once and starts no thread."""
        self.scheduler = ThreadScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def stop_scheduler(self):
        """Stop the scheduler thread (RQ's would send SIGTERM to a process)."""
        self.scheduler.stop_thread()


def _reconcile_safely() -> None:
    for step in (reconcile, reconcile_channels):
        try:
            step()
        except Exception:  # the loop must outlive one bad round (a locked database, a bug)
            log.exception("%s failed", step.__name__)


def _reconcile_loop(stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        _reconcile_safely()


def run_worker(app: Flask, burst: bool = False, reconcile_every: float = RECONCILE_EVERY) -> None:
    """Work the "okno" queue until asked to stop; survives Redis going away and coming back.

    SimpleWorker runs jobs in this process (no fork per job): the app, its engine and its
    connection pool are built once, and a job costs no process start-up.
    """
    set_app(app)
    _reconcile_safely()
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_reconcile_loop, args=(stop, reconcile_every), daemon=True).start()
        # Telegram bots without a webhook are long-polled from here: a process of their own
        # would cost as much memory as this one (`flask telegram-poll` remains for that)
        threading.Thread(target=run_poller, args=(app,), kwargs={"stop": stop}, daemon=True).start()
    try:
        while True:
            # a connection of its own: RQ raises its socket timeout above the blocking dequeue's
            redis = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=1)
            worker = OknoWorker(
                [Queue(QUEUE, connection=redis)],
                connection=redis,
                # wait for jobs a minute at a time, so the scheduler that Redis going away took
                # down is started again within a minute or two, not RQ's default ten
                worker_ttl=int(reconcile_every) + 15,
                maintenance_interval=int(reconcile_every),
            )
            try:
                worker.work(burst=burst, with_scheduler=True)
            except RedisError as exc:
                log.warning("worker: Redis unavailable (%s), starting again in %ss", exc, RESTART_PAUSE)
            else:
                # work() also returns when it gave up on an error (Redis lost mid-loop)
                if burst or worker.stopping:
                    return
            time.sleep(RESTART_PAUSE)
    finally:
        stop.set()

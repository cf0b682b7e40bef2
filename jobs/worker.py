"""The worker process: reconcile once, then run RQ jobs (with the scheduler), reconcile every
minute and long-poll Telegram bots that have no webhook."""

import logging
import threading
import time

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from jobs import QUEUE, set_app
from jobs.reconcile import reconcile, reconcile_channels
from jobs.telegram_poll import run_poller

log = logging.getLogger(__name__)

RECONCILE_EVERY = 60  # seconds
RESTART_PAUSE = 5  # seconds between attempts while Redis is away


class OknoWorker(SimpleWorker):
    """A SimpleWorker that remembers it was asked to stop (SIGTERM, Ctrl-C), so the loop ends."""

    stopping = False

    def request_stop(self, signum, frame):
        self.stopping = True
        super().request_stop(signum, frame)


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

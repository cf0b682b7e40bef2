"""RQ's scheduler as a thread of the worker (jobs/worker.py): jobs made with `enqueue_at` reach the
queue when due, with no process forked for it (RQ's own scheduler is a process of ~76 MB).

The worker runs as production runs it, `flask --app app okno-worker` in a process of its own, on
the test's SQLite copy and Redis; its child processes are read from /proc.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.exceptions import SchedulerNotFound
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from extensions import db
from jobs.worker import OknoWorker, ThreadScheduler
from models import Conversation
from models.base import utcnow
from services import conversations as conv_svc
from tests.conftest import free_port
from tests.factories import make_conversation, make_user

ROOT = Path(__file__).resolve().parents[1]
LOCK_KEY = RQScheduler.get_locking_key("okno")


def children(pid: int) -> set[int]:
    """The processes `pid` has forked and not yet reaped (any of its threads)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:  # a thread that just ended
            pass
    return found


def wait_for(condition, timeout: float, every: float = 0.1, also=None):
    """Poll `condition` until it is true (returned) or `timeout` seconds pass (AssertionError).

    `also` runs on every round: a check that must hold all along (no child process).
    """
    deadline = time.monotonic() + timeout
    while True:
        if also is not None:
            also()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(every)


class WorkerProcess:
    """The worker command in a subprocess, its output in a log file for a failing test to show."""

    def __init__(self, app, log_path: Path, args: list[str]):
        self.redis_url = app.config["REDIS_URL"]
        self.log_path = log_path
        env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": self.redis_url,
            "UPLOAD_DIR": str(app.config["UPLOAD_DIR"]),
            "SECRET_KEY": "test-worker-scheduler",
            "PYTHONUNBUFFERED": "1",
        }
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_no_children(self) -> None:
        assert self.proc.poll() is None, f"the worker died:\n{self.log()[-3000:]}"
        assert children(self.pid) == set(), f"the worker forked:\n{self.log()[-3000:]}"

    def scheduler(self) -> RQScheduler | None:
        """The scheduler that holds the "okno" queue's lock, once it has registered."""
        redis = Redis.from_url(self.redis_url)
        name = redis.get(LOCK_KEY)
        if name is None:
            return None
        try:
            return RQScheduler.fetch(name.decode(), redis)
        except SchedulerNotFound:  # locked, not registered yet
            return None

    def stop(self) -> float:
        """SIGTERM (as honcho or systemd would send); seconds until the process ended."""
        if self.proc.poll() is not None:
            return 0.0
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"the worker did not stop on SIGTERM:\n{self.log()[-3000:]}") from None
        return time.monotonic() - began


@pytest.fixture
def start_worker(app, tmp_path):
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        args = args or ("-m", "flask", "--app", "app", "okno-worker")
        worker = WorkerProcess(app, tmp_path / f"worker-{len(started)}.log", list(args))
        started.append(worker)
        # ready once its scheduler has registered, from the worker's own process
        scheduler = wait_for(worker.scheduler, 30, also=worker.assert_no_children)
        assert scheduler.pid == worker.pid
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_a_job_scheduled_for_later_is_run_by_the_worker_that_forks_nothing(app, start_worker):
    worker = start_worker()
    redis = Redis.from_url(app.config["REDIS_URL"])
    job = Queue("okno", connection=redis).enqueue_at(utcnow() + timedelta(seconds=1), "os.getpid")
    assert job.get_status() == JobStatus.SCHEDULED

    wait_for(lambda: job.get_status() == JobStatus.FINISHED, 10, also=worker.assert_no_children)
    assert job.return_value() == worker.pid
    worker.assert_no_children()

    took = worker.stop()
    assert worker.proc.returncode == 0, worker.log()[-3000:]
    assert took < 5, f"the worker took {took:.1f}s to stop"
    assert redis.get(LOCK_KEY) is None  # the scheduler let its lock go
    assert "Scheduler thread has stopped" in worker.log()


def test_a_snoozed_conversation_is_woken_by_the_running_worker(app, start_worker):
    admin = make_user()
    conversation = make_conversation()
    worker = start_worker()
    # a whole second, as a time picked in the form is: RQ schedules to the second, rounding down,
    # so a wake-up for 12:00:00.6 may run at 12:00:00.3, find the snooze not yet over and leave
    # it to the reconciler (services/conversations.wake_conversation)
    until = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    conv_svc.snooze_conversation(conversation.id, until, admin)
    assert ScheduledJobRegistry("okno", connection=Redis.from_url(app.config["REDIS_URL"])).count == 1

    def woken() -> bool:
        db.session.rollback()  # the worker wrote in a process of its own
        return db.session.get(Conversation, conversation.id).state == "open"

    wait_for(woken, 10, every=0.2, also=worker.assert_no_children)


def test_the_scheduler_starts_again_after_redis_went_away(app, start_worker, redis_server):
    # maintenance every 5 s rather than every minute, so the test need not wait a minute
    worker = start_worker(
        "-c",
        "from app import create_app; from jobs.worker import run_worker; "
        "run_worker(create_app(), reconcile_every=5)",
    )
    redis_server.stop()
    try:
        wait_for(lambda: "Scheduler stopped, Redis unavailable" in worker.log(), 10)
        worker.assert_no_children()
    finally:
        redis_server.start()
    redis = Redis.from_url(app.config["REDIS_URL"])
    job = Queue("okno", connection=redis).enqueue_at(utcnow() + timedelta(seconds=1), "os.getpid")

    wait_for(lambda: job.get_status() == JobStatus.FINISHED, 30, every=0.2, also=worker.assert_no_children)
    assert job.return_value() == worker.pid
    assert wait_for(worker.scheduler, 5).pid == worker.pid
    assert worker.log().count("Scheduler for okno started in a thread") == 2  # again, by maintenance


# --- the scheduler thread on its own --------------------------------------------------------------


def test_the_scheduler_thread_stops_within_a_second_and_lets_its_lock_go(app):
    redis = Redis.from_url(app.config["REDIS_URL"])
    scheduler = ThreadScheduler(["okno"], connection=redis)
    assert scheduler.acquire_locks(auto_start=True) == {"okno"}
    thread = scheduler._process
    assert isinstance(thread, threading.Thread) and thread.is_alive()
    wait_for(lambda: redis.exists(scheduler.key), 5)
    time.sleep(0.2)  # into its one-second sleep

    began = time.monotonic()
    scheduler.stop_thread()
    assert time.monotonic() - began < 1
    assert not thread.is_alive()
    assert redis.get(LOCK_KEY) is None and not redis.exists(scheduler.key)


def test_the_scheduler_thread_ends_quietly_when_redis_is_away(caplog):
    scheduler = ThreadScheduler(["okno"], connection=Redis(port=free_port(), socket_connect_timeout=1))
    with caplog.at_level(logging.WARNING, logger="rq.scheduler"):
        thread = scheduler.start()
        thread.join(5)
    assert not thread.is_alive()
    assert "Scheduler stopped, Redis unavailable" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_burst_worker_enqueues_what_is_due_once_and_starts_no_thread(app):
    redis = Redis.from_url(app.config["REDIS_URL"])
    queue = Queue("okno", connection=redis)
    due = queue.enqueue_at(utcnow() - timedelta(seconds=1), "os.getpid")
    later = queue.enqueue_at(utcnow() + timedelta(hours=1), "os.getpid")
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker = OknoWorker([queue], connection=redis)
    try:
        worker.work(burst=True, with_scheduler=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert Job.fetch(due.id, connection=redis).get_status() == JobStatus.FINISHED
    assert Job.fetch(later.id, connection=redis).get_status() == JobStatus.SCHEDULED
    assert worker.scheduler._process is None
    assert redis.get(LOCK_KEY) is None

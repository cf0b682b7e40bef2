"""The outbox: a worker delivers queued replies, retries what failed for now, and the reconciler
finds whatever Redis lost. Real RQ: jobs run in a SimpleWorker in burst mode."""

import math
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

import channels
from channels.base import Adapter, PermanentError, SendResult, TemporaryError
from extensions import db
from jobs.delivery import deliver_message
from jobs.reconcile import reconcile
from models import Conversation, Message
from models.base import utcnow
from services import conversations as conv_svc
from services import messaging
from services.db import begin_write
from services.redis import get_redis
from tests.factories import committed, make_conversation, make_user
from tests.test_realtime import Listener


class FakeAdapter(Adapter):
    """A platform that answers as told and remembers what it was asked to send."""

    kind = "telegram"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[str] = []

    def send(self, channel, message):
        self.sent.append(message.text)
        answer = self.answers.pop(0) if self.answers else SendResult(external_id=f"tg-{len(self.sent)}")
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def telegram(monkeypatch):
    def install(*answers) -> FakeAdapter:
        adapter = FakeAdapter(*answers)
        monkeypatch.setitem(channels.ADAPTERS, "telegram", adapter)
        return adapter

    return install


@pytest.fixture
def admin(app):
    return make_user(name="Анна Смирнова")


def work() -> None:
    """Run everything queued (and everything scheduled that is due) the way the worker would."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    redis = Redis.from_url(current_app.config["REDIS_URL"])  # RQ changes its connection's timeouts
    try:
        SimpleWorker([Queue("okno", connection=redis)], connection=redis).work(
            burst=True, with_scheduler=True
        )
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def reload(message: Message) -> Message:
    return committed(Message, message.id)  # the job wrote in a session of its own


def age(message: Message, minutes: int = 2) -> None:
    """The reply was written `minutes` ago (the reconciler leaves younger ones alone)."""
    begin_write()
    db.session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(created_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def reply(admin, channel="telegram", text="Ждём вас в 15:00") -> Message:
    conversation = make_conversation(channel=channel, messages=["Можно записаться?"])
    return messaging.send_reply(conversation.id, admin, text)


# --- deliver_message ---------------------------------------------------------------------------


def test_the_worker_sends_a_queued_reply_and_keeps_the_platforms_id(app, admin, telegram):
    platform = telegram(SendResult(external_id="tg-501"))
    message = reply(admin)
    work()
    message = reload(message)
    assert (message.delivery_status, message.external_id) == ("sent", "tg-501")
    assert platform.sent == ["Ждём вас в 15:00"]


def test_a_widget_reply_is_delivered_to_the_visitors_own_channel(app, admin):
    listener = Listener(app)
    message = reply(admin, channel="widget")
    contact_id = db.session.get(Conversation, message.conversation_id).contact_id
    listener.received(0.1)
    work()
    assert reload(message).delivery_status == "delivered"
    received = listener.received()
    assert (
        f"visitor-{contact_id}",
        "message.created",
        {"conversation_id": message.conversation_id, "message_id": message.id},
    ) in received
    assert (
        "staff",
        "message.updated",
        {"conversation_id": message.conversation_id, "message_id": message.id},
    ) in (received)


def test_a_permanent_refusal_marks_the_message_failed_with_the_reason(app, admin, telegram):
    telegram(PermanentError("Forbidden: bot was blocked by the user"))
    message = reply(admin)
    work()
    message = reload(message)
    assert message.delivery_status == "failed"
    assert message.delivery_error == "Forbidden: bot was blocked by the user"


def test_a_channel_without_an_adapter_fails_with_a_reason(app, admin):
    message = reply(admin, channel="email")  # e-mail has no messenger adapter (Viber has one now)
    work()
    message = reload(message)
    assert message.delivery_status == "failed"
    assert "email" in message.delivery_error


def test_a_temporary_refusal_is_tried_again_after_the_platforms_delay(app, admin, telegram):
    platform = telegram(TemporaryError("Too Many Requests", retry_after=30))
    message = reply(admin)
    before = time.time()
    work()
    assert reload(message).delivery_status == "queued"
    registry = ScheduledJobRegistry("okno", connection=get_redis())
    assert registry.get_job_ids() == [f"deliver-{message.id}-2"]
    when = registry.get_scheduled_time(f"deliver-{message.id}-2").timestamp()
    assert before + 29 <= when <= time.time() + 31
    assert platform.sent == ["Ждём вас в 15:00"]


def test_the_retry_runs_when_its_time_comes(app, admin, telegram):
    platform = telegram(TemporaryError("Bad Gateway"), SendResult(external_id="tg-9"))
    message = reply(admin)
    work()
    registry = ScheduledJobRegistry("okno", connection=get_redis())
    job_id = registry.get_job_ids()[0]
    registry.schedule(registry.get_queue().fetch_job(job_id), utcnow())  # the backoff has passed
    work()
    assert reload(message).delivery_status == "sent"
    assert platform.sent == ["Ждём вас в 15:00", "Ждём вас в 15:00"]


def test_a_message_that_keeps_failing_for_now_is_failed_in_the_end(app, admin, telegram):
    telegram(*[TemporaryError("Service Unavailable")] * messaging.MAX_ATTEMPTS)
    message = reply(admin)
    for _attempt in range(messaging.MAX_ATTEMPTS):
        deliver_message(message.id)
    message = reload(message)
    assert message.delivery_status == "failed"
    assert message.delivery_error == "Service Unavailable"


def test_a_sent_message_is_never_sent_again(app, admin, telegram):
    platform = telegram()
    message = reply(admin)
    work()
    assert deliver_message(message.id) == "skipped"
    assert platform.sent == ["Ждём вас в 15:00"]


def test_a_message_another_worker_is_sending_is_left_to_it(app, admin, telegram):
    platform = telegram()
    message = reply(admin)
    get_redis().set(f"okno:delivering:{message.id}", 1, ex=60)
    assert deliver_message(message.id) == "busy"
    assert platform.sent == []
    assert reload(message).delivery_status == "queued"


def test_a_failed_message_retried_by_staff_is_delivered(app, admin, telegram):
    telegram(PermanentError("Timeout"), SendResult(external_id="tg-2"))
    message = reply(admin)
    work()
    messaging.retry_message(message.id, admin)
    work()
    assert reload(message).delivery_status == "sent"


# --- reconcile: the outbox is the table --------------------------------------------------------


def test_redis_flushed_between_reply_and_delivery_the_reconciler_delivers_it(app, admin):
    message = reply(admin, channel="widget")
    get_redis().flushall()
    work()
    assert reload(message).delivery_status == "queued"  # the job went with Redis
    age(message)
    assert reconcile() == {"woken": 0, "requeued": 1}
    work()
    assert reload(message).delivery_status == "delivered"


def test_the_reconciler_leaves_a_reply_whose_job_still_waits(app, admin):
    message = reply(admin, channel="widget")
    age(message)
    assert reconcile()["requeued"] == 0
    assert Queue("okno", connection=get_redis()).job_ids == [f"deliver-{message.id}"]


def test_the_reconciler_leaves_a_fresh_reply_alone(app, admin):
    message = reply(admin, channel="widget")
    get_redis().flushall()
    assert reconcile()["requeued"] == 0  # send_reply may be just about to queue it
    assert reload(message).delivery_status == "queued"


def test_a_retry_lost_with_redis_is_found_again(app, admin, telegram):
    telegram(TemporaryError("Bad Gateway", retry_after=600), SendResult(external_id="tg-3"))
    message = reply(admin)
    work()
    assert reconcile()["requeued"] == 0  # its retry waits in the schedule
    get_redis().flushall()
    age(message)
    assert reconcile()["requeued"] == 1
    work()
    assert reload(message).delivery_status == "sent"


def test_redis_stopped_while_replying_the_reply_is_kept_and_delivered_when_it_returns(
    app, admin, redis_server, login_as
):
    conversation = make_conversation(channel="widget", messages=["Можно записаться?"])
    staff = login_as(admin)
    redis_server.stop()
    try:
        assert staff.get("/").status_code == 200  # the inbox still opens
        message = messaging.send_reply(conversation.id, admin, "Ждём вас")
        assert reload(message).delivery_status == "queued"
        assert reconcile() == {"woken": 0, "requeued": 0}  # nothing to reach yet, and no error
    finally:
        redis_server.start()
    age(message)
    assert reconcile()["requeued"] == 1
    work()
    assert reload(message).delivery_status == "delivered"


# --- snooze wake-ups ---------------------------------------------------------------------------


def test_a_snooze_wakes_by_its_scheduled_job(app, admin):
    conversation = make_conversation()
    until = utcnow() + timedelta(seconds=1)
    conv_svc.snooze_conversation(conversation.id, until, admin)
    registry = ScheduledJobRegistry("okno", connection=get_redis())
    assert registry.get_job_ids() == [f"wake-{conversation.id}-{math.ceil(until.timestamp())}"]
    time.sleep(until.timestamp() - time.time() + 1.1)
    work()
    db.session.rollback()
    assert db.session.get(Conversation, conversation.id).state == "open"


def test_a_snooze_ending_within_a_second_is_not_woken_early_and_lost(app, admin):
    conversation = make_conversation()
    # a time with a fraction of a second, as the 1h / 1d presets give: x.8 s
    now = time.time()
    until = datetime.fromtimestamp(math.floor(now) + 2.8, UTC)
    conv_svc.snooze_conversation(conversation.id, until, admin)
    # the worker looks in when the whole second has begun but the snooze is not over
    time.sleep(max(math.floor(now) + 2.3 - time.time(), 0))
    work()
    db.session.rollback()
    assert db.session.get(Conversation, conversation.id).state == "snoozed"
    # and once it is over, the wake-up is still there to run
    time.sleep(max(until.timestamp() + 1.1 - time.time(), 0))
    work()
    db.session.rollback()
    assert db.session.get(Conversation, conversation.id).state == "open"


def test_a_wake_job_for_an_earlier_snooze_leaves_a_later_one_alone(app, admin):
    from jobs.snooze import wake_conversation

    conversation = make_conversation()
    conv_svc.snooze_conversation(conversation.id, utcnow() + timedelta(days=1), admin)
    assert wake_conversation(conversation.id) is False
    assert wake_conversation(987654) is False
    db.session.rollback()
    assert db.session.get(Conversation, conversation.id).state == "snoozed"


def test_an_overdue_snooze_whose_job_redis_lost_is_woken_by_the_reconciler(app, admin):
    conversation = make_conversation()
    conv_svc.snooze_conversation(conversation.id, utcnow() + timedelta(hours=1), admin)
    Redis.from_url(app.config["REDIS_URL"]).flushall()
    begin_write()
    db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(snoozed_until=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    assert reconcile()["woken"] == 1
    db.session.rollback()
    assert db.session.get(Conversation, conversation.id).state == "open"


# --- the worker command ------------------------------------------------------------------------


def test_the_worker_command_reconciles_then_works_the_queue(app, admin):
    message = reply(admin, channel="widget")
    get_redis().flushall()
    age(message)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = app.test_cli_runner().invoke(args=["okno-worker", "--burst"])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert result.exit_code == 0, result.output
    assert reload(message).delivery_status == "delivered"

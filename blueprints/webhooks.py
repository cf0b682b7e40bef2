"""POST /webhooks/<channel uid>: every platform's updates come in here.

verify (403 on a missing or wrong signature) -> parse (400 with a reason) -> one service
call per event -> the exact answer the platform expects. A well-formed event we don't
handle is answered 200 and ignored: platforms retry other answers for hours.
"""

import logging

from flask import Blueprint, Response, abort, jsonify, request

from channels import get_adapter
from channels.base import BadSignature, MalformedPayload, PermanentError, WebhookRequest
from extensions import csrf, db
from services import channels, inbound

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024


@bp.route("/webhooks/<uid>", methods=["GET", "POST"])
@csrf.exempt
def receive(uid: str):
    channel = channels.channel_by_uid(uid)
    if channel is None:
        abort(404)
    try:
        adapter = get_adapter(channel.kind)
    except PermanentError:
        abort(404)
    ref = channels.channel_ref(channel)
    channel_id = channel.id
    db.session.rollback()  # no transaction held while the platform's body is read and checked

    if request.content_length and request.content_length > MAX_BODY:
        return jsonify(error="The body is too large."), 413
    incoming = WebhookRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        args=request.args.to_dict(),
        body=request.get_data(cache=False),
    )
    if request.method == "GET":
        reply = adapter.handshake(ref, incoming)
        return Response(reply.body, reply.status, content_type=reply.content_type)
    try:
        adapter.verify(ref, incoming)
        reply = adapter.parse(ref, incoming)
    except BadSignature as exc:
        log.warning("webhook for channel %s refused: %s", channel_id, exc)
        return jsonify(error=str(exc) or "Bad signature."), 403
    except MalformedPayload as exc:
        return jsonify(error=str(exc) or "Malformed body."), 400
    inbound.handle_events(channel_id, reply.events)
    return Response(reply.body, reply.status, content_type=reply.content_type)

"""GET /healthz: whether the database and Redis answer."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from extensions import db
from services.redis import redis_ok

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # any failure is what this endpoint reports
        database = f"error: {exc.__class__.__name__}"
    finally:
        db.session.rollback()
    redis = "ok" if redis_ok() else "unavailable"
    healthy = database == "ok" and redis == "ok"
    return jsonify(status="ok" if healthy else "degraded", database=database, redis=redis), (
        200 if healthy else 503
    )

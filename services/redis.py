"""One Redis connection pool per process, shared by realtime, queues and limits."""

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

_clients: dict[str, Redis] = {}


def get_redis() -> Redis:
    url = current_app.config["REDIS_URL"]
    client = _clients.get(url)
    if client is None:
        client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5, health_check_interval=30)
        _clients[url] = client
    return client


def redis_ok() -> bool:
    try:
        return bool(get_redis().ping())
    except RedisError:
        return False

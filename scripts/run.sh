#!/usr/bin/env bash
# Serve the inbox: Redis (a local one if none answers), the web process and the worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORT="${PORT:-5000}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export PATH="$PWD/.venv/bin:$PATH"

redis_pid=""
if ! python - <<'PY'
import os, sys
from redis import Redis
try:
    Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=1).ping()
except Exception:
    sys.exit(1)
PY
then
  port=$(python -c 'import os; from urllib.parse import urlparse; print(urlparse(os.environ["REDIS_URL"]).port or 6379)')
  mkdir -p instance
  redis-server --port "$port" --bind 127.0.0.1 --dir "$PWD/instance" --save 60 1 \
    --dbfilename redis.rdb --logfile "$PWD/instance/redis.log" &
  redis_pid=$!
  trap '[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null' EXIT
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

cat <<MSG

  Okno is starting at http://127.0.0.1:${PORT}
  Demo logins (password okno-demo):
    owner@salon.test   (owner)
    anna@salon.test    (administrator)
    olena@salon.test   (administrator)
    master@salon.test  (master, no chat access)
  Website widget demo: http://127.0.0.1:${PORT}/widget/demo
  Ctrl-C stops everything.

MSG
honcho start -p "$PORT"

"""What the benchmarks share: the stack started as `make run` starts it, logging in, /proc figures.

Every process gets a free port, so a benchmark never meets a developer's running server or
Redis: a redis-server of its own, the Procfile's `web:` gunicorn line with $PORT filled in,
and (bench/live.py) the Procfile's other processes with the same environment.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WEB = "gunicorn -k gthread -w 2 --threads 100 -b 127.0.0.1:$PORT 'app:app'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    from redis import Redis

    client = Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            return proc, url
        except Exception:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit("redis-server did not start")


def procfile() -> dict[str, str]:
    """The Procfile's processes, name -> command line (what `make run` starts through honcho)."""
    lines = {}
    path = ROOT / "Procfile"
    if path.exists():
        for raw in path.read_text().splitlines():
            name, sep, command = raw.partition(":")
            if sep and name.strip() and not name.startswith("#"):
                lines[name.strip()] = command.strip()
    return lines


def command(line: str, port: int) -> list[str]:
    """A Procfile line as argv, $PORT filled in, the venv's executables preferred."""
    argv = shlex.split(line.replace("$PORT", str(port)).replace("${PORT}", str(port)))
    local = ROOT / ".venv" / "bin" / argv[0]
    if local.exists():
        argv[0] = str(local)
    return argv


def web_command(port: int) -> list[str]:
    """The Procfile's web line (what `make run` serves), with $PORT filled in."""
    return command(procfile().get("web", DEFAULT_WEB), port)


def stack_env(db_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment every process of one benchmark run shares (one SECRET_KEY for all of them)."""
    return dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{db_path}",
        REDIS_URL=redis_url,
        SECRET_KEY=secrets.token_hex(16),
        PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        **extra,
    )


def start_process(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_web(
    db_path: Path,
    redis_url: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
    line: str | None = None,
) -> tuple[subprocess.Popen, str]:
    """gunicorn as the Procfile says (or as `line` says), once it answers /healthz; its base URL."""
    port = port or free_port()
    env = dict(env or stack_env(db_path, redis_url), PORT=str(port))
    argv = command(line, port) if line else web_command(port)
    proc = start_process(argv, env, log_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}); see {log_path}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer /healthz; see {log_path}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def children(parent: int) -> list[int]:
    """Direct children of a process (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def web_pids(master: int) -> list[int]:
    """The gunicorn master and its workers (children, from /proc)."""
    return [master, *children(master)]


def rss_mb(pid: int, key: str = "VmRSS", source: str = "status") -> float:
    """A memory figure of a process in MB: VmRSS / VmHWM from status, Pss from smaps_rollup."""
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (/proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def login(base: str, email: str, password: str) -> requests.Session:
    """A requests session logged in through the login form (its CSRF token scraped from the page)."""
    http = requests.Session()
    page = http.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not token:
        raise SystemExit("no CSRF token on the login form")
    response = http.post(
        f"{base}/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    return http

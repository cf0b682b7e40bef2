"""Read benchmark: how fast the inbox answers on a large salon, over HTTP, as `make run` serves it.

Builds (or reuses, from bench/.data/) a generated database of 20,000 clients, 50,000
conversations and 1,000,000 messages, starts a redis-server of its own on a free port
and the Procfile's gunicorn web line against that database, logs in as an administrator
and times sequential requests from one client: the default list, each state tab, the
header counts, searches by phone, name and message text, opening a dialog, and
/healthz as the floor. Prints p50 / p95 per measurement, the targets, and the RSS of
the web processes (master + workers, from /proc). Exits 1 when a target is missed or a
request failed.

    .venv/bin/python bench/reads.py                       # full size
    .venv/bin/python bench/reads.py --clients 2000 --conversations 5000 --messages 100000 --requests 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset  # noqa: E402
from common import cpu_seconds, login, rss_mb, start_redis, start_web, stop, web_command, web_pids  # noqa: E402

ROOT = dataset.ROOT
RESULTS_DIR = ROOT / "bench" / "results"
LIST_P95_MS = 40.0
SEARCH_P95_MS = 60.0
RSS_LIMIT_MB = 200.0


@dataclass
class Measurement:
    label: str
    paths: list[str]
    target_ms: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: float = float("nan")  # the web processes' CPU time per request: what other load can't inflate
    failures: dict[int, int] = field(default_factory=dict)
    example: str = ""

    def p(self, q: int) -> float:
        if len(self.times_ms) < 2:
            return self.times_ms[0] if self.times_ms else float("nan")
        return statistics.quantiles(self.times_ms, n=100, method="inclusive")[q - 1]

    @property
    def ok(self) -> bool:
        return not self.failures and (self.target_ms is None or self.p(95) <= self.target_ms)


# --- inputs that exist in the data ------------------------------------------------------------------


def phone_forms(e164: str, rnd: random.Random) -> str:
    """A number as people type it: +7 (916) 123-45-67, 89161234567, 067 123 45 67, or a fragment."""
    digits = e164.lstrip("+")
    if digits.startswith("7"):
        national = digits[1:]
        forms = [
            f"+7 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}",
            "8" + national,
            national,
            f"+7 {national[:3]} {national[3:6]} {national[6:8]} {national[8:]}",
        ]
    else:
        national = "0" + digits[3:]
        forms = [
            f"+380 {digits[3:5]} {digits[5:8]} {digits[8:10]} {digits[10:]}",
            national,
            f"{national[:3]} {national[3:6]} {national[6:8]} {national[8:]}",
            "+" + digits,
        ]
    if rnd.random() < 0.2:
        return digits[-rnd.choice((5, 6, 7)) :]
    return rnd.choice(forms)


def pick_inputs(db_path: Path, n: int, seed: int) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    one = lambda sql: [r[0] for r in con.execute(sql)]  # noqa: E731
    row_of = lambda sql, top: con.execute(sql, (rnd.randint(1, top),)).fetchone()  # noqa: E731
    max_conv = one("SELECT max(id) FROM conversations")[0]
    max_msg = one("SELECT max(id) FROM messages")[0]
    max_client = one("SELECT max(id) FROM clients")[0]
    recent = one("SELECT id FROM conversations WHERE is_spam = 0 ORDER BY last_activity_at DESC LIMIT 500")
    dialogs = [str(rnd.choice(recent) if i % 2 else rnd.randint(1, max_conv)) for i in range(n)]

    phones, names, words = [], [], []
    while len(phones) < n:
        row = row_of("SELECT e164 FROM client_phones WHERE client_id = ? ORDER BY id LIMIT 1", max_client)
        if row:
            phones.append(phone_forms(row[0], rnd))
    while len(names) < n:
        if rnd.random() < 0.8:
            row = row_of("SELECT name FROM clients WHERE id = ?", max_client)
        else:
            row = row_of("SELECT display_name FROM contacts WHERE id = ?", max_conv)
        if not row:
            continue
        parts = row[0].split()
        form = rnd.random()
        if form < 0.4 and len(parts) > 1:
            names.append(parts[-1])  # the surname
        elif form < 0.7:
            names.append(row[0])
        else:
            names.append(parts[0][: max(4, len(parts[0]) - 2)].lower())  # the start of a name, lower case
    while len(words) < n:
        row = row_of("SELECT text FROM messages WHERE id = ? AND direction IN ('in', 'out')", max_msg)
        found = [w for w in re.findall(r"\w+", row[0]) if len(w) >= 4 and not w.isdigit()] if row else []
        if found:
            start = rnd.randrange(len(found))
            words.append(" ".join(found[start : start + (2 if rnd.random() < 0.3 else 1)]))
    con.close()
    return {"dialogs": dialogs, "phones": phones, "names": names, "words": words}


# --- the run -------------------------------------------------------------------------------------


def measure(
    http: requests.Session, base: str, m: Measurement, count: int, warmup: int, pids: list[int]
) -> None:
    m.example = m.paths[0]
    for i in range(warmup):
        http.get(base + m.paths[i % len(m.paths)], headers=m.headers)
    cpu_before = cpu_seconds(pids)
    for i in range(count):
        path = m.paths[(warmup + i) % len(m.paths)]
        started = time.perf_counter()
        response = http.get(base + path, headers=m.headers, allow_redirects=False)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            m.failures[response.status_code] = m.failures.get(response.status_code, 0) + 1
        m.times_ms.append(elapsed)
    m.cpu_ms = (cpu_seconds(pids) - cpu_before) * 1000 / count


def plan(inputs: dict[str, list[str]], base: str = "") -> list[Measurement]:
    from urllib.parse import urlencode

    q = lambda values: [f"/?{urlencode({'q': v})}" for v in values]  # noqa: E731
    return [
        Measurement("healthz (floor)", ["/healthz"]),
        Measurement("list: default (/)", ["/"], LIST_P95_MS),
        *(
            Measurement(f"list: state={state}", [f"/?state={state}"], LIST_P95_MS)
            for state in ("unanswered", "open", "snoozed", "closed", "spam", "all")
        ),
        Measurement("header counts (/counts)", ["/counts"], LIST_P95_MS),
        Measurement("search: phone", q(inputs["phones"]), SEARCH_P95_MS),
        Measurement("search: name", q(inputs["names"]), SEARCH_P95_MS),
        Measurement("search: message text", q(inputs["words"]), SEARCH_P95_MS),
        Measurement("dialog: /c/<id>", [f"/c/{i}" for i in inputs["dialogs"]], LIST_P95_MS),
        # what a click on a list row asks for: the dialog and the card, not the whole page
        Measurement(
            "dialog: /c/<id> (htmx click)",
            [f"/c/{i}" for i in inputs["dialogs"]],
            LIST_P95_MS,
            headers={"HX-Request": "true", "HX-Current-URL": f"{base}/"},
        ),
    ]


def report(measurements: list[Measurement], rss: dict[str, float], hwm: float, pss: float) -> bool:
    width = max(len(m.label) for m in measurements)
    print()
    heads = f"{'n':>4}  {'p50 ms':>7}  {'p95 ms':>7}  {'max ms':>7}  {'cpu ms':>7}  {'target':>7}"
    print(f"{'measurement':<{width}}  {heads}  result")
    print("-" * (width + 61))
    for m in measurements:
        target = f"{m.target_ms:.0f}" if m.target_ms else "-"
        verdict = "ok" if m.ok else "MISSED"
        if m.failures:
            verdict = "FAILED " + ", ".join(f"{code} x{n}" for code, n in sorted(m.failures.items()))
        elif m.target_ms is None:
            verdict = ""
        print(
            f"{m.label:<{width}}  {len(m.times_ms):>4}  {m.p(50):>7.1f}  {m.p(95):>7.1f}  "
            f"{max(m.times_ms):>7.1f}  {m.cpu_ms:>7.1f}  {target:>7}  {verdict}"
        )
    total = sum(rss.values())
    parts = ", ".join(f"{name} {mb:.0f}" for name, mb in rss.items())
    rss_ok = total < RSS_LIMIT_MB
    print("-" * (width + 61))
    print("cpu ms: the web processes' CPU time per request (gunicorn master + workers, /proc)")
    print(
        f"web RSS: {total:.0f} MB ({parts}); peak {hwm:.0f} MB; PSS {pss:.0f} MB; "
        f"target < {RSS_LIMIT_MB:.0f} MB: {'ok' if rss_ok else 'MISSED'}"
    )
    return rss_ok and all(m.ok for m in measurements)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=dataset.Sizes.clients)
    parser.add_argument("--conversations", type=int, default=dataset.Sizes.conversations)
    parser.add_argument("--messages", type=int, default=dataset.Sizes.messages)
    parser.add_argument("--seed", type=int, default=dataset.Sizes.seed)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per measurement")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests before each measurement")
    parser.add_argument("--regenerate", action="store_true", help="ignore the cached dataset")
    args = parser.parse_args(argv)
    sizes = dataset.Sizes(args.clients, args.conversations, args.messages, args.seed)
    if sizes.messages < sizes.conversations or min(sizes.clients, sizes.conversations) < 1:
        parser.error("need at least one client, one conversation and a message per conversation")

    db_path = dataset.ensure_dataset(sizes, regenerate=args.regenerate)
    inputs = pick_inputs(db_path, args.requests + args.warmup, args.seed)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    redis = web = None
    try:
        redis, redis_url = start_redis(RESULTS_DIR)
        web, base = start_web(db_path, redis_url, RESULTS_DIR / "reads-gunicorn.log")
        print(f"web: {' '.join(web_command(0)).replace(':0', ':<port>')} (pid {web.pid}), redis {redis_url}")
        http = login(base, dataset.ADMIN_EMAIL, dataset.PASSWORD)
        measurements = plan(inputs, base)
        pids = web_pids(web.pid)
        load_before = os.getloadavg()[0]
        for m in measurements:
            measure(http, base, m, args.requests, args.warmup, pids)
            print(f"  {m.label}: p50 {m.p(50):.1f} ms, p95 {m.p(95):.1f} ms", flush=True)
        load_after = os.getloadavg()[0]
        rss = {("master" if pid == web.pid else f"worker {pid}"): rss_mb(pid) for pid in pids}
        hwm = sum(rss_mb(pid, "VmHWM") for pid in pids)
        pss = sum(rss_mb(pid, "Pss", "smaps_rollup") for pid in pids)
    finally:
        stop(web)
        stop(redis)

    ok = report(measurements, rss, hwm, pss)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.2f} before, {load_after:.2f} after "
        "(anything above ~0.5 besides this run inflates the wall-clock figures; cpu ms holds)"
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"reads-{stamp}.json").write_text(
        json.dumps(
            {
                "sizes": vars(sizes),
                "requests": args.requests,
                "rss_mb": rss,
                "load": [load_before, load_after],
                "measurements": [
                    {
                        "label": m.label,
                        "p50": m.p(50),
                        "p95": m.p(95),
                        "cpu_ms": m.cpu_ms,
                        "failures": m.failures,
                        "ok": m.ok,
                    }
                    for m in measurements
                ],
            },
            indent=2,
        )
    )
    print("targets met" if ok else "targets MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""A large, realistic inbox for benchmarks: clients, contacts, conversations, messages.

Not the demo seed: a deterministic generator (one seed) that writes straight into a
database migrated by `flask db upgrade`, with raw sqlite3 executemany in one big
transaction. The migration's FTS triggers stay in place, so the full-text index is
filled exactly as the app fills it (ё folded to е). The file is cached under
bench/.data/, keyed by GENERATOR_VERSION and the sizes, and reused by the next run.

    .venv/bin/python bench/dataset.py --clients 2000 --conversations 5000 --messages 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.text import normalize_text, preview  # noqa: E402

# Bump whenever the generated data changes shape: cached files of older versions are ignored.
GENERATOR_VERSION = 1
DATA_DIR = ROOT / "bench" / ".data"

ADMIN_EMAIL = "anna@bench.test"
PASSWORD = "bench-pass"
STAFF = (
    ("Алла Викторовна", "owner@bench.test", "owner"),
    ("Анна Соколова", ADMIN_EMAIL, "admin"),
    ("Олена Коваль", "olena@bench.test", "admin"),
    ("Марина Белова", "marina@bench.test", "admin"),
    ("Ірина Шевчук", "iryna@bench.test", "admin"),
    ("Светлана Орлова", "master@bench.test", "master"),
)
CHANNELS = (  # kind, name, share of conversations
    ("whatsapp", "WhatsApp +7 495 123-45-67", 0.28),
    ("telegram", "Telegram @okno_salon_bot", 0.24),
    ("instagram", "Instagram okno.salon", 0.15),
    ("viber", "Viber Okno", 0.10),
    ("vk", "VK Салон Окно", 0.08),
    ("widget", "Сайт okno-salon.ru", 0.08),
    ("email", "hello@okno-salon.ru", 0.05),
    ("telegram", "Telegram @okno_kyiv_bot", 0.02),
)
TAGS = (
    ("VIP", "#d97706"),
    ("Жалоба", "#dc2626"),
    ("Новый клиент", "#16a34a"),
    ("Сертификат", "#7c3aed"),
    ("Опт", "#0891b2"),
    ("Отзыв", "#db2777"),
    ("Перенос", "#4b5563"),
    ("Абонемент", "#65a30d"),
)
CUSTOM_FIELDS = (
    ("Тип волос", "select", "Тонкие\nНормальные\nГустые\nКудрявые"),
    ("Аллергии", "text", ""),
    ("День рождения", "date", ""),
)

RU_FEMALE = (
    "Анна Мария Елена Ольга Наталья Татьяна Ирина Светлана Екатерина Юлия Анастасия Дарья Ксения "
    "Алёна Виктория Полина Алина Валерия Софья Вероника Кристина Людмила Галина Надежда Оксана "
    "Евгения Марина Яна Диана Лилия Жанна Маргарита Зоя Нина Вера Любовь Арина Ульяна Ева Василиса"
).split()
RU_MALE = "Алексей Дмитрий Сергей Андрей Максим Иван Артём Никита Михаил Егор Павел Роман Кирилл".split()
UA_FEMALE = (
    "Олена Оксана Ірина Наталія Тетяна Юлія Ганна Марія Світлана Катерина Дарина Вікторія Софія "
    "Анастасія Олександра Христина Соломія Ярослава Любов Галина Надія Зоряна Мирослава Леся"
).split()
UA_MALE = "Олександр Андрій Сергій Дмитро Тарас Богдан Максим Ігор Василь Юрій".split()
RU_SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков "
    "Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин "
    "Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов "
    "Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв "
    "Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов"
).split()
RU_INVARIANT = "Ковальчук Шевченко Бондаренко Кравец Лысенко Мельник Гордиенко Черных Белых Седых".split()
UA_SURNAMES = (
    "Шевченко Коваленко Бондаренко Ткаченко Кравченко Олійник Шевчук Поліщук Бойко Ткачук Мельник "
    "Коваль Савченко Руденко Мороз Лисенко Марченко Петренко Кравець Савчук Гончаренко Павленко "
    "Литвиненко Бондар Левченко Харченко Карпенко Панченко Остапенко Кузьменко Гриценко Юрченко "
    "Мельничук Климченко Гаврилюк Романюк Костенко Ковальчук Дячук Семенюк Захарчук Собко"
).split()
NICK_WORDS = "nails beauty lashes brows hair style kitty sunny lady queen mila moon star bunny".split()
LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "yo", "є": "ye", "ж": "zh",
    "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "'": "",
}  # fmt: skip
UA_MOBILE = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")

SERVICES_RU = (
    "маникюр", "педикюр", "стрижку", "окрашивание", "коррекцию бровей", "наращивание ресниц",
    "ламинирование ресниц", "массаж", "чистку лица", "шугаринг", "лазерную эпиляцию", "укладку",
    "кератиновое выпрямление", "покрытие гель-лаком", "ботокс для волос", "пилинг", "мелирование",
)  # fmt: skip
SERVICES_UA = (
    "манікюр", "педикюр", "стрижку", "фарбування", "корекцію брів", "нарощування вій", "масаж",
    "чистку обличчя", "шугаринг", "укладку", "покриття гель-лаком", "ламінування вій",
)  # fmt: skip
DAYS_RU = ("завтра", "послезавтра", "в субботу", "в пятницу", "в понедельник", "на следующей неделе",
           "сегодня вечером", "в четверг", "15 числа", "после обеда")  # fmt: skip
DAYS_UA = ("завтра", "післязавтра", "в суботу", "у пʼятницю", "в понеділок", "наступного тижня",
           "сьогодні ввечері", "у четвер")  # fmt: skip
TIMES = ("10:00", "11:30", "12:00", "13:15", "14:30", "15:00", "16:45", "17:30", "18:00", "19:15")
MASTERS = ("Ольга", "Светлана", "Кристина", "Виктория", "Алина", "Наталья", "Юлия", "Дарина")

CLIENT_RU = (
    "Здравствуйте! Хочу записаться на {service} {day}",
    "Добрый день, есть свободное время на {service} {day}?",
    "Подскажите, сколько стоит {service}?",
    "Можно к мастеру {master} на {service}?",
    "Здравствуйте, можно перенести запись? {day} не успеваю",
    "Спасибо большое, всё очень понравилось!",
    "Я немного опаздываю, буду минут через 10",
    "А у вас есть подарочные сертификаты?",
    "Хорошо, тогда {day} в {time} подойдёт",
    "Добрый вечер! Я записана на {time}, можно на час позже?",
    "Сколько по времени длится {service}?",
    "Отмените, пожалуйста, мою запись, заболела",
    "Подтверждаю, приду {day} в {time}",
    "Здравствуйте, у меня после процедуры небольшое покраснение, это нормально?",
    "Можно оплатить картой?",
    "Ок, спасибо",
    "А парковка у вас есть?",
    "Пришлите, пожалуйста, адрес салона",
    "Хочу записать дочку на {service}",
    "Делаете {service} на короткие волосы?",
    "Спасибо, до встречи!",
    "Есть окошко {day} после {time}?",
    "Ещё вопрос: у вас есть скидки для постоянных клиентов?",
    "Можно прислать фото, что хочу? Вот такой дизайн",
)  # fmt: skip
CLIENT_UA = (
    "Добрий день! Хочу записатися на {service} {day}",
    "Вітаю, чи є вільний час на {service} {day}?",
    "Підкажіть, скільки коштує {service}?",
    "Чи можна до майстра {master} на {service}?",
    "Дякую, все дуже сподобалось!",
    "Трохи запізнююсь, буду хвилин за 10",
    "Добре, тоді {day} о {time} підходить",
    "Скасуйте, будь ласка, мій запис, не встигаю",
    "Підтверджую, прийду {day} о {time}",
    "А можна оплатити карткою?",
    "Надішліть, будь ласка, адресу салону",
    "Дякую, до зустрічі!",
)  # fmt: skip
STAFF_RU = (
    "Здравствуйте! Да, {day} в {time} свободно, записываю вас на {service}",
    "Добрый день! Стоимость {service} от 1500 до 3500 ₽, зависит от длины",
    "Записала вас к мастеру {master}, {day} в {time}",
    "Конечно, переносим. Удобно {day} в {time}?",
    "Спасибо за отзыв! Будем рады видеть вас снова",
    "Хорошо, ждём вас",
    "Адрес: ул. Садовая, 12, вход со двора. Ждём вас!",
    "Процедура занимает около полутора часов",
    "Да, оплатить можно картой или по QR-коду",
    "Запись отменена. Выздоравливайте!",
    "Покраснение обычно проходит за день-два. Если не пройдёт, напишите, пожалуйста",
    "Да, сертификаты есть на любую сумму, от 2000 ₽",
    "Напоминаем о записи {day} в {time} на {service}. Подтвердите, пожалуйста",
    "К сожалению, {day} всё занято. Могу предложить {time} в другой день",
    "Постоянным клиентам скидка 10% на {service}",
    "Да, присылайте фото, мастер посмотрит",
)  # fmt: skip
STAFF_UA = (
    "Добрий день! Так, {day} о {time} вільно, записую вас на {service}",
    "Записала вас до майстра {master}, {day} о {time}",
    "Дякуємо за відгук! Будемо раді бачити вас знову",
    "Добре, чекаємо на вас",
    "Нагадуємо про запис {day} о {time} на {service}. Підтвердіть, будь ласка",
)  # fmt: skip
NOTES = (
    "Клиентка просила мастера {master}",
    "Аллергия на гель-лак, предупредить мастера",
    "Перезвонить после 18:00",
    "Постоянная клиентка, скидка 10%",
    "Оплатила сертификатом",
)  # fmt: skip
BOT_OUT = (
    "Здравствуйте! Я бот салона «Окно». Выберите услугу или напишите вопрос",
    "Свободное время на {service}: {day} в {time}. Записать?",
    "Запись подтверждена. Ждём вас {day} в {time}",
)  # fmt: skip
SPAM = (
    "Продвижение вашего салона в топ Instagram! Пишите в директ",
    "Заработок от 5000 в день без вложений, подробности по ссылке",
    "Оптовые поставки гель-лаков из Китая, прайс по запросу",
)  # fmt: skip
FAILED_REASONS = ("User is deactivated", "Bot was blocked by the user", "Message undeliverable")


@dataclass
class Sizes:
    clients: int = 20_000
    conversations: int = 50_000
    messages: int = 1_000_000
    seed: int = 42

    def path(self) -> Path:
        return DATA_DIR / (
            f"okno-v{GENERATOR_VERSION}-c{self.clients}-v{self.conversations}"
            f"-m{self.messages}-s{self.seed}.db"
        )


def ts(dt: datetime) -> str:
    """How SQLAlchemy stores our (naive UTC) datetimes in SQLite."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def migrate(path: Path) -> None:
    """`flask db upgrade` on the file: the schema, triggers and FTS index the app has."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}", SECRET_KEY=os.environ.get("SECRET_KEY", "bench"))
    flask = ROOT / ".venv" / "bin" / "flask"
    cmd = [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]
    done = subprocess.run(
        [*cmd, "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"flask db upgrade failed on {path}")


def ensure_dataset(sizes: Sizes, regenerate: bool = False, log=print) -> Path:
    """The cached file for these sizes (migrated to head), generated first if missing."""
    path = sizes.path()
    about = path.with_suffix(".json")
    if path.exists() and not regenerate:
        made = json.loads(about.read_text()) if about.exists() else {}
        took = f", generated in {made['seconds']:.1f} s on {made['at']}" if made else ""
        log(f"dataset: reusing {path.relative_to(ROOT)} (generator v{GENERATOR_VERSION}{took})")
        migrate(path)
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    log(
        f"dataset: generating {sizes.clients} clients, {sizes.conversations} conversations, "
        f"{sizes.messages} messages ..."
    )
    migrate(tmp)
    migrated = time.perf_counter()
    counts = generate(tmp, sizes)
    for p in (path, about, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    tmp.rename(path)
    took = time.perf_counter() - started
    about.write_text(json.dumps({"seconds": took, "at": time.strftime("%Y-%m-%d %H:%M"), "rows": counts}))
    log(
        f"dataset: generated in {took:.1f} s (migrate {migrated - started:.1f} s), "
        f"{path.stat().st_size / 2**20:.0f} MiB: " + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    return path


# --- people ---------------------------------------------------------------------------------------


def _female_surname(surname: str) -> str:
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith("ский"):
        return surname[:-2] + "ая"
    return surname


def person(rnd: random.Random) -> tuple[str, str, bool]:
    """(first name, surname, Ukrainian?) of a salon client: mostly women."""
    ukrainian = rnd.random() < 0.3
    female = rnd.random() < 0.88
    if ukrainian:
        first = rnd.choice(UA_FEMALE if female else UA_MALE)
        return first, rnd.choice(UA_SURNAMES), True
    first = rnd.choice(RU_FEMALE if female else RU_MALE)
    if rnd.random() < 0.15:
        surname = rnd.choice(RU_INVARIANT)
    else:
        surname = rnd.choice(RU_SURNAMES)
        surname = _female_surname(surname) if female else surname
    return first, surname, False


def latin(value: str) -> str:
    return "".join(LATIN.get(ch, ch) for ch in value.lower())


def phone(rnd: random.Random, ukrainian: bool, used: set[str]) -> str:
    while True:
        if ukrainian:
            e164 = f"+380{rnd.choice(UA_MOBILE)}{rnd.randrange(10**7):07d}"
        else:
            e164 = f"+79{rnd.randrange(10**9):09d}"
        if e164 not in used:
            used.add(e164)
            return e164


# --- the generator --------------------------------------------------------------------------------


def _message_counts(rnd: random.Random, conversations: int, total: int) -> list[int]:
    """A skewed split of `total` messages: most dialogs short, a few of a thousand and more."""
    weights = [rnd.lognormvariate(0, 1.1) for _ in range(conversations)]
    scale = (total - conversations) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    for i in rnd.sample(range(conversations), total - sum(counts)):  # what flooring left over
        counts[i] += 1
    return counts


def _fill(rnd: random.Random, template: str, ukrainian: bool) -> str:
    return template.format(
        service=rnd.choice(SERVICES_UA if ukrainian else SERVICES_RU),
        day=rnd.choice(DAYS_UA if ukrainian else DAYS_RU),
        time=rnd.choice(TIMES),
        master=rnd.choice(MASTERS),
    )


def generate(path: Path, sizes: Sizes) -> dict[str, int]:
    from werkzeug.security import generate_password_hash

    rnd = random.Random(sizes.seed)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-800000")
    con.execute("PRAGMA temp_store=MEMORY")
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("BEGIN")
    ins = con.executemany
    counts: dict[str, int] = {}

    # staff, salon, channels, tags, custom fields
    password_hash = generate_password_hash(PASSWORD)
    created = ts(now - timedelta(days=1200))
    ins(
        "INSERT INTO users (id, name, email, password_hash, role, active, sound_on, language, created_at) "
        "VALUES (?, ?, ?, ?, ?, 1, 1, NULL, ?)",
        [(i + 1, n, e, password_hash, r, created) for i, (n, e, r) in enumerate(STAFF)],
    )
    admins = [i + 1 for i, s in enumerate(STAFF) if s[2] in ("admin", "owner")]
    staff_names = {i + 1: s[0] for i, s in enumerate(STAFF)}
    con.execute("INSERT INTO salon (id, name, timezone) VALUES (1, 'Салон «Окно»', 'Europe/Moscow')")
    ins(
        "INSERT INTO channels (id, kind, name, uid, credentials, settings, enabled, health, health_reason, "
        "health_checked_at, last_sync_at, assignment_mode, created_at) "
        "VALUES (?, ?, ?, ?, '', '{}', 1, 'ok', '', NULL, NULL, 'manual', ?)",
        [(i + 1, k, n, f"bench-{k}-{i + 1}", created) for i, (k, n, _s) in enumerate(CHANNELS)],
    )
    ins(
        "INSERT INTO tags (id, name, color) VALUES (?, ?, ?)",
        [(i + 1, n, c) for i, (n, c) in enumerate(TAGS)],
    )
    ins(
        "INSERT INTO custom_fields (id, name, kind, options, position, active) VALUES (?, ?, ?, ?, ?, 1)",
        [(i + 1, n, k, o, i) for i, (n, k, o) in enumerate(CUSTOM_FIELDS)],
    )

    # clients and their phones
    used_phones: set[str] = set()
    clients = []  # (id, first, surname, ukrainian, [e164])
    client_rows, phone_rows, field_rows = [], [], []
    categories = ("client",) * 90 + ("sleeping",) * 4 + ("model",) * 2 + ("staff",) * 1 + ("not_client",) * 3
    for cid in range(1, sizes.clients + 1):
        first, surname, ua = person(rnd)
        name = f"{first} {surname}" if rnd.random() < 0.93 else first
        phones = [phone(rnd, ua, used_phones) for _ in range(2 if rnd.random() < 0.12 else 1)]
        email = f"{latin(first)}.{latin(surname)}{rnd.randrange(100)}@mail.ru" if rnd.random() < 0.3 else None
        joined = now - timedelta(days=rnd.uniform(30, 1200))
        client_rows.append((cid, name, normalize_text(name), email, rnd.choice(categories), "", ts(joined)))
        for e164 in phones:
            phone_rows.append((len(phone_rows) + 1, cid, e164, e164.lstrip("+")))
        if rnd.random() < 0.3:
            field_rows.append((len(field_rows) + 1, cid, 1, rnd.choice(CUSTOM_FIELDS[0][2].split("\n"))))
        if rnd.random() < 0.05:
            field_rows.append((len(field_rows) + 1, cid, 2, rnd.choice(("латекс", "гель-лак", "хна"))))
        clients.append((cid, first, surname, ua, phones))
    ins(
        "INSERT INTO clients (id, name, name_norm, email, category, notes, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        client_rows,
    )
    ins("INSERT INTO client_phones (id, client_id, e164, digits) VALUES (?, ?, ?, ?)", phone_rows)
    ins("INSERT INTO custom_field_values (id, client_id, field_id, value) VALUES (?, ?, ?, ?)", field_rows)
    counts["clients"], counts["phones"] = len(client_rows), len(phone_rows)

    # visits: past ones arrived or cancelled, a few ahead waiting or confirmed
    visit_rows = []
    for cid, *_rest in clients:
        for _ in range(rnd.choice((0, 0, 1, 2, 3, 4, 6, 9))):
            at = now + timedelta(days=rnd.uniform(-900, 30))
            at = at.replace(minute=rnd.choice((0, 30)), second=0)
            if at > now:
                status = rnd.choice(("waiting", "confirmed"))
            else:
                status = "cancelled" if rnd.random() < 0.12 else "arrived"
            visit_rows.append(
                (len(visit_rows) + 1, cid, ts(at), rnd.choice(SERVICES_RU), rnd.choice(MASTERS), status)
            )
    ins(
        "INSERT INTO visits (id, client_id, starts_at, service, master, status) VALUES (?, ?, ?, ?, ?, ?)",
        visit_rows,
    )
    counts["visits"] = len(visit_rows)

    # contacts: one per conversation; three in four linked to a client, every client to one at least
    weights = [s for _k, _n, s in CHANNELS]
    contact_rows, conv_meta = [], []
    whatsapp_numbers: set[tuple[int, str]] = set()
    order = list(range(sizes.conversations))
    rnd.shuffle(order)
    linked_rank = {vi: j for j, vi in enumerate(order[: int(sizes.conversations * 0.75)])} if clients else {}
    for vid in range(1, sizes.conversations + 1):
        ch = rnd.choices(range(len(CHANNELS)), weights)[0]
        kind = CHANNELS[ch][0]
        rank = linked_rank.get(vid - 1)
        if rank is not None:
            cid, first, surname, ua, phones = clients[rank] if rank < len(clients) else rnd.choice(clients)
            e164 = phones[0]
        else:
            cid = None
            first, surname, ua = person(rnd)
            e164 = phone(rnd, ua, used_phones)
        if kind == "whatsapp" and (ch, e164) in whatsapp_numbers:
            ch, kind = 1, "telegram"  # one WhatsApp identity per number: the client's second chat
        contact_phone = email = None
        if kind in ("whatsapp", "viber"):
            display = rnd.choice(
                (f"{first} {surname}", first, f"{first} {surname[0]}.", f"{first} {surname}")
            )
            contact_phone = e164
            external = e164.lstrip("+") if kind == "whatsapp" else f"vb{vid:07d}=="
            whatsapp_numbers.add((ch, e164))
        elif kind == "telegram":
            display = rnd.choice((f"{first} {surname}", first, latin(first).title(), f"{first} 🌸"))
            contact_phone = e164 if rnd.random() < 0.3 else None
            external = str(100_000_000 + vid * 7)
        elif kind == "instagram":
            display = f"{latin(first)}_{rnd.choice(NICK_WORDS)}{rnd.randrange(1, 99)}"
            external = str(17_840_000_000_000 + vid)
        elif kind == "vk":
            display = f"{first} {surname}"
            external = str(1_000_000 + vid * 3)
        elif kind == "widget":
            display = first
            contact_phone = e164 if rnd.random() < 0.6 else None
            external = f"w{vid:08x}"
        else:
            display = f"{first} {surname}"
            email = f"{latin(first)}.{latin(surname)}.{vid}@gmail.com"
            external = email
        digits = contact_phone.lstrip("+") if contact_phone else None
        contact_rows.append(
            (vid, ch + 1, external, display, normalize_text(display), contact_phone, digits, email,
             int(kind == "widget"), cid)
        )  # fmt: skip
        conv_meta.append((vid, ch + 1, ua))
    con.executemany(
        "INSERT INTO contacts (id, channel_id, external_id, display_name, name_norm, avatar_url, phone, "
        "phone_digits, email, given_by_visitor, blocked, client_id, created_at) "
        f"VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, 0, ?, '{created}')",
        contact_rows,
    )
    counts["contacts"] = len(contact_rows)

    # conversations, their sessions and messages
    message_counts = _message_counts(rnd, sizes.conversations, sizes.messages) if sizes.conversations else []
    conv_rows, session_rows, messages, ctag_rows, comment_rows = [], [], [], [], []
    for (vid, channel_id, ua), n in zip(conv_meta, message_counts, strict=True):
        dialog = _dialog(rnd, now, n, ua, admins, staff_names)
        session_ids = []
        for started_at, closed_at, rows in dialog.sessions:
            sid = len(session_rows) + 1
            session_ids.append(sid)
            session_rows.append((sid, vid, ts(started_at), ts(closed_at) if closed_at else None))
            for row in rows:
                row[1], row[2], row[3] = vid, sid, channel_id
                messages.append(row)
        last_row = dialog.sessions[-1][2][-1]
        snoozed_until = ts(now + timedelta(hours=rnd.choice((1, 5, 24, 72, 168))))
        text_, at, direction, unread = dialog.last_in_out
        conv_rows.append(
            (
                vid, channel_id, vid, dialog.state, int(dialog.spam), dialog.assignee, int(dialog.with_bot),
                snoozed_until if dialog.state == "snoozed" else None,
                last_row[14], preview(text_), ts(at) if at else None, direction, unread, session_ids[-1],
                ts(dialog.sessions[0][0]),
            )
        )  # fmt: skip
        if rnd.random() < 0.1:
            ctag_rows.extend((vid, tag) for tag in rnd.sample(range(1, len(TAGS) + 1), rnd.choice((1, 1, 2))))
        if rnd.random() < 0.02:
            text_ = _fill(rnd, rnd.choice(NOTES), False)
            comment_rows.append((len(comment_rows) + 1, vid, None, rnd.choice(admins), text_, last_row[14]))

    # message ids grow with time, as they do when messages arrive one by one
    messages.sort(key=lambda row: row[14])
    attach_rows, rev_rows = [], []
    for mid, row in enumerate(messages, 1):
        row[0] = mid
        if row[10] is not None:
            row[10] = f"{row[10]}{mid}"
        extra = row.pop()
        if extra == "image":
            size = rnd.randrange(50_000, 3_000_000)
            attach_rows.append((len(attach_rows) + 1, mid, f"IMG_{mid}.jpg", "image/jpeg", size, ""))
        elif extra == "edited":
            rev_rows.append((len(rev_rows) + 1, mid, row[6] + " (было)", row[15]))
    for i in range(0, len(messages), 100_000):
        # the migration's AFTER INSERT trigger fills messages_fts as the app would
        con.executemany(
            "INSERT INTO messages (id, conversation_id, session_id, channel_id, direction, kind, text, "
            "event, data, author_id, external_id, reply_to_id, delivery_status, delivery_error, "
            "created_at, edited_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            messages[i : i + 100_000],
        )
    ins("INSERT INTO sessions (id, conversation_id, started_at, closed_at) VALUES (?, ?, ?, ?)", session_rows)
    ins(
        "INSERT INTO conversations (id, channel_id, contact_id, state, is_spam, assignee_id, with_bot, "
        "snoozed_until, last_activity_at, last_message_preview, last_message_at, last_message_direction, "
        "unread_count, current_session_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        conv_rows,
    )
    ins(
        "INSERT INTO attachments (id, message_id, filename, content_type, size, storage_path) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        attach_rows,
    )
    ins("INSERT INTO message_revisions (id, message_id, text, replaced_at) VALUES (?, ?, ?, ?)", rev_rows)
    ins("INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)", ctag_rows)
    ins(
        "INSERT INTO comments (id, conversation_id, session_id, author_id, text, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        comment_rows,
    )
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    counts.update(
        conversations=len(conv_rows),
        sessions=len(session_rows),
        messages=len(messages),
        attachments=len(attach_rows),
    )
    return counts


@dataclass
class Dialog:
    state: str
    spam: bool
    with_bot: bool
    assignee: int | None
    # (started_at, closed_at or None, message rows) per session, oldest first
    sessions: list
    # (text, at, direction, unread count) of the last client/staff message
    last_in_out: tuple


def _dialog(rnd: random.Random, now: datetime, n: int, ua: bool, admins: list[int], staff_names) -> Dialog:
    """One conversation of n messages: its state and its sessions of client, staff, note, event rows.

    Rows are lists in the messages table's column order (ids filled in later) plus one
    marker: "image" (an attachment follows) or "edited" (a revision follows) or None.
    """
    r = rnd.random()
    spam = with_bot = unanswered = False
    if r < 0.03:
        spam, state = True, rnd.choice(("open", "closed"))
    elif r < 0.08:
        with_bot, state = True, "open"
    elif r < 0.22:
        state, unanswered = "open", r < 0.16  # the rest: answered, waiting for the client
    elif r < 0.25:
        state = "snoozed"
    else:
        state = "closed"
    open_unassigned = state == "open" and rnd.random() < 0.35
    assignee = None if (with_bot or spam or open_unassigned) else rnd.choice(admins)
    # the last message: open dialogs are recent, closed ones anywhere in three years
    if state == "closed":
        end = now.timestamp() - rnd.uniform(3600, 3 * 365 * 86400)
    elif state == "snoozed":
        end = now.timestamp() - rnd.uniform(3600, 20 * 86400)
    else:
        end = now.timestamp() - rnd.expovariate(1 / (2 * 86400)) - 60
    count = 1 if spam or with_bot else max(1, min(n // 6, 1 + int(rnd.expovariate(1 / 2.5))))
    bounds = sorted(rnd.sample(range(1, n), count - 1)) if count > 1 else []
    lengths = [b - a for a, b in zip([0, *bounds], [*bounds, n], strict=True)]
    plan, t_end = [], end
    for k in reversed(lengths):
        gaps = [rnd.expovariate(1 / 360) + 10 for _ in range(k)]
        t_start = t_end - sum(gaps)
        plan.append((k, t_start, gaps))
        t_end = t_start - rnd.uniform(2, 120) * 86400
    plan.reverse()

    client_pool = CLIENT_UA if ua else CLIENT_RU
    staff_pool = STAFF_UA if ua else STAFF_RU
    sessions, unread, last_in_out = [], 0, ("", None, None, 0)
    for si, (k, t, gaps) in enumerate(plan):
        last = si == len(plan) - 1
        closing = not last or state == "closed"
        staff = assignee or rnd.choice(admins)
        started = datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
        took, rows = False, []
        for j in range(k):
            t += gaps[j]
            left = k - j
            event = None
            if spam:
                direction, text_ = "in", rnd.choice(SPAM)
            elif j == 0 or (last and unanswered and left <= 1 + j % 2):
                direction, text_ = "in", _fill(rnd, rnd.choice(client_pool), ua)
            elif closing and left == 1 and k > 2:
                direction, text_, event = "event", "", "closed"
            elif with_bot:
                direction = "out" if j % 2 else "in"
                text_ = _fill(rnd, rnd.choice(BOT_OUT if j % 2 else client_pool), ua)
            else:
                x = rnd.random()
                if not took and x < 0.2:
                    direction, text_, event, took = "event", "", "took", True
                elif x < 0.24:
                    direction, text_ = "note", _fill(rnd, rnd.choice(NOTES), ua)
                elif x < 0.6:
                    direction, text_ = "out", _fill(rnd, rnd.choice(staff_pool), ua)
                else:
                    direction, text_ = "in", _fill(rnd, rnd.choice(client_pool), ua)
            at = datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
            kind, author, external, status, error, edited, marker = "text", None, None, None, "", None, None
            data = "{}"
            if direction == "event":
                author, data = staff, json.dumps({"actor": staff_names[staff]}, ensure_ascii=False)
            elif direction == "note":
                author = staff
            elif direction == "in":
                external = "m"
                if rnd.random() < 0.02:
                    kind, marker = "image", "image"
                    text_ = text_ if rnd.random() < 0.5 else ""
                elif rnd.random() < 0.004:
                    edited, marker = ts(at + timedelta(minutes=3)), "edited"
                unread += 1
                last_in_out = (text_, at, "in", unread)
            else:
                author, external = (None if with_bot else staff), "o"
                status = "read" if rnd.random() < 0.8 else "delivered"
                if rnd.random() < 0.005:
                    status, error = "failed", rnd.choice(FAILED_REASONS)
                unread = 0
                last_in_out = (text_, at, "out", 0)
            rows.append(
                [0, 0, 0, 0, direction, kind, text_, event, data, author, external, None, status, error,
                 ts(at), edited, marker]
            )  # fmt: skip
        closed = datetime.fromtimestamp(t, UTC).replace(tzinfo=None) if closing else None
        sessions.append((started, closed, rows))
    return Dialog(state, spam, with_bot, assignee, sessions, last_in_out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=Sizes.clients)
    parser.add_argument("--conversations", type=int, default=Sizes.conversations)
    parser.add_argument("--messages", type=int, default=Sizes.messages)
    parser.add_argument("--seed", type=int, default=Sizes.seed)
    parser.add_argument("--regenerate", action="store_true", help="ignore a cached file")
    args = parser.parse_args(argv)
    sizes = Sizes(args.clients, args.conversations, args.messages, args.seed)
    if sizes.messages < sizes.conversations:
        parser.error("--messages must be at least --conversations (every dialog has a message)")
    print(ensure_dataset(sizes, regenerate=args.regenerate))


if __name__ == "__main__":
    main()

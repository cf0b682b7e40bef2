"""The demo salon "Okno Demo": a deterministic, realistic data set to look at and click through.

Everything is drawn from random.Random(42) and placed relative to one anchor, today at
10:00 in the salon's time zone, so "today" and "yesterday" read right on any day while the
rows are the same on every run apart from that shift.
"""

import random
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, g
from sqlalchemy import func, select

from extensions import db
from models import (
    Attachment,
    Channel,
    Client,
    Comment,
    Contact,
    Conversation,
    CustomField,
    CustomFieldValue,
    Message,
    MessageRevision,
    Salon,
    Tag,
    Template,
    User,
    Visit,
)
from services.clients import add_phone, set_client_name
from services.conversations import open_session
from services.db import begin_write
from services.events import record_event
from services.text import normalize_phone, normalize_text, preview

SEED = 42
SALON_NAME = "Okno Demo"
TIMEZONE = "Europe/Moscow"
PASSWORD = "okno-demo"
UPLOAD_SUBDIR = "demo"

STAFF = (
    # key, e-mail, name, role
    ("owner", "owner@salon.test", "Ирина Владимировна", "owner"),
    ("anna", "anna@salon.test", "Анна Соколова", "admin"),
    ("olena", "olena@salon.test", "Олена Коваль", "admin"),
    ("master", "master@salon.test", "Светлана Морозова", "master"),
)

MASTERS = ("Светлана Морозова", "Оксана Бондаренко", "Кристина Лебедева", "Юлия Ткаченко")
SERVICES = (
    "Стрижка женская",
    "Стрижка мужская",
    "Маникюр с покрытием",
    "Педикюр",
    "Окрашивание",
    "Укладка",
    "Коррекция бровей",
    "Наращивание ресниц",
)

CHANNELS = (
    # kind, name, uid
    ("widget", "Сайт салона", "demo-widget"),
    ("telegram", "Telegram @okno_demo_bot", "demo-telegram"),
    ("whatsapp", "WhatsApp +7 495 123-45-67", "demo-whatsapp"),
    ("viber", "Viber Okno Demo", "demo-viber"),
    ("vk", "ВКонтакте okno.demo", "demo-vk"),
)
BROKEN_CHANNEL = "vk"
BROKEN_REASON = "Токен отозван (401 Unauthorized)"

TAGS = (("VIP", "#d97706"), ("Новый клиент", "#16a34a"), ("Жалоба", "#dc2626"), ("Запись", "#2563eb"))

FIELDS = (
    # name, kind, options
    ("Тип волос", "select", "Прямые\nВолнистые\nКудрявые\nОкрашенные\nТонкие"),
    ("Аллергии", "text", ""),
    ("Любимый мастер", "text", ""),
    ("День рождения", "date", ""),
)
ALLERGIES = ("Гель-лак Kodi", "Аммиачные красители", "Латекс", "Цитрусовые масла")

TEMPLATES = (
    (
        "Приветствие",
        "Здравствуйте, {client.first_name}! Это {staff.first_name}, салон «{salon.name}». Чем могу помочь?",
    ),
    (
        "Напоминание о визите",
        "{client.first_name}, напоминаем о записи {visit.date} в {visit.time}: {visit.service}. Ждём вас!",
    ),
    (
        "Подтверждение записи",
        "Записали вас на {visit.service} {visit.date} в {visit.time}. Если планы изменятся, напишите нам.",
    ),
    (
        "Адрес и парковка",
        "Мы на Пятницкой, 12, вход со двора. Бесплатная парковка во дворе после 19:00. Салон «{salon.name}».",
    ),
    (
        "Спасибо за визит",
        "{client.first_name}, спасибо, что выбрали «{salon.name}»! Будем рады видеть вас снова 💐",
    ),
    (
        "Вітання (укр.)",
        "Вітаю, {client.first_name}! Це {staff.first_name}, салон «{salon.name}». Чим можу допомогти?",
    ),
)

# name, language (phone country), category, e-mail, notes, phones
CLIENTS = (
    ("Мария Иванова", "ru", "client", "maria.ivanova@mail.ru", "Предпочитает утро. Пишет в Telegram.", 2),
    ("Ольга Петрова", "ru", "client", "", "", 1),
    ("Екатерина Смирнова", "ru", "client", "kate.smirnova@yandex.ru", "", 1),
    ("Наталья Кузнецова", "ru", "client", "", "", 1),
    ("Анастасия Попова", "ru", "client", "", "Часто опаздывает на 10–15 минут.", 1),
    ("Татьяна Васильева", "ru", "client", "", "", 1),
    ("Елена Новикова", "ru", "client", "e.novikova@gmail.com", "", 1),
    ("Юлия Фёдорова", "ru", "client", "", "", 1),
    ("Дарья Морозова", "ru", "client", "", "Заблокировала бота в Telegram — звонить.", 1),
    ("Алёна Волкова", "ru", "client", "alena.volkova@mail.ru", "Постоянная клиентка с 2019 года.", 1),
    ("Ксения Соловьёва", "ru", "client", "", "", 1),
    ("Светлана Зайцева", "ru", "client", "", "", 1),
    ("Виктория Павлова", "ru", "client", "", "", 1),
    ("Полина Семёнова", "ru", "client", "polina.s@yandex.ru", "", 1),
    ("Ирина Голубева", "ru", "client", "", "", 1),
    ("Дмитрий Орлов", "ru", "client", "", "Стрижка машинкой, насадка 6 мм.", 1),
    ("Евгения Козлова", "ru", "client", "", "", 1),
    ("Маргарита Белова", "ru", "client", "rita.belova@gmail.com", "", 1),
    ("Оксана Шевченко", "ua", "client", "oksana.shevchenko@ukr.net", "", 1),
    ("Наталія Бойко", "ua", "client", "", "", 1),
    ("Ірина Мельник", "ua", "client", "", "", 1),
    ("Світлана Ковальчук", "ua", "client", "", "", 2),
    ("Олександра Кравченко", "ua", "client", "", "", 1),
    ("Юлія Лисенко", "ua", "client", "yulia.lysenko@gmail.com", "", 1),
    ("Тетяна Бондар", "ua", "client", "", "Завжди до Оксани.", 1),
    ("Марина Олійник", "ua", "client", "", "", 1),
    ("Андрій Марченко", "ua", "client", "", "", 1),
    ("Катерина Савченко", "ua", "client", "", "", 1),
    ("Ганна Руденко", "ua", "client", "", "", 1),
    ("Вікторія Гнатюк", "ua", "client", "", "", 1),
    ("Продвижение в Instagram", "ru", "spam", "", "Рассылка рекламы.", 1),
    ("Лучшие кредиты 24/7", "ru", "spam", "", "", 1),
    ("Crypto Invest", "ua", "spam", "", "", 1),
    ("Кристина Лебедева", "ru", "staff", "", "Мастер маникюра.", 1),
    ("Оксана Бондаренко", "ua", "staff", "", "Мастер бровей и педикюра.", 1),
    ("Вероника Лебедь", "ru", "model", "", "Модель для отработки наращивания ресниц.", 1),
    ("Алиса Карпова", "ru", "model", "", "", 1),
    ("Софія Романенко", "ua", "model", "", "", 1),
    ("Людмила Сергеевна Гришина", "ru", "sleeping", "", "Переехала в другой район.", 1),
    ("Галина Петренко", "ua", "sleeping", "", "", 1),
    ("Вера Николаева", "ru", "sleeping", "", "", 1),
    (
        "Косметик-Опт (поставщик)",
        "ru",
        "not_client",
        "orders@kosmetik-opt.example",
        "Поставки по четвергам.",
        1,
    ),
    ("Фотограф Максим", "ru", "not_client", "", "Снимает портфолио салона.", 1),
)

RU_OPERATORS = ("903", "905", "909", "915", "916", "925", "926", "977", "985", "999")
UA_OPERATORS = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")

# ---- dialogs --------------------------------------------------------------------------------
# A step is (kind, text, ...): in / out / note / bot; in_img (caption, image key); out_pdf;
# in_edited (text, earlier text); out_failed (text, error); wait (days); close; reopen.

RU_BOOKING = [
    ("in", "Здравствуйте! Хочу записаться на маникюр с покрытием"),
    ("out", "Здравствуйте, {first}! Есть время в четверг в 11:00 или в 16:30 к Кристине. Как вам удобнее?"),
    ("in", "Давайте в 16:30"),
    ("out", "Записала вас на четверг, 16:30, маникюр с покрытием. Ждём вас!"),
    ("in", "Спасибо!"),
]
RU_RESCHEDULE = [
    ("in", "Добрый день, можно перенести запись на пятницу? Заболел ребёнок"),
    ("out", "Конечно, {first}. В пятницу свободно 10:00 и 14:00"),
    ("in", "14:00 подойдёт"),
    ("out", "Готово, перенесли на пятницу 14:00. Выздоравливайте!"),
]
RU_PRICE = [
    ("in", "Сколько стоит окрашивание в один тон, волосы до плеч?"),
    (
        "out",
        "Окрашивание в один тон до плеч — от 4 500 ₽, точная цена зависит от густоты. "
        "Могу записать на консультацию, это бесплатно",
    ),
    ("in", "Давайте, на следующей неделе"),
    ("out", "Во вторник в 12:00 у Светланы подойдёт?"),
    ("in", "Да, отлично"),
    ("out", "Записала! До встречи во вторник"),
]
RU_THANKS = [
    ("in", "Спасибо большое Светлане, стрижка супер! 😍"),
    ("out", "{first}, спасибо за тёплые слова! Обязательно передадим Светлане"),
]
RU_CANCEL = [
    ("in", "Добрый день, к сожалению, не смогу прийти завтра, отмените, пожалуйста"),
    ("out", "Отменили запись, {first}. Хотите выбрать другое время?"),
    ("in", "Пока нет, напишу позже"),
]
RU_ADDRESS = [
    ("in", "Как к вам лучше добраться? Есть парковка?"),
    ("out", "Мы на Пятницкой, 12, вход со двора. Парковка на улице платная, во дворе бесплатно после 19:00"),
    ("in", "Поняла, спасибо"),
]
RU_GIFT = [
    ("in", "У вас есть подарочные сертификаты?"),
    ("out", "Да, на любую сумму от 2 000 ₽ или на конкретную услугу. Оформить можно на ресепшене или онлайн"),
    ("in", "А можно на 5 000 и с доставкой?"),
]
UA_BOOKING = [
    ("in", "Добрий день! Хочу записатися на стрижку"),
    ("out", "Вітаю, {first}! Є вільний час у середу о 10:00 та у п'ятницю о 15:30. Що вам зручніше?"),
    ("in", "П'ятниця о 15:30 ідеально"),
    ("out", "Записали вас на п'ятницю, 15:30. Чекаємо!"),
    ("in", "Дякую!"),
]
UA_RESCHEDULE = [
    ("in", "Доброго дня, чи можна перенести запис з вівторка на четвер?"),
    ("out", "Так, {first}, у четвер є 11:00 або 17:00"),
    ("in", "Тоді 17:00"),
    ("out", "Перенесли на четвер, 17:00. Гарного дня!"),
]
UA_PRICE = [
    ("in", "Скільки коштує педикюр з покриттям?"),
    ("out", "Педикюр з покриттям — 1 800 ₴, триває близько півтори години"),
    ("in", "Дякую, подумаю"),
]
UA_THANKS = [
    ("in", "Дуже дякую Оксані за манікюр, тримається вже три тижні!"),
    ("out", "{first}, дякуємо! Передамо Оксані, їй буде дуже приємно 💛"),
]
UA_REGULAR = [
    ("in", "Привіт! Запишіть мене як завжди до Оксани на корекцію брів"),
    ("out", "Привіт, {first}! Субота 12:00 підходить?"),
    ("in", "Так"),
    ("out", "Чудово, записали. До зустрічі!"),
]
RU_BOT_MENU = [
    ("in", "/start"),
    (
        "bot",
        "Здравствуйте! Я бот салона «Okno Demo». 1 — записаться, 2 — цены, 3 — связаться с администратором",
    ),
]
UA_BOT_MENU = [
    ("in", "/start"),
    ("bot", "Вітаю! Я бот салону «Okno Demo». 1 — записатися, 2 — ціни, 3 — зв'язатися з адміністратором"),
]


@dataclass
class Spec:
    """One demo conversation: who writes where, what was said, and where it ended up."""

    kind: str  # new, waiting, answered, snoozed, closed, reopened, spam, bot
    channel: str
    who: str | tuple  # a client's name, or ("unknown", display name, phone or None)
    steps: list
    staff: str | None = None
    assigned_by: str | None = None  # "assigned" by this staff member instead of "took"
    when: str | int = "today"  # "now", "today", "yesterday" or days ago
    tags: tuple = ()
    session_tags: tuple = ()
    comments: tuple = ()  # (staff key, text, on_session)
    blocked: bool = False
    given_by_visitor: bool = False
    spam_by: str | None = None


def _unknown(name: str, phone: str | None = None) -> tuple:
    return ("unknown", name, phone)


SPECS = [
    # ---- new: unassigned and unanswered ----
    Spec(
        "new",
        "telegram",
        _unknown("Катя"),
        [("in", "Здравствуйте! Можно записаться на стрижку на субботу?"), ("in", "Желательно после 12")],
        when="now",
        tags=("Новый клиент",),
    ),
    Spec(
        "new",
        "whatsapp",
        "Ольга Петрова",
        [
            ("in", "Добрый день, сколько стоит окрашивание на длинные волосы?"),
            ("in_img", "Хочу примерно такой цвет", "hair"),
        ],
    ),
    Spec(
        "new",
        "widget",
        _unknown("Марина", "+7 903 555-12-34"),
        [("in", "Добрый день! У вас есть свободное время на маникюр сегодня вечером?")],
        given_by_visitor=True,
        when="now",
    ),
    Spec(
        "new",
        "viber",
        "Оксана Шевченко",
        [("in", "Можна перенести мій запис на п'ятницю?"), ("in", "На будь-який час після 15:00")],
    ),
    Spec("new", "telegram", "Наталья Кузнецова", [("in", "Подскажите, педикюр с покрытием сколько длится?")]),
    Spec("new", "vk", _unknown("Алина Смирнова"), [("in", "Здравствуйте! Вы работаете в воскресенье?")]),
    Spec(
        "new",
        "whatsapp",
        _unknown("", "+380 67 204 18 93"),
        [("in", "Добрий день! Можна записатися на манікюр на четвер?")],
        tags=("Новый клиент",),
    ),
    Spec("new", "telegram", "Ірина Мельник", [("in", "Вітаю! Ви робите ламінування брів?")], when="now"),
    Spec("new", "widget", _unknown(""), [("in", "Сколько стоит мужская стрижка?")], when="yesterday"),
    Spec(
        "new", "viber", "Анастасия Попова", [("in", "Я опаздываю минут на 15, ничего страшного?")], when="now"
    ),
    Spec(
        "new",
        "telegram",
        "Юлія Лисенко",
        [("in", "Доброго вечора, чи є вільні вікна на педикюр у вихідні?")],
        when="yesterday",
    ),
    Spec(
        "new",
        "whatsapp",
        "Татьяна Васильева",
        [("in", "Добрый вечер! Хочу записать маму на стрижку, есть скидки для пенсионеров?")],
        when="yesterday",
    ),
    # ---- assigned, the client wrote after the last reply ----
    Spec(
        "waiting",
        "telegram",
        "Мария Иванова",
        [
            (
                "in_edited",
                "Здравствуйте! Можно перенести запись на пятницу?",
                "Здравствуйте! Можно перенести запись на четверг?",
            ),
            ("out", "Здравствуйте, {first}! На пятницу есть 10:00 и 14:00, что удобнее?"),
            ("in", "А есть что-нибудь после 17?"),
        ],
        staff="anna",
        when="now",
        tags=("VIP",),
    ),
    Spec(
        "waiting",
        "whatsapp",
        "Наталія Бойко",
        UA_BOOKING[:4] + [("in", "А можна ще й брови заодно?")],
        staff="olena",
        session_tags=("Запись",),
    ),
    Spec(
        "waiting",
        "widget",
        _unknown("Вероника"),
        RU_GIFT,
        staff="anna",
        tags=("Новый клиент",),
    ),
    Spec(
        "waiting",
        "viber",
        "Екатерина Смирнова",
        [
            ("in", "Здравствуйте. Покрытие откололось на двух ногтях через три дня"),
            ("in_img", "Вот фото", "nails"),
            ("note", "Постоянная клиентка: предложить снятие и новое покрытие бесплатно"),
            ("out", "{first}, очень жаль! Приходите, исправим бесплатно. Когда вам удобно?"),
            ("in", "Завтра после работы, часов в 19"),
        ],
        staff="olena",
        assigned_by="anna",
        tags=("Жалоба",),
        session_tags=("Жалоба",),
        comments=(("anna", "Проверить, кто делал покрытие: третий случай за месяц", False),),
    ),
    Spec(
        "waiting",
        "telegram",
        "Андрій Марченко",
        [
            ("in", "Добрий день, запишіть на чоловічу стрижку на завтра"),
            ("out", "Вітаю, Андрію! Завтра о 18:00 підійде?"),
            ("in", "А раніше ніяк?"),
            ("in", "Можу о 16:00"),
        ],
        staff="anna",
    ),
    Spec(
        "waiting",
        "vk",
        "Полина Семёнова",
        RU_ADDRESS + [("in", "А можно прийти с собакой? Она маленькая 🙂")],
        staff="olena",
        when="yesterday",
    ),
    # ---- assigned and answered ----
    Spec(
        "answered",
        "telegram",
        "Дарья Морозова",
        [
            ("in", "Добрый день! Запишите на укладку в субботу к 9 утра"),
            ("out", "Здравствуйте, {first}! Суббота 9:00 свободна, записала вас к Светлане"),
            ("in", "Отлично, спасибо"),
            (
                "out_failed",
                "{first}, напоминаем: в субботу в 9:00 укладка. Ждём вас!",
                "Forbidden: bot was blocked by the user",
            ),
            ("note", "Клиентка заблокировала бота: напомнить по телефону"),
        ],
        staff="anna",
        blocked=True,
    ),
    Spec(
        "answered",
        "whatsapp",
        "Елена Новикова",
        RU_PRICE[:2] + [("out_pdf", "Полный прайс-лист во вложении", "price")],
        staff="olena",
    ),
    Spec("answered", "widget", "Виктория Павлова", RU_BOOKING[:4], staff="anna", session_tags=("Запись",)),
    Spec("answered", "viber", "Світлана Ковальчук", UA_RESCHEDULE, staff="olena", when="yesterday"),
    Spec("answered", "telegram", "Алёна Волкова", RU_THANKS, staff="anna", tags=("VIP",), when="yesterday"),
    Spec("answered", "whatsapp", "Тетяна Бондар", UA_REGULAR, staff="olena", session_tags=("Запись",)),
    Spec(
        "answered",
        "telegram",
        "Кристина Лебедева",
        [
            ("in", "Ань, я завтра на час позже, в 11 буду. Перенеси мою первую клиентку, пожалуйста"),
            ("out", "Хорошо, Кристина, перенесла Викторию на 12:00"),
        ],
        staff="anna",
    ),
    Spec(
        "answered",
        "vk",
        "Вероника Лебедь",
        [
            ("in", "Здравствуйте! Готова прийти моделью на наращивание ресниц в среду"),
            ("out", "{first}, отлично! Среда, 15:00, мастер Юлия. Отработка бесплатная"),
        ],
        staff="olena",
        when=2,
    ),
    # ---- snoozed until tomorrow ----
    Spec(
        "snoozed",
        "telegram",
        "Ксения Соловьёва",
        [
            ("in", "Хочу записаться на окрашивание, но пока не знаю, когда свободна"),
            ("out", "Конечно, {first}! Напишу вам завтра утром, когда будет готово расписание"),
        ],
        staff="anna",
    ),
    Spec(
        "snoozed",
        "whatsapp",
        "Олександра Кравченко",
        [("in", "Я уточню в чоловіка і напишу завтра, добре?"), ("out", "Добре, Олександро, чекаю!")],
        staff="olena",
        when="yesterday",
    ),
    Spec(
        "snoozed",
        "viber",
        "Светлана Зайцева",
        RU_CANCEL + [("out", "Хорошо, напомню вам завтра 🙂")],
        staff="anna",
    ),
    Spec(
        "snoozed",
        "widget",
        _unknown("Лидия"),
        [
            ("in", "Хочу подарить маме сертификат, но надо посоветоваться с сестрой"),
            ("out", "Конечно! Напомню вам завтра"),
        ],
        staff="olena",
    ),
    Spec(
        "snoozed",
        "telegram",
        "Марина Олійник",
        [
            ("in", "Коли буде знижка на педикюр?"),
            ("out", "Марино, акції на наступний місяць будуть завтра, я вам напишу"),
        ],
        staff="anna",
        when="yesterday",
    ),
    # ---- closed ----
    Spec("closed", "telegram", "Ирина Голубева", RU_BOOKING, staff="anna", when=3, session_tags=("Запись",)),
    Spec("closed", "whatsapp", "Юлия Фёдорова", RU_RESCHEDULE, staff="olena", when=4),
    Spec("closed", "viber", "Катерина Савченко", UA_BOOKING, staff="anna", when=5, session_tags=("Запись",)),
    Spec(
        "closed",
        "widget",
        "Дмитрий Орлов",
        [
            ("in", "Сколько стоит мужская стрижка?"),
            ("out", "Мужская стрижка — 1 500 ₽, машинкой — 900 ₽"),
            ("in", "Спасибо, запишусь через сайт"),
        ],
        staff="olena",
        when=6,
    ),
    Spec(
        "closed",
        "telegram",
        "Людмила Сергеевна Гришина",
        [
            ("in", "Добрый день, я пока не буду ходить, переезжаю"),
            ("out", "Людмила Сергеевна, спасибо, что предупредили! Будем рады видеть вас снова"),
        ],
        staff="anna",
        when=60,
    ),
    Spec(
        "closed",
        "whatsapp",
        "Галина Петренко",
        [("in", "Дякую, поки що не потрібно"), ("out", "Добре, Галино! Якщо що — пишіть 💛")],
        staff="olena",
        when=45,
    ),
    Spec(
        "closed",
        "vk",
        "Косметик-Опт (поставщик)",
        [
            ("in", "Добрый день! Заказ по накладной 1187 привезём в четверг с 10 до 14"),
            ("out", "Хорошо, будем на месте"),
        ],
        staff="anna",
        when=8,
    ),
    Spec(
        "closed",
        "telegram",
        "Фотограф Максим",
        [("in", "Фото с вашей съёмки готовы, ссылка: disk.example/okno"), ("out", "Спасибо, Максим!")],
        staff="olena",
        when=12,
    ),
    Spec("closed", "viber", "Ольга Петрова", RU_THANKS, staff="anna", when=20),
    Spec("closed", "telegram", "Евгения Козлова", RU_PRICE, staff="olena", when=9, session_tags=("Запись",)),
    Spec(
        "closed",
        "whatsapp",
        "Маргарита Белова",
        RU_CANCEL,
        staff="anna",
        when=11,
        comments=(("anna", "Отмена без переноса, предложить окно в следующем месяце", True),),
    ),
    Spec("closed", "telegram", "Ганна Руденко", UA_PRICE, staff="olena", when=14),
    Spec("closed", "viber", "Вікторія Гнатюк", UA_THANKS, staff="anna", when=7, tags=("VIP",)),
    Spec(
        "closed",
        "widget",
        _unknown("Игорь"),
        [
            ("in", "Вы делаете мужской маникюр?"),
            ("out", "Да, мужской маникюр — 1 200 ₽, около часа"),
            ("in", "Спасибо"),
        ],
        staff="olena",
        when=16,
    ),
    Spec("closed", "vk", "Алиса Карпова", RU_ADDRESS, staff="anna", when=25),
    # ---- closed, then the client wrote again: a new session ----
    Spec(
        "reopened",
        "whatsapp",
        "Мария Иванова",
        RU_BOOKING
        + [
            ("wait", 10),
            ("reopen",),
            ("in", "Здравствуйте ещё раз! Можно снова к Кристине на следующей неделе?"),
        ],
        staff="anna",
        tags=("VIP",),
        comments=(("olena", "Просит всегда только к Кристине", False),),
    ),
    Spec(
        "reopened",
        "telegram",
        "Тетяна Бондар",
        UA_THANKS
        + [("wait", 6), ("reopen",), ("in", "Доброго дня! Хочу знову до Оксани, є час на цьому тижні?")],
        staff="olena",
        when="now",
    ),
    Spec(
        "reopened",
        "viber",
        "Наталья Кузнецова",
        RU_PRICE[:2] + [("wait", 4), ("reopen",), ("in", "Добрый день, всё-таки решилась на окрашивание 🙂")],
        staff="anna",
    ),
    Spec(
        "reopened",
        "telegram",
        _unknown("Никита"),
        [
            ("in", "Сколько стоит оформление бороды?"),
            ("out", "Оформление бороды — 800 ₽"),
            ("wait", 3),
            ("reopen",),
            ("in", "Можно на сегодня на 18:00?"),
        ],
        staff="olena",
        when="now",
    ),
    # ---- spam ----
    Spec(
        "spam",
        "telegram",
        "Продвижение в Instagram",
        [
            (
                "in",
                "Продвинем ваш салон в ТОП Instagram за 3 дня! Первые 1000 подписчиков бесплатно "
                "👉 bit.ly/promo-top",
            )
        ],
        spam_by="anna",
        when="yesterday",
    ),
    Spec(
        "spam",
        "whatsapp",
        "Лучшие кредиты 24/7",
        [("in", "Одобрен кредит до 500 000 ₽ без справок. Ответьте ДА")],
        spam_by="olena",
        when=2,
    ),
    Spec(
        "spam",
        "vk",
        "Crypto Invest",
        [("in", "Invest in crypto with 300% monthly return. Write me now!!!")],
        spam_by="anna",
        when=3,
    ),
    Spec(
        "spam",
        "viber",
        _unknown("Служба безопасности"),
        [("in", "Ваш аккаунт будет заблокирован. Подтвердите данные по ссылке: http://vk-security.example")],
        spam_by="olena",
        when="today",
    ),
    # ---- with the bot ----
    Spec(
        "bot",
        "telegram",
        _unknown("Лена"),
        RU_BOT_MENU
        + [
            ("in", "2"),
            ("bot", "Стрижка женская — от 2 000 ₽, маникюр с покрытием — 2 500 ₽, педикюр — 3 000 ₽"),
        ],
    ),
    Spec(
        "bot",
        "telegram",
        "Вікторія Гнатюк",
        UA_BOT_MENU + [("in", "1"), ("bot", "Оберіть послугу: манікюр, педикюр, стрижка"), ("in", "Манікюр")],
        when="now",
    ),
    Spec("bot", "viber", _unknown("Sergey"), [("in", "Привет")] + RU_BOT_MENU[1:], when="yesterday"),
    Spec(
        "bot",
        "widget",
        _unknown(""),
        [
            ("in", "Здравствуйте"),
            ("bot", "Здравствуйте! Оставьте, пожалуйста, имя и телефон — администратор перезвонит"),
        ],
        when="yesterday",
    ),
    Spec(
        "bot",
        "whatsapp",
        "Евгения Козлова",
        [
            (
                "bot",
                "Напоминаем о записи завтра в 12:00: маникюр с покрытием. "
                "Ответьте 1 — подтвердить, 2 — отменить",
            ),
            ("in", "1"),
            ("bot", "Спасибо, запись подтверждена!"),
        ],
    ),
    Spec(
        "bot",
        "viber",
        "Оксана Шевченко",
        [
            ("bot", "Нагадуємо про запис у п'ятницю о 15:30. Відповідайте 1 — підтвердити, 2 — скасувати"),
            ("in", "2"),
            ("bot", "Запис скасовано. Напишіть, коли захочете обрати інший час"),
        ],
        when=2,
    ),
]


# ---- small valid files, made with the standard library only --------------------------------


def _png(width: int, height: int, pixel) -> bytes:
    """An RGB PNG whose pixel(x, y) -> (r, g, b)."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _pdf(title: str) -> bytes:
    """A one-page PDF with a line of ASCII text."""
    stream = f"BT /F1 18 Tf 72 760 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


FILES = {
    # key: (file name, content type, maker)
    "hair": (
        "hair-colour.png",
        "image/png",
        lambda: _png(96, 96, lambda x, y: (150 + x // 2, 90 + y // 2, 40 + (x + y) // 8)),
    ),
    "nails": (
        "nails.png",
        "image/png",
        lambda: _png(96, 96, lambda x, y: (235, 120 + (40 if (x // 12) % 2 else 0), 160 + y // 3)),
    ),
    "price": ("Прайс-лист Okno Demo.pdf", "application/pdf", lambda: _pdf("Okno Demo - price list")),
}


# ---- the seed --------------------------------------------------------------------------------


def demo_anchor(now: datetime | None = None) -> datetime:
    """Today at 10:00 in the demo salon's time zone, as UTC: every demo time is relative to it."""
    zone = ZoneInfo(TIMEZONE)
    local_now = (now or datetime.now(UTC)).astimezone(zone)
    return datetime.combine(local_now.date(), time(10, 0), tzinfo=zone).astimezone(UTC)


def seed_demo(only_if_empty: bool, anchor: datetime | None = None) -> bool:
    """Fill the database with the demo salon; False (and no change) when it has data already.

    only_if_empty: skip when there is any staff account (what `make db` wants). Otherwise
    skip only when the demo itself is there. `anchor` (UTC, aware) pins the base time.
    """
    begin_write()
    if only_if_empty:
        has_data = db.session.scalar(select(func.count()).select_from(User)) > 0
    else:
        has_data = (
            db.session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.email.in_([email for _k, email, _n, _r in STAFF]))
            )
            + db.session.scalar(
                select(func.count())
                .select_from(Channel)
                .where(Channel.uid.in_([uid for _k, _n, uid in CHANNELS]))
            )
            > 0
        )
    if has_data:
        db.session.rollback()
        return False
    _Builder(anchor or demo_anchor()).build()
    db.session.commit()
    g.pop("salon", None)
    return True


@dataclass
class _Timeline:
    """What one conversation's messages add up to, for its denormalized list fields."""

    last_in_out: Message | None = None
    unread: int = 0
    last_at: datetime | None = None
    messages: list = field(default_factory=list)


class _Builder:
    def __init__(self, anchor: datetime):
        self.rng = random.Random(SEED)
        self.anchor = anchor
        self.zone = ZoneInfo(TIMEZONE)
        self.upload_dir = Path(current_app.config["UPLOAD_DIR"])
        self.staff: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.client_lang: dict[str, str] = {}
        self.channels: dict[str, Channel] = {}
        self.tags: dict[str, Tag] = {}
        self.used_external: set[tuple[str, str]] = set()
        self.files: dict[str, tuple[str, int]] = {}

    # -- time helpers --
    def ago(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.anchor - timedelta(days=days, hours=hours, minutes=minutes)

    def local(self, day_offset: int, hour: int, minute: int = 0) -> datetime:
        day = self.anchor.astimezone(self.zone).date() + timedelta(days=day_offset)
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone).astimezone(UTC)

    def build(self) -> None:
        self.files = self.write_files()
        self.salon()
        self.people()
        self.setup()
        db.session.flush()
        self.crm()
        for spec in SPECS:
            self.conversation(spec)

    def salon(self) -> None:
        salon = db.session.get(Salon, 1)
        if salon is None:
            db.session.add(Salon(id=1, name=SALON_NAME, timezone=TIMEZONE))

    def people(self) -> None:
        users = []
        for key, email, name, role in STAFF:
            user = User(email=email, name=name, role=role, created_at=self.ago(days=400 - len(users)))
            user.set_password(PASSWORD)
            self.staff[key] = user
            users.append(user)
        db.session.add_all(users)

        clients = []
        for name, lang, category, email, notes, phone_count in CLIENTS:
            client = Client(
                name="",
                name_norm="",
                category=category,
                email=email or None,
                notes=notes,
                created_at=self.ago(days=self.rng.randint(30, 900)),
            )
            set_client_name(client, name)
            for _ in range(phone_count):
                add_phone(client, self.phone(lang))
            self.clients[name] = client
            self.client_lang[name] = lang
            clients.append(client)
        db.session.add_all(clients)

    def phone(self, lang: str) -> str:
        """A valid-looking mobile number, written the way people type it."""
        if lang == "ua":
            op = self.rng.choice(UA_OPERATORS)
            n = f"{self.rng.randint(0, 9999999):07d}"
            return f"+380 {op} {n[:3]} {n[3:5]} {n[5:]}"
        op = self.rng.choice(RU_OPERATORS)
        n = f"{self.rng.randint(0, 9999999):07d}"
        return f"+7 ({op}) {n[:3]}-{n[3:5]}-{n[5:]}"

    def setup(self) -> None:
        channels = []
        for kind, name, uid in CHANNELS:
            channel = Channel(
                kind=kind,
                name=name,
                uid=uid,
                created_at=self.ago(days=300),
                health="ok",
                health_checked_at=self.ago(minutes=5),
                last_sync_at=self.ago(minutes=self.rng.randint(10, 90)),
            )
            if kind == BROKEN_CHANNEL:
                channel.health = "broken"
                channel.health_reason = BROKEN_REASON
                channel.health_checked_at = self.ago(minutes=25)
                channel.last_sync_at = self.ago(days=1, hours=3)
            self.channels[kind] = channel
            channels.append(channel)
        db.session.add_all(channels)

        existing = {
            t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_([n for n, _ in TAGS])))
        }
        for name, color in TAGS:
            self.tags[name] = existing.get(name) or Tag(name=name, color=color)
        db.session.add_all(self.tags.values())

        db.session.add_all(
            Template(title=title, text=text, created_at=self.ago(days=200 - i))
            for i, (title, text) in enumerate(TEMPLATES)
        )
        position = db.session.scalar(select(func.max(CustomField.position))) or 0
        self.fields = [
            CustomField(name=name, kind=kind, options=options, position=position + i + 1)
            for i, (name, kind, options) in enumerate(FIELDS)
        ]
        db.session.add_all(self.fields)

    def crm(self) -> None:
        """Custom field values and visits, past and future, in every status."""
        hair, allergy, master, birthday = self.fields
        values, visits = [], []
        for client in self.clients.values():
            rng = self.rng
            if client.category in ("client", "model", "sleeping"):
                if rng.random() < 0.6:
                    values.append(
                        CustomFieldValue(
                            client_id=client.id, field_id=hair.id, value=rng.choice(hair.option_list)
                        )
                    )
                if rng.random() < 0.15:
                    values.append(
                        CustomFieldValue(
                            client_id=client.id, field_id=allergy.id, value=rng.choice(ALLERGIES)
                        )
                    )
                if rng.random() < 0.4:
                    values.append(
                        CustomFieldValue(client_id=client.id, field_id=master.id, value=rng.choice(MASTERS))
                    )
                if rng.random() < 0.7:
                    born = date(1965, 1, 1) + timedelta(days=rng.randint(0, 38 * 365))
                    values.append(
                        CustomFieldValue(client_id=client.id, field_id=birthday.id, value=born.isoformat())
                    )
            if client.category == "client":
                for _ in range(rng.randint(1, 5)):
                    visits.append(
                        self.visit(
                            client, -rng.randint(3, 240), rng.choices(("arrived", "cancelled"), (4, 1))[0]
                        )
                    )
                if rng.random() < 0.6:
                    status = rng.choices(("waiting", "confirmed", "cancelled"), (3, 3, 1))[0]
                    visits.append(self.visit(client, rng.randint(1, 21), status))
            elif client.category == "sleeping":
                visits.append(self.visit(client, -rng.randint(150, 400), "arrived"))
            elif client.category == "model":
                visits.append(
                    self.visit(client, rng.randint(2, 9), "waiting", "Наращивание ресниц", "Юлия Ткаченко")
                )
        # today at the salon: one has come, one is confirmed, one is still to confirm
        visits += [
            self.visit(
                self.clients["Мария Иванова"], 0, "arrived", "Маникюр с покрытием", "Кристина Лебедева", 9
            ),
            self.visit(self.clients["Алёна Волкова"], 0, "confirmed", "Окрашивание", "Светлана Морозова", 13),
            self.visit(self.clients["Ирина Голубева"], 0, "waiting", "Педикюр", "Оксана Бондаренко", 17),
            self.visit(
                self.clients["Маргарита Белова"], 2, "cancelled", "Стрижка женская", "Светлана Морозова", 11
            ),
            # the visits the dialogs talk about
            self.visit(self.clients["Дарья Морозова"], 3, "confirmed", "Укладка", "Светлана Морозова", 9),
            self.visit(
                self.clients["Виктория Павлова"],
                2,
                "confirmed",
                "Маникюр с покрытием",
                "Кристина Лебедева",
                16,
                30,
            ),
            self.visit(
                self.clients["Мария Иванова"], 4, "waiting", "Стрижка женская", "Светлана Морозова", 10
            ),
        ]
        db.session.add_all(values + visits)

    def visit(self, client, day_offset, status, service=None, master=None, hour=None, minute=0) -> Visit:
        rng = self.rng
        if hour is None:
            hour, minute = rng.randint(10, 19), rng.choice((0, 30))
        return Visit(
            client_id=client.id,
            starts_at=self.local(day_offset, hour, minute),
            service=service or rng.choice(SERVICES),
            master=master or rng.choice(MASTERS),
            status=status,
        )

    # -- conversations --
    def end_time(self, when) -> datetime:
        rng = self.rng
        if when == "now":
            return self.ago(minutes=rng.randint(2, 40))
        if when == "today":
            return self.ago(minutes=rng.randint(45, 115))
        if when == "yesterday":
            return self.ago(days=1) + timedelta(minutes=rng.randint(0, 9 * 60))
        return self.ago(days=when) + timedelta(minutes=rng.randint(-60, 8 * 60))

    def contact(self, spec: Spec) -> tuple[Contact, Client | None]:
        channel = self.channels[spec.channel]
        rng = self.rng
        client = None
        if isinstance(spec.who, tuple):
            _kind, display, phone_raw = spec.who
            phone = normalize_phone(phone_raw, "RU") if phone_raw else None
        else:
            client = self.clients[spec.who]
            display = client.name
            if client.category in ("client", "staff", "model", "sleeping"):
                first, last = client.name.split()[0], client.name.split()[-1]
                display = rng.choice((client.name, first, f"{first} {last[0]}."))
            phone = client.phones[0].e164 if spec.channel in ("whatsapp", "viber") else None
        if spec.channel == "whatsapp" and phone is None:
            phone = normalize_phone(self.phone("ru"), "RU")
        if spec.channel == "whatsapp":
            external = phone.lstrip("+")
        elif spec.channel == "widget":
            external = f"visitor-{rng.getrandbits(48):012x}"
        elif spec.channel == "viber":
            external = f"{rng.getrandbits(96):024x}=="
        else:
            external = str(rng.randint(10_000_000, 999_999_999))
        key = (spec.channel, external)
        assert key not in self.used_external, key
        self.used_external.add(key)
        contact = Contact(
            channel_id=channel.id,
            external_id=external,
            display_name=display,
            name_norm=normalize_text(display),
            phone=phone,
            phone_digits=phone.lstrip("+") if phone else None,
            given_by_visitor=spec.given_by_visitor,
            blocked=spec.blocked,
            client_id=client.id if client else None,
        )
        return contact, client

    def conversation(self, spec: Spec) -> None:
        contact, client = self.contact(spec)
        name = client.name if client else contact.display_name
        first = name.split()[0] if name.strip() else ""
        items = self.expand(spec)
        end = self.end_time(spec.when)
        gaps = [self.gap(prev, item) for prev, item in zip([None] + items[:-1], items, strict=True)]
        at = end - sum(gaps[1:], timedelta())
        contact.created_at = at
        db.session.add(contact)
        db.session.flush()
        conversation = Conversation(
            channel_id=contact.channel_id,
            contact_id=contact.id,
            with_bot=spec.kind == "bot",
            created_at=at,
            last_activity_at=at,
        )
        db.session.add(conversation)
        db.session.flush()
        session = open_session(conversation, at)
        sessions = [session]
        line = _Timeline()
        staff = self.staff.get(spec.staff) if spec.staff else None
        for n, (item, gap) in enumerate(zip(items, gaps, strict=True)):
            at = at + gap if n else at
            kind = item[0]
            if kind == "took":
                conversation.assignee_id = staff.id
                line.messages.append(record_event(conversation, staff, "took", at=at))
            elif kind == "assigned":
                by = self.staff[spec.assigned_by]
                conversation.assignee_id = staff.id
                line.messages.append(record_event(conversation, by, "assigned", at=at, assignee=staff.name))
            elif kind == "close":
                line.messages.append(record_event(conversation, staff, "closed", at=at))
                sessions[-1].closed_at = at
                conversation.state = "closed"
            elif kind == "reopen":
                conversation.state = "open"
                sessions.append(open_session(conversation, at))
                line.messages.append(record_event(conversation, None, "reopened", at=at))
            elif kind == "snooze":
                until = self.anchor + timedelta(days=1)
                conversation.state = "snoozed"
                conversation.snoozed_until = until
                line.messages.append(
                    record_event(conversation, staff, "snoozed", at=at, until=until.isoformat())
                )
            elif kind == "spam":
                conversation.is_spam = True
                line.messages.append(record_event(conversation, self.staff[spec.spam_by], "spam", at=at))
            elif kind == "comment":
                _k, who, text, on_session = item
                author = self.staff[who]
                db.session.add(
                    Comment(
                        conversation_id=conversation.id,
                        session_id=conversation.current_session_id if on_session else None,
                        author_id=author.id,
                        text=text,
                        created_at=at,
                    )
                )
                event = "session_comment" if on_session else "comment"
                line.messages.append(record_event(conversation, author, event, at=at, text=preview(text, 80)))
            elif kind == "tag":
                _k, name, on_session = item
                tag = self.tags[name]
                (sessions[-1].tags if on_session else conversation.tags).append(tag)
                event = "tag_added_session" if on_session else "tag_added"
                actor = staff or self.staff["anna"]
                line.messages.append(record_event(conversation, actor, event, at=at, tag=name))
            else:
                self.message(conversation, contact, staff, item, at, first, n, line)
        # the list reads these columns instead of the messages: keep them equal to what the messages say
        conversation.last_activity_at = max(m.created_at for m in line.messages)
        last = line.last_in_out
        conversation.last_message_preview = preview(last.text) if last else ""
        conversation.last_message_at = last.created_at if last else None
        conversation.last_message_direction = last.direction if last else None
        conversation.unread_count = line.unread

    def expand(self, spec: Spec) -> list:
        """The steps plus the staff actions around them: took, tags, comments, close, snooze."""
        items: list = []
        took = False
        for step in spec.steps:
            if step[0] in ("out", "out_pdf", "out_failed", "note") and spec.staff and not took:
                items.append(("assigned",) if spec.assigned_by else ("took",))
                took = True
            items.append(step)
        if spec.kind == "spam":
            items.append(("spam",))
        if spec.kind in ("waiting", "answered", "snoozed") and spec.staff and not took:
            items.insert(0, ("took",))
        # whoever tags the dialog has it by then: right after taking it, else after the first message
        taken = [i for i, item in enumerate(items) if item[0] in ("took", "assigned")]
        for name in spec.tags:
            items.insert(taken[0] + 1 if taken else min(len(items), 2), ("tag", name, False))
        for name in spec.session_tags:
            items.append(("tag", name, True))
        for who, text, on_session in spec.comments:
            position = len(items) if on_session else min(len(items), 3)
            items.insert(position, ("comment", who, text, on_session))
        if spec.kind == "closed":
            items.append(("close",))
        elif spec.kind == "snoozed":
            items.append(("snooze",))
        elif spec.kind == "reopened":
            at = next(i for i, item in enumerate(items) if item[0] == "wait")
            items.insert(at, ("close",))
        return items

    def gap(self, prev, item) -> timedelta:
        rng = self.rng
        if prev is None:
            return timedelta(0)
        kind = item[0]
        if kind == "wait":
            return timedelta(days=item[1], minutes=rng.randint(-120, 240))
        if kind in ("took", "assigned", "tag", "spam", "reopen"):
            return timedelta(seconds=rng.randint(5, 90))
        if kind in ("close", "snooze", "comment", "note"):
            return timedelta(minutes=rng.randint(1, 25))
        staff_side = kind.startswith("out") or kind == "bot"
        prev_staff_side = prev[0].startswith("out") or prev[0] == "bot"
        if kind == "bot":
            return timedelta(seconds=rng.randint(1, 4))
        if staff_side and not prev_staff_side:
            return timedelta(minutes=rng.randint(2, 30))
        if staff_side:
            return timedelta(minutes=rng.randint(1, 6))
        if prev_staff_side:
            return timedelta(minutes=rng.randint(2, 90))
        return timedelta(seconds=rng.randint(20, 180))

    def message(self, conversation, contact, staff, item, at, first, n, line: _Timeline) -> None:
        kind = item[0]
        if kind == "wait":
            return
        text = _fill(item[1], first)
        direction = {"in": "in", "in_img": "in", "in_edited": "in", "note": "note"}.get(kind, "out")
        message = Message(
            conversation_id=conversation.id,
            session_id=conversation.current_session_id,
            channel_id=conversation.channel_id,
            direction=direction,
            text=text,
            created_at=at,
            author_id=staff.id if direction in ("out", "note") and kind != "bot" and staff else None,
        )
        if direction == "in":
            message.external_id = f"{contact.external_id}:{n}"
        if direction == "out":
            message.delivery_status = self.delivery(at)
            message.external_id = f"out-{conversation.id}-{n}"
            if kind == "bot":
                message.data = {"bot": True}
        if kind == "in_edited":
            message.edited_at = at + timedelta(minutes=2)
            message.revisions.append(MessageRevision(text=item[2], replaced_at=message.edited_at))
        elif kind == "out_failed":
            message.delivery_status = "failed"
            message.delivery_error = item[2]
            message.external_id = None
        elif kind in ("in_img", "out_pdf"):
            file_key = item[2]
            filename, content_type, _make = FILES[file_key]
            message.kind = "image" if content_type.startswith("image/") else "file"
            message.attachments.append(
                Attachment(
                    filename=filename,
                    content_type=content_type,
                    size=self.files[file_key][1],
                    storage_path=self.files[file_key][0],
                )
            )
        db.session.add(message)
        line.messages.append(message)
        if direction == "in":
            line.unread += 1
            line.last_in_out = message
        elif direction == "out":
            line.unread = 0
            line.last_in_out = message

    def delivery(self, at: datetime) -> str:
        age = self.anchor - at
        if age > timedelta(hours=3):
            return "read"
        return self.rng.choice(("sent", "delivered", "read"))

    def write_files(self) -> dict[str, tuple[str, int]]:
        """The demo files on disk: key -> (path relative to UPLOAD_DIR, size)."""
        folder = self.upload_dir / UPLOAD_SUBDIR
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for key, (filename, _ctype, make) in FILES.items():
            data = make()
            stored = f"{key}{Path(filename).suffix}"
            (folder / stored).write_bytes(data)
            files[key] = (f"{UPLOAD_SUBDIR}/{stored}", len(data))
        return files


def _fill(text: str, first: str) -> str:
    """Put the client's first name in; without one, drop the address and keep the sentence."""
    if first:
        return text.replace("{first}", first)
    text = text.replace(", {first}", "").replace("{first}, ", "").replace("{first}", "")
    return text[:1].upper() + text[1:]


__all__ = ["PASSWORD", "demo_anchor", "seed_demo"]

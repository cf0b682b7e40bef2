"""Uploaded files: checked by content, kept outside static/, served only to their visitor and to staff."""

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from extensions import db
from models import Attachment, Message
from services.attachments import UploadRefused, clean_filename, store_upload
from tests.factories import make_channel, make_user
from tests.test_widget import bearer, start, write

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def office(part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return buffer.getvalue()


def archive(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name in names:
            zipped.writestr(name, "x")
    return buffer.getvalue()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- store_upload ---------------------------------------------------------------------------------


def test_a_photo_is_kept_outside_static_under_year_and_month_with_its_name(app):
    stored = store_upload(upload(PNG, "Фото ногтей.png"))
    upload_dir = Path(app.config["UPLOAD_DIR"])
    path = upload_dir / stored.storage_path
    assert path.read_bytes() == PNG
    assert (stored.filename, stored.content_type, stored.size) == ("Фото ногтей.png", "image/png", len(PNG))
    year, month, name = stored.storage_path.split("/")
    assert len(year) == 4 and len(month) == 2 and name.endswith(".png") and len(name) == 36
    assert Path(app.static_folder) not in path.resolve().parents


def test_a_png_that_is_really_text_is_refused_with_the_reason(app):
    with pytest.raises(UploadRefused) as refused:
        store_upload(upload(b"<script>alert(1)</script>", "photo.png"))
    assert refused.value.status == 415
    assert "named .png (PNG)" in str(refused.value) and "its content is text" in str(refused.value)
    assert files_under(Path(app.config["UPLOAD_DIR"])) == []


def test_a_file_over_the_limit_is_refused_and_nothing_stays_on_disk(app):
    app.config["MAX_UPLOAD_BYTES"] = 1024
    with pytest.raises(UploadRefused) as refused:
        store_upload(upload(PNG + b"\x00" * 2048, "big.png"))
    assert refused.value.status == 413
    assert "at most 1 KB" in str(refused.value)
    assert files_under(Path(app.config["UPLOAD_DIR"])) == []


@pytest.mark.parametrize(
    "data, name, expected",
    [
        (JPEG, "IMG_0001.JPG", "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "smile.gif", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "p.webp", "image/webp"),
        (PDF, "Прайс.pdf", "application/pdf"),
        (
            office("word/document.xml"),
            "Анкета.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            office("xl/workbook.xml"),
            "prices.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc", "application/msword"),
        ("Запись на 15:00\n".encode(), "заметка.txt", "text/plain"),
        ("Запись на 15:00\n".encode("cp1251"), "заметка.txt", "text/plain"),
    ],
    ids=["jpeg", "gif", "webp", "pdf", "docx", "xlsx", "doc", "utf8-text", "cp1251-text"],
)
def test_allowed_types_are_recognised_by_content(app, data, name, expected):
    assert store_upload(upload(data, name)).content_type == expected


@pytest.mark.parametrize(
    "data, name, reason",
    [
        (b"MZ\x90\x00\x03" + b"\x00" * 60, "setup.exe", "can't be sent"),
        (archive("photo.jpg"), "photos.zip", "can't be sent"),
        (PDF, "photo.jpg", "its content is PDF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", ".svg files can't be sent"),
        (b"<html><script>x</script></html>", "page.html", ".html files can't be sent"),
        (b"", "empty.txt", "empty"),
    ],
    ids=["exe", "zip", "pdf-named-jpg", "svg", "html", "empty"],
)
def test_what_is_not_allowed_is_refused_with_a_reason(app, data, name, reason):
    with pytest.raises(UploadRefused) as refused:
        store_upload(upload(data, name))
    assert reason in str(refused.value)


def test_the_allowed_types_are_configurable(app):
    app.config["ALLOWED_UPLOAD_TYPES"] = ("image/jpeg", "image/png")
    assert store_upload(upload(PNG, "a.png")).content_type == "image/png"
    with pytest.raises(UploadRefused) as refused:
        store_upload(upload(PDF, "price.pdf"))
    assert "PDF files can't be sent. Allowed: JPEG, PNG." in str(refused.value)


def test_a_file_without_an_extension_gets_the_one_its_content_says(app):
    stored = store_upload(upload(PNG, "screenshot"))
    assert stored.filename == "screenshot.png" and stored.storage_path.endswith(".png")


@pytest.mark.parametrize(
    "given, kept",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\Марина\\фото.jpg", "фото.jpg"),
        ('a<b>:"c|?*.png', "a_b_c_.png"),
        ("line\nbreak.pdf", "line_break.pdf"),
    ],
)
def test_names_are_kept_for_display_without_paths_or_unsafe_characters(given, kept):
    assert clean_filename(given) == kept


# --- the widget's upload endpoint ---------------------------------------------------------------


@pytest.fixture
def widget(app):
    return make_channel("widget", settings={"origins": ["https://salon.example"]})


def send_file(client, channel, token, data: bytes, name: str, client_id="upload-0001", text=""):
    return client.post(
        f"/widget/{channel.uid}/attachments",
        data={"file": (io.BytesIO(data), name), "client_id": client_id, "text": text},
        headers=bearer(token),
        content_type="multipart/form-data",
    )


def test_a_visitor_sends_a_photo_and_staff_see_it_in_the_dialog(client, widget):
    token = start(client, widget)
    response = send_file(client, widget, token, PNG, "ногти.png", text="Вот такой дизайн")
    assert response.status_code == 201
    sent = response.get_json()["message"]
    assert (sent["kind"], sent["text"]) == ("image", "Вот такой дизайн")
    [attachment] = sent["attachments"]
    assert (attachment["filename"], attachment["is_image"]) == ("ногти.png", True)
    stored = db.session.get(Attachment, attachment["id"])
    assert (stored.message_id, stored.content_type) == (sent["id"], "image/png")
    conversation = db.session.get(Message, sent["id"]).conversation_id
    assert conversation and db.session.get(Message, sent["id"]).direction == "in"


def test_a_widget_upload_that_lies_about_its_type_is_refused_with_the_reason(client, widget):
    token = start(client, widget)
    response = send_file(client, widget, token, b"just some text, honestly", "cat.png")
    assert response.status_code == 415
    assert "its content is text" in response.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_an_oversize_widget_upload_gets_413_with_the_limit(app, client, widget):
    app.config["MAX_UPLOAD_BYTES"] = 2 * 1024 * 1024
    token = start(client, widget)
    response = send_file(client, widget, token, PNG + b"\x00" * (3 * 1024 * 1024), "huge.png")
    assert response.status_code == 413
    assert response.get_json()["error"] == "The file is too large: at most 2 MB."
    assert files_under(Path(app.config["UPLOAD_DIR"])) == []


def test_an_upload_just_over_the_limit_inside_the_envelope_is_also_413(app, client, widget):
    app.config["MAX_UPLOAD_BYTES"] = 1024
    token = start(client, widget)
    response = send_file(client, widget, token, PNG + b"\x00" * 1100, "a-bit-big.png")
    assert response.status_code == 413
    assert "at most 1 KB" in response.get_json()["error"]


def test_a_post_without_a_file_is_400(client, widget):
    token = start(client, widget)
    response = client.post(
        f"/widget/{widget.uid}/attachments", data={"client_id": "upload-0001"}, headers=bearer(token)
    )
    assert response.status_code == 400
    assert "Choose a file" in response.get_json()["error"]


def test_a_retried_upload_is_stored_once(app, client, widget):
    token = start(client, widget)
    first = send_file(client, widget, token, PNG, "a.png", client_id="upload-same").get_json()["message"]
    again = send_file(client, widget, token, PNG, "a.png", client_id="upload-same").get_json()["message"]
    assert first["id"] == again["id"]
    assert len(files_under(Path(app.config["UPLOAD_DIR"]))) == 1


def test_the_visitor_gets_their_photo_inline_and_nobody_else_gets_it(client, widget):
    token, stranger = start(client, widget), start(client, widget)
    write(client, widget, stranger, "Я просто рядом")
    sent = send_file(client, widget, token, PNG, "ногти.png").get_json()["message"]
    url = f"/widget/{widget.uid}/attachments/{sent['attachments'][0]['id']}"

    own = client.get(f"{url}?token={token}")
    assert own.status_code == 200 and own.data == PNG
    assert own.mimetype == "image/png"
    assert own.headers["X-Content-Type-Options"] == "nosniff"
    assert own.headers["Content-Disposition"].startswith("inline")
    assert "private" in own.headers["Cache-Control"]

    assert client.get(f"{url}?token={stranger}").status_code == 404
    assert client.get(url).status_code == 403
    assert client.get(f"/widget/{widget.uid}/attachments/999999?token={token}").status_code == 404


def test_the_attachment_url_the_widget_gets_opens_the_file(client, widget):
    token = start(client, widget)
    sent = send_file(client, widget, token, PDF, "прайс.pdf").get_json()["message"]
    response = client.get(sent["attachments"][0]["url"])
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_visitors_file_is_served_to_logged_in_staff_and_to_nobody_else(app, client, widget, login_as):
    token = start(client, widget)
    sent = send_file(client, widget, token, PDF, "прайс.pdf").get_json()["message"]
    attachment_id = sent["attachments"][0]["id"]
    anonymous = app.test_client().get(f"/attachments/{attachment_id}")
    assert anonymous.status_code in (302, 401)
    staff = login_as(make_user())
    served = staff.get(f"/attachments/{attachment_id}")
    assert served.status_code == 200 and served.data == PDF
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_uploads_are_limited_with_the_visitors_other_posts(app, client, widget):
    app.config["WIDGET_POSTS_PER_MINUTE"] = 1
    token = start(client, widget)
    assert write(client, widget, token).status_code == 201
    assert send_file(client, widget, token, PNG, "a.png").status_code == 429

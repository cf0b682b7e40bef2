"""Files people upload (widget visitors now, the staff composer later): checked, then stored.

The type is decided by the file's content (its first bytes, and for Office files the
parts inside the ZIP), never by the name or the Content-Type the browser sent: a
script renamed photo.png stays out. A name whose extension says another type than the
content is refused with the reason. Files go to UPLOAD_DIR/<yyyy>/<mm>/<uuid><ext>,
outside static/, so only the views that check who is asking can serve them.
"""

import mimetypes
import re
import shutil
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from models.base import utcnow
from services.errors import ActionError

KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB
SNIFF = 8 * KIB

JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
PDF, TEXT = "application/pdf", "text/plain"
DOC, XLS, PPT = "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"

# type -> (extensions a name may carry for it, the first being the one stored, what people call it)
TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    JPEG: ((".jpg", ".jpeg", ".jfif"), "JPEG"),
    PNG: ((".png",), "PNG"),
    GIF: ((".gif",), "GIF"),
    WEBP: ((".webp",), "WebP"),
    PDF: ((".pdf",), "PDF"),
    TEXT: ((".txt", ".csv", ".log", ".md"), "text"),
    DOC: ((".doc",), "Word"),
    XLS: ((".xls",), "Excel"),
    PPT: ((".ppt",), "PowerPoint"),
    DOCX: ((".docx",), "Word"),
    XLSX: ((".xlsx",), "Excel"),
    PPTX: ((".pptx",), "PowerPoint"),
    ODT: ((".odt",), "OpenDocument"),
    ODS: ((".ods",), "OpenDocument"),
}
DEFAULT_ALLOWED_TYPES = tuple(TYPES)
IMAGE_TYPES = (JPEG, PNG, GIF, WEBP)

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word/Excel/PowerPoint 97-2003: the name tells which
OLE2_BY_EXTENSION = {".doc": DOC, ".xls": XLS, ".ppt": PPT}
OOXML_PARTS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))
ODF_MIMETYPES = {ODT.encode(), ODS.encode()}
# names that a file is known by but that we never accept, so the reason can say what it is
KNOWN_OTHER_EXTENSIONS = {
    ".exe", ".js", ".html", ".htm", ".svg", ".zip", ".rar", ".7z", ".bat", ".cmd", ".sh", ".php", ".apk",
    ".heic", ".bmp", ".tif", ".tiff", ".mp4", ".mov", ".mp3",
}  # fmt: skip
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


@dataclass(frozen=True)
class StoredUpload:
    """A file we keep: the name to show, its checked type, size, and where it lies under UPLOAD_DIR."""

    filename: str
    content_type: str
    size: int
    storage_path: str

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_TYPES


class UploadRefused(ActionError):
    """The file can't be taken; `status` is the HTTP answer (413 too large, 415 wrong type, 400 no file)."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.status = status


def max_upload_bytes() -> int:
    return int(current_app.config.get("MAX_UPLOAD_BYTES") or 10 * MIB)


def allowed_types() -> tuple[str, ...]:
    configured = current_app.config.get("ALLOWED_UPLOAD_TYPES") or DEFAULT_ALLOWED_TYPES
    return tuple(t for t in configured if t in TYPES)


def accept_attribute() -> str:
    """What an <input type=file accept=...> should offer: the allowed types and their extensions."""
    parts: list[str] = []
    for content_type in allowed_types():
        parts.append(content_type)
        parts.extend(TYPES[content_type][0])
    return ",".join(parts)


def format_size(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.0f} MB" if size % MIB == 0 else f"{size / MIB:.1f} MB"
    return f"{max(1, size // KIB)} KB"


def clean_filename(name: str | None) -> str:
    """The name as people gave it (Cyrillic kept), without paths, control or reserved characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = stem[: 200 - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else name[:200]
    return name


def _extension(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if 1 < len(suffix) <= 10 else ""


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut off by the sniff window is still text
        if exc.start < len(head) - 3:
            return _mostly_printable(head)
    return True


def _mostly_printable(head: bytes) -> bool:
    """Text in a single-byte code page (cp1251): no control bytes but tab, newlines, form feed."""
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls == 0


def detect_type(path: Path, extension: str = "") -> str | None:
    """The type of the file at `path` by its content, or None when it is none we know."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF)
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(OLE2):
        return OLE2_BY_EXTENSION.get(extension)
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    if _looks_like_text(head):
        return TEXT
    return None


def _zip_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").strip()
                if mimetype in ODF_MIMETYPES:
                    return mimetype.decode()
            if "[Content_Types].xml" in names:
                for part, content_type in OOXML_PARTS:
                    if part in names:
                        return content_type
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def _type_label(content_type: str) -> str:
    return TYPES[content_type][1]


def _allowed_list() -> str:
    labels: list[str] = []
    for content_type in allowed_types():
        label = _type_label(content_type)
        if label not in labels:
            labels.append(label)
    return ", ".join(labels)


def _check_type(content_type: str | None, extension: str) -> str:
    """The content's type if it may be stored under a name with this extension; UploadRefused if not."""
    if content_type is None:
        raise UploadRefused(
            _(
                "This kind of file can't be sent. Allowed: %(types)s.",
                types=_allowed_list(),
            )
        )
    if content_type not in allowed_types():
        raise UploadRefused(
            _(
                "%(type)s files can't be sent. Allowed: %(types)s.",
                type=_type_label(content_type),
                types=_allowed_list(),
            )
        )
    if extension and extension not in TYPES[content_type][0]:
        claimed = next((t for t, (exts, _label) in TYPES.items() if extension in exts), None)
        if claimed is not None:
            raise UploadRefused(
                _(
                    "The file is named %(ext)s (%(said)s), but its content is %(actual)s. "
                    "Rename it or send another file.",
                    ext=extension,
                    said=_type_label(claimed),
                    actual=_type_label(content_type),
                )
            )
        # a name we know as something else (a web page, a script, an archive), or plain text under
        # a name of its own: not what its content looks like, and not ours to pass on
        if extension in KNOWN_OTHER_EXTENSIONS or content_type == TEXT:
            raise UploadRefused(
                _("%(ext)s files can't be sent. Allowed: %(types)s.", ext=extension, types=_allowed_list())
            )
    return content_type


def _new_partial() -> tuple[Path, Path, str, Path]:
    """Where a new file goes: (upload dir, this month's folder, its token, the hidden .part it is
    written to before it is checked and renamed)."""
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    now = utcnow()
    folder = upload_dir / f"{now:%Y}" / f"{now:%m}"
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    return upload_dir, folder, token, folder / f".{token}.part"


def store_upload(file: FileStorage | None) -> StoredUpload:
    """Check one uploaded file and keep it; UploadRefused (with a reason for the person) if it can't be.

    Streams to disk while counting, so a file over MAX_UPLOAD_BYTES is never held in memory
    whole; nothing is left behind when the file is refused.
    """
    if file is None or not (file.filename or "").strip():
        raise UploadRefused(_("Choose a file to send."), 400)
    limit = max_upload_bytes()
    filename = clean_filename(file.filename)
    extension = _extension(filename)
    upload_dir, folder, token, partial = _new_partial()
    size = 0
    try:
        with partial.open("wb") as out:
            while chunk := file.stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(
                        _("The file is too large: at most %(limit)s.", limit=format_size(limit)), 413
                    )
                out.write(chunk)
        if size == 0:
            raise UploadRefused(_("The file is empty."), 400)
        content_type = _check_type(detect_type(partial, extension), extension)
        stored_ext = TYPES[content_type][0][0]
        final = folder / f"{token}{stored_ext}"
        shutil.move(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    if not filename or not extension:
        filename = (Path(filename).stem if filename else "file") + stored_ext
    return StoredUpload(
        filename=filename,
        content_type=content_type,
        size=size,
        storage_path=final.relative_to(upload_dir).as_posix(),
    )


def stored_path(storage_path: str) -> Path:
    """The absolute path of a stored file (for sending it on to a platform)."""
    return Path(current_app.config["UPLOAD_DIR"]) / storage_path


_SAFE_EXTENSION = re.compile(r"\.[a-z0-9]{1,8}")


def store_fetched(content: bytes, filename: str, content_type: str) -> StoredUpload:
    """A file a messenger platform gave us (what a client sent): kept where uploads are.

    Not an upload: voice messages, videos and stickers are kept whatever their type, as
    the platform names it, but a file that claims to be a picture must look like one (the
    staff view shows pictures inline). UploadRefused when it is empty or over
    MAX_MEDIA_BYTES (default 50 MB).
    """
    limit = int(current_app.config.get("MAX_MEDIA_BYTES") or 50 * MIB)
    if not content:
        raise UploadRefused(_("The file is empty."), 400)
    if len(content) > limit:
        raise UploadRefused(_("The file is too large: at most %(limit)s.", limit=format_size(limit)), 413)
    filename = clean_filename(filename)
    extension = _extension(filename)
    claimed = (content_type or "").split(";")[0].strip().lower() or "application/octet-stream"
    upload_dir, folder, token, partial = _new_partial()
    try:
        partial.write_bytes(content)
        detected = detect_type(partial, extension)
        if detected in IMAGE_TYPES:
            content_type = detected
        elif claimed in IMAGE_TYPES:
            content_type = "application/octet-stream"
        else:
            content_type = claimed
        if detected in TYPES and detected != TEXT:
            stored_ext = TYPES[detected][0][0]
        elif _SAFE_EXTENSION.fullmatch(extension):
            stored_ext = extension
        else:
            stored_ext = mimetypes.guess_extension(content_type) or ".bin"
        final = folder / f"{token}{stored_ext}"
        shutil.move(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return StoredUpload(
        filename=filename or f"file{stored_ext}",
        content_type=content_type,
        size=len(content),
        storage_path=final.relative_to(upload_dir).as_posix(),
    )

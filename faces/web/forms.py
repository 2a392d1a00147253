"""Requests bound into plain values before any use case sees them: query
parameters, JSON bodies and multipart uploads, each checked here and refused
with a clear 4xx (:class:`faces.errors.BadRequest`). An uploaded file's name
becomes a safe display name: only ever shown (escaped), never used as a path.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from tornado import httputil

from ..errors import BadRequest, NotFound, Unsupported
from ..library.accounts import NewShare, valid_password
from ..library.catalogue import ORDERS
from ..library.people import MAX_NAME, UNSET, Unset
from ..library.records import ID_PATTERN, MAX_PAGE_SIZE, PAGE_SIZE, PERSON_PATTERN
from ..vision.contract import Options
from ..vision.xmp import MAX_PACKET

MAX_LENGTH = 120


def display_name(raw: str | None) -> str:
    """Last path component, NFC-normalised, without control, format
    (bidi overrides, zero-width) or separator characters, at most 120 chars."""
    text = unicodedata.normalize("NFC", raw or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C":  # Cc control, Cf format (RTL override), Cs, Co, Cn
            continue
        kept.append(" " if category[0] == "Z" else char)
    name = " ".join("".join(kept).split()).strip(". ")
    if len(name) > MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 8:
            name = stem[: MAX_LENGTH - len(ext) - 2] + "…." + ext
        else:
            name = name[: MAX_LENGTH - 1] + "…"
    return name or "photo"


# -- request parameters and bodies, bound before any use case sees them --------


def page_limit(text: str | None) -> int:
    """``limit``: a whole number from 1 to MAX_PAGE_SIZE (PAGE_SIZE if absent)."""
    try:
        limit = int(text) if text is not None else PAGE_SIZE
    except ValueError:
        raise BadRequest("bad_limit", "limit must be a whole number.") from None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadRequest("bad_limit", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    return limit


def flag(text: str | None, name: str) -> bool:
    """A 0/1 query parameter (absent: 0)."""
    if text in (None, "0"):
        return False
    if text == "1":
        return True
    raise BadRequest(f"bad_{name}", f"{name} must be 0 or 1.")


def photo_id(text: str | None) -> str | None:
    """An optional photo id from a page's query string; anything else: None."""
    return text if text and ID_PATTERN.match(text) else None


def face_id(text: str | None) -> int | None:
    """An optional face id (``before`` of a person's faces)."""
    if text is None:
        return None
    if not text.isdigit() or len(text) > 18:
        raise BadRequest("bad_before", "before must be a face id.")
    return int(text)


def json_body(raw: bytes | None) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise BadRequest("bad_json", "The body must be JSON.") from None


MAX_SIDECAR = MAX_PACKET  # an XMP sidecar's bytes (faces.vision.xmp reads no more)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str  # sanitised, for display
    fields: dict[str, str]  # the form's other fields
    sidecar: bytes | None = None  # the XMP sidecar sent beside the photo (``xmp``)


def multipart_file(content_type: str, body: bytes, max_bytes: int, too_large: Exception
                   ) -> Upload:
    """The single ``file`` part of a multipart body, its display name and the
    other fields. Raises ``too_large`` for a file over ``max_bytes``."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise Unsupported("not_multipart",
                          "Send the photo as multipart/form-data in a field named 'file'.")
    arguments: dict = {}
    files: dict = {}
    try:
        httputil.parse_body_arguments(content_type, body, arguments, files)
    except httputil.HTTPInputError:
        raise BadRequest("bad_multipart",
                         "The upload is not valid multipart/form-data.") from None
    parts = files.get("file", [])
    if not parts:
        raise BadRequest("missing_file", "No file was sent: use a form field named 'file'.")
    if len(parts) > 1:
        raise BadRequest("too_many_files", "Send one photo per request.")
    part = parts[0]
    if len(part.body) > max_bytes:
        raise too_large
    sidecars = files.get("xmp", [])
    if len(sidecars) > 1:
        raise BadRequest("too_many_files", "Send one XMP sidecar per photo.")
    sidecar = sidecars[0].body if sidecars else None
    if sidecar is not None and len(sidecar) > MAX_SIDECAR:
        raise BadRequest("sidecar_too_large", f"The XMP sidecar is over "
                         f"{MAX_SIDECAR >> 20} MB.")
    fields = {name: values[-1].decode("utf-8", "replace") for name, values in arguments.items()}
    return Upload(part.body, display_name(part.filename), fields, sidecar)


def upload_options(defaults: Options, query: dict[str, str | None], form: dict[str, str]
                   ) -> Options:
    """An upload's options: the query string's, else the form's; every one
    given must be valid (the form's are checked even where the query's win)."""
    defaults.choose(form.get("mode"), form.get("threshold"))
    return defaults.choose(query.get("mode") or form.get("mode"),
                           query.get("threshold") or form.get("threshold"))


@dataclass(frozen=True)
class PersonEdit:
    name: str | Unset | None = UNSET
    hidden: bool | None = None


def person_edit(body: Any) -> PersonEdit:
    """PATCH a person: ``{"name": text or null}`` and/or ``{"hidden": bool}``."""
    if not isinstance(body, dict) or not body or set(body) - {"name", "hidden"}:
        raise BadRequest("bad_request", "Send a JSON object with \"name\" and/or \"hidden\".")
    hidden = body.get("hidden")
    if "hidden" in body and not isinstance(hidden, bool):
        raise BadRequest("bad_request", "\"hidden\" must be true or false.")
    if "name" not in body:
        return PersonEdit(hidden=hidden)
    name = body["name"]
    if name is not None and not isinstance(name, str):
        raise BadRequest("bad_request", "\"name\" must be text or null.")
    name = " ".join(name.split()) if name else None
    if name and len(name) > MAX_NAME:
        raise BadRequest("bad_request", f"A name has at most {MAX_NAME} characters.")
    return PersonEdit(name=name or None, hidden=hidden)


def merge_sources(body: Any) -> list[str]:
    """POST merge: ``{"people": [ids]}``."""
    sources = body.get("people") if isinstance(body, dict) else None
    if not isinstance(sources, list) or not sources or \
            not all(isinstance(s, str) for s in sources):
        raise BadRequest("bad_request", "Send {\"people\": [\"<id>\", ...]}: the people to "
                         "merge into this one.")
    return sources


def face_target(body: Any) -> str | None:
    """PUT a face's person: ``{"person": id | "new" | null}``."""
    if not isinstance(body, dict) or set(body) != {"person"}:
        raise BadRequest("bad_request", "Send {\"person\": \"<id>\"}, {\"person\": \"new\"} "
                         "or {\"person\": null}.")
    target = body["person"]
    if target is not None and not isinstance(target, str):
        raise BadRequest("bad_request", "\"person\" must be an id, \"new\" or null.")
    return target


def person_ids(values: list[str]) -> list[str]:
    """``person`` query parameters: person ids (photos showing all of them)."""
    for value in values:
        if not PERSON_PATTERN.match(value):
            raise NotFound("not_found", "No such person.")
    return list(dict.fromkeys(values))


def box(body: Any) -> list[float]:
    """A face drawn by hand: ``{"box": [x1, y1, x2, y2]}`` in the photo's pixels."""
    found = body.get("box") if isinstance(body, dict) and set(body) == {"box"} else None
    if not (isinstance(found, list) and len(found) == 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in found)):
        raise BadRequest("bad_request", "Send {\"box\": [x1, y1, x2, y2]}: the face's corners "
                         "in the photo's pixels.")
    return [float(v) for v in found]


def face_ids(body: Any) -> list[int]:
    """A split: ``{"faces": [face ids]}``."""
    found = body.get("faces") if isinstance(body, dict) and set(body) == {"faces"} else None
    if not (isinstance(found, list) and found and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in found)):
        raise BadRequest("bad_request", "Send {\"faces\": [<face id>, ...]}: the faces that are "
                         "someone else.")
    return list(dict.fromkeys(found))


def same_answer(body: Any) -> tuple[str, bool]:
    """"Same person?" answered: ``{"person": "<id>", "same": true|false}``."""
    if not (isinstance(body, dict) and set(body) == {"person", "same"}
            and isinstance(body["person"], str) and isinstance(body["same"], bool)):
        raise BadRequest("bad_request", "Send {\"person\": \"<id>\", \"same\": true} or false.")
    return body["person"], body["same"]


DATE_PREFIX = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def order(text: str | None) -> str:
    """``?order=``: "taken" (the timeline, the default) or "added"."""
    found = text or "taken"
    if found not in ORDERS:
        raise BadRequest("bad_order", "order must be 'taken' or 'added'.")
    return found


def date_prefix(text: str | None, name: str) -> str | None:
    """``?from=`` / ``?to=``: a year, a month, a day or a time
    ("2019", "2019-03", "2019-03-14"); None when not given."""
    if text is None:
        return None
    if not DATE_PREFIX.match(text):
        raise BadRequest("bad_date", f"{name} must be a date: 2019, 2019-03 or 2019-03-14.")
    return text


def taken(body: object) -> str:
    """``{"taken": "2019-03-14T15:09:26+01:00"}`` (offset optional): the
    date a photo was taken, as the user corrects it. Raises BadRequest."""
    from ..vision.metadata import xmp_date

    if not isinstance(body, dict) or set(body) != {"taken"}:
        raise BadRequest("bad_request", 'Send {"taken": "2019-03-14T15:09:26"}: the date '
                         'taken is what a photo\'s edit changes.')
    value = body["taken"]
    found = xmp_date(value) if isinstance(value, str) and len(value) <= 40 else None
    if found is None or len(value.strip()) < 10:
        raise BadRequest("bad_date", "taken must be a date and time, like "
                         "2019-03-14T15:09:26 or 2019-03-14T15:09:26+01:00.")
    return found


def modified(text: str | None) -> str | None:
    """An upload's ``modified`` field: the file's own modification time
    (ISO 8601, with its offset), used as its date taken when the file holds
    none. Anything else is ignored (it is only a hint)."""
    from ..vision.metadata import xmp_date

    if not text or len(text) > 40:
        return None
    return xmp_date(text)


def folder_path(body: Any) -> str:
    """``{"path": "/photos"}``: a folder on the server (absolute)."""
    path = body.get("path") if isinstance(body, dict) else None
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        raise BadRequest("bad_path", 'Send {"path": "/the/folder"}: a folder on the server.')
    if not path.strip().startswith(("/", "~")):
        raise BadRequest("bad_path", "The folder must be an absolute path on the server.")
    return path.strip()


def folder(text: str | None) -> tuple[int, str] | None:
    """``?folder=<root id>/<path in it>``: one folder of the library (None
    when not given)."""
    if text is None:
        return None
    root, _, path = text.partition("/")
    if not root.isdigit() or ".." in path.split("/") or "\0" in path:
        raise BadRequest("bad_folder", "folder is <library folder id>/<path in it>.")
    return int(root), path.strip("/")


# Accounts and share links: JSON objects whose fields are text or flags.

MAX_SHARE_DAYS = 3650.0
MAX_SHARE_PHOTOS = 10_000


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("bad_json", "The body must be a JSON object.")
    return body


def _text(body: Any, name: str, required: bool = False) -> str | None:
    """A JSON object's text field; None when it is not there (unless it is
    required). null or any other type is refused."""
    body = _object(body)
    if name not in body:
        if required:
            raise BadRequest("bad_field", f"'{name}' is needed.")
        return None
    if not isinstance(body[name], str):
        raise BadRequest("bad_field", f"'{name}' must be a string.")
    return body[name]


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest("bad_field", f"'{name}' must be true or false.")
    return value


def login(body: Any) -> tuple[str, str]:
    """``{"name", "password"}``."""
    return _text(body, "name", True), _text(body, "password", True)


def new_key(body: Any) -> tuple[str | None, str]:
    """``{"role", "label"}``, both optional: its role (None: the maker's)
    and its label."""
    return _text(body, "role"), _text(body, "label") or ""


def new_user(body: Any) -> tuple[str, str, str]:
    """``{"name", "role", "password"}``: the role is a viewer's unless said."""
    return (_text(body, "name", True), _text(body, "role") or "viewer",
            _text(body, "password", True))


def user_change(body: Any) -> tuple[str | None, str | None]:
    """``{"role"}`` and/or ``{"password"}``."""
    role, password = _text(body, "role"), _text(body, "password")
    if role is None and password is None:
        raise BadRequest("bad_field", "Give a new 'role' or 'password'.")
    return role, password


def new_share(body: Any) -> NewShare:
    """A share link: ``{"person": id}`` or ``{"photos": [ids]}``, with its
    ``label``, ``days``, ``password``, ``downloads``, ``names``, ``boxes``."""
    body = _object(body)
    if ("person" in body) == ("photos" in body):
        raise BadRequest("bad_share", "Share either a person ({\"person\": ID}) or photos "
                         "({\"photos\": [IDs]}).")
    photos: list[str] = []
    if "person" in body:
        if not isinstance(body["person"], str):
            raise BadRequest("bad_field", "'person' must be a person's id.")
        person_ids([body["person"]])  # 404 for what cannot be anyone's id
    else:
        photos = body["photos"]
        if not isinstance(photos, list) or not photos or len(photos) > MAX_SHARE_PHOTOS or \
                not all(isinstance(photo, str) for photo in photos):
            raise BadRequest("bad_field",
                             f"'photos' must list 1 to {MAX_SHARE_PHOTOS} photo ids.")
    days = body.get("days")
    if "days" in body and (isinstance(days, bool) or not isinstance(days, (int, float)) or
                           not math.isfinite(days) or not 0 < days <= MAX_SHARE_DAYS):
        raise BadRequest("bad_field",
                         f"'days' must be a number over 0, at most {MAX_SHARE_DAYS:g}.")
    password = _text(body, "password")
    if password is not None:
        valid_password(password)
    return NewShare(person=body.get("person"), photos=list(dict.fromkeys(photos)),
                    label=_text(body, "label") or "", days=days, password=password,
                    downloads=_flag(body, "downloads"), names=_flag(body, "names"),
                    boxes=_flag(body, "boxes"))

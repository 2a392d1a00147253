"""The OpenAPI 3.1 description of the HTTP API, written by hand and kept
true by tests that validate real responses against it. (Longer than our
other modules on purpose: it is the whole API's description, as data, in
one place.)"""

from __future__ import annotations

from .. import __version__
from ..library.records import ID_REGEX, MAX_PAGE_SIZE, PAGE_SIZE, PERSON_REGEX
from ..vision.contract import MODES, THRESHOLD_RANGE
from . import openapi_access
from .openapi_parts import _error, _json, _ref


def _tiny_bmp() -> str:
    """A 2x2 grey BMP whose bytes are all ASCII: an upload example that a
    tool can send as text (the API tests use it to store a real photo)."""
    pixels = (b"\x40" * 6 + b"\x00\x00") * 2
    header = b"BM" + (54 + len(pixels)).to_bytes(4, "little") + bytes(4) + \
        (54).to_bytes(4, "little")
    info = b"".join(v.to_bytes(n, "little") for v, n in (
        (40, 4), (2, 4), (2, 4), (1, 2), (24, 2), (0, 4), (len(pixels), 4), (0, 16)))
    return (header + info + pixels).decode("ascii")


_ID = {"type": "string", "pattern": ID_REGEX}
_PROBLEM = {"type": "object", "required": ["path", "why"], "additionalProperties": False,
            "properties": {"path": {"type": "string"}, "why": {"type": "string"}}}
_ROOT_PATH = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_PERSON_REGEX = PERSON_REGEX
_PERSON_ID = {"type": "string", "pattern": _PERSON_REGEX}
_MODE = {"type": "string", "enum": list(MODES)}
_THRESHOLD = {"type": "number", "minimum": THRESHOLD_RANGE[0], "maximum": THRESHOLD_RANGE[1]}
_UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream",
                     "minLength": 1, "examples": [_tiny_bmp()],
                     "description": "JPEG, PNG, WebP, HEIC/HEIF, AVIF, BMP, TIFF or GIF "
                                    "(first frame)"},
            "mode": _MODE,
            "threshold": _THRESHOLD,
        },
    }}},
}
# An upload that is stored may bring its XMP sidecar: the people it names (face
# regions: MWG, Microsoft Photo; IPTC PersonInImage) are put on the faces.
_PHOTO_UPLOAD_BODY = {**_UPLOAD_BODY, "content": {"multipart/form-data": {"schema": {
    **_UPLOAD_BODY["content"]["multipart/form-data"]["schema"],
    "properties": {
        **_UPLOAD_BODY["content"]["multipart/form-data"]["schema"]["properties"],
        "xmp": {"type": "string", "contentMediaType": "application/rdf+xml",
                "maxLength": 2 << 20,
                "description": "the photo's XMP sidecar (IMG_1234.jpg.xmp): named face "
                               "regions (MWG, Microsoft Photo) and IPTC PersonInImage name "
                               "its faces; read in place of the XMP in the file"},
    },
}}}}
_OPTION_PARAMETERS = [
    {"name": "mode", "in": "query", "required": False,
     "description": "box: draw boxes on faces (default); blur: hide them (no unblurred copy "
                    "is kept)",
     "schema": _MODE},
    {"name": "threshold", "in": "query", "required": False,
     "description": "minimum face score for this upload",
     "schema": _THRESHOLD},
]
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                     "default": PAGE_SIZE}}
_PERSON_PATH = [{"name": "id", "in": "path", "required": True, "schema": _PERSON_ID}]
_PHOTO_PATH = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
_FACE_PATH = [{"name": "id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 0}}]
_JSON_ERRORS = {"400": _error("not JSON, or not the fields this call takes"),
                "401": _error("an access token is needed"),
                "404": _error("no such person or face")}
_UPLOAD_ERRORS = {
    "400": _error("missing or extra file field, malformed body, bad option"),
    "413": _error("file larger than the upload limit, or image over the pixel limit"),
    "415": _error("not a supported image type, or not multipart/form-data"),
    "422": _error("a damaged or truncated image"),
    "503": _error("the detector is restarting; retry after the Retry-After seconds"),
}

SCHEMAS = {
    "Face": {
        "type": "object",
        "required": ["box", "score", "landmarks"],
        "properties": {
            "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                    "description": "[x1, y1, x2, y2] in pixels of the upright image"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "landmarks": {
                "oneOf": [
                    {"type": "null"},
                    {"type": "array", "minItems": 5, "maxItems": 5, "items": {
                        "type": "array", "items": {"type": "number"},
                        "minItems": 2, "maxItems": 2}},
                ],
                "description": "eyes, nose tip, mouth corners; null for models without them",
            },
        },
    },
    "StoredFace": {
        "allOf": [_ref("Face")],
        "type": "object",
        "required": ["id", "person"],
        "properties": {
            "id": {"type": "integer", "description": "the face's id (PUT /api/faces/{id}/person)"},
            "person": {"type": ["string", "null"], "pattern": _PERSON_REGEX,
                       "description": "the person the face is of; null: nobody (yet)"},
        },
    },
    "Person": {
        "type": "object",
        "required": ["id", "name", "hidden", "faces", "photos", "urls"],
        "additionalProperties": False,
        "properties": {
            "id": _PERSON_ID,
            "name": {"type": ["string", "null"], "maxLength": 100,
                     "description": "null until someone names the person"},
            "hidden": {"type": "boolean"},
            "faces": {"type": "integer", "minimum": 0},
            "photos": {"type": "integer", "minimum": 0},
            "urls": {
                "type": "object",
                "required": ["cover", "photos", "page"],
                "additionalProperties": False,
                "properties": {
                    "cover": {"type": ["string", "null"], "pattern": "^/crops/",
                              "description": "a crop of the person's largest face"},
                    "photos": {"type": "string", "description": "their photos, in the API"},
                    "page": {"type": "string", "description": "their photos, in the gallery"},
                },
            },
        },
    },
    "PeopleList": {
        "type": "object",
        "required": ["people", "next", "recognition"],
        "additionalProperties": False,
        "properties": {
            "people": {"type": "array", "items": _ref("Person")},
            "next": {"type": ["string", "null"], "description": "URL of the next page"},
            "recognition": {
                "type": "object", "required": ["state", "backlog", "redescribing"],
                "additionalProperties": False,
                "properties": {"state": {"type": "string", "enum": ["on", "off", "stopped"]},
                               "backlog": {"type": "integer", "minimum": 0,
                                           "description": "photos waiting for recognition"},
                               "redescribing": {"type": "integer", "minimum": 0,
                                                "description": "of them, photos described "
                                                "again for a new recognizer"}},
            },
        },
    },
    "PersonFace": {
        "type": "object",
        "required": ["id", "photo", "crop", "pinned"],
        "additionalProperties": False,
        "properties": {"id": {"type": "integer"}, "photo": _ID,
                       "crop": {"type": ["string", "null"], "pattern": "^/crops/"},
                       "pinned": {"type": "boolean",
                                  "description": "placed in this person by the user"}},
    },
    "PersonFaces": {
        "type": "object",
        "required": ["faces", "next"],
        "additionalProperties": False,
        "properties": {"faces": {"type": "array", "items": _ref("PersonFace")},
                       "next": {"type": ["string", "null"],
                                "description": "URL of the next (older) page"}},
    },
    "Suggestions": {
        "type": "object",
        "required": ["suggestions"],
        "additionalProperties": False,
        "properties": {"suggestions": {"type": "array", "items": {
            "type": "object", "required": ["a", "b", "distance"], "additionalProperties": False,
            "properties": {"a": _ref("Person"), "b": _ref("Person"),
                           "distance": {"type": "number", "minimum": 0,
                                        "description": "how far apart (cosine distance)"}}}}},
    },
    "Merged": {
        "type": "object",
        "required": ["merged"],
        "additionalProperties": False,
        "properties": {"merged": {"oneOf": [_ref("Person"), {"type": "null"}],
                                  "description": "the person both are now (yes), or null: "
                                  "kept apart, and never asked again (no)"}},
    },
    "FacePerson": {
        "type": "object",
        "required": ["id", "photo", "person"],
        "additionalProperties": False,
        "properties": {"id": {"type": "integer"}, "photo": _ID,
                       "person": {"type": ["string", "null"], "pattern": _PERSON_REGEX}},
    },
    "Photo": {
        "type": "object",
        "required": ["id", "filename", "created", "taken", "taken_source", "width", "height",
                     "faces", "original_kept", "paths", "online", "camera", "place", "urls"],
        "additionalProperties": False,
        "properties": {
            "id": _ID,
            "filename": {"type": "string", "description": "sanitised, for display only"},
            "created": {"type": "string", "format": "date-time",
                        "description": "when it was uploaded (UTC)"},
            "taken": {"type": ["string", "null"],
                      "description": "when it was taken: ISO 8601 wall-clock time, with its "
                                     "offset when the file gave one (never turned into UTC)"},
            "taken_source": {"type": ["string", "null"],
                             "description": "where that came from: DateTimeOriginal, "
                                            "CreateDate, XMP DateTimeOriginal, XMP DateCreated, "
                                            "XMP CreateDate, file (its modification time), "
                                            "upload, user"},
            "width": {"type": "integer", "minimum": 1},
            "height": {"type": "integer", "minimum": 1},
            "faces": {"type": "array", "items": _ref("StoredFace")},
            "original_kept": {"type": "boolean",
                              "description": "the uploaded file is kept byte for byte, or "
                                             "the photo is a file in a library folder (not "
                                             "for a blurred upload, nor for photos stored "
                                             "before faces kept originals)"},
            "paths": {"type": "array", "items": {"type": "string"},
                      "description": "where it is in the library folders (the same bytes "
                                     "in two places are one photo), those there now first; "
                                     "empty for an upload alone"},
            "online": {"type": "boolean",
                       "description": "its file can be read now (false: its library folder "
                                      "lost it, or is not mounted; its copies, faces and "
                                      "names stay)"},
            "camera": {"type": "object", "additionalProperties": False,
                       "properties": {"make": {"type": ["string", "null"]},
                                      "model": {"type": ["string", "null"]}}},
            "place": {"type": ["object", "null"], "additionalProperties": False,
                      "properties": {"latitude": {"type": "number"},
                                     "longitude": {"type": "number"}},
                      "description": "GPS position from the file: shown to the gallery's "
                                     "users, never in any copy made from the photo"},
            "urls": {
                "type": "object",
                "required": ["display", "annotated", "original", "thumbnail", "xmp"],
                "additionalProperties": False,
                "properties": {
                    **{k: {"type": "string", "pattern": "^/uploads/",
                           "description": "made from the photo: upright, JPEG or PNG, "
                                          "carrying no metadata"}
                       for k in ("display", "annotated", "thumbnail")},
                    "original": {"type": ["string", "null"], "pattern": "^/api/photos/",
                                 "description": "the uploaded file as it came, or the "
                                                "library file itself (a download)"},
                    "xmp": {"type": "string", "pattern": "^/api/photos/",
                            "description": "the face names (and date taken) as an XMP "
                                           "sidecar"}},
            },
        },
    },
    "LibraryRoot": {
        "type": "object",
        "required": ["id", "path", "state", "why", "source", "watching", "photos", "offline",
                     "held", "problems", "scan", "urls"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "path": {"type": "string", "description": "the folder on the server"},
            "state": {"type": "string", "enum": ["ok", "unavailable", "held", "waiting"],
                      "description": "unavailable: missing, unreadable, on another device "
                                     "or empty (nothing was changed); held: files are gone "
                                     "and the user must confirm before they are marked "
                                     "offline; waiting: not scanned yet"},
            "why": {"type": ["string", "null"], "description": "what is wrong, what to do"},
            "source": {"type": "string", "enum": ["settings", "added"],
                       "description": "set in FACES_LIBRARY, or added (API, `faces library "
                                      "add`)"},
            "watching": {"type": "string", "enum": ["events", "scheduled", "off"],
                         "description": "events: changes seen as they happen (inotify); "
                                        "scheduled: a network folder, rescanned every "
                                        "FACES_LIBRARY_RESCAN minutes"},
            "photos": {"type": "integer", "minimum": 0},
            "offline": {"type": "integer", "minimum": 0,
                        "description": "files gone (their photos are kept)"},
            "held": {"type": "integer", "minimum": 0,
                     "description": "files a held pass would mark offline"},
            "problems": {"type": "object", "additionalProperties": False,
                         "properties": {
                             "files": {"type": "integer", "minimum": 0,
                                       "description": "files that are no photo faces can "
                                                      "read, each reported once"},
                             "first": {"type": "array", "items": _PROBLEM},
                             "folders": {"type": "array", "items": _PROBLEM}}},
            "scan": {"type": "object", "additionalProperties": False,
                     "properties": {
                         "running": {"type": "boolean"},
                         "done": {"type": "integer", "minimum": 0},
                         "total": {"type": "integer", "minimum": 0,
                                   "description": "files to read whole in this pass"},
                         "waiting": {"type": "integer", "minimum": 0,
                                     "description": "files still being written"},
                         "last": {"type": ["string", "null"]},
                         "passes": {"type": "integer", "minimum": 0}}},
            "urls": {"type": "object", "properties": {"photos": {"type": "string"}}},
        },
    },
    "PhotoList": {
        "type": "object",
        "required": ["photos", "next"],
        "additionalProperties": False,
        "properties": {
            "photos": {"type": "array", "items": _ref("Photo")},
            "next": {"type": ["string", "null"], "description": "URL of the next (older) page"},
        },
    },
    "Detection": {
        "type": "object",
        "required": ["width", "height", "faces"],
        "additionalProperties": False,
        "properties": {
            "width": {"type": "integer", "minimum": 1},
            "height": {"type": "integer", "minimum": 1},
            "faces": {"type": "array", "items": _ref("Face")},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "starting", "failing"]},
            "model": {"type": "string"},
            "detector": {"type": "string", "description": "the detector family loaded"},
            "precision": {"type": "string", "enum": ["fp32", "int8"],
                          "description": "the arithmetic the detector runs in"},
            "first_pass": {"type": "integer", "minimum": 0,
                           "description": "long side of the first detection pass, pixels "
                           "(0: the model's fixed input)"},
            "workers": {"type": "integer", "minimum": 1},
            "recognition": {"type": "string", "enum": ["on", "off", "stopped", "stalled"],
                            "description": "People's recognition: off without its model; "
                            "stopped when the recognizer failed; stalled while its results "
                            "cannot be written (it goes on by itself)"},
            "problems": {"type": "array", "items": {"type": "string"},
                         "description": "with status failing: what is wrong, each in a "
                         "sentence"},
            "library": {"type": "array", "description": "each library folder's state (one "
                        "not mounted is said here, not failed: the rest works)",
                        "items": {"type": "object", "required": ["path", "state"],
                                  "properties": {
                                      "path": {"type": "string"},
                                      "state": {"enum": ["ok", "unavailable", "held",
                                                         "waiting"]},
                                      "why": {"type": ["string", "null"]},
                                      "scanning": {"type": "boolean"},
                                      "done": {"type": "integer", "minimum": 0},
                                      "total": {"type": "integer", "minimum": 0}}}},
            "recognizer": {"type": ["string", "null"],
                           "description": "the recognizer family describing faces"},
            "recognition_backlog": {"type": "integer", "minimum": 0,
                                    "description": "photos waiting for recognition"},
            "recognition_redescribing": {"type": "integer", "minimum": 0,
                                         "description": "of them, photos described again "
                                         "for a new recognizer"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }},
    },
}

# What an original is served as: its own media type (faces.web.photos.MEDIA_TYPES).
ORIGINAL_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/avif",
                  "image/bmp", "image/tiff", "image/gif", "application/octet-stream")

PATHS = {
    "/api/photos": {
        "get": {
            "summary": "List photos, newest taken first (or as they came in)",
            "operationId": "listPhotos",
            "parameters": [
                {"name": "before", "in": "query", "required": False, "schema": _ID,
                 "description": "only photos after this one (in the order asked for)"},
                {"name": "order", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["taken", "added"]},
                 "description": "taken (default): by date taken; added: as they came in"},
                *({"name": name, "in": "query", "required": False,
                   "schema": {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"},
                   "description": description}
                  for name, description in (("from", "by date taken: taken on or after this "
                                                     "year, month or day"),
                                            ("to", "by date taken: taken up to the end of "
                                                   "this year, month or day"))),
                _LIMIT,
                {"name": "person", "in": "query", "required": False,
                 "schema": {"type": "array", "items": _PERSON_ID, "maxItems": 10},
                 "style": "form", "explode": True,
                 "description": "only photos that show this person (given several times: "
                                "all of them)"},
                {"name": "folder", "in": "query", "required": False,
                 "schema": {"type": "string", "pattern": r"^[0-9]+(/.*)?$"},
                 "description": "only photos in this library folder: <root id>/<path in "
                                "it> (and the folders in it), newest taken first"},
            ],
            "responses": {
                "200": _json(_ref("PhotoList"), "a page of photos"),
                "400": _error("bad limit"),
                "404": _error("unknown 'before' id or person"),
            },
        },
        "post": {
            "summary": "Upload a photo: detect, annotate, store and broadcast it",
            "operationId": "uploadPhoto",
            "parameters": _OPTION_PARAMETERS,
            "requestBody": _PHOTO_UPLOAD_BODY,
            "responses": {
                "201": {**_json(_ref("Photo"), "stored; broadcast as photo.added"),
                        "links": {
                            "GetPhoto": {"operationId": "getPhoto",
                                         "parameters": {"id": "$response.body#/id"}},
                            "DeletePhoto": {"operationId": "deletePhoto",
                                            "parameters": {"id": "$response.body#/id"}}}},
                "200": _json(_ref("Photo"), "the same bytes were uploaded before"),
                **_UPLOAD_ERRORS,
            },
        },
    },
    "/api/photos/{id}": {
        "parameters": _PHOTO_PATH,
        "get": {
            "summary": "One photo",
            "operationId": "getPhoto",
            "responses": {"200": _json(_ref("Photo"), "the photo"),
                          "404": _error("no such photo")},
        },
        "patch": {
            "summary": "Correct the date taken (kept as the user's; in its XMP sidecar and "
                       "exports); broadcast photo.changed",
            "operationId": "editPhoto",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["taken"],
                "properties": {"taken": {"type": "string",
                                         "description": "2019-03-14T15:09:26, with +01:00 "
                                                        "when the zone is known"}}}}}},
            "responses": {"200": _json(_ref("Photo"), "the photo"),
                          "400": _error("not a date"),
                          "404": _error("no such photo")},
        },
        "delete": {
            "summary": "Delete a photo and its files; broadcast photo.deleted",
            "operationId": "deletePhoto",
            "responses": {"204": {"description": "deleted"}, "404": _error("no such photo"),
                          "409": _error("the photo is a file in a library folder, there "
                                        "now: faces never deletes those files")},
        },
    },
    "/api/detect": {
        "post": {
            "summary": "Detect faces only: nothing is stored or broadcast",
            "operationId": "detectFaces",
            "parameters": [
                *_OPTION_PARAMETERS,
                {"name": "annotate", "in": "query", "required": False,
                 "description": "1: answer with the annotated image instead of JSON",
                 "schema": {"type": "string", "enum": ["0", "1"], "default": "0"}},
            ],
            "requestBody": _UPLOAD_BODY,
            "responses": {
                "200": {
                    "description": "faces JSON, or the annotated image with ?annotate=1",
                    "content": {
                        "application/json": {"schema": _ref("Detection")},
                        "image/jpeg": {"schema": {"type": "string",
                                                  "contentMediaType": "image/jpeg"}},
                        "image/png": {"schema": {"type": "string",
                                                 "contentMediaType": "image/png"}},
                    },
                },
                **_UPLOAD_ERRORS,
            },
        },
    },
    "/api/people": {
        "get": {
            "summary": "People, most faces first; live changes come as people.changed",
            "operationId": "listPeople",
            "parameters": [
                {"name": "before", "in": "query", "required": False, "schema": _PERSON_ID,
                 "description": "only people after this one in the list"},
                _LIMIT,
                {"name": "hidden", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                 "description": "1: hidden people too"},
                {"name": "named", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                 "description": "1: only the people with a name, by name"},
            ],
            "responses": {"200": _json(_ref("PeopleList"), "a page of people"),
                          "400": _error("bad limit"),
                          "404": _error("unknown 'before' id")},
        },
    },
    "/api/people/{id}": {
        "parameters": _PERSON_PATH,
        "get": {
            "summary": "One person",
            "operationId": "getPerson",
            "responses": {"200": _json(_ref("Person"), "the person"),
                          "404": _error("no such person")},
        },
        "patch": {
            "summary": "Name (or unname) a person, or hide them. Naming also gathers "
                       "stored faces that match them",
            "operationId": "editPerson",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "minProperties": 1, "additionalProperties": False,
                "properties": {"name": {"type": ["string", "null"], "maxLength": 100},
                               "hidden": {"type": "boolean"}}}}}},
            "responses": {"200": _json(_ref("Person"), "the person, changed"),
                          **_JSON_ERRORS},
        },
    },
    "/api/people/suggestions": {
        "get": {
            "summary": "Same person? Pairs of people who look alike, nearest first (never a "
                       "pair the user said are two people)",
            "operationId": "peopleSuggestions",
            "parameters": [_LIMIT],
            "responses": {"200": _json(_ref("Suggestions"), "the pairs"),
                          "400": _error("bad limit")},
        },
    },
    "/api/people/{id}/faces": {
        "parameters": _PERSON_PATH,
        "get": {
            "summary": "A person's faces, newest first",
            "operationId": "personFaces",
            "parameters": [
                {"name": "before", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0},
                 "description": "only faces older than this one"}, _LIMIT],
            "responses": {"200": _json(_ref("PersonFaces"), "a page of faces"),
                          "400": _error("bad limit or before"),
                          "404": _error("no such person")},
        },
    },
    "/api/people/{id}/split": {
        "parameters": _PERSON_PATH,
        "post": {
            "summary": "Some of a person's faces are someone else: they become a new person",
            "operationId": "splitPerson",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["faces"], "additionalProperties": False,
                "properties": {"faces": {"type": "array", "minItems": 1, "items": {
                    "type": "integer", "minimum": 0}}}}}}},
            "responses": {"201": _json(_ref("Person"), "the new person"), **_JSON_ERRORS},
        },
    },
    "/api/people/{id}/same": {
        "parameters": _PERSON_PATH,
        "post": {
            "summary": "Answer \"same person?\": yes merges the other person into this one; "
                       "no is remembered, and the pair never offered again",
            "operationId": "samePerson",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["person", "same"],
                "additionalProperties": False,
                "properties": {"person": _PERSON_ID, "same": {"type": "boolean"}}}}}},
            "responses": {"200": _json(_ref("Merged"), "answered"), **_JSON_ERRORS},
        },
    },
    "/api/people/{id}/merge": {
        "parameters": _PERSON_PATH,
        "post": {
            "summary": "Merge other people into this one",
            "operationId": "mergePeople",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["people"], "additionalProperties": False,
                "properties": {"people": {"type": "array", "minItems": 1,
                                          "items": _PERSON_ID}}}}}},
            "responses": {"200": _json(_ref("Person"), "the merged person"),
                          **_JSON_ERRORS},
        },
    },
    "/api/faces/{id}/person": {
        "parameters": _FACE_PATH,
        "put": {
            "summary": "Put a face in a person, in a new person of its own (\"new\"), or in "
                       "nobody (null). Grouping never moves it again",
            "operationId": "moveFace",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["person"], "additionalProperties": False,
                "properties": {"person": {"oneOf": [_PERSON_ID, {"const": "new"},
                                                    {"type": "null"}]}}}}}},
            "responses": {"200": _json(_ref("FacePerson"), "where the face is now"),
                          "409": _error("the face was not recognized (too small)"),
                          **_JSON_ERRORS},
        },
    },
    "/api/faces/{id}/reject": {
        "parameters": _FACE_PATH,
        "post": {
            "summary": "Not this person: the face leaves its person, and grouping never puts "
                       "it back there",
            "operationId": "rejectFace",
            "responses": {"200": _json(_ref("FacePerson"), "the face, in nobody"),
                          "409": _error("the face is in no person, or not recognized"),
                          **_JSON_ERRORS},
        },
    },
    "/api/photos/{id}/faces": {
        "parameters": _PHOTO_PATH,
        "post": {
            "summary": "A face the detector missed, drawn by hand; it is described in the "
                       "background and can then be named. Broadcast as photo.changed",
            "operationId": "addFace",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["box"], "additionalProperties": False,
                "properties": {"box": {"type": "array", "minItems": 4, "maxItems": 4,
                                       "items": {"type": "number", "minimum": 0},
                                       "description": "[x1, y1, x2, y2] in the photo's "
                                                      "pixels"}}}}}},
            "responses": {"201": _json(_ref("Photo"), "the photo with its new face"),
                          "400": _error("not a box inside the photo"),
                          "401": _error("an access token is needed"),
                          "404": _error("no such photo"),
                          "503": _error("the detector is restarting; retry later")},
        },
    },
    "/api/photos/{id}/original": {
        "parameters": _PHOTO_PATH,
        "get": {
            "summary": "The photo as it was uploaded, byte for byte, with its EXIF and GPS: a "
                       "download (Content-Disposition: attachment, nosniff, a sandbox CSP)",
            "operationId": "photoOriginal",
            "responses": {"200": {"description": "the file, in its own media type",
                                  "content": {kind: {"schema": {"type": "string",
                                                                "format": "binary"}}
                                              for kind in ORIGINAL_TYPES}},
                          "401": _error("an access token is needed to view"),
                          "404": _error("no such photo, or it keeps no original, or its "
                                        "library file is not there now (offline)")},
        },
    },
    "/api/photos/{id}/xmp": {
        "parameters": _PHOTO_PATH,
        "get": {
            "summary": "The photo's face names as an XMP sidecar: MWG and Microsoft Photo "
                       "regions and IPTC PersonInImage for every face in a named person, in "
                       "the stored original's pixels (what ExifTool, digiKam and Lightroom "
                       "read)",
            "operationId": "photoXmp",
            "responses": {"200": {"description": "the sidecar (Content-Disposition: "
                                                 "attachment, <filename>.xmp)",
                                  "content": {"application/rdf+xml": {
                                      "schema": {"type": "string"}}}},
                          "401": _error("an access token is needed to view"),
                          "404": _error("no such photo")},
        },
    },
    "/api/library": {
        "get": {
            "summary": "The library folders: indexed where they are, never written to",
            "operationId": "listLibrary",
            "responses": {"200": _json({"type": "object", "required": ["roots", "scanning"],
                                        "properties": {
                                            "roots": {"type": "array",
                                                      "items": _ref("LibraryRoot")},
                                            "scanning": {"type": "boolean"}}},
                                       "every folder, its state and scan"),
                          "401": _error("an access token is needed to view")},
        },
        "post": {
            "summary": "Add a folder of the server to the library (scanned in the "
                       "background, then watched)",
            "operationId": "addLibraryFolder",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["path"],
                "properties": {"path": {"type": "string", "minLength": 1,
                                        "examples": ["/photos"]}}}}}},
            "responses": {"201": _json(_ref("LibraryRoot"), "added"),
                          "400": _error("not an absolute path"),
                          "401": _error("an access token is needed"),
                          "404": _error("no such folder on the server"),
                          "409": _error("it holds or is in the data directory, or overlaps "
                                        "another library folder")},
        },
    },
    "/api/library/roots/{id}": {
        "parameters": _ROOT_PATH,
        "get": {
            "summary": "One library folder",
            "operationId": "getLibraryFolder",
            "responses": {"200": _json(_ref("LibraryRoot"), "the folder"),
                          "401": _error("an access token is needed to view"),
                          "404": _error("no such library folder")},
        },
        "delete": {
            "summary": "Forget a library folder: its photos that are nowhere else leave the "
                       "gallery (its files are never touched)",
            "operationId": "removeLibraryFolder",
            "responses": {"200": _json({"type": "object", "required": ["removed_photos"],
                                        "properties": {"removed_photos": {
                                            "type": "integer", "minimum": 0}}},
                                       "removed"),
                          "401": _error("an access token is needed"),
                          "404": _error("no such library folder"),
                          "409": _error("set in FACES_LIBRARY: take it out there")},
        },
    },
    **{f"/api/library/roots/{{id}}/{action}": {
        "parameters": _ROOT_PATH,
        "post": {
            "summary": summary,
            "operationId": operation,
            "responses": {"202": _json(_ref("LibraryRoot"), "asked: it runs in the "
                                                            "background"),
                          "401": _error("an access token is needed"),
                          "404": _error("no such library folder")},
        },
    } for action, operation, summary in (
        ("scan", "scanLibraryFolder", "Look at the folder again now"),
        ("confirm", "confirmLibraryFolder",
         "Yes to what the last scan held back: files gone (marked offline), a new device, "
         "an emptied folder"))},
    "/healthz": {
        "get": {
            "summary": "Ready once every detector worker has loaded the model",
            "operationId": "health",
            "responses": {"200": _json(_ref("Health"), "ready"),
                          "503": _json(_ref("Health"), "starting, or failing (problems)")},
        },
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {}}}},
        },
    },
}


PATHS.update(openapi_access.PATHS)
SCHEMAS.update(openapi_access.SCHEMAS)
# With accounts on, a change asked for by an account whose role may not make
# it is refused the same way everywhere (faces.library.accounts.authorize).
for _path, _item in PATHS.items():
    for _method, _operation in _item.items():
        if _method in ("post", "put", "patch", "delete") and _path.startswith("/api/") and \
                not _path.startswith(("/api/session", "/api/keys")):
            _operation["responses"].setdefault(
                "403", _error("your account's role may not do this (accounts on)"))


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "faces",
            "version": __version__,
            "description": "A self-hosted photo gallery that finds faces. Live events: "
                           "WebSocket /ws (photo.added, photo.deleted, photo.changed, "
                           "photos.recognized, faces.changed, people.changed, recognition; "
                           "?after=<id> replays photos).",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }

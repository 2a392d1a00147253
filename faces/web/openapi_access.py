"""The OpenAPI description of access: logging in (``/api/session``), a
user's sessions and API keys, share links and what a link's holder reads.
Merged into :mod:`faces.web.openapi`'s document."""

from __future__ import annotations

from typing import Any

from .openapi_parts import _error, _json, _ref


def _none(description: str) -> dict:
    return {"description": description}


def _listed(field: str, schema: str, description: str) -> dict:
    """An answer ``{field: [schema, ...]}``."""
    return _json({"type": "object", "required": [field], "properties": {
        field: {"type": "array", "items": _ref(schema)}}}, description)


_ID = [{"name": "id", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}]
_WHEN = {"type": ["string", "null"], "format": "date-time"}
_WHO = {"type": "object", "required": ["user", "role", "via", "accounts"], "properties": {
    "user": {"type": ["string", "null"]},
    "role": {"enum": ["owner", "editor", "viewer", None]},
    "via": {"enum": ["open", "token", "session", "key", "share", "anonymous"]},
    "accounts": {"type": "boolean"}}}
_NOT_YOURS = "no such thing, or not yours (answered alike)"

SCHEMAS: dict[str, Any] = {
    "User": {"type": "object", "required": ["id", "name", "role", "created", "sessions", "keys"],
             "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                            "role": {"enum": ["owner", "editor", "viewer"]},
                            "created": _WHEN, "sessions": {"type": "integer", "minimum": 0},
                            "keys": {"type": "integer", "minimum": 0}}},
    "Session": {"type": "object", "required": ["id", "created", "last_used", "address",
                                               "agent", "current"],
                "properties": {"id": {"type": "integer"}, "created": _WHEN,
                               "last_used": _WHEN, "address": {"type": "string"},
                               "agent": {"type": "string"}, "current": {"type": "boolean"}}},
    "ApiKey": {"type": "object", "required": ["id", "role", "label", "created", "last_used"],
               "properties": {"id": {"type": "integer"},
                              "role": {"enum": ["owner", "editor", "viewer"]},
                              "label": {"type": "string"}, "created": _WHEN,
                              "last_used": _WHEN,
                              "key": {"type": "string", "description": "the key itself: "
                                      "only in the answer that made it"}}},
    "Share": {"type": "object",
              "required": ["id", "kind", "label", "person", "created", "expires", "expired",
                           "password", "downloads", "names", "boxes", "views", "last_used",
                           "photos"],
              "properties": {
                  "id": {"type": "integer"}, "kind": {"enum": ["person", "photos"]},
                  "label": {"type": "string"},
                  "person": {"type": ["object", "null"]},
                  "created": _WHEN, "expires": _WHEN, "expired": {"type": "boolean"},
                  "password": {"type": "boolean"}, "downloads": {"type": "boolean"},
                  "names": {"type": "boolean"}, "boxes": {"type": "boolean"},
                  "views": {"type": "integer", "minimum": 0}, "last_used": _WHEN,
                  "photos": {"type": "integer", "minimum": 0},
                  "url": {"type": "string", "description": "the link: only in the answer "
                          "that made it (its token is stored as a hash)"}}},
    "Shared": {"type": "object", "required": ["label", "expires", "downloads", "photos"],
               "properties": {
                   "label": {"type": "string"}, "expires": _WHEN,
                   "downloads": {"type": "boolean"},
                   "photos": {"type": "array", "items": {
                       "type": "object", "required": ["id", "width", "height", "urls",
                                                      "faces"],
                       "properties": {"id": {"type": "string"}, "width": {"type": "integer"},
                                      "height": {"type": "integer"},
                                      "urls": {"type": "object"},
                                      "faces": {"type": "array"}}}}}},
}

_OWNERS = {"401": _error("not logged in"), "403": _error("only the owner manages accounts"),
           "404": _error("asked with a share link, or no such user")}
PATHS: dict[str, Any] = {
    "/api/users": {
        "get": {"summary": "Every account (the owner's)", "operationId": "listUsers",
                "responses": {"200": _listed("users", "User", "the accounts"), **_OWNERS}},
        "post": {
            "summary": "A new account (the first, the owner's, is made on the gallery's "
                       "machine or with `faces user add`)",
            "operationId": "addUser",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name", "password"],
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64},
                               "role": {"enum": ["owner", "editor", "viewer"]},
                               "password": {"type": "string", "minLength": 8}}}}}},
            "responses": {"201": _json(_ref("User"), "added"),
                          "400": _error("a bad name, role or password"),
                          "409": _error("that name is taken, or no owner yet"), **_OWNERS}},
    },
    "/api/users/{id}": {
        "parameters": _ID,
        "patch": {
            "summary": "A new role or password: the user's sessions end",
            "operationId": "changeUser",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "role": {"enum": ["owner", "editor", "viewer"]},
                    "password": {"type": "string", "minLength": 8}}}}}},
            "responses": {"200": _json(_ref("User"), "changed"),
                          "400": _error("neither a role nor a password, or a bad one"),
                          "409": _error("the only owner stays one"), **_OWNERS}},
        "delete": {"summary": "Remove an account, its sessions and keys",
                   "operationId": "removeUser",
                   "responses": {"204": _none("removed"),
                                 "409": _error("the only owner stays"), **_OWNERS}},
    },
    "/api/session": {
        "get": {"summary": "Who this request is from", "operationId": "whoAmI",
                "responses": {"200": _json(_WHO, "who, their role, and how they showed it")}},
        "post": {
            "summary": "Log in with an account's name and password: the session cookie is "
                       "set (HttpOnly, SameSite=Strict)",
            "operationId": "logIn",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name", "password"],
                "properties": {"name": {"type": "string"},
                               "password": {"type": "string"}}}}}},
            "responses": {"201": _json(_WHO, "logged in"),
                          "400": _error("not a name and password"),
                          "401": _error("that name and password do not match an account"),
                          "409": _error("the gallery has no accounts"),
                          "429": _error("too many failed logins from this address or for "
                                        "this name")}},
        "delete": {"summary": "Log out: this session ends", "operationId": "logOut",
                   "responses": {"204": _none("logged out")}},
    },
    "/api/sessions": {
        "get": {"summary": "Your sessions (where you are logged in)",
                "operationId": "listSessions",
                "responses": {"200": _listed("sessions", "Session",
                                             "your sessions, the current one marked"),
                              "401": _error("not logged in"),
                              "404": _error("not an account (a token, a link)")}},
    },
    "/api/sessions/{id}": {
        "parameters": _ID,
        "delete": {"summary": "End one of your sessions (its pages' live updates close)",
                   "operationId": "endSession",
                   "responses": {"204": _none("ended"), "401": _error("not logged in"),
                                 "404": _error(_NOT_YOURS)}},
    },
    "/api/keys": {
        "get": {"summary": "Your API keys", "operationId": "listKeys",
                "responses": {"200": _listed("keys", "ApiKey",
                                             "your keys (never the keys themselves)"),
                              "401": _error("not logged in"),
                              "404": _error("not an account (a token, a link)")}},
        "post": {
            "summary": "A new API key for your account, at most your role (from a session: "
                       "a key cannot make keys); the key is shown this once",
            "operationId": "makeKey",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "role": {"enum": ["owner", "editor", "viewer"]},
                    "label": {"type": "string", "maxLength": 64}}}}}},
            "responses": {"201": _json(_ref("ApiKey"), "made (with its key)"),
                          "400": _error("not a role"), "401": _error("not logged in"),
                          "403": _error("a role above yours, or asked with a key"),
                          "404": _error("not an account (a token, a link)")}},
    },
    "/api/keys/{id}": {
        "parameters": _ID,
        "delete": {"summary": "Remove one of your API keys", "operationId": "removeKey",
                   "responses": {"204": _none("removed"), "401": _error("not logged in"),
                                 "404": _error(_NOT_YOURS)}},
    },
    "/api/shares": {
        "get": {"summary": "Every share link, with its views and last use (the owner's)",
                "operationId": "listShares",
                "responses": {"200": _listed("shares", "Share", "the links"),
                              "401": _error("not logged in"),
                              "403": _error("only the owner shares"),
                              "404": _error("asked with a share link")}},
        "post": {
            "summary": "A share link of a person (their photos now, and those later "
                       "confirmed theirs) or of chosen photos",
            "operationId": "makeShare",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "person": {"type": "string"},
                    "photos": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "label": {"type": "string"},
                    "days": {"type": "number", "exclusiveMinimum": 0, "maximum": 3650,
                             "description": "how long it works (default FACES_SHARE_DAYS, "
                                            "30)"},
                    "password": {"type": "string", "minLength": 8},
                    "downloads": {"type": "boolean", "default": False},
                    "names": {"type": "boolean", "default": False},
                    "boxes": {"type": "boolean", "default": False}}}}}},
            "responses": {"201": _json(_ref("Share"), "made: its url, shown this once"),
                          "400": _error("neither a person nor photos, or a bad option"),
                          "401": _error("not logged in"),
                          "403": _error("only the owner shares"),
                          "404": _error("no such person or photo")}},
    },
    "/api/shares/{id}": {
        "parameters": _ID,
        "get": {"summary": "One share link", "operationId": "getShare",
                "responses": {"200": _json(_ref("Share"), "the link"),
                              "401": _error("not logged in"),
                              "403": _error("only the owner shares"),
                              "404": _error("no such link")}},
        "delete": {"summary": "Revoke a link: its page, files, API and live updates stop "
                              "at once",
                   "operationId": "revokeShare",
                   "responses": {"204": _none("revoked"), "401": _error("not logged in"),
                                 "403": _error("only the owner shares"),
                                 "404": _error("no such link")}},
    },
    "/api/shared": {
        "get": {"summary": "What a share link's holder sees (its cookie, set by /s/<token>)",
                "operationId": "shared",
                "responses": {"200": _json(_ref("Shared"), "the link's photos: display "
                                                           "copies, no metadata"),
                              "404": _error("no link, or one revoked or expired")}},
    },
}

"""People: the People page, and the people API (list, one person, name and
hide, merge, put a face in a person)."""

from __future__ import annotations

from ..errors import NotFound
from ..library.records import PERSON_REGEX, Person
from . import forms
from .base import ApiOriginCheck, BaseHandler
from .views import CROPS, face_moved_json, face_of_json, person_json, suggestion_json

SUGGESTIONS = 10  # "same person?" pairs the People page shows at once
PAGE = 48  # people the People page shows before "more people"
# What the page's <template> of a person's card is rendered from: every part
# there (a cover too), for the script to fill in.
BLANK = {"id": "", "name": None, "hidden": False, "faces": 0, "photos": 0,
         "urls": {"cover": "", "photos": "", "page": ""}}


class PeopleBase(ApiOriginCheck, BaseHandler):
    """The People API: JSON in and out; reading needs view access, changes
    write access."""

    def prepare(self) -> None:
        self.require("view" if self.request.method in ("GET", "HEAD") else "edit")

    def body(self) -> object:
        return forms.json_body(self.request.body)

    def recognition(self) -> dict:
        recognition = self.services.recognition
        return {"state": recognition.state, "backlog": recognition.backlog,
                "redescribing": recognition.redescribing}


def named_page(people: list[Person], limit: int, before: str | None) -> tuple[list, bool]:
    """A page of the named people (a short list, by name)."""
    start = 0
    if before is not None:
        ids = [p.id for p in people]
        if before not in ids:
            raise NotFound("not_found", "No person has the id given in 'before'.")
        start = ids.index(before) + 1
    return people[start:start + limit], start + limit < len(people)


class PeopleApiHandler(PeopleBase):
    """People, a page at a time: most photos first, ``?before=<id>`` for the
    page after that person (a cursor into an index, whatever the number of
    people); ``named=1``: the named ones, by name."""

    def get(self) -> None:
        limit = forms.page_limit(self.get_argument("limit", None))
        hidden = forms.flag(self.get_argument("hidden", None), "hidden")
        named = forms.flag(self.get_argument("named", None), "named")
        before = self.get_argument("before", None)
        people = self.services.people
        if named:
            everyone = [p for p in people.named() if hidden or not p.hidden]
            page, more = named_page(everyone, limit, before)
        else:
            page, more = people.page(limit, before, hidden)
        following = None
        if more:
            following = f"/api/people?before={page[-1].id}&limit={limit}" + \
                ("&hidden=1" if hidden else "") + ("&named=1" if named else "")
        self.write_json({"people": [person_json(p) for p in page], "next": following,
                         "recognition": self.recognition()})


class PersonApiHandler(PeopleBase):
    def get(self, person_id: str) -> None:
        self.write_json(person_json(self.services.people.person(person_id)))

    async def patch(self, person_id: str) -> None:
        edit = forms.person_edit(self.body())
        person = await self.services.people.edit(person_id, name=edit.name, hidden=edit.hidden)
        self.write_json(person_json(person))


class MergeApiHandler(PeopleBase):
    async def post(self, person_id: str) -> None:
        sources = forms.merge_sources(self.body())
        self.write_json(person_json(await self.services.people.merge(person_id, sources)))


class PersonFacesApiHandler(PeopleBase):
    """A person's faces, newest first: ``?before=<face id>&limit=``."""

    def get(self, person_id: str) -> None:
        limit = forms.page_limit(self.get_argument("limit", None))
        before = forms.face_id(self.get_argument("before", None))
        faces = self.services.people.faces(person_id, limit, before)
        following = None
        if len(faces) == limit:
            following = f"/api/people/{person_id}/faces?before={faces[-1].id}&limit={limit}"
        self.write_json({"faces": [face_of_json(face) for face in faces], "next": following})


class SplitApiHandler(PeopleBase):
    async def post(self, person_id: str) -> None:
        faces = forms.face_ids(self.body())
        self.write_json(person_json(await self.services.people.split(person_id, faces)), 201)


class SameApiHandler(PeopleBase):
    """The answer to "same person?": yes merges, no is remembered."""

    async def post(self, person_id: str) -> None:
        other, same = forms.same_answer(self.body())
        merged = await self.services.people.same(person_id, other, same)
        self.write_json({"merged": person_json(merged) if merged else None})


class SuggestionsApiHandler(PeopleBase):
    async def get(self) -> None:
        limit = forms.page_limit(self.get_argument("limit", "20"))
        found = await self.services.people.suggestions(limit)
        self.write_json({"suggestions": [suggestion_json(pair) for pair in found]})


class FacePersonApiHandler(PeopleBase):
    async def put(self, face_id: str) -> None:
        target = forms.face_target(self.body())
        self.write_json(face_moved_json(await self.services.people.move(int(face_id), target)))


class RejectFaceApiHandler(PeopleBase):
    """"Not this person": the face leaves its person for good."""

    async def post(self, face_id: str) -> None:
        moved = await self.services.people.not_this_person(int(face_id))
        self.write_json(face_moved_json(moved))


class PeoplePageHandler(BaseHandler):
    """/people: the first page of people (more load as you scroll, or with
    the "more people" link, which works without JavaScript too)."""

    async def get(self) -> None:
        if self.login_first():
            return
        self.require("view")
        hidden = self.get_argument("hidden", "0") == "1"
        after = self.get_argument("after", None)
        recognition, people = self.services.recognition, self.services.people
        seq = self.web.hub.seq  # what the page shows includes every message up to this one
        try:
            page, more = people.page(PAGE, after, hidden)
        except NotFound:
            page, more = people.page(PAGE, None, hidden)
        suggestions = await people.suggestions(SUGGESTIONS) if after is None else []
        self.render("people.html", people=[person_json(p) for p in page], more=more,
                    page_size=PAGE, hidden=hidden, backlog=recognition.backlog,
                    state=recognition.state, why=recognition.why,
                    redescribing=recognition.redescribing, blank=BLANK, crops=CROPS,
                    suggestions=suggestions, seq=seq)


PERSON = PERSON_REGEX.strip("^$")
FACE = "[0-9]{1,18}"
ROUTES = [
    (r"/people", PeoplePageHandler),
    (r"/api/people", PeopleApiHandler),
    (r"/api/people/suggestions", SuggestionsApiHandler),
    (rf"/api/people/({PERSON})", PersonApiHandler),
    (rf"/api/people/({PERSON})/merge", MergeApiHandler),
    (rf"/api/people/({PERSON})/faces", PersonFacesApiHandler),
    (rf"/api/people/({PERSON})/split", SplitApiHandler),
    (rf"/api/people/({PERSON})/same", SameApiHandler),
    (rf"/api/faces/({FACE})/person", FacePersonApiHandler),
    (rf"/api/faces/({FACE})/reject", RejectFaceApiHandler),
]

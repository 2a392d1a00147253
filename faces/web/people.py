"""People: the People page, and the people API (list, one person, name and
hide, merge, put a face in a person)."""

from __future__ import annotations

from ..errors import NotFound
from ..library.records import PERSON_REGEX
from . import forms
from .base import ApiOriginCheck, BaseHandler
from .views import face_moved_json, person_json

# What the page's <template> of a person's card is rendered from: every part
# there (a cover too), for the script to fill in.
BLANK = {"id": "", "name": None, "hidden": False, "faces": 0, "photos": 0,
         "urls": {"cover": "", "photos": "", "page": ""}}


class PeopleBase(ApiOriginCheck, BaseHandler):
    """The People API: JSON in and out; reading needs view access, changes
    write access."""

    def prepare(self) -> None:
        if self.request.method in ("GET", "HEAD"):
            self.require_view()
        else:
            self.require_write()

    def body(self) -> object:
        return forms.json_body(self.request.body)

    def recognition(self) -> dict:
        recognition = self.services.recognition
        return {"state": recognition.state, "backlog": recognition.backlog}


class PeopleApiHandler(PeopleBase):
    def get(self) -> None:
        limit = forms.page_limit(self.get_argument("limit", None))
        hidden = forms.flag(self.get_argument("hidden", None), "hidden")
        everyone = self.services.people.list(hidden)
        before = self.get_argument("before", None)
        start = 0
        if before is not None:
            ids = [p.id for p in everyone]
            if before not in ids:
                raise NotFound("not_found", "No person has the id given in 'before'.")
            start = ids.index(before) + 1
        page = everyone[start:start + limit]
        following = None
        if start + limit < len(everyone):
            following = f"/api/people?before={page[-1].id}&limit={limit}" + \
                ("&hidden=1" if hidden else "")
        self.write_json({"people": [person_json(p) for p in page], "next": following,
                         "recognition": self.recognition()})


class PersonApiHandler(PeopleBase):
    def get(self, person_id: str) -> None:
        self.write_json(person_json(self.services.people.person(person_id)))

    def patch(self, person_id: str) -> None:
        edit = forms.person_edit(self.body())
        person = self.services.people.edit(person_id, name=edit.name, hidden=edit.hidden)
        self.write_json(person_json(person))


class MergeApiHandler(PeopleBase):
    def post(self, person_id: str) -> None:
        sources = forms.merge_sources(self.body())
        self.write_json(person_json(self.services.people.merge(person_id, sources)))


class FacePersonApiHandler(PeopleBase):
    def put(self, face_id: str) -> None:
        target = forms.face_target(self.body())
        self.write_json(face_moved_json(self.services.people.move(int(face_id), target)))


class PeoplePageHandler(BaseHandler):
    def get(self) -> None:
        if not self.can_view():
            self.redirect("/login")
            return
        hidden = self.get_argument("hidden", "0") == "1"
        recognition = self.services.recognition
        people = [person_json(p) for p in self.services.people.list(hidden)]
        self.render("people.html", people=people, hidden=hidden, backlog=recognition.backlog,
                    state=recognition.state, failed=recognition.failed, blank=BLANK)


PERSON = PERSON_REGEX.strip("^$")
ROUTES = [
    (r"/people", PeoplePageHandler),
    (r"/api/people", PeopleApiHandler),
    (rf"/api/people/({PERSON})", PersonApiHandler),
    (rf"/api/people/({PERSON})/merge", MergeApiHandler),
    (r"/api/faces/([0-9]{1,18})/person", FacePersonApiHandler),
]

"""The library's use cases on a backend without models (tests/support/fakes):
the gallery's add, read, delete; recognition and People's edits; the events
every page is told. Fast: no worker processes, no model files."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from faces.errors import BadRequest, Conflict, ImageRejected, NotFound
from faces.library import events
from faces.library.people import NEW
from faces.services import Services
from faces.settings import Settings
from tests.support.fakes import FakeBackend, photo

RED, BLUE, GREEN = (0, 0, 255), (255, 0, 0), (0, 200, 0)


class Recorder:
    def __init__(self) -> None:
        self.events: list[events.Event] = []

    def publish(self, event: events.Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def library(tmp_path: Path, recognize: bool = True) -> tuple[Services, Recorder]:
    """A library in ``tmp_path`` on a fake backend (recognition on: the
    recognition model's setting only has to name a file)."""
    model = tmp_path / "recognizer.onnx"
    model.write_bytes(b"not read: the fake backend describes faces itself")
    settings = Settings(data_dir=tmp_path / "data", recognition_model=model if recognize
                        else Path())
    recorder = Recorder()
    return Services.create(settings, events=recorder, backend=FakeBackend()), recorder


def run(coroutine):
    return asyncio.run(coroutine)


def test_add_read_and_delete_a_photo(tmp_path: Path) -> None:
    services, told = library(tmp_path, recognize=False)
    gallery = services.gallery

    async def scenario() -> None:
        await services.start()
        data = photo([(RED, 100, 100, 80), (BLUE, 300, 100, 80)])
        stored, created = await gallery.add(data, "two.png", gallery.defaults)
        assert created and len(stored.faces) == 2 and stored.filename == "two.png"
        assert all(isinstance(face["id"], int) for face in stored.faces)
        again, created = await gallery.add(data, "again.png", gallery.defaults)
        assert not created and again == stored
        assert [type(e) for e in told.events] == [events.PhotoAdded]
        for name in stored.files():
            assert (services.files.photos_dir / name).is_file()
        other, _ = await gallery.add(photo([], seed=1), "none.png", gallery.defaults)
        assert other.faces == []
        assert [p.id for p in gallery.page(10).photos] == [other.id, stored.id]
        assert [p.id for p in gallery.page(1, before=other.id).photos] == [stored.id]
        assert gallery.count() == 2 and gallery.face_count() == 2
        assert [p.id for p in gallery.since(stored.id)] == [other.id]
        assert gallery.since("f" * 24) is None  # unknown: the page reloads
        await gallery.delete(stored.id)
        assert told.of(events.PhotoDeleted) == [events.PhotoDeleted(stored.id)]
        assert not any((services.files.photos_dir / n).exists() for n in stored.files())
        with pytest.raises(NotFound):
            gallery.photo(stored.id)
        with pytest.raises(NotFound):
            await gallery.delete(stored.id)
        with pytest.raises(NotFound):
            gallery.page(10, before="0" * 24)
        with pytest.raises(ImageRejected):
            await gallery.add(b"not an image", "x.png", gallery.defaults)
        services.stop()

    run(scenario())


def assert_counts_true(services: Services) -> None:
    """Every person's counts and cover, kept up to date change by change, are
    what counting them again gives."""
    from faces.library.catalogue_people import COVER

    db = services.catalogue.db
    kept = db.execute("SELECT id, faces, photos, cover FROM people ORDER BY id").fetchall()
    counted = db.execute(
        f"SELECT id, (SELECT COUNT(*) FROM faces WHERE person = people.id), "
        f"(SELECT COUNT(DISTINCT photo) FROM faces WHERE person = people.id), ({COVER}) "
        f"FROM people ORDER BY id").fetchall()
    assert kept == counted
    assert all(faces > 0 for _, faces, _, _ in kept)  # no empty person is left behind


async def recognized(services: Services) -> None:
    """Wait until recognition has caught up and told the pages."""
    recognition = services.recognition
    for _ in range(400):
        if not recognition.backlog and recognition.all_told:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("recognition did not catch up")


def test_recognition_groups_people_and_every_edit_is_told(tmp_path: Path,
                                                         monkeypatch) -> None:
    monkeypatch.setattr("faces.library.recognition.GATHER_SECONDS", 0.01)
    services, told = library(tmp_path)
    gallery, people = services.gallery, services.people

    async def scenario() -> None:
        await services.start()
        added = []
        for n, squares in enumerate([[(RED, 50, 50, 90), (BLUE, 300, 50, 90)],
                                     [(RED, 60, 200, 90)], [(BLUE, 200, 100, 90)],
                                     [(GREEN, 100, 100, 90)]]):
            added.append((await gallery.add(photo(squares, seed=n), f"{n}.png",
                                            gallery.defaults))[0])
        await recognized(services)
        everyone = people.list()
        assert sorted(p.photos for p in everyone) == [2, 2]  # red, blue; green: alone
        assert told.of(events.PhotosRecognized) and told.of(events.PeopleChanged)
        assert told.of(events.RecognitionState)[-1] == events.RecognitionState("on", 0)
        crops = list(services.files.crops_dir.iterdir())
        assert len(crops) == 5
        assert_counts_true(services)
        red = people.person(next(f["person"] for f in
                                 gallery.photo(added[1].id).faces))
        blue = next(p for p in everyone if p.id != red.id)
        # Name, hide, merge, move: each written and told at once.
        told.events.clear()
        assert (await people.edit(red.id, name="Ruth")).name == "Ruth"
        assert told.of(events.PeopleChanged)[0].people[0].name == "Ruth"
        assert (await people.edit(red.id, hidden=True)).hidden
        assert [p.id for p in people.list()] == [blue.id]
        merged = await people.merge(red.id, [blue.id])
        assert merged.photos == 3 and merged.name == "Ruth"
        assert told.of(events.PeopleChanged)[-1].removed == [blue.id]
        green_face = gallery.photo(added[3].id).faces[0]["id"]
        moved = await people.move(green_face, red.id)
        assert moved == events.FaceMoved(green_face, added[3].id, red.id)
        alone = await people.move(green_face, NEW)
        assert alone.person not in (None, red.id)
        assert (await people.move(green_face, None)).person is None
        with pytest.raises(NotFound):
            people.person("0" * 12)
        with pytest.raises(NotFound):
            await people.move(green_face, "0" * 12)
        with pytest.raises(NotFound):
            await people.move(10**9, None)
        assert_counts_true(services)
        # Deleting a photo takes its faces out of their person.
        await gallery.delete(added[0].id)
        assert people.person(red.id).photos == 2
        assert_counts_true(services)
        services.stop()

    run(scenario())


def test_a_face_without_a_descriptor_cannot_be_placed(tmp_path: Path) -> None:
    services, _ = library(tmp_path, recognize=False)

    async def scenario() -> None:
        await services.start()
        stored, _ = await services.gallery.add(photo([(RED, 50, 50, 90)]), "r.png",
                                               services.gallery.defaults)
        with pytest.raises(Conflict):
            await services.people.move(stored.faces[0]["id"], NEW)
        services.stop()

    run(scenario())


def test_upload_options_are_checked(tmp_path: Path) -> None:
    services, _ = library(tmp_path, recognize=False)
    with pytest.raises(BadRequest):
        services.options.choose("sepia", None)
    with pytest.raises(BadRequest):
        services.options.choose(None, "2")
    services.stop()


def people_state(services: Services) -> tuple:
    """The people as the catalogue and the grouping in memory hold them."""
    db, grouping = services.catalogue.db, services.people.grouping
    rows = db.execute("SELECT id, person, pinned FROM faces ORDER BY id").fetchall()
    people = db.execute("SELECT id, name, hidden, faces, photos, cover FROM people "
                        "ORDER BY id").fetchall()
    memory = [(face_id, grouping.person_of(face_id)) for face_id, _, _ in rows]
    return rows, people, memory, sorted(grouping.named), \
        db.execute("SELECT * FROM rejections ORDER BY face").fetchall()


def test_an_edit_that_fails_half_way_changes_nothing_and_tells_nothing(tmp_path: Path,
                                                                        monkeypatch) -> None:
    """Each edit is whole: when the catalogue refuses a write half way (here
    SQLite itself, by a trigger on the server's own connection), what was
    already written is rolled back, the grouping in memory is undone, and no
    page is told; once the catalogue takes writes again, the same edit works."""
    monkeypatch.setattr("faces.library.recognition.GATHER_SECONDS", 0.01)
    services, told = library(tmp_path)
    gallery, people, db = services.gallery, services.people, services.catalogue.db

    async def scenario() -> None:
        await services.start()
        added = []
        for n, squares in enumerate([[(RED, 50, 50, 90), (BLUE, 300, 50, 90)],
                                     [(RED, 60, 200, 90)], [(BLUE, 200, 100, 90)],
                                     [(GREEN, 100, 100, 90)], [(GREEN, 120, 90, 90)]]):
            added.append((await gallery.add(photo(squares, seed=n), f"{n}.png",
                                            gallery.defaults))[0])
        await recognized(services)
        red = gallery.photo(added[1].id).faces[0]["person"]
        blue = gallery.photo(added[2].id).faces[0]["person"]
        green = gallery.photo(added[3].id).faces[0]["person"]
        assert len({red, blue, green}) == 3 and None not in (red, blue, green)
        await people.edit(red, name="Ruth")
        before = people_state(services)
        # Faces cannot change person: every edit's first writes succeed, then this fails.
        db.execute("CREATE TEMP TRIGGER refuse BEFORE UPDATE OF person ON faces "
                   "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        told.events.clear()
        attempts = [
            lambda: people.merge(blue, [red]),  # names blue "Ruth" first, then moves faces
            lambda: people.merge(red, [green]),
            lambda: people.move(gallery.photo(added[3].id).faces[0]["id"], red),
            lambda: people.move(gallery.photo(added[3].id).faces[0]["id"], NEW),
            lambda: people.not_this_person(gallery.photo(added[1].id).faces[0]["id"]),
            lambda: people.split(green, [gallery.photo(added[4].id).faces[0]["id"]]),
        ]
        for attempt in attempts:
            with pytest.raises(sqlite3.IntegrityError):
                await attempt()
            assert people_state(services) == before
        # A photo whose faces cannot be grouped: neither its descriptors nor
        # any grouping of them is kept (it is left out of People, whole).
        late, _ = await gallery.add(photo([(RED, 70, 90, 90)], seed=9), "9.png",
                                    gallery.defaults)
        await recognized(services)
        face_id = late.faces[0]["id"]
        assert face_id not in people.grouping.row_of
        assert db.execute("SELECT descriptor, person FROM faces WHERE id = ?",
                          (face_id,)).fetchone() == (None, None)
        assert people_state(services)[1] == before[1]
        assert told.of(events.PeopleChanged) == told.of(events.FacesChanged) == []
        db.execute("DROP TRIGGER refuse")
        merged = await people.merge(blue, [red])
        assert merged.name == "Ruth" and merged.photos == 3
        assert told.of(events.PeopleChanged)[-1].removed == [red]
        assert_counts_true(services)
        services.stop()

    run(scenario())


def test_recognition_comes_second_and_costs_nothing_without_a_face(tmp_path: Path) -> None:
    """A photo with no face to describe is stored as done (no job, never in
    the backlog, nothing left for a restart); a photo with one waits while
    an upload is being stored, then is described. With recognition off,
    every photo waits for the day it is on."""
    from faces.vision.jobs import DESCRIBE

    services, _ = library(tmp_path)
    gallery, recognition, backend = services.gallery, services.recognition, services.backend

    async def scenario() -> None:
        await services.start()
        bare, _ = await gallery.add(photo([], seed=1), "bare.png", gallery.defaults)
        assert recognition.backlog == 0 and services.catalogue.is_recognized(bare.id)
        gallery.adding += 1  # an upload under way: recognition waits for it
        red, _ = await gallery.add(photo([(RED, 50, 50, 90)], seed=2), "red.png",
                                   gallery.defaults)
        for _ in range(10):
            await asyncio.sleep(0.02)
        assert DESCRIBE not in backend.jobs and recognition.backlog == 1
        gallery.adding -= 1
        await recognized(services)
        # the bare photo never had a job; the red one's face was described in its
        # own detection job, so People ran none of its own
        assert backend.jobs.count(DESCRIBE) == 0
        assert services.catalogue.is_recognized(red.id)
        assert services.catalogue.db.execute(
            "SELECT COUNT(*) FROM faces WHERE photo = ? AND descriptor IS NOT NULL",
            (red.id,)).fetchone()[0] == 1
        services.stop()

    run(scenario())
    services.catalogue.close()
    (tmp_path / "off").mkdir()
    off, _ = library(tmp_path / "off", recognize=False)

    async def without() -> None:
        await off.start()
        bare, _ = await off.gallery.add(photo([], seed=3), "bare.png", off.gallery.defaults)
        assert not off.catalogue.is_recognized(bare.id)  # (People may be turned on later)
        off.stop()

    run(without())


def test_a_long_edit_tells_how_far_it_is(tmp_path: Path, monkeypatch) -> None:
    """An edit that runs past PROGRESS_AFTER tells every page how far it is
    (here made to tell at once): naming a person reports the faces looked at,
    then its people.changed follows."""
    from faces.library import people as people_module

    monkeypatch.setattr(people_module, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(people_module, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr("faces.library.recognition.GATHER_SECONDS", 0.01)
    services, told = library(tmp_path)
    gallery, people = services.gallery, services.people

    async def scenario() -> None:
        await services.start()
        for n, squares in enumerate([[(RED, 50, 50, 90)], [(RED, 60, 200, 90)],
                                     [(BLUE, 300, 50, 90)]]):
            await gallery.add(photo(squares, seed=n), f"{n}.png", gallery.defaults)
        await recognized(services)
        red = next(p for p in people.list() if p.photos == 2)
        told.events.clear()
        gather = people.grouping.named_now

        def slow_gather(person: str, progress=None):  # (as a large person's would: it reports)
            for done in range(0, 9000, 3000):
                progress(done, 9000)
            return gather(person, progress)

        monkeypatch.setattr(people.grouping, "named_now", slow_gather)
        await people.edit(red.id, name="Ruth")
        await asyncio.sleep(0)  # (progress is handed to the event loop from the writer)
        progress = told.of(events.EditProgress)
        assert progress and all(p.action == "naming" and p.person == red.id for p in progress)
        assert progress[-1].stage in ("looking", "writing") and \
            progress[-1].done <= progress[-1].total
        assert told.events.index(progress[-1]) < told.events.index(
            told.of(events.PeopleChanged)[-1])  # (its change is told after it)
        services.stop()

    run(scenario())

"""The library's use cases on a backend without models (tests/support/fakes):
the gallery's add, read, delete; recognition and People's edits; the events
every page is told. Fast: no worker processes, no model files."""

from __future__ import annotations

import asyncio
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


async def recognized(services: Services) -> None:
    """Wait until recognition has caught up and told the pages."""
    recognition = services.recognition
    for _ in range(400):
        if not recognition.backlog and recognition._flush is None:
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
        red = people.person(next(f["person"] for f in
                                 gallery.photo(added[1].id).faces))
        blue = next(p for p in everyone if p.id != red.id)
        # Name, hide, merge, move: each written and told at once.
        told.events.clear()
        assert people.edit(red.id, name="Ruth").name == "Ruth"
        assert told.of(events.PeopleChanged)[0].people[0].name == "Ruth"
        assert people.edit(red.id, hidden=True).hidden
        assert [p.id for p in people.list()] == [blue.id]
        merged = people.merge(red.id, [blue.id])
        assert merged.photos == 3 and merged.name == "Ruth"
        assert told.of(events.PeopleChanged)[-1].removed == [blue.id]
        green_face = gallery.photo(added[3].id).faces[0]["id"]
        moved = people.move(green_face, red.id)
        assert moved == events.FaceMoved(green_face, added[3].id, red.id)
        alone = people.move(green_face, NEW)
        assert alone.person not in (None, red.id)
        assert people.move(green_face, None).person is None
        with pytest.raises(NotFound):
            people.person("0" * 12)
        with pytest.raises(NotFound):
            people.move(green_face, "0" * 12)
        with pytest.raises(NotFound):
            people.move(10**9, None)
        # Deleting a photo takes its faces out of their person.
        await gallery.delete(added[0].id)
        assert people.person(red.id).photos == 2
        services.stop()

    run(scenario())


def test_a_face_without_a_descriptor_cannot_be_placed(tmp_path: Path) -> None:
    services, _ = library(tmp_path, recognize=False)

    async def scenario() -> None:
        await services.start()
        stored, _ = await services.gallery.add(photo([(RED, 50, 50, 90)]), "r.png",
                                               services.gallery.defaults)
        with pytest.raises(Conflict):
            services.people.move(stored.faces[0]["id"], NEW)
        services.stop()

    run(scenario())


def test_upload_options_are_checked(tmp_path: Path) -> None:
    services, _ = library(tmp_path, recognize=False)
    with pytest.raises(BadRequest):
        services.options.choose("sepia", None)
    with pytest.raises(BadRequest):
        services.options.choose(None, "2")
    services.stop()

"""The composition root: the library (files, catalogue, use cases) and the
backend its jobs run on, built from the settings in one place, for the web
server and the command line alike. Whoever builds it says where events go
(the web side's live updates, or nowhere).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from . import backends
from .backends import Backend
from .errors import DataDirError
from .library import datadir
from .library.accounts import Accounts, Passwords
from .library.catalogue import Catalogue
from .library.events import Events, Silent
from .library.files import Files, disk_error, disk_full
from .library.folders import FolderConfig, Folders
from .library.gallery import Gallery
from .library.grouping import DEFAULT_FAMILY
from .library.people import People
from .library.recognition import Recognition, RecognitionConfig
from .settings import Settings
from .vision.contract import Options

log = logging.getLogger(__name__)


OFF_HINT = ("People is off: {}. Set FACES_RECOGNITION_MODEL to an SFace or ArcFace .onnx "
            "file (`faces fetch-model --recognition` gets SFace); everything else works.")


def recognition_off(settings: Settings) -> str:
    """Why People cannot recognize faces ("": it can, as far as this process
    sees: with a cluster only the workers have the model)."""
    model = settings.recognition_model
    if not str(model) or model == Path():
        return "no recognition model is set"
    if settings.cluster or model.is_file():
        return ""
    why = f"no face recognition model at {model}"
    log.warning(OFF_HINT.format(why))
    return why


def accounts_of(settings: Settings, catalogue: Catalogue) -> Accounts:
    """The accounts use case at the settings' password cost and timeouts."""
    return Accounts(catalogue, Passwords(settings.password_time, settings.password_memory),
                    token=settings.token, private=settings.private,
                    session_idle=settings.session_idle * 3600.0,
                    session_max=settings.session_days * 86400.0,
                    share_days=settings.share_days)


@dataclass
class Services:
    """Everything the front ends call: the use cases and what they stand on."""

    settings: Settings
    files: Files
    catalogue: Catalogue
    backend: Backend | None
    events: Events
    options: Options  # the server's default processing options
    gallery: Gallery = field(init=False)
    people: People = field(init=False)
    recognition: Recognition = field(init=False)
    folders: Folders = field(init=False)
    accounts: Accounts = field(init=False)
    recognize: bool = True  # whether recognition runs at all
    ready: bool = False  # started: the library read, the workers warm
    _adopting: asyncio.Future | None = None  # stored photos without a row, added back
    _folders: asyncio.Future | None = None  # the library folders starting (begin())
    broken_recognizer: str = ""  # why the recognition model set cannot be used, if so

    def __post_init__(self) -> None:
        self.people = People(self.catalogue, self.events)
        off = recognition_off(self.settings) if self.recognize and self.backend is not None \
            else "recognition is not run here"
        config = RecognitionConfig.from_settings(self.settings, not off)
        self.recognition = Recognition(self.files, self.catalogue, self.backend, self.people,
                                       self.events, config)
        self.recognition.off = off
        self.gallery = Gallery(self.files, self.catalogue, self.backend, self.events,
                               self.options, listeners=[self.recognition, self.people],
                               namer=self.people.name_faces,
                               wants_recognition=self.recognition.wants,
                               describing=self.recognition.describing,
                               prepared=self.recognition.prepare)
        self.recognition.uploading = lambda: self.gallery.adding > 0
        self.folders = Folders(self.catalogue, self.gallery, self.files, self.events,
                               FolderConfig.from_settings(self.settings),
                               workers=lambda: max(1, self.backend.workers) if self.backend else 1)
        self.accounts = accounts_of(self.settings, self.catalogue)

    @classmethod
    def create(cls, settings: Settings, events: Events | None = None,
               backend: Backend | None = None, with_backend: bool = True,
               recognize: bool = True, rebuilding: bool = False) -> Services:
        """Open the data directory and the catalogue, once they are seen to be
        whole (:mod:`faces.library.datadir`; ``rebuilding``: for `faces
        reindex`); make the backend the settings ask for (not started) unless
        one is given or none is wanted. Raises DataDirError."""
        datadir.check(settings.data_dir, rebuilding)
        files = Files(settings.data_dir)
        try:
            catalogue = Catalogue(settings.data_dir)
        except DataDirError:
            # On a full disk SQLite cannot even make the catalogue's -shm file: the
            # space kept aside for this moment lets it open (to delete photos).
            if disk_full(files.data_dir) is None or not files.release():
                raise
            log.error("the disk holding %s is full: the space kept aside was given back to "
                      "open the catalogue", files.data_dir)
            catalogue = Catalogue(settings.data_dir)
        try:
            datadir.mark(files.photos_dir)
        except OSError as exc:
            catalogue.close()
            raise (disk_error(exc, settings.data_dir) or exc) from None
        if not files.reserve() and disk_full(files.data_dir) is not None:
            log.error("the disk holding %s is full: uploads are refused (507) until space is "
                      "freed; deleting photos frees it", files.data_dir)
        if backend is None and with_backend:
            backend = backends.create(settings)
        return cls(settings=settings, files=files, catalogue=catalogue, backend=backend,
                   events=events or Silent(), options=Options.from_settings(settings),
                   recognize=recognize)

    async def start(self) -> None:
        """Start the workers and, meanwhile, read the library on other
        threads: People's faces (with the recognizer that described most of
        them; again if the workers run another), the catalogue against the
        files. Then background recognition. ``ready`` once all is done; the
        event loop stays free throughout (the server answers meanwhile)."""
        loop = asyncio.get_running_loop()
        self.catalogue.serve()  # (reads here on their own connection; changes on the writer)
        started = asyncio.ensure_future(self.backend.start()) if self.backend else None
        guess = self.settings.recognizer
        if guess == "auto":
            guess = await loop.run_in_executor(None, self._stored_family)
        loaded = asyncio.ensure_future(self.catalogue.write(self.people.load, guess))
        checked = loop.run_in_executor(None, self.gallery.audit)
        try:
            if started is not None:
                await started
        finally:
            await asyncio.gather(loaded, checked, return_exceptions=True)
        await loaded
        family, off = self.recognizer()
        if family and family != guess:
            await self.catalogue.write(self.people.load, family)
        await self.catalogue.write(self.recognition.load, family, off)
        self.recognition.run()
        self.ready = True
        if self.backend is not None:
            await self.folders.start()  # (scanned and watched in the background)
        orphans = (await checked).orphans
        if orphans and self.backend is not None:
            self._adopting = asyncio.ensure_future(self.gallery.adopt_in_background(orphans))

    def problems(self) -> list[str]:
        """What keeps the server from doing its work now, each in a sentence
        (what /healthz says with a 503): People stopped or stalled, the
        catalogue not writable, the disk full."""
        found = []
        recognition = self.recognition
        if recognition.state in ("stopped", "stalled"):
            found.append(f"People's recognition is {recognition.state}: {recognition.why}")
        elif self.broken_recognizer:
            found.append(f"People is off: {self.broken_recognizer} (FACES_RECOGNITION_MODEL)")
        if self.catalogue.write_error and self.catalogue.probe():
            found.append(self.catalogue.write_error)
        free = disk_full(self.files.data_dir)
        if free is not None:
            found.append(f"the disk holding {self.files.data_dir} is full ({free} bytes "
                         f"free): uploads are refused until space is freed")
        return found

    def _stored_family(self) -> str:
        with self.catalogue.reader() as reader:
            return reader.stored_family() or DEFAULT_FAMILY

    def begin(self) -> None:
        """Once the workers are up (started by someone else: tests share a
        pool): load People and start background recognition, on this thread."""
        family, off = self.recognizer()
        self.people.load(family or DEFAULT_FAMILY)
        self.recognition.start(family, off)
        self.ready = True
        if self.backend is not None:
            self._folders = asyncio.ensure_future(self.folders.start())

    def recognizer(self) -> tuple[str, str]:
        """The recognizer family the workers run, or why People is off."""
        if not self.recognition.config.enabled:
            return "", self.recognition.off
        info = self.backend.info if self.backend is not None else None
        if info is None or not info.recognizer:
            why = info.recognizer_error if info is not None else "no worker"
            if info is not None and not info.recognizer_missing:
                # a model is there, but the workers cannot use it: a fault, not a choice
                self.broken_recognizer = why
            log.error(OFF_HINT.format(why))
            return "", why
        return info.recognizer, ""

    def stop(self) -> None:
        self.folders.stop()
        if self._adopting is not None:
            self._adopting.cancel()
        self.recognition.stop()
        if self.backend is not None:
            self.backend.shutdown()
        self.catalogue.close()

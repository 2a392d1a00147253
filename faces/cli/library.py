"""Commands on the library itself, run with the server stopped: `faces
reindex` (the catalogue rebuilt from the files) and `faces people` (list
them; recognize the photos still waiting first)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .. import settings
from ..errors import DataDirError, ModelError
from ..services import OFF_HINT, Services
from ..web.views import person_json
from .common import CommandError, Progress, command, config, confirmed


async def _reindex(found: settings.Settings, drop_missing: bool, yes: bool) -> str:
    services = Services.create(found, recognize=False, rebuilding=True)
    try:
        drop = []
        if drop_missing:
            missing = services.gallery.missing()
            if missing:
                print(f"{len(missing)} of the {services.gallery.count()} photos in the "
                      f"catalogue have no original file in {services.files.photos_dir}:")
                for photo_id, filename in missing[:10]:
                    print(f"  {photo_id}  {filename}")
                if len(missing) > 10:
                    print(f"  ... and {len(missing) - 10} more")
                if not (yes or confirmed(f"remove these {len(missing)} rows, their faces "
                                          f"and what People knows of them?")):
                    raise CommandError("nothing was removed (--yes answers for scripts)")
                drop = [photo_id for photo_id, _ in missing]
        await services.backend.start()
        return (await services.gallery.reindex(Progress(0), drop)).summary()
    finally:
        services.stop()



def reindex(args: argparse.Namespace) -> int:
    found = config(args)
    try:
        summary = asyncio.run(_reindex(found, args.drop_missing, args.yes))
    except (ModelError, DataDirError) as exc:
        raise CommandError(str(exc)) from None
    print(f"reindexed {found.data_dir}: {summary}")
    return 0


async def _people(found: settings.Settings, recognize: bool) -> list[dict]:
    services = Services.create(found, with_backend=recognize, recognize=recognize)
    try:
        recognition = services.recognition
        if recognize:
            await services.backend.start()
            family, off = services.recognizer()
            if off:
                raise CommandError(OFF_HINT.format(off))
            services.people.load(family)
            recognition.load(family)
        if recognize and recognition.queue:
            total = len(recognition.queue)
            progress = Progress(total)
            print(f"recognizing {total} photos", file=sys.stderr)
            for done in range(1, total + 1):
                await recognition.recognize(recognition.queue.popleft())
                progress(done)
        return [person_json(person) for person in services.people.list(hidden=True)]
    finally:
        services.stop()


def people(args: argparse.Namespace) -> int:
    """List the people; with --recognize, first recognize the photos waiting."""
    found = config(args)
    if args.recognize and not Path(found.recognition_model).is_file():
        raise CommandError(f"no recognition model at {found.recognition_model}: `faces "
                           f"fetch-model --recognition` gets it")
    try:
        everyone = asyncio.run(_people(found, args.recognize))
    except (ModelError, DataDirError) as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        for person in everyone:
            print(json.dumps(person))
        return 0
    for person in everyone:
        hidden = " (hidden)" if person["hidden"] else ""
        print(f"{person['id']}  {person['name'] or '(unnamed)'}{hidden}: "
              f"{person['photos']} photos, {person['faces']} faces")
    print(f"{len(everyone)} people")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    rebuild = command(
        commands, "reindex", reindex,
        help="rebuild the catalogue from the files in the data directory",
        description="Add rows for stored photos that have none (from their metadata, or by "
        "detecting again); a lost catalogue is rebuilt this way. With --drop-missing, also "
        "remove the rows whose original file is gone, after showing how many. Run it while "
        "the server is stopped.")
    rebuild.add_argument("--drop-missing", action="store_true",
                         help="remove rows whose original file is gone (asks first)")
    rebuild.add_argument("--yes", action="store_true",
                         help="do not ask before removing rows (for scripts)")

    folks = command(
        commands, "people", people,
        help="list the people found in the gallery",
        description="List the people (most faces first). With --recognize, first run "
        "recognition on the photos still waiting for it, such as photos stored before People "
        "existed (resumable: run it again after an interruption). Run that with the server "
        "stopped; a running server does the same by itself.")
    folks.add_argument("--recognize", "--recognise", action="store_true",
                       help="recognize the photos waiting first, with a progress bar")
    folks.add_argument("--json", action="store_true", help="one JSON object per person")

"""The reference for `make bench`: what the app faces replaces did, on the
same protocol. face_recognition (dlib HOG) runs inline in the request
handler, so detection blocks the whole server, as it did there, and the
marked copy is saved as PNG, as the old app saved it.

Run: python bench/reference_server.py PORT DATA_DIR
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import face_recognition
import numpy as np
import tornado.ioloop
import tornado.web
import tornado.websocket
from PIL import Image, ImageDraw

CLIENTS: set = set()


class Upload(tornado.web.RequestHandler):
    def post(self) -> None:
        part = self.request.files["file"][0]
        data_dir = Path(self.settings["data_dir"])
        photo_id = hashlib.sha256(part.body).hexdigest()[:24]
        image = face_recognition.load_image_file(__import__("io").BytesIO(part.body))
        locations = face_recognition.face_locations(image)  # blocks the IOLoop
        marked = Image.fromarray(np.asarray(image))
        draw = ImageDraw.Draw(marked)
        for top, right, bottom, left in locations:
            draw.rectangle([left, top, right, bottom], outline=(0, 255, 0), width=3)
        marked.save(data_dir / f"{photo_id}.png")
        photo = {"id": photo_id, "filename": part.filename, "width": image.shape[1],
                 "height": image.shape[0],
                 "faces": [{"box": [left, top, right, bottom], "score": 1.0, "landmarks": None}
                           for top, right, bottom, left in locations]}
        message = json.dumps({"type": "photo.added", "photo": photo})
        for client in list(CLIENTS):
            client.write_message(message)
        self.set_status(201)
        self.finish(photo)


class Health(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish({"status": "ok"})


class Live(tornado.websocket.WebSocketHandler):
    def open(self) -> None:
        CLIENTS.add(self)

    def on_close(self) -> None:
        CLIENTS.discard(self)


def main() -> None:
    port, data_dir = int(sys.argv[1]), sys.argv[2]
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    app = tornado.web.Application([(r"/api/photos", Upload), (r"/healthz", Health),
                                   (r"/ws", Live)], data_dir=data_dir)
    app.listen(port, "127.0.0.1", max_body_size=100 * 1024 * 1024)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()

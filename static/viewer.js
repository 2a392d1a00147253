// The photo viewer: the annotated copy or boxes over the original, who each
// face is (with write access: move it, or say it is not that person), a face
// the detector missed drawn by hand, downloads, delete.

import { call, plural } from "./common.js";

export function createViewer({ known, people, canWrite, onDeleted, onChanged }) {
  const viewer = document.getElementById("viewer");
  const viewerImg = document.getElementById("viewer-img");
  const overlay = document.getElementById("overlay");
  const drawn = document.getElementById("drawn");
  const showAnnotated = document.getElementById("show-annotated");
  const showBoxes = document.getElementById("show-boxes");
  const viewerError = document.getElementById("viewer-error");
  const facePeople = document.getElementById("viewer-people");
  const faceList = document.getElementById("face-list");
  const drawButton = document.getElementById("draw-face");
  const drawForm = document.getElementById("draw-form");
  const deleteButton = document.getElementById("viewer-delete");

  const personLabel = (id) => {
    if (!id) return "Nobody";
    const person = people.get(id);
    return person && person.name ? person.name : "Unnamed person";
  };
  const current = () => known.get(viewer.dataset.id);

  // Boxes: drawn over the original; over the annotated copy (which has its own)
  // only their number and name show. Either way each box is a button that
  // takes the keyboard to its entry in the list below.
  function showMode(boxes) {
    const photo = current();
    showAnnotated.setAttribute("aria-pressed", String(!boxes));
    showBoxes.setAttribute("aria-pressed", String(boxes));
    viewerImg.src = boxes ? photo.urls.display : photo.urls.annotated;
    overlay.classList.toggle("labels-only", !boxes);
  }

  function place(element, [x1, y1, x2, y2], photo) {
    element.style.left = `${(100 * x1) / photo.width}%`;
    element.style.top = `${(100 * y1) / photo.height}%`;
    element.style.width = `${(100 * (x2 - x1)) / photo.width}%`;
    element.style.height = `${(100 * (y2 - y1)) / photo.height}%`;
  }

  const faceName = (face, index) =>
    `Face ${index + 1}${face.person ? `, ${personLabel(face.person)}` : ""}`;

  function drawBoxes(photo) {
    overlay.replaceChildren();
    photo.faces.forEach((face, index) => {
      const box = document.createElement("button");
      box.type = "button";
      box.className = "face";
      box.id = `box-${index}`;
      box.dataset.index = index;
      box.title = `${faceName(face, index)}: score ${face.score.toFixed(2)}`;
      box.setAttribute("aria-label", `${box.title}; go to its entry`);
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.setAttribute("aria-hidden", "true");
      tag.textContent = face.person ? `${index + 1} · ${personLabel(face.person)}` : `${index + 1}`;
      box.append(tag);
      place(box, face.box, photo);
      overlay.append(box);
    });
  }

  // A box chosen: its entry gets the focus (its menu, else the entry itself).
  overlay.addEventListener("click", (event) => {
    const box = event.target.closest("button.face");
    if (!box) return;
    const entry = faceList.children[Number(box.dataset.index)];
    if (!entry) return;
    (entry.querySelector("select") || entry.querySelector("button.reject") || entry).focus();
  });

  // An entry in focus or under the pointer marks its box; its number takes
  // the focus to the box.
  const mark = (index) => {
    for (const box of overlay.children) {
      box.classList.toggle("current", box.dataset.index === String(index));
    }
  };
  for (const kind of ["focusin", "mouseover"]) {
    faceList.addEventListener(kind, (event) => {
      const li = event.target.closest("li");
      mark(li ? li.dataset.index : -1);
    });
  }
  faceList.addEventListener("focusout", () => mark(-1));
  faceList.addEventListener("mouseleave", () => mark(-1));
  faceList.addEventListener("click", (event) => {
    const link = event.target.closest("button.to-box");
    if (link) document.getElementById(`box-${link.dataset.index}`)?.focus();
  });

  // The people a face can be put in: the named ones, the one it is in now.
  function personChoice(face, index) {
    const select = document.createElement("select");
    select.dataset.face = face.id;
    select.setAttribute("aria-label", `Face ${index + 1} is`);
    const named = [...people.values()].filter((p) => p.name)
      .sort((a, b) => a.name.localeCompare(b.name)).map((p) => [p.id, p.name]);
    if (face.person && !named.some(([id]) => id === face.person)) {
      named.unshift([face.person, personLabel(face.person)]);
    }
    const options = [["", "Nobody"], ...named, ["new", "A new person"]];
    for (const [value, text] of options) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      option.selected = (face.person || "") === value;
      select.append(option);
    }
    return select;
  }

  function showPeople(photo) {
    if (!photo) return;
    drawBoxes(photo);
    const names = document.getElementById("dl-xmp");  // an XMP sidecar, for other tools
    names.href = photo.urls.xmp;
    names.hidden = !photo.faces.some((face) => face.person && people.get(face.person)?.name);
    faceList.replaceChildren();
    photo.faces.forEach((face, index) => {
      const li = document.createElement("li");
      li.dataset.index = index;
      li.tabIndex = -1;
      const toBox = document.createElement("button");
      toBox.type = "button";
      toBox.className = "plain to-box";
      toBox.dataset.index = index;
      toBox.textContent = String(index + 1);
      toBox.setAttribute("aria-label", `Show face ${index + 1} in the photo`);
      li.append(toBox);
      if (canWrite && face.id !== undefined) {
        const label = document.createElement("label");
        label.append(`Face ${index + 1}: `, personChoice(face, index));
        li.append(label);
        if (face.person) {
          const reject = document.createElement("button");
          reject.type = "button";
          reject.className = "plain reject";
          reject.dataset.face = face.id;
          reject.textContent = "Not this person";
          reject.setAttribute("aria-label",
            `Not this person: face ${index + 1} is not ${personLabel(face.person)}`);
          li.append(reject);
        }
      } else {
        li.append(`Face ${index + 1}: ${personLabel(face.person)}`);
      }
      faceList.append(li);
    });
    facePeople.hidden = photo.faces.length === 0;
  }

  // Correct the date taken: the wall clock as typed, the zone the photo had.
  const takenForm = document.getElementById("taken-form");
  const takenInput = document.getElementById("taken-input");
  takenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const photo = current();
    const zone = (photo.taken || "").match(/(Z|[+-]\d\d:\d\d)$/);
    const value = takenInput.value.length === 16 ? `${takenInput.value}:00` : takenInput.value;
    try {
      const changed = await call("PATCH", `/api/photos/${photo.id}`,
        { taken: value + (zone ? zone[0] : "") });
      known.set(changed.id, changed);
      document.getElementById("viewer-details").textContent = details(changed);
      viewerError.textContent = "";
    } catch (error) {
      viewerError.textContent = `Could not change the date: ${error.message}`;
    }
  });

  // When it was taken (as the file says, or the user), with what, where.
  function details(photo) {
    const parts = [];
    if (photo.taken) {
      const source = { user: "set by you", file: "the file's date", upload: "uploaded" }[
        photo.taken_source] || "from the photo";
      parts.push(`Taken ${photo.taken.replace("T", " ")} (${source})`);
    }
    const camera = [photo.camera.make, photo.camera.model].filter(Boolean).join(" ");
    if (camera) parts.push(camera);
    if (photo.place) {
      parts.push(`at ${photo.place.latitude.toFixed(5)}, ${photo.place.longitude.toFixed(5)}`);
    }
    if (!photo.original_kept) parts.push("no original kept");
    if (photo.paths && photo.paths.length) {
      parts.push(`${photo.online === false ? "offline: was at" : "file:"} ${photo.paths.join(", ")}`);
    }
    return parts.join(" · ");
  }

  async function open(id) {
    let photo = known.get(id);
    if (!photo) {
      const response = await fetch(`/api/photos/${encodeURIComponent(id)}`);
      if (!response.ok) return;
      photo = await response.json();
      known.set(id, photo);
    }
    viewer.dataset.id = id;
    document.getElementById("viewer-title").textContent = photo.filename;
    document.getElementById("viewer-info").textContent =
      `${plural(photo.faces.length, "face")} · ${photo.width}×${photo.height}`;
    const original = document.getElementById("dl-original");
    original.hidden = !photo.urls.original; // (a blurred upload keeps none)
    if (photo.urls.original) original.href = photo.urls.original;
    document.getElementById("viewer-details").textContent = details(photo);
    takenInput.value = (photo.taken || "").slice(0, 19);
    document.getElementById("dl-annotated").href = photo.urls.annotated;
    viewerImg.alt = `${photo.filename}, ${plural(photo.faces.length, "face")}`;
    viewerError.textContent = "";
    shareResult.hidden = true;
    stopDrawing();
    showPeople(photo);
    showMode(false);
    if (!viewer.open) viewer.showModal();
  }

  // The owner's "Share a link to this photo": a link of this photo alone, with
  // the defaults (30 days, no downloads, no names or boxes), shown to copy.
  const shareButton = document.getElementById("share-photo");
  const shareResult = document.getElementById("share-result");
  const shareUrl = document.getElementById("share-url");
  if (shareButton) {
    shareButton.addEventListener("click", async () => {
      try {
        const made = await call("POST", "/api/shares", { photos: [current().id] });
        shareUrl.value = made.url;
        shareResult.hidden = false;
        shareUrl.focus();
        shareUrl.select();
        viewerError.textContent = "";
      } catch (error) {
        viewerError.textContent = `Could not make the link: ${error.message}`;
      }
    });
  }

  async function moved(change) {
    viewerError.textContent = "";
    await onChanged([change]);
  }

  faceList.addEventListener("change", async (event) => {
    const select = event.target.closest("select");
    if (!select) return;
    const value = select.value === "" ? null : select.value;
    try {
      await moved(await call("PUT", `/api/faces/${select.dataset.face}/person`,
        { person: value }));
    } catch (error) {
      viewerError.textContent = `Could not move the face: ${error.message}`;
      showPeople(current());
    }
  });

  faceList.addEventListener("click", async (event) => {
    const button = event.target.closest("button.reject");
    if (!button) return;
    try {
      await moved(await call("POST", `/api/faces/${button.dataset.face}/reject`));
    } catch (error) {
      viewerError.textContent = `Could not take the face out: ${error.message}`;
    }
  });

  // --- a face the detector missed: drag over it, or give its box ------------

  const fields = () => Object.fromEntries(
    ["x", "y", "w", "h"].map((name) => [name, drawForm.elements[name]]));

  function preview() {
    const photo = current();
    const f = fields();
    const x = Number(f.x.value), y = Number(f.y.value);
    place(drawn, [x, y, x + Number(f.w.value), y + Number(f.h.value)], photo);
    drawn.hidden = false;
  }

  function startDrawing() {
    const photo = current();
    const f = fields();
    const side = Math.round(Math.min(photo.width, photo.height) / 4);
    f.x.max = photo.width; f.y.max = photo.height;
    f.w.max = photo.width; f.h.max = photo.height;
    f.x.value = Math.round((photo.width - side) / 2);
    f.y.value = Math.round((photo.height - side) / 2);
    f.w.value = side;
    f.h.value = side;
    drawForm.hidden = false;
    drawButton.setAttribute("aria-expanded", "true");
    showMode(true);
    preview();
    f.x.focus();
  }

  function stopDrawing() {
    drawForm.hidden = true;
    drawn.hidden = true;
    drawButton.setAttribute("aria-expanded", "false");
  }

  let dragFrom = null;
  const stage = document.getElementById("stage");
  const toPhoto = (event) => {
    const rect = stage.getBoundingClientRect();
    const photo = current();
    return [
      Math.max(0, Math.min(photo.width, ((event.clientX - rect.left) / rect.width) * photo.width)),
      Math.max(0, Math.min(photo.height, ((event.clientY - rect.top) / rect.height) * photo.height)),
    ];
  };
  stage.addEventListener("pointerdown", (event) => {
    if (drawForm.hidden) return;
    event.preventDefault();
    dragFrom = toPhoto(event);
    stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener("pointermove", (event) => {
    if (!dragFrom) return;
    const [x, y] = toPhoto(event);
    const f = fields();
    f.x.value = Math.round(Math.min(x, dragFrom[0]));
    f.y.value = Math.round(Math.min(y, dragFrom[1]));
    f.w.value = Math.round(Math.abs(x - dragFrom[0]));
    f.h.value = Math.round(Math.abs(y - dragFrom[1]));
    preview();
  });
  stage.addEventListener("pointerup", () => { dragFrom = null; });
  drawForm.addEventListener("input", preview);
  drawButton.addEventListener("click", () => (drawForm.hidden ? startDrawing() : stopDrawing()));
  document.getElementById("draw-cancel").addEventListener("click", stopDrawing);
  drawForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = fields();
    const x = Number(f.x.value), y = Number(f.y.value);
    const box = [x, y, x + Number(f.w.value), y + Number(f.h.value)];
    try {
      const photo = await call("POST", `/api/photos/${viewer.dataset.id}/faces`, { box });
      known.set(photo.id, photo);
      stopDrawing();
      viewerError.textContent = "";
      open(photo.id);
    } catch (error) {
      viewerError.textContent = `Could not add the face: ${error.message}`;
    }
  });

  // --- the rest of the viewer's tools ---------------------------------------

  showAnnotated.addEventListener("click", () => showMode(false));
  showBoxes.addEventListener("click", () => showMode(true));
  document.getElementById("viewer-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) viewer.close(); // a click on the backdrop
  });
  drawButton.hidden = !canWrite;
  deleteButton.hidden = !canWrite;
  deleteButton.addEventListener("click", async () => {
    const id = viewer.dataset.id;
    if (!window.confirm("Delete this photo for everyone?")) return;
    const response = await fetch(`/api/photos/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (response.ok) {
      onDeleted(id);
    } else {
      const body = await response.json().catch(() => null);
      viewerError.textContent = body && body.error ? body.error.message
        : `Could not delete (HTTP ${response.status}).`;
    }
  });

  return {
    open,
    close: () => viewer.close(),
    isShowing: (id) => viewer.open && viewer.dataset.id === id,
    refresh: () => { if (viewer.open) showPeople(current()); },
    photoChanged: (photo) => {
      if (viewer.open && viewer.dataset.id === photo.id) showPeople(photo);
    },
  };
}

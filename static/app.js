// Live gallery: uploads with progress, and photos from every browser pushed
// over a WebSocket. The page works without this script (plain form post).

import { call, connect, plural } from "./common.js";

const gallery = document.getElementById("gallery");
const queue = document.getElementById("queue");
const form = document.getElementById("upload-form");
const input = document.getElementById("file-input");
const drop = document.getElementById("drop");
const total = document.getElementById("total");
const empty = document.getElementById("empty");

const PARALLEL_UPLOADS = 3;
let newest = gallery.dataset.newest; // "" = empty gallery: replay everything
const known = new Map(); // id -> photo JSON, for the viewer
const people = new Map(); // id -> person JSON, for names in the viewer
const personPage = gallery.dataset.person; // "" on the whole gallery
const canWrite = document.body.dataset.canWrite === "yes";


// A photo's card, from the page's own card markup (templates/card.html).
const cardTemplate = document.getElementById("card-template");

function card(photo) {
  const li = cardTemplate.content.firstElementChild.cloneNode(true);
  li.id = `photo-${photo.id}`;
  li.dataset.id = photo.id;
  li.querySelector("a.thumb").href = photo.urls.annotated;
  const img = li.querySelector("img");
  img.src = photo.urls.thumbnail;
  img.alt = photo.filename;
  const name = li.querySelector(".name");
  name.textContent = name.title = photo.filename;
  const badge = li.querySelector(".badge");
  badge.classList.toggle("none", photo.faces.length === 0);
  badge.textContent = plural(photo.faces.length, "face");
  return li;
}

// The "N photos" heading and the empty-gallery message.
function changeTotal(delta) {
  const count = Math.max(0, Number(total.textContent) + delta);
  total.textContent = count;
  total.nextSibling.textContent = count === 1 ? " photo" : " photos";
  empty.hidden = count > 0;
}

function addPhoto(photo) {
  newest = photo.id;
  known.set(photo.id, photo);
  if (personPage) return; // a new photo is nobody's until it is recognized
  if (document.getElementById(`photo-${photo.id}`)) return;
  gallery.prepend(card(photo));
  changeTotal(+1);
}

// --- people -------------------------------------------------------------------

const personLabel = (id) => {
  const person = people.get(id);
  return person ? (person.name || "Unnamed person") : "Nobody";
};

// On a person's page: the photo's card is there exactly while they are in it.
function followPerson(photo) {
  if (!personPage) return;
  const item = document.getElementById(`photo-${photo.id}`);
  const inIt = photo.faces.some((face) => face.person === personPage);
  if (inIt && !item) {
    gallery.prepend(card(photo));
    changeTotal(+1);
  } else if (!inIt && item) {
    item.remove();
    changeTotal(-1);
  }
}

function photoRecognized(photo) {
  known.set(photo.id, photo);
  followPerson(photo);
  if (viewer.open && viewer.dataset.id === photo.id) showPeople(photo);
}

async function facesChanged(faces) {
  const photos = new Set();
  for (const change of faces) {
    let photo = known.get(change.photo);
    if (!photo && personPage && change.person === personPage) {
      const response = await fetch(`/api/photos/${encodeURIComponent(change.photo)}`);
      if (!response.ok) continue;
      photo = await response.json();
      known.set(photo.id, photo);
    }
    if (!photo) continue;
    for (const face of photo.faces) if (face.id === change.id) face.person = change.person;
    photos.add(photo);
  }
  for (const photo of photos) photoRecognized(photo);
}

function peopleChanged(message) {
  for (const person of message.people) people.set(person.id, person);
  for (const id of message.removed) people.delete(id);
  if (personPage) {
    const title = document.getElementById("person-title");
    if (message.removed.includes(personPage)) title.textContent = "This person is no longer in People";
    else if (people.has(personPage)) title.textContent = personLabel(personPage);
  }
  if (viewer.open) showPeople(known.get(viewer.dataset.id));
}

function removePhoto(id) {
  known.delete(id);
  if (viewer.open && viewer.dataset.id === id) viewer.close();
  const item = document.getElementById(`photo-${id}`);
  if (!item) return;
  item.remove();
  changeTotal(-1);
}

// --- live updates -----------------------------------------------------------

function onMessage(message) {
  if (message.type === "photo.added") addPhoto(message.photo);
  else if (message.type === "photo.deleted") removePhoto(message.id);
  else if (message.type === "photos.recognized") message.photos.forEach(photoRecognized);
  else if (message.type === "faces.changed") facesChanged(message.faces);
  else if (message.type === "people.changed") peopleChanged(message);
  else if (message.type === "resync") location.reload();
}

// --- uploads ----------------------------------------------------------------

function row(file) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = "waiting";
  li.append(name, bar, status);
  queue.prepend(li);
  return { li, bar, status };
}

function upload(file) {
  const view = row(file);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/photos");
    xhr.responseType = "json";
    view.status.textContent = "uploading";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) view.bar.value = (100 * e.loaded) / e.total;
    };
    xhr.upload.onload = () => {
      view.bar.value = 100;
      view.status.textContent = "detecting faces";
    };
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status === 200 || xhr.status === 201) {
        view.li.className = "done";
        view.status.textContent = (xhr.status === 200 ? "already here: " : "done: ")
          + plural(body.faces.length, "face");
        addPhoto(body);
      } else {
        view.li.className = "failed";
        view.status.textContent = body && body.error ? body.error.message
          : `Upload failed (HTTP ${xhr.status}).`;
      }
      resolve();
    };
    xhr.onerror = () => {
      view.li.className = "failed";
      view.status.textContent = "Network error: the server could not be reached.";
      resolve();
    };
    const data = new FormData();
    data.append("file", file, file.name);
    xhr.send(data);
  });
}

async function uploadAll(files) {
  const pending = Array.from(files);
  const lane = async () => {
    while (pending.length) await upload(pending.shift());
  };
  await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, lane));
}

if (form) { // absent when an access token is needed and we are not logged in
  input.multiple = true;
  input.required = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files.length) uploadAll(input.files);
    form.reset();
  });
  input.addEventListener("change", () => {
    if (input.files.length) uploadAll(input.files);
    form.reset();
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    uploadAll(event.dataTransfer.files);
  });
}

// --- older photos ---------------------------------------------------------

const more = document.getElementById("more");
const loadMore = document.getElementById("load-more");
let loading = false;

async function loadOlder() {
  if (loading || more.hidden) return;
  loading = true;
  const last = gallery.lastElementChild;
  const url = `/api/photos?limit=${gallery.dataset.page}`
    + (last ? `&before=${encodeURIComponent(last.dataset.id)}` : "")
    + (personPage ? `&person=${personPage}` : "");
  try {
    const response = await fetch(url);
    const page = await response.json();
    if (!response.ok) throw new Error(page.error ? page.error.message : response.statusText);
    for (const photo of page.photos) {
      known.set(photo.id, photo);
      if (!document.getElementById(`photo-${photo.id}`)) gallery.append(card(photo));
    }
    more.hidden = !page.next;
  } catch (error) {
    loadMore.textContent = `Could not load older photos (${error.message}). Try again`;
  } finally {
    loading = false;
  }
}

loadMore.addEventListener("click", (event) => {
  event.preventDefault();
  loadOlder();
});
new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadOlder();
}, { rootMargin: "600px" }).observe(more);

// --- viewer -----------------------------------------------------------------

const viewer = document.getElementById("viewer");
const viewerImg = document.getElementById("viewer-img");
const overlay = document.getElementById("overlay");
const showAnnotated = document.getElementById("show-annotated");
const showBoxes = document.getElementById("show-boxes");
const viewerError = document.getElementById("viewer-error");

function showMode(boxes) {
  const photo = known.get(viewer.dataset.id);
  showAnnotated.setAttribute("aria-pressed", String(!boxes));
  showBoxes.setAttribute("aria-pressed", String(boxes));
  viewerImg.src = boxes ? photo.urls.original : photo.urls.annotated;
  overlay.hidden = !boxes;
}

function drawBoxes(photo) {
  overlay.replaceChildren();
  photo.faces.forEach((face, index) => {
    const [x1, y1, x2, y2] = face.box;
    const box = document.createElement("div");
    box.className = "face";
    box.tabIndex = 0;
    const who = face.person ? `, ${personLabel(face.person)}` : "";
    box.dataset.score = `${index + 1}${who}, score ${face.score.toFixed(2)}`;
    box.title = `Face ${index + 1}${who}: score ${face.score.toFixed(2)}`;
    box.setAttribute("role", "img");  // a labelled graphic: the face and its score
    box.setAttribute("aria-label", box.title);
    box.style.left = `${(100 * x1) / photo.width}%`;
    box.style.top = `${(100 * y1) / photo.height}%`;
    box.style.width = `${(100 * (x2 - x1)) / photo.width}%`;
    box.style.height = `${(100 * (y2 - y1)) / photo.height}%`;
    overlay.append(box);
  });
}

async function openViewer(id) {
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
  document.getElementById("dl-original").href = photo.urls.original;
  document.getElementById("dl-annotated").href = photo.urls.annotated;
  viewerImg.alt = `${photo.filename}, ${plural(photo.faces.length, "face")}`;
  viewerError.textContent = "";
  drawBoxes(photo);
  showPeople(photo);
  showMode(false);
  if (!viewer.open) viewer.showModal();
}

// Under the photo: each face, who it is, and (with write access) a choice to move it.
const facePeople = document.getElementById("viewer-people");
const faceList = document.getElementById("face-list");

function personChoice(face, index) {
  const select = document.createElement("select");
  select.dataset.face = face.id;
  select.setAttribute("aria-label", `Face ${index + 1} is`);
  const options = [["", "Nobody"], ...[...people.values()]
    .sort((a, b) => personLabel(a.id).localeCompare(personLabel(b.id)))
    .map((p) => [p.id, p.name || `Unnamed person (${p.photos} photos)`]), ["new", "A new person"]];
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
  faceList.replaceChildren();
  photo.faces.forEach((face, index) => {
    const li = document.createElement("li");
    if (canWrite && face.id !== undefined) {
      const label = document.createElement("label");
      label.append(`Face ${index + 1}: `, personChoice(face, index));
      li.append(label);
    } else {
      li.textContent = `Face ${index + 1}: ${personLabel(face.person)}`;
    }
    faceList.append(li);
  });
  facePeople.hidden = photo.faces.length === 0;
}

faceList.addEventListener("change", async (event) => {
  const select = event.target.closest("select");
  if (!select) return;
  const value = select.value === "" ? null : select.value;
  try {
    const moved = await call("PUT", `/api/faces/${select.dataset.face}/person`,
      { person: value });
    viewerError.textContent = "";
    await facesChanged([moved]);
  } catch (error) {
    viewerError.textContent = `Could not move the face: ${error.message}`;
    showPeople(known.get(viewer.dataset.id));
  }
});

gallery.addEventListener("click", (event) => {
  const link = event.target.closest("a.thumb");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  openViewer(link.closest(".card").dataset.id);
});
showAnnotated.addEventListener("click", () => showMode(false));
showBoxes.addEventListener("click", () => showMode(true));
document.getElementById("viewer-close").addEventListener("click", () => viewer.close());
viewer.addEventListener("click", (event) => {
  if (event.target === viewer) viewer.close(); // a click on the backdrop
});
const deleteButton = document.getElementById("viewer-delete");
deleteButton.hidden = document.body.dataset.canWrite !== "yes";
deleteButton.addEventListener("click", async () => {
  const id = viewer.dataset.id;
  if (!window.confirm("Delete this photo for everyone?")) return;
  const response = await fetch(`/api/photos/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (response.ok) {
    removePhoto(id);
  } else {
    const body = await response.json().catch(() => null);
    viewerError.textContent = body && body.error ? body.error.message
      : `Could not delete (HTTP ${response.status}).`;
  }
});

fetch("/api/people?hidden=1&limit=200")
  .then((response) => response.json())
  .then((page) => {
    for (const person of page.people) people.set(person.id, person);
  })
  .catch(() => {});
connect(() => `?after=${encodeURIComponent(newest)}`, onMessage);

// Live gallery: uploads with progress, and photos from every browser pushed
// over a WebSocket; on a person's page, their faces (not this person, split).
// The page works without this script (plain form post).

import { call, connect, growing, plural } from "./common.js";
import { library } from "./library.js";
import { createViewer } from "./viewer.js";

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
const people = new Map(); // id -> person JSON (the named ones, and those seen), for names
// On a person's page (or several people's): the photos that show all of them.
const pagePeople = gallery.dataset.people ? gallery.dataset.people.split(",") : [];
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
  li.querySelector(".offline").hidden = photo.online !== false;
  const badge = li.querySelector(".badge");
  badge.classList.toggle("none", photo.faces.length === 0);
  badge.textContent = plural(photo.faces.length, "face");
  li.dataset.taken = takenKey(photo);
  const taken = li.querySelector(".taken");
  taken.dateTime = photo.taken || "";
  taken.textContent = (photo.taken || "").slice(0, 10);
  return li;
}

// The file's own modification time, with this browser's offset: its date
// taken when the photo itself holds none (the server keeps the file's date).
function modified(file) {
  const when = new Date(file.lastModified);
  const minutes = -when.getTimezoneOffset();
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const local = new Date(when.getTime() + minutes * 60000).toISOString().slice(0, 19);
  return `${local}${minutes < 0 ? "-" : "+"}${pad(minutes / 60)}:${pad(minutes % 60)}`;
}

// The "N photos" heading and the empty-gallery message.
function changeTotal(delta) {
  const count = Math.max(0, Number(total.textContent) + delta);
  total.textContent = count;
  total.nextSibling.textContent = total.nextSibling.textContent
    .replace(/^ photos?/, count === 1 ? " photo" : " photos");
  empty.hidden = count > 0;
}

// --- the timeline: newest taken first, a heading for each month -------------

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
// What the timeline sorts by, as the server does: wall-clock time, fixed width.
const takenKey = (photo) => {
  const text = (photo.taken || photo.created || "").replace(/(Z|[+-]\d\d:\d\d)$/, "");
  const [day, time = ""] = text.split("T");
  const [clock, fraction = ""] = time.split(".");
  return `${day}T${(clock || "00:00:00").padEnd(8, ":00")}.${fraction.padEnd(6, "0")}`;
};

// The month headings, again, after cards came or went.
function relabel() {
  for (const heading of gallery.querySelectorAll("li.month")) heading.remove();
  let shown = "";
  for (const item of [...gallery.querySelectorAll("li.card")]) {
    const month = (item.dataset.taken || "").slice(0, 7);
    if (month && month !== shown) {
      shown = month;
      const heading = document.createElement("li");
      heading.className = "month";
      const title = document.createElement("h3");
      title.textContent = `${MONTHS[Number(month.slice(5, 7)) - 1]} ${month.slice(0, 4)}`;
      heading.append(title);
      item.before(heading);
    }
  }
}

// A card in its place by date taken; past the cards loaded (older than all of
// them while more pages wait), it comes with its page instead.
function place(item) {
  const key = item.dataset.taken || "";
  const later = [...gallery.querySelectorAll("li.card")].find(
    (other) => (other.dataset.taken || "") < key);
  if (later) later.before(item);
  else if (more.hidden) gallery.append(item);
  else return false;
  relabel();
  return true;
}

function addPhoto(photo) {
  newest = photo.id;
  known.set(photo.id, photo);
  if (pagePeople.length) return; // a new photo is nobody's until it is recognized
  if (document.getElementById(`photo-${photo.id}`)) return;
  if (gallery.dataset.to && takenKey(photo) >= `${gallery.dataset.to}\uffff`) return;
  if (!inFolder(photo)) return;
  place(card(photo));
  changeTotal(+1);
}

// On a person's page: the photo's card is there exactly while they are all in it.
function followPeople(photo) {
  if (!pagePeople.length) return;
  const item = document.getElementById(`photo-${photo.id}`);
  const inIt = pagePeople.every((id) => photo.faces.some((face) => face.person === id));
  if (inIt && !item) {
    place(card(photo));
    changeTotal(+1);
  } else if (!inIt && item) {
    item.remove();
    relabel();
    changeTotal(-1);
  }
}

// On a library folder's page: whether a photo has a file in that folder.
const folderPath = gallery.dataset.folderPath;
const inFolder = (photo) => !folderPath
  || (photo.paths || []).some((path) => path.startsWith(`${folderPath}/`));

function photoChanged(photo) {
  known.set(photo.id, photo);
  const item = document.getElementById(`photo-${photo.id}`);
  if (item) item.querySelector(".offline").hidden = photo.online !== false;
  if (item && item.dataset.taken !== takenKey(photo)) { // a date corrected: its new place
    const moved = card(photo);
    item.remove();
    if (!place(moved)) relabel(); // (older than the cards loaded: it comes with its page)
  }
  followPeople(photo);
  viewer.photoChanged(photo);
}

async function facesChanged(faces) {
  const photos = new Set();
  for (const change of faces) {
    let photo = known.get(change.photo);
    if (!photo && pagePeople.includes(change.person)) {
      const response = await fetch(`/api/photos/${encodeURIComponent(change.photo)}`);
      if (!response.ok) continue;
      photo = await response.json();
      known.set(photo.id, photo);
    }
    if (photo) {
      for (const face of photo.faces) if (face.id === change.id) face.person = change.person;
      photos.add(photo);
    }
    personFaces.changed(change);
  }
  for (const photo of photos) photoChanged(photo);
}

function peopleChanged(message) {
  for (const person of message.people) people.set(person.id, person);
  for (const id of message.removed) people.delete(id);
  if (pagePeople.length) {
    const title = document.getElementById("person-title");
    if (message.removed.some((id) => pagePeople.includes(id))) {
      title.textContent = "This person is no longer in People";
    } else if (message.people.some((p) => pagePeople.includes(p.id))) {
      title.textContent = pagePeople.map((id) => {
        const person = people.get(id);
        return person && person.name ? person.name : "Unnamed person";
      }).join(" and ");
    }
  }
  viewer.refresh();
}

function removePhoto(id) {
  known.delete(id);
  if (viewer.isShowing(id)) viewer.close();
  const item = document.getElementById(`photo-${id}`);
  if (!item) return;
  item.remove();
  relabel();
  changeTotal(-1);
}

const viewer = createViewer({
  known, people, canWrite, onDeleted: removePhoto, onChanged: facesChanged,
});

// --- a person's faces: not this person, split ------------------------------

const personFaces = (() => {
  const list = document.getElementById("faces");
  if (!list) return { changed: () => {} };
  const person = list.dataset.person;
  const template = document.getElementById("face-template");
  const splitButton = document.getElementById("split");
  const status = document.getElementById("faces-status");
  const moreFaces = document.getElementById("more-faces");
  const say = (text) => { status.textContent = text; };
  const selected = () => [...list.querySelectorAll(".select:checked")].map((b) => Number(b.value));

  function update() {
    const count = selected().length;
    splitButton.disabled = count === 0;
    splitButton.textContent = count ? `Make the ${plural(count, "selected face")} a new person`
      : "Make the selected faces a new person";
  }

  function faceCard(face) {
    const li = template.content.firstElementChild.cloneNode(true);
    li.id = `face-${face.id}`;
    li.dataset.id = face.id;
    li.dataset.photo = face.photo;
    const img = li.querySelector("img");
    if (face.crop) img.src = face.crop;
    else img.remove();
    li.querySelector(".select").value = face.id;
    return li;
  }

  function label(li, index) {
    li.querySelector(".select").setAttribute("aria-label", `Select face ${index + 1}`);
    li.querySelector(".reject").setAttribute("aria-label", `Not this person: face ${index + 1}`);
    for (const control of li.querySelectorAll(".pick, .reject")) control.hidden = !canWrite;
  }

  function relabel() {
    [...list.children].forEach(label);
    update();
  }

  list.addEventListener("change", update);
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button.reject");
    if (!button) return;
    const li = button.closest("li");
    try {
      await call("POST", `/api/faces/${li.dataset.id}/reject`);
      li.remove();
      relabel();
      say("Taken out of this person.");
    } catch (error) {
      say(`Could not take the face out: ${error.message}`);
    }
  });
  splitButton.addEventListener("click", async () => {
    const faces = selected();
    if (!faces.length) return;
    try {
      const created = await call("POST", `/api/people/${person}/split`, { faces });
      for (const id of faces) document.getElementById(`face-${id}`)?.remove();
      relabel();
      say(`${plural(faces.length, "face")} made a new person.`);
      const link = document.createElement("a");
      link.href = created.urls.page;
      link.textContent = "Open them";
      status.append(" ", link);
    } catch (error) {
      say(`Could not split: ${error.message}`);
    }
  });
  document.getElementById("load-faces").addEventListener("click", async () => {
    const last = list.lastElementChild;
    const url = `/api/people/${person}/faces?limit=${list.dataset.page}`
      + (last ? `&before=${last.dataset.id}` : "");
    try {
      const page = await call("GET", url);
      for (const face of page.faces) {
        if (!document.getElementById(`face-${face.id}`)) list.append(faceCard(face));
      }
      moreFaces.hidden = !page.next;
      relabel();
    } catch (error) {
      say(`Could not load more faces: ${error.message}`);
    }
  });
  relabel();

  return {
    // a face joined or left this person elsewhere
    changed(change) {
      const item = document.getElementById(`face-${change.id}`);
      if (change.person === person && !item && change.id !== undefined) {
        list.prepend(faceCard({ id: change.id, photo: change.photo, crop: null }));
        relabel();
      } else if (change.person !== person && item) {
        item.remove();
        relabel();
      }
    },
  };
})();

// --- live updates -----------------------------------------------------------

function onMessage(message) {
  if (message.type === "photo.added") addPhoto(message.photo);
  else if (message.type === "photo.deleted") removePhoto(message.id);
  else if (message.type === "photo.changed") photoChanged(message.photo);
  else if (message.type === "photos.recognized") message.photos.forEach(photoChanged);
  else if (message.type === "faces.changed") facesChanged(message.faces);
  else if (message.type === "people.changed") peopleChanged(message);
  else if (message.type === "library") library.update(message.roots);
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
    if (file.lastModified) data.append("modified", modified(file));
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

growing({
  list: gallery, more, link: loadMore, what: "older photos",
  url: (last) => `/api/photos?limit=${gallery.dataset.page}`
    + (last ? `&before=${encodeURIComponent(last.dataset.id)}` : "")
    + (gallery.dataset.to ? `&to=${encodeURIComponent(gallery.dataset.to)}` : "")
    + (gallery.dataset.folder ? `&folder=${gallery.dataset.folder}` : "")
    + pagePeople.map((id) => `&person=${id}`).join(""),
  add: (page) => {
    for (const photo of page.photos) {
      known.set(photo.id, photo);
      if (!document.getElementById(`photo-${photo.id}`)) gallery.append(card(photo));
    }
    relabel();
  },
});

gallery.addEventListener("click", (event) => {
  const link = event.target.closest("a.thumb");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  viewer.open(link.closest(".card").dataset.id);
});

// The named people, for the viewer's choices and names (others are learnt as they change).
async function loadNamed(url = "/api/people?named=1&hidden=1&limit=200") {
  try {
    const page = await call("GET", url);
    for (const person of page.people) people.set(person.id, person);
    if (page.next) await loadNamed(page.next);
  } catch {
    // names are a nicety: the viewer says "Unnamed person" without them
  }
}

loadNamed();
connect(() => `?after=${encodeURIComponent(newest)}`, onMessage);

// Live gallery: uploads with progress, and photos from every browser pushed
// over a WebSocket. The page works without this script (plain form post).

const gallery = document.getElementById("gallery");
const queue = document.getElementById("queue");
const form = document.getElementById("upload-form");
const input = document.getElementById("file-input");
const drop = document.getElementById("drop");
const live = document.getElementById("live");
const total = document.getElementById("total");
const empty = document.getElementById("empty");

const PARALLEL_UPLOADS = 3;
let newest = gallery.dataset.newest; // "" = empty gallery: replay everything

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function card(photo) {
  const li = document.createElement("li");
  li.className = "card";
  li.id = `photo-${photo.id}`;
  li.dataset.id = photo.id;
  const link = document.createElement("a");
  link.className = "thumb";
  link.href = photo.urls.annotated;
  const img = document.createElement("img");
  img.src = photo.urls.thumbnail;
  img.alt = photo.filename;
  link.append(img);
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = name.title = photo.filename;
  const badge = document.createElement("span");
  badge.className = photo.faces.length ? "badge" : "badge none";
  badge.textContent = plural(photo.faces.length, "face");
  meta.append(name, badge);
  li.append(link, meta);
  return li;
}

function addPhoto(photo) {
  newest = photo.id;
  if (document.getElementById(`photo-${photo.id}`)) return;
  gallery.prepend(card(photo));
  const count = Number(total.textContent) + 1;
  total.textContent = count;
  total.nextSibling.textContent = count === 1 ? " photo" : " photos";
  empty.hidden = true;
}

function removePhoto(id) {
  const item = document.getElementById(`photo-${id}`);
  if (!item) return;
  item.remove();
  const count = Math.max(0, Number(total.textContent) - 1);
  total.textContent = count;
  total.nextSibling.textContent = count === 1 ? " photo" : " photos";
  empty.hidden = count > 0;
}

// --- live updates -----------------------------------------------------------

let retry = 0;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws?after=${encodeURIComponent(newest)}`);
  socket.onopen = () => {
    retry = 0;
    live.textContent = "Live";
    live.className = "live on";
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "photo.added") addPhoto(message.photo);
    else if (message.type === "photo.deleted") removePhoto(message.id);
    else if (message.type === "resync") location.reload();
  };
  socket.onclose = () => {
    const wait = Math.min(30, 2 ** retry++);
    live.textContent = `Connection lost; retrying in ${wait}s`;
    live.className = "live off";
    setTimeout(connect, wait * 1000);
  };
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

connect();

// The shared page: its photos kept up to date while the link works (the
// server says "shared" when the set changes), and emptied the moment the
// link is revoked or expires (the server closes the connection, 4401).
import { call, connect, plural } from "./common.js";

const list = document.getElementById("shared-photos");
const state = document.getElementById("shared-state");

function item(photo, number) {
  const li = document.createElement("li");
  li.className = "shared-photo";
  li.dataset.id = photo.id;
  const link = document.createElement("a");
  link.href = photo.urls.annotated || photo.urls.display;
  const img = document.createElement("img");
  img.src = photo.urls.thumbnail;
  img.alt = `Shared photo ${number}`;
  img.loading = "lazy";
  link.append(img);
  li.append(link);
  const names = photo.faces.map((face) => face.name).filter(Boolean);
  if (names.length) {
    const p = document.createElement("p");
    p.className = "shared-names";
    p.textContent = names.join(", ");
    li.append(p);
  }
  if (photo.urls.download) {
    const a = document.createElement("a");
    a.className = "shared-download";
    a.href = photo.urls.download;
    a.download = "";
    a.textContent = "Download";
    li.append(a);
  }
  return li;
}

function ended() {
  list.replaceChildren();
  state.textContent = "This link no longer works: it was revoked or has expired.";
}

async function reload() {
  try {
    const answer = await call("GET", "/api/shared");
    list.replaceChildren(...answer.photos.map((photo, i) => item(photo, i + 1)));
    const until = answer.expires ? `; this link works until ${answer.expires.slice(0, 10)}` : "";
    state.textContent = `${plural(answer.photos.length, "photo")}${until}.`;
  } catch (error) {
    ended();
  }
}

connect(() => "", (message) => {
  if (message.type === "shared") reload();
}, ended);

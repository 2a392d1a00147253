// The gallery's Library panel: each library folder's state, counts and
// scan progress, kept live from the server's "library" messages; "Scan now"
// and "Confirm" (yes to what a scan held back) call the library API.

import { call } from "./common.js";

const list = document.getElementById("roots");
const template = document.getElementById("root-template");

function fill(item, root) {
  item.id = `root-${root.id}`;
  item.dataset.id = root.id;
  item.dataset.state = root.state;
  const link = item.querySelector(".root-path");
  link.href = root.urls.photos;
  link.textContent = root.path;
  item.querySelector(".root-state").textContent = root.scan.running ? "scanning" : root.state;
  const parts = [`${root.photos} photos`];
  if (root.offline) parts.push(`${root.offline} offline`);
  if (root.problems.files) parts.push(`${root.problems.files} not read`);
  item.querySelector(".root-counts").textContent = parts.join(", ");
  const progress = item.querySelector(".root-progress");
  progress.max = Math.max(1, root.scan.total);
  progress.value = root.scan.done;
  progress.hidden = !(root.scan.running && root.scan.total);
  progress.setAttribute("aria-label", `Scan of ${root.path}`);
  const why = item.querySelector(".root-why");
  why.textContent = root.why || "";
  why.hidden = !root.why;
  const confirm = item.querySelector(".root-confirm");
  if (confirm) {
    confirm.hidden = !(["held", "unavailable"].includes(root.state)
      && (root.why || "").includes("confirm"));
  }
}

let heard = 0; // live messages taken: an answer older than one of them is not shown

function update(roots) {
  heard += 1;
  if (!list) return;
  for (const root of roots) {
    let item = document.getElementById(`root-${root.id}`);
    if (!item) {
      item = template.content.firstElementChild.cloneNode(true);
      list.append(item);
    }
    fill(item, root);
  }
  const ids = new Set(roots.map((root) => String(root.id)));
  for (const item of [...list.children]) if (!ids.has(item.dataset.id)) item.remove();
}

if (list) {
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const item = button.closest(".root");
    const action = button.classList.contains("root-confirm") ? "confirm" : "scan";
    const why = item.querySelector(".root-why");
    button.disabled = true;
    const before = heard;
    try {
      const answer = await call("POST", `/api/library/roots/${item.dataset.id}/${action}`);
      if (heard === before) fill(item, answer); // (else the live state is newer)
    } catch (error) {
      why.textContent = `Could not ${action === "scan" ? "scan" : "confirm"}: ${error.message}`;
      why.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}

export const library = { update };

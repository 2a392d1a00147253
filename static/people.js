// The People page: rename in place, hide, merge selected people, answer
// "same person?"; every open page follows over the WebSocket
// (people.changed, recognition).

import { call, connect, growing, plural } from "./common.js";

const list = document.getElementById("people");
const none = document.getElementById("no-people");
const mergeButton = document.getElementById("merge");
const status = document.getElementById("people-status");
const recognition = document.getElementById("recognition");
const canWrite = document.body.dataset.canWrite === "yes";
const showHidden = list.dataset.hidden === "1";

const label = (person) => person.name || "Unnamed person";

function say(text) {
  status.textContent = text;
}

// A person's card, from the page's own card markup (templates/person.html).
const cardTemplate = document.getElementById("person-template");

function card(person) {
  const li = cardTemplate.content.firstElementChild.cloneNode(true);
  li.id = `person-${person.id}`;
  li.dataset.id = person.id;
  const link = li.querySelector("a.thumb");
  link.href = person.urls.page;
  const img = link.querySelector("img");
  if (person.urls.cover) img.src = person.urls.cover;
  else img.remove();
  li.querySelector("form.rename").dataset.id = person.id;
  li.querySelector("label[for]").htmlFor = `name-${person.id}`;
  li.querySelector("input[name=name]").id = `name-${person.id}`;
  li.querySelector(".select").value = person.id;
  fill(li, person);
  return li;
}

// What changes on a card when its person changes.
function fill(li, person) {
  li.dataset.photos = person.photos;
  li.querySelector(".counts").textContent =
    plural(person.photos, "photo") + (person.hidden ? " · hidden" : "");
  const input = li.querySelector("input[name=name]");
  if (document.activeElement !== input) input.value = person.name || "";
  const img = li.querySelector("img");
  if (img) img.alt = label(person);
  // (a person whose faces have no crop yet has no cover: the link still says whose)
  li.querySelector("a.thumb").setAttribute("aria-label", `Photos of ${label(person)}`);
  const hide = li.querySelector(".hide");
  hide.dataset.hidden = String(person.hidden);
  hide.textContent = person.hidden ? "Show" : "Hide";
  hide.setAttribute("aria-label", `${person.hidden ? "Show" : "Hide"} ${label(person)}`);
  li.querySelector(".select").setAttribute("aria-label", `Select ${label(person)}`);
  for (const control of li.querySelectorAll("form, .pick, .hide")) control.hidden = !canWrite;
}

// Whether a person comes after the last card loaded (while more pages are to come,
// they will arrive with their page).
function beyond(person) {
  const last = list.lastElementChild;
  if (!last || morePeople.hidden) return false;
  const photos = Number(last.dataset.photos);
  return person.photos < photos || (person.photos === photos && person.id > last.dataset.id);
}

function place(person) {
  let li = document.getElementById(`person-${person.id}`);
  if (person.hidden && !showHidden) {
    if (li) li.remove();
  } else if (li) {
    const hadCover = Boolean(li.querySelector("img"));
    if (!hadCover && person.urls.cover) li.replaceWith(li = card(person));
    else fill(li, person);
  } else if (!beyond(person)) {
    list.append(li = card(person));
  }
  // most photos first, ties by id, as the server lists them
  const cards = [...list.children].sort((a, b) => Number(b.dataset.photos) - Number(a.dataset.photos)
    || (a.dataset.id < b.dataset.id ? -1 : 1));
  if (cards.some((c, i) => c !== list.children[i])) list.append(...cards);
  none.hidden = list.children.length > 0;
}

function remove(id) {
  const li = document.getElementById(`person-${id}`);
  if (li) li.remove();
  none.hidden = list.children.length > 0;
  updateMerge();
}

function selected() {
  return [...list.querySelectorAll(".select:checked")].map((box) => box.value);
}

function updateMerge() {
  const count = selected().length;
  mergeButton.disabled = count < 2;
  mergeButton.textContent = count >= 2 ? `Merge ${count} selected people` : "Merge selected people";
}

list.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const name = form.elements.name.value.trim();
  try {
    const person = await call("PATCH", `/api/people/${form.dataset.id}`, { name: name || null });
    place(person);
    say(name ? `Named ${name}.` : "Name removed.");
  } catch (error) {
    say(`Could not rename: ${error.message}`);
  }
});

list.addEventListener("click", async (event) => {
  const button = event.target.closest(".hide");
  if (!button) return;
  const id = button.closest(".person").dataset.id;
  const hidden = button.dataset.hidden !== "true";
  try {
    place(await call("PATCH", `/api/people/${id}`, { hidden }));
    say(hidden ? "Hidden from People." : "Shown in People.");
  } catch (error) {
    say(`Could not change: ${error.message}`);
  }
});

list.addEventListener("change", (event) => {
  if (event.target.classList.contains("select")) updateMerge();
});

mergeButton.addEventListener("click", async () => {
  const ids = selected();
  if (ids.length < 2) return;
  // into the one with the most faces (the first in the list)
  const [target, ...others] = ids;
  try {
    const person = await call("POST", `/api/people/${target}/merge`, { people: others });
    others.forEach(remove);
    place(person);
    for (const box of list.querySelectorAll(".select:checked")) box.checked = false;
    updateMerge();
    say(`Merged into ${label(person)}.`);
  } catch (error) {
    say(`Could not merge: ${error.message}`);
  }
});

function showBacklog(message) {
  if (message.state === "off") return;
  if (message.redescribing && message.backlog) {
    recognition.textContent = "Describing every face again for the new recognizer: "
      + `${plural(message.backlog, "photo")} to go. Names, hidden people and faces you `
      + "placed stay as they are.";
  } else {
    recognition.textContent = message.backlog
      ? `Recognizing faces: ${plural(message.backlog, "photo")} waiting.`
      : "Every photo has been through recognition.";
  }
}

// --- "same person?" ---------------------------------------------------------

const review = document.getElementById("review");
const pairs = document.getElementById("pairs");
const pairTemplate = document.getElementById("pair-template");

function pairItem(suggestion) {
  const li = pairTemplate.content.firstElementChild.cloneNode(true);
  li.dataset.a = suggestion.a.id;
  li.dataset.b = suggestion.b.id;
  for (const side of ["a", "b"]) {
    const person = suggestion[side];
    const link = li.querySelector(`.pair-person.${side}`);
    link.href = person.urls.page;
    const img = link.querySelector("img");
    if (person.urls.cover) img.src = person.urls.cover;
    else img.remove();
    link.querySelector(".pair-name").textContent =
      `${label(person)} · ${plural(person.photos, "photo")}`;
  }
  return li;
}

function labelPairs() {
  for (const li of pairs.children) {
    const names = [...li.querySelectorAll(".pair-name")].map((n) => n.textContent.split(" · ")[0]);
    const [yes, no] = li.querySelectorAll("button.same");
    yes.setAttribute("aria-label", `Yes, one person: ${names[0]} and ${names[1]}`);
    no.setAttribute("aria-label", `No, two people: ${names[0]} and ${names[1]}`);
    for (const button of [yes, no]) button.hidden = !canWrite;
  }
  review.hidden = pairs.children.length === 0;
}

let refreshing = null;
function refreshPairs() { // after people change: the questions may have too
  clearTimeout(refreshing);
  refreshing = setTimeout(async () => {
    try {
      const found = await call("GET", "/api/people/suggestions?limit=10");
      pairs.replaceChildren(...found.suggestions.map(pairItem));
      labelPairs();
    } catch {
      // the list stays as it was
    }
  }, 300);
}

pairs.addEventListener("click", async (event) => {
  const button = event.target.closest("button.same");
  if (!button) return;
  const li = button.closest("li");
  const same = button.dataset.same === "true";
  try {
    const answer = await call("POST", `/api/people/${li.dataset.a}/same`,
      { person: li.dataset.b, same });
    li.remove();
    labelPairs();
    if (answer.merged) place(answer.merged);
    say(same ? "Merged into one person." : "Kept apart: you will not be asked again.");
  } catch (error) {
    say(`Could not answer: ${error.message}`);
  }
});

// The page was rendered at message number ``seq``: the WebSocket replays what
// went out since (also after a reconnection), or asks for a reload.
let seq = Number(list.dataset.seq);

function showProgress(message) {
  const name = document.getElementById(`name-${message.person}`);
  const who = name && name.value ? `“${name.value}”` : "this person";
  const percent = message.total ? Math.floor((100 * message.done) / message.total) : 0;
  const stage = message.stage === "writing" ? "saving" : "finding their faces";
  say(`${message.action[0].toUpperCase()}${message.action.slice(1)} ${who}: ${stage}, ${percent} %`);
}

function onMessage(message) {
  if (message.seq) seq = message.seq;
  if (message.type === "resync") {
    location.reload();
  } else if (message.type === "people.progress") {
    showProgress(message);
  } else if (message.type === "people.changed") {
    message.people.forEach(place);
    message.removed.forEach(remove);
    refreshPairs();
  } else if (message.type === "recognition") {
    showBacklog(message);
  }
}

// --- more people, a page at a time ------------------------------------------

const morePeople = document.getElementById("more-people");
const loadPeople = document.getElementById("load-people");
growing({
  list, more: morePeople, link: loadPeople, what: "more people",
  url: (last) => `/api/people?limit=${list.dataset.page}${showHidden ? "&hidden=1" : ""}`
    + (last ? `&before=${encodeURIComponent(last.dataset.id)}` : ""),
  add: (page) => {
    for (const person of page.people) {
      if (!document.getElementById(`person-${person.id}`)) list.append(card(person));
    }
  },
});

// the server-rendered cards: what the script adds (controls only for writers)
for (const li of list.children) {
  for (const control of li.querySelectorAll("form, .pick, .hide")) control.hidden = !canWrite;
}
updateMerge();
labelPairs();
connect(() => `?since=${seq}`, onMessage);

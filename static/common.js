// What every page's script shares: counting words, JSON calls to the API,
// lists that load more as they are scrolled, and the live connection (with
// its status in the header).

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// A JSON call; throws with the server's own message on an error answer.
export async function call(method, url, body) {
  const response = await fetch(url, {
    method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(answer && answer.error ? answer.error.message : `HTTP ${response.status}`);
  }
  return answer;
}

// A list that grows a page at a time when its end is scrolled near, or when
// its "more" link is followed (by keyboard too): ``url(last)`` is the address
// of the page after the list's last element, ``add(answer)`` puts a page in
// the list; ``more`` (holding ``link``) hides once ``answer.next`` is null.
export function growing({ list, more, link, url, add, what }) {
  const margin = 600;
  const near = () => more.getBoundingClientRect().top < window.innerHeight + margin;
  let loading = false;
  const load = async () => {
    if (loading || more.hidden) return;
    loading = true;
    let loaded = false;
    try {
      const answer = await call("GET", url(list.lastElementChild));
      add(answer);
      more.hidden = !answer.next;
      loaded = true;
    } catch (error) {
      link.textContent = `Could not load ${what} (${error.message}). Try again`;
    } finally {
      loading = false;
    }
    // still near the end (a short page, a tall window): the observer will not
    // be told again, so go on
    if (loaded && !more.hidden && near()) load();
  };
  link.addEventListener("click", (event) => {
    event.preventDefault();
    load();
  });
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) load();
  }, { rootMargin: `${margin}px` }).observe(more);
}

// The WebSocket, reconnecting with back-off; ``query()`` gives the query string
// at each (re)connection, ``onMessage`` gets each event. When the server closes
// it because the session or link has ended (4401), ``onEnded`` is called and
// it is not opened again.
export const ENDED = 4401;
export function connect(query, onMessage, onEnded) {
  const live = document.getElementById("live");
  let retry = 0;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query()}`);
    socket.onopen = () => {
      retry = 0;
      live.textContent = "Live";
      live.className = "live on";
    };
    socket.onmessage = (event) => onMessage(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (event.code === ENDED) {
        live.textContent = "Your session has ended: log in again";
        live.className = "live off";
        if (onEnded) onEnded();
        return;
      }
      const wait = Math.min(30, 2 ** retry++);
      live.textContent = `Connection lost; retrying in ${wait}s`;
      live.className = "live off";
      setTimeout(open, wait * 1000);
    };
  };
  open();
}

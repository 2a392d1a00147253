// What every page's script shares: counting words, JSON calls to the API,
// and the live connection (with its status in the header).

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

// The WebSocket, reconnecting with back-off; ``query()`` gives the query string
// at each (re)connection, ``onMessage`` gets each event.
export function connect(query, onMessage) {
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
    socket.onclose = () => {
      const wait = Math.min(30, 2 ** retry++);
      live.textContent = `Connection lost; retrying in ${wait}s`;
      live.className = "live off";
      setTimeout(open, wait * 1000);
    };
  };
  open();
}

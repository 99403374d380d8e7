// Talks to the WebSocket echo endpoint: each message sent comes back and is listed.
const form = document.querySelector("#echo-form");

if (form) {
  const input = document.querySelector("#echo-input");
  const log = document.querySelector("#echo-log");
  const url = new URL(form.dataset.url, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);

  const note = (text) => {
    const item = document.createElement("li");
    item.textContent = text;
    log.prepend(item);
  };

  socket.addEventListener("message", (event) => note(`echo: ${event.data}`));
  socket.addEventListener("close", () => note("connection closed"));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(input.value);
      input.value = "";
    }
  });
}

/* Helpers shared by the demo pages (plain script: defines window.rtcdnDemo). */
(function (global) {
  "use strict";

  /** ws(s)://<page host:port>: our HTTP and websocket share the port. */
  function defaultServerUrl() {
    const loc = global.location;
    if (!loc || !loc.host) return "ws://127.0.0.1:8080";
    return (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host;
  }

  /** A URL query parameter, or `fallback`. */
  function param(name, fallback) {
    const v = new URLSearchParams(global.location.search).get(name);
    return v === null || v === "" ? fallback : v;
  }

  /** `n` random hex digits. */
  function randomHex(n) {
    const b = new Uint8Array(Math.ceil(n / 2));
    global.crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").slice(0, n);
  }

  /** Shows a status string, coloured by whether it is a good or a bad end state. */
  function showStatus(el, status) {
    el.textContent = status || "";
    el.classList.toggle("ok", ["ESTABLISHED", "PUBLISHING", "PLAYING", "AVAILABLE"].includes(status));
    el.classList.toggle("bad", ["FAILED", "UNAVAILABLE"].includes(status));
  }

  global.rtcdnDemo = {defaultServerUrl, param, randomHex, showStatus};
})(window);

/*
 * embed_player.html: plays one stream. URL parameters: urlServer, streamName, autoplay
 * (true/1/yes). The current stream is `window.playingStream`.
 */
(function () {
  "use strict";
  const {SESSION_STATUS, STREAM_STATUS} = RTCDN;
  const {defaultServerUrl, param, showStatus} = rtcdnDemo;
  const $ = (id) => document.getElementById(id);
  const ui = {play: $("play"), status: $("status"), info: $("info"), url: $("urlServer"),
    name: $("streamName"), video: $("remoteVideo")};

  ui.url.value = param("urlServer", defaultServerUrl());
  ui.name.value = param("streamName", "");
  ui.name.placeholder = "stream name";
  const autoplay = /^(true|1|yes)$/i.test(param("autoplay", ""));

  let session = null;
  window.playingStream = null;

  const FINAL = [STREAM_STATUS.STOPPED, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.FAILED];
  const playing = () => window.playingStream && !FINAL.includes(window.playingStream.status());

  function setStatus(status, info) {
    showStatus(ui.status, status);
    ui.info.textContent = info || "";
    ui.play.textContent = playing() ? "Stop" : "Play";
  }

  function startStream() {
    const stream = session.createStream({name: ui.name.value.trim(), display: ui.video});
    window.playingStream = stream;
    for (const s of Object.values(STREAM_STATUS)) {
      stream.on(s, () => setStatus(stream.status(), s === STREAM_STATUS.FAILED ? stream.getInfo() : ""));
    }
    stream.play();
    setStatus(STREAM_STATUS.PENDING);
  }

  function start() {
    if (!ui.name.value.trim()) {
      setStatus("", "Enter a stream name");
      return;
    }
    if (session && session.status() === SESSION_STATUS.ESTABLISHED && session.getServerUrl() === ui.url.value.trim()) {
      startStream();
      return;
    }
    if (session) session.disconnect();
    let s;
    try {
      s = RTCDN.createSession({urlServer: ui.url.value.trim()});
    } catch (e) {
      setStatus(SESSION_STATUS.FAILED, e.message);
      return;
    }
    session = s;
    setStatus(SESSION_STATUS.PENDING);
    s.on(SESSION_STATUS.ESTABLISHED, () => {
      if (session === s) startStream();
    });
    for (const st of [SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED]) {
      s.on(st, () => {
        if (session === s && !playing()) setStatus(st, "Connection " + st.toLowerCase());
      });
    }
  }

  ui.play.onclick = () => {
    if (playing()) {
      window.playingStream.stop();
    } else {
      start();
    }
  };

  setStatus("");
  if (autoplay) start();
})();

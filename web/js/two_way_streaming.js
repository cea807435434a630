/* two_way_streaming.html: publish, play, availability and stream data over one session. */
(function () {
  "use strict";
  const {SESSION_STATUS, STREAM_STATUS, STREAM_EVENT} = RTCDN;
  const {defaultServerUrl, param, randomHex, showStatus} = rtcdnDemo;
  const $ = (id) => document.getElementById(id);

  const ui = {
    url: $("urlServer"),
    connect: $("connectBtn"),
    connectStatus: $("connectStatus"),
    publishName: $("publishStream"),
    publish: $("publishBtn"),
    publishStatus: $("publishStatus"),
    publishInfo: $("publishInfo"),
    simulcast: $("simulcast"),
    sendData: $("sendData"),
    sendDataBtn: $("sendDataBtn"),
    playName: $("playStream"),
    play: $("playBtn"),
    available: $("availableBtn"),
    playStatus: $("playStatus"),
    playInfo: $("playInfo"),
    availableStatus: $("availableStatus"),
    received: $("receivedData"),
    localVideo: $("localVideo"),
    remoteVideo: $("remoteVideo"),
  };

  // Exposed for tests and the console.
  const state = (window.twoWay = {session: null, publishStream: null, playStream: null});

  ui.url.value = defaultServerUrl();
  const name = randomHex(4);
  ui.publishName.value = name;
  ui.playName.value = name;
  ui.simulcast.checked = param("simulcast", "false") === "true";

  const established = () => state.session && state.session.status() === SESSION_STATUS.ESTABLISHED;
  const active = (s) => s && ![STREAM_STATUS.STOPPED, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.FAILED].includes(s.status());

  function refresh() {
    const ok = established();
    const connecting = state.session && !ok && state.session.status() !== SESSION_STATUS.DISCONNECTED &&
      state.session.status() !== SESSION_STATUS.FAILED;
    ui.connect.textContent = ok || connecting ? "Disconnect" : "Connect";
    ui.url.disabled = Boolean(ok || connecting);
    const pub = active(state.publishStream);
    ui.publish.disabled = !ok;
    ui.publish.textContent = pub ? "Stop" : "Publish";
    ui.publishName.disabled = pub;
    ui.simulcast.disabled = pub;
    ui.sendDataBtn.disabled = !(pub && state.publishStream.status() === STREAM_STATUS.PUBLISHING);
    const play = active(state.playStream);
    ui.play.disabled = !ok;
    ui.play.textContent = play ? "Stop" : "Play";
    ui.playName.disabled = play;
    ui.available.disabled = !ok;
  }

  ui.connect.onclick = () => {
    if (state.session && state.session.status() !== SESSION_STATUS.DISCONNECTED &&
        state.session.status() !== SESSION_STATUS.FAILED) {
      state.session.disconnect();
      return;
    }
    let session;
    try {
      session = RTCDN.createSession({urlServer: ui.url.value.trim()});
    } catch (e) {
      showStatus(ui.connectStatus, SESSION_STATUS.FAILED);
      return;
    }
    state.session = session;
    showStatus(ui.connectStatus, SESSION_STATUS.PENDING);
    for (const s of [SESSION_STATUS.CONNECTED, SESSION_STATUS.ESTABLISHED, SESSION_STATUS.DISCONNECTED, SESSION_STATUS.FAILED]) {
      session.on(s, () => {
        if (state.session !== session) return;
        showStatus(ui.connectStatus, s);
        refresh();
      });
    }
    refresh();
  };

  /** `describe(stream)`, if given, is the info line for a status other than FAILED. */
  function watch(stream, statusEl, infoEl, describe) {
    for (const s of Object.values(STREAM_STATUS)) {
      stream.on(s, () => {
        showStatus(statusEl, stream.status());
        const failed = stream.status() === STREAM_STATUS.FAILED;
        infoEl.textContent = failed ? stream.getInfo() : describe ? describe(stream) : "";
        refresh();
      });
    }
  }

  /** While publishing with simulcast: the layers the browser sends after the server's answer. */
  function simulcastInfo(stream) {
    const pc = stream.peerConnection();
    if (stream.status() !== STREAM_STATUS.PUBLISHING || !pc) return "";
    const layers = rtcdnSimulcast.sentLayers(pc);
    return layers.length > 1
      ? `Simulcast: sending layers ${layers.join(", ")}`
      : "Simulcast: the server's answer kept one layer only";
  }

  ui.publish.onclick = () => {
    if (active(state.publishStream)) {
      state.publishStream.stop();
      return;
    }
    const stream = state.session.createStream({name: ui.publishName.value.trim(), display: ui.localVideo});
    state.publishStream = stream;
    const simulcast = ui.simulcast.checked;
    watch(stream, ui.publishStatus, ui.publishInfo, simulcast ? simulcastInfo : null);
    showStatus(ui.publishStatus, STREAM_STATUS.PENDING);
    ui.publishInfo.textContent = "";
    // Read when the video track is added (simulcast.js wraps RTCPeerConnection).
    rtcdnSimulcast.setEnabled(simulcast);
    stream.publish();
    refresh();
  };

  ui.play.onclick = () => {
    if (active(state.playStream)) {
      state.playStream.stop();
      return;
    }
    const stream = state.session.createStream({name: ui.playName.value.trim(), display: ui.remoteVideo});
    state.playStream = stream;
    watch(stream, ui.playStatus, ui.playInfo);
    stream.on(STREAM_EVENT, (event) => {
      if (event.type !== "data") return;
      const t = new Date();
      const hhmm = `${String(t.getHours()).padStart(2, "0")}:${String(t.getMinutes()).padStart(2, "0")}`;
      ui.received.textContent += `${hhmm} - ${JSON.stringify(event.payload)}\n`;
      ui.received.scrollTop = ui.received.scrollHeight;
    });
    ui.playInfo.textContent = "";
    stream.play();
    refresh();
  };

  ui.available.onclick = () => {
    const probe = state.session.createStream({name: ui.playName.value.trim()});
    showStatus(ui.availableStatus, "");
    probe.available().then(
      () => showStatus(ui.availableStatus, STREAM_STATUS.AVAILABLE),
      () => {
        showStatus(ui.availableStatus, STREAM_STATUS.UNAVAILABLE);
        ui.playInfo.textContent = probe.getInfo ? probe.getInfo() : "";
      },
    );
  };

  ui.sendDataBtn.onclick = () => {
    const text = ui.sendData.value;
    let payload;
    try {
      payload = JSON.parse(text);
    } catch (e) {
      payload = {message: text};
    }
    state.publishStream.sendData(payload);
  };

  refresh();
})();

/* whip.html: publish the camera over WHIP with a plain RTCPeerConnection (see whip_client.js). */
(function () {
  "use strict";
  const {endpointUrl, negotiate, deleteSession, publishTransceivers, watchServerEnd} = rtcdnWhip;
  const {param, randomHex, showStatus} = rtcdnDemo;
  const $ = (id) => document.getElementById(id);
  const ui = {
    server: $("server"),
    name: $("streamName"),
    token: $("token"),
    simulcast: $("simulcast"),
    publish: $("publishBtn"),
    status: $("status"),
    info: $("info"),
    video: $("localVideo"),
  };

  // The current publish (null when idle) and every status shown; exposed for tests and the console.
  const page = (window.whipPage = {run: null, log: []});

  ui.server.value = param("server", location.origin);
  ui.name.value = param("streamName", randomHex(4));
  ui.token.value = param("token", "");
  ui.simulcast.checked = param("simulcast", "false") === "true";

  function refresh() {
    const busy = Boolean(page.run);
    ui.publish.textContent = busy ? "Stop" : "Publish";
    for (const el of [ui.server, ui.name, ui.token, ui.simulcast]) el.disabled = busy;
  }

  function set(run, status, info) {
    // A run that is no longer the page's may still say it stopped, if no other run started.
    if (page.run !== run && !(status === "STOPPED" && page.run === null)) return;
    run.status = status;
    page.log.push({status, info: info === undefined ? ui.info.textContent : info, t: performance.now()});
    showStatus(ui.status, status);
    if (info !== undefined) ui.info.textContent = info;
  }

  function describe(run) {
    if (!run.session) return "";
    const parts = [`Session ${run.session.resource}`];
    if (run.simulcast) {
      const layers = rtcdnSimulcast.sentLayers(run.pc);
      parts.push(layers.length > 1 ? `simulcast layers ${layers.join(", ")}` : "the answer kept one layer only");
    }
    if (run.session.iceServers.length) parts.push(`ICE servers ${run.session.iceServers.map((s) => s.urls).join(", ")}`);
    return parts.join("; ");
  }

  async function publish() {
    const run = {status: "", simulcast: ui.simulcast.checked, token: ui.token.value, pc: null, media: null, session: null};
    page.run = run;
    refresh();
    set(run, "PENDING", "");
    try {
      const url = endpointUrl(ui.server.value, "whip", ui.name.value);
      run.media = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
      if (page.run !== run) return release(run);
      ui.video.srcObject = run.media;
      run.pc = new RTCPeerConnection();
      const layers = run.simulcast ? rtcdnSimulcast.sendEncodings() : null;
      for (const {track, init} of publishTransceivers(run.media, layers)) run.pc.addTransceiver(track, init);
      run.pc.addEventListener("connectionstatechange", () => {
        const state = run.pc.connectionState;
        if (state === "connected") {
          set(run, "PUBLISHING", describe(run));
          if (!run.watching) {
            run.watching = watchServerEnd(run.pc, () => {
              if (page.run !== run) return;
              page.run = null;
              release(run);
              refresh();
              set(run, "STOPPED", "the server ended the session");
            });
          }
        } else if (run.status === "STOPPED") return;
        else if (state === "failed") set(run, "FAILED", "the ICE / DTLS connection failed");
        else if (state === "disconnected") set(run, "DISCONNECTED", "the connection was interrupted");
      });
      run.negotiating = true;
      try {
        run.session = await negotiate({pc: run.pc, url, token: run.token});
      } finally {
        run.negotiating = false;
      }
      if (page.run !== run) return stop(run);
      if (run.status === "PENDING") set(run, "CONNECTING", describe(run));
    } catch (e) {
      set(run, "FAILED", e.message);
      release(run);
      if (page.run === run) page.run = null;
      refresh();
    }
  }

  function release(run) {
    if (run.pc) run.pc.close();
    if (run.media) run.media.getTracks().forEach((t) => t.stop());
    if (ui.video.srcObject === run.media) ui.video.srcObject = null;
  }

  /** Ends `run`: DELETE on its session (if it has one), then closes the connection. */
  async function stop(run) {
    if (page.run === run) page.run = null;
    refresh();
    if (run.negotiating) {
      // The POST is under way: its session is DELETEd once it is answered (see the caller).
      set(run, "STOPPED", "");
      return;
    }
    let info = "";
    if (run.session) {
      try {
        info = `DELETE ${run.session.resource}: ${await deleteSession(run.session.resource, run.token)}`;
      } catch (e) {
        info = `DELETE ${run.session.resource} failed: ${e.message}`;
      }
    }
    release(run);
    set(run, "STOPPED", info);
  }

  ui.publish.onclick = () => (page.run ? stop(page.run) : publish());
  refresh();
})();

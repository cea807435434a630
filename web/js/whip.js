/* whip.html: publish the camera over WHIP with a plain RTCPeerConnection (see whip_client.js). */
(function () {
  "use strict";
  const {endpointUrl, negotiate, publishTransceivers} = rtcdnWhip;
  const {param, randomHex} = rtcdnDemo;
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

  const runner = rtcdnWhipPage.createRunner({
    page,
    ui,
    button: ui.publish,
    idleLabel: "Publish",
    inputs: [ui.server, ui.name, ui.token, ui.simulcast],
    release,
  });
  const {refresh, set, stop} = runner;

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
    runner.begin(run);
    try {
      const url = endpointUrl(ui.server.value, "whip", ui.name.value);
      run.media = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
      if (page.run !== run) return release(run);
      ui.video.srcObject = run.media;
      run.pc = new RTCPeerConnection();
      const layers = run.simulcast ? rtcdnSimulcast.sendEncodings() : null;
      for (const {track, init} of publishTransceivers(run.media, layers)) run.pc.addTransceiver(track, init);
      run.pc.addEventListener("connectionstatechange", () => runner.onConnectionState(run, "PUBLISHING", describe));
      run.negotiating = true;
      try {
        run.session = await negotiate({pc: run.pc, url, token: run.token});
      } finally {
        run.negotiating = false;
      }
      if (page.run !== run) return stop(run);
      if (run.status === "PENDING") set(run, "CONNECTING", describe(run));
    } catch (e) {
      runner.fail(run, e.message);
    }
  }

  function release(run) {
    if (run.pc) run.pc.close();
    if (run.media) run.media.getTracks().forEach((t) => t.stop());
    if (ui.video.srcObject === run.media) ui.video.srcObject = null;
  }

  ui.publish.onclick = () => (page.run ? stop(page.run) : publish());
  refresh();
})();

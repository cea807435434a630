/* whep.html: play a stream over WHEP with a plain RTCPeerConnection (see whip_client.js). */
(function () {
  "use strict";
  const {endpointUrl, negotiate, playTransceivers} = rtcdnWhip;
  const {param} = rtcdnDemo;
  const $ = (id) => document.getElementById(id);
  const ui = {
    server: $("server"),
    name: $("streamName"),
    token: $("token"),
    play: $("playBtn"),
    status: $("status"),
    info: $("info"),
    video: $("remoteVideo"),
  };

  /** The longest wait between two offers while the stream is not there (a Retry-After above is capped). */
  const MAX_RETRY_S = 5;

  // The current play (null when idle) and every status shown; exposed for tests and the console.
  const page = (window.whepPage = {run: null, log: []});

  ui.server.value = param("server", location.origin);
  ui.name.value = param("streamName", "");
  ui.token.value = param("token", "");

  /** 409 (not published yet) or 503 (node full) with Retry-After: offer again later. */
  const retryable = (e) => (e.status === 409 || e.status === 503) && typeof e.retryAfter === "number";

  const runner = rtcdnWhipPage.createRunner({
    page,
    ui,
    button: ui.play,
    idleLabel: "Play",
    inputs: [ui.server, ui.name, ui.token],
    release,
  });
  const {refresh, set, stop} = runner;

  function describe(run) {
    if (!run.session) return "";
    const where = run.session.redirected ? `redirected to ${new URL(run.session.responseUrl).origin}; ` : "";
    return `${where}session ${run.session.resource}`;
  }

  async function play() {
    const run = {status: "", token: ui.token.value, pc: null, media: null, session: null, timer: null};
    runner.begin(run);
    try {
      const url = endpointUrl(ui.server.value, "whep", ui.name.value);
      run.pc = new RTCPeerConnection();
      for (const {track, init} of playTransceivers()) run.pc.addTransceiver(track, init);
      run.media = new MediaStream();
      run.pc.addEventListener("track", (e) => {
        run.media.addTrack(e.track);
        if (page.run === run) ui.video.srcObject = run.media;
      });
      run.pc.addEventListener("connectionstatechange", () => runner.onConnectionState(run, "PLAYING", describe));
      for (;;) {
        run.negotiating = true;
        try {
          run.session = await negotiate({pc: run.pc, url, token: run.token});
          run.negotiating = false;
          break;
        } catch (e) {
          run.negotiating = false;
          if (page.run !== run || !retryable(e)) throw e;
          const wait = Math.min(Math.max(e.retryAfter, 1), MAX_RETRY_S);
          set(run, "WAITING", `${e.message}; offering again in ${wait} s`);
          await new Promise((resolve) => (run.timer = setTimeout(resolve, wait * 1000)));
          if (page.run !== run) return;
        }
      }
      if (page.run !== run) return stop(run);
      if (run.status !== "PLAYING") set(run, "CONNECTING", describe(run));
    } catch (e) {
      runner.fail(run, e.message);
    }
  }

  function release(run) {
    clearTimeout(run.timer);
    if (run.pc) run.pc.close();
    if (ui.video.srcObject === run.media) ui.video.srcObject = null;
  }

  ui.play.onclick = () => (page.run ? stop(page.run) : play());
  refresh();
})();

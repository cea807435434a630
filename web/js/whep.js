/* whep.html: play a stream over WHEP with a plain RTCPeerConnection (see whip_client.js). */
(function () {
  "use strict";
  const {endpointUrl, negotiate, deleteSession, playTransceivers, watchServerEnd: watchEnd} = rtcdnWhip;
  const {param, showStatus} = rtcdnDemo;
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

  function refresh() {
    const busy = Boolean(page.run);
    ui.play.textContent = busy ? "Stop" : "Play";
    for (const el of [ui.server, ui.name, ui.token]) el.disabled = busy;
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
    const where = run.session.redirected ? `redirected to ${new URL(run.session.responseUrl).origin}; ` : "";
    return `${where}session ${run.session.resource}`;
  }

  async function play() {
    const run = {status: "", token: ui.token.value, pc: null, media: null, session: null, timer: null};
    page.run = run;
    refresh();
    set(run, "PENDING", "");
    try {
      const url = endpointUrl(ui.server.value, "whep", ui.name.value);
      run.pc = new RTCPeerConnection();
      for (const {track, init} of playTransceivers()) run.pc.addTransceiver(track, init);
      run.media = new MediaStream();
      run.pc.addEventListener("track", (e) => {
        run.media.addTrack(e.track);
        if (page.run === run) ui.video.srcObject = run.media;
      });
      run.pc.addEventListener("connectionstatechange", () => {
        const state = run.pc.connectionState;
        if (state === "connected") {
          set(run, "PLAYING", describe(run));
          watchServerEnd(run);
        } else if (run.status === "STOPPED") return;
        else if (state === "failed") set(run, "FAILED", "the ICE / DTLS connection failed");
        else if (state === "disconnected") set(run, "DISCONNECTED", "the connection was interrupted");
      });
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
      set(run, "FAILED", e.message);
      release(run);
      if (page.run === run) page.run = null;
      refresh();
    }
  }

  /** Once up, a session the server ends (the stream stopped) ends the run too. */
  function watchServerEnd(run) {
    if (run.watching) return;
    run.watching = watchEnd(run.pc, () => {
      if (page.run !== run) return;
      page.run = null;
      release(run);
      refresh();
      set(run, "STOPPED", "the server ended the session (the stream was stopped)");
    });
  }

  function release(run) {
    clearTimeout(run.timer);
    if (run.pc) run.pc.close();
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

  ui.play.onclick = () => (page.run ? stop(page.run) : play());
  refresh();
})();

/*
 * whip_page.js: what the WHIP and WHEP demo pages (whip.js, whep.js) share: one run (a publish
 * or a play) at a time, its status line and log, the Publish/Play ⇄ Stop button, Stop (DELETE
 * of the session, then closing the connection), failures, and the end of a run the server ends
 * (its DTLS close_notify). Each page brings how a run starts and what releasing one frees.
 *
 *   const r = rtcdnWhipPage.createRunner({page, ui, button, idleLabel, inputs, release});
 *   pc.addEventListener("connectionstatechange", () => r.onConnectionState(run, "PLAYING", describe));
 */
(function (global) {
  "use strict";

  /**
   * `page`: `{run, log}` (exposed on window for tests); `ui`: `{status, info}` elements;
   * `button`: the start/stop button, labelled `idleLabel` when idle; `inputs`: elements locked
   * while a run is on; `release(run)`: frees what the run holds.
   */
  function createRunner({page, ui, button, idleLabel, inputs, release}) {
    const {showStatus} = global.rtcdnDemo;
    const {deleteSession, watchServerEnd} = global.rtcdnWhip;

    function refresh() {
      const busy = Boolean(page.run);
      button.textContent = busy ? "Stop" : idleLabel;
      for (const el of inputs) el.disabled = busy;
    }

    function set(run, status, info) {
      // A run that is no longer the page's may still say it stopped, if no other run started.
      if (page.run !== run && !(status === "STOPPED" && page.run === null)) return;
      run.status = status;
      page.log.push({status, info: info === undefined ? ui.info.textContent : info, t: performance.now()});
      showStatus(ui.status, status);
      if (info !== undefined) ui.info.textContent = info;
    }

    /** Starts `run` as the page's run. */
    function begin(run) {
      page.run = run;
      refresh();
      set(run, "PENDING", "");
    }

    /** The run failed before it was up. */
    function fail(run, message) {
      set(run, "FAILED", message);
      release(run);
      if (page.run === run) page.run = null;
      refresh();
    }

    /** The server ended the run's session. */
    function endedByServer(run) {
      if (page.run !== run) return;
      page.run = null;
      release(run);
      refresh();
      set(run, "STOPPED", "the server ended the session (the stream was stopped)");
    }

    /** The connection's state: `upStatus` once connected, FAILED / DISCONNECTED after. */
    function onConnectionState(run, upStatus, describe) {
      const state = run.pc.connectionState;
      if (state === "connected") {
        set(run, upStatus, describe(run));
        if (!run.watching) run.watching = watchServerEnd(run.pc, () => endedByServer(run));
      } else if (run.status === "STOPPED") {
        return;
      } else if (state === "failed") {
        set(run, "FAILED", "the ICE / DTLS connection failed");
      } else if (state === "disconnected") {
        set(run, "DISCONNECTED", "the connection was interrupted");
      }
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

    return {refresh, set, begin, fail, onConnectionState, stop};
  }

  global.rtcdnWhipPage = {createRunner};
})(window);

/*
 * whip_client.js: a small WHIP (RFC 9725) / WHEP client over the browser's RTCPeerConnection and
 * fetch, used by whip.html and whep.html. No trickle ICE: the offer is sent once ICE gathering is
 * complete (rtcdn is ICE-lite and needs no candidates from the client).
 *
 *   const s = await rtcdnWhip.negotiate({pc, url: rtcdnWhip.endpointUrl(base, "whip", name), token});
 *   // s.resource: the session URL (absolute), s.responseUrl: where the offer was answered
 *   await rtcdnWhip.deleteSession(s.resource, token);
 *
 * A POST that is redirected (307, e.g. an origin sending a WHEP player to an edge) is followed by
 * fetch with the same method and body; the session's relative Location is then resolved against
 * the final URL (`response.url`), so it names the node that answered. An answer other than
 * 201 rejects with a WhipError carrying the HTTP status, the reason text and Retry-After.
 *
 * Loaded as a plain script it defines `window.rtcdnWhip`; under CommonJS it is `module.exports`.
 */
(function (global) {
  "use strict";

  /** How long to wait for ICE gathering before sending the offer with what was gathered. */
  const GATHER_TIMEOUT_MS = 3000;

  /** An endpoint's non-201 answer: `status` (0 for a network error), `reason`, `retryAfter` (s or null). */
  class WhipError extends Error {
    constructor(status, statusText, reason, retryAfter) {
      const text = status ? `HTTP ${status}${statusText ? " " + statusText : ""}` : "network error";
      super(reason ? `${text}: ${reason}` : text);
      this.name = "WhipError";
      this.status = status;
      this.reason = reason;
      this.retryAfter = retryAfter;
    }
  }

  /** `<base>/<kind>/<name>` (kind "whip" or "whep"; the name percent-encoded as one segment). */
  function endpointUrl(base, kind, name) {
    if (kind !== "whip" && kind !== "whep") throw new Error(`unknown endpoint kind ${kind}`);
    const n = String(name || "").trim();
    if (!n) throw new Error("the stream name is empty");
    const b = String(base || "").trim().replace(/\/+$/, "");
    if (!/^https?:\/\/[^/]/i.test(b)) throw new Error(`the server must be an http(s):// URL, not "${base}"`);
    return `${b}/${kind}/${encodeURIComponent(n)}`;
  }

  /** A `Location` header (relative or absolute) resolved against the URL that answered. */
  function resolveLocation(location, responseUrl) {
    return new URL(location, responseUrl).href;
  }

  /**
   * The entries of `Link` header values (RFC 8288): `[{url, params}]` with params' names in
   * lower case and quoted values unquoted, e.g. `<stun:h:3478>; rel="ice-server"` gives
   * `{url: "stun:h:3478", params: {rel: "ice-server"}}`. Entries that do not parse are skipped.
   */
  function parseLinks(header) {
    const out = [];
    const re = /<([^>]*)>((?:\s*;\s*[^;,=\s]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)/g;
    let m;
    while ((m = re.exec(String(header || ""))) !== null) {
      const params = {};
      const pre = /;\s*([^;,=\s]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?/g;
      let p;
      while ((p = pre.exec(m[2])) !== null) {
        let v = p[2] === undefined ? "" : p[2];
        if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
        params[p[1].toLowerCase()] = v;
      }
      out.push({url: m[1], params});
    }
    return out;
  }

  /** RTCIceServer entries from the `rel="ice-server"` links (RFC 9725 section 4.6). */
  function iceServersFromLinks(links) {
    return links
      .filter((l) => (l.params.rel || "").split(/\s+/).includes("ice-server"))
      .map((l) => {
        const server = {urls: l.url};
        if (l.params.username !== undefined) server.username = l.params.username;
        if (l.params.credential !== undefined) server.credential = l.params.credential;
        return server;
      });
  }

  /** Retry-After in seconds (delta-seconds only), or null. */
  function retryAfterSeconds(value) {
    const s = String(value === null || value === undefined ? "" : value).trim();
    return /^\d+$/.test(s) ? Number(s) : null;
  }

  /**
   * The transceivers a publisher adds: `[{track, init}]`, audio then video, sendonly in
   * `stream`; with `sendEncodings` (e.g. simulcast layers) on the video track.
   */
  function publishTransceivers(stream, sendEncodings) {
    const tracks = [...stream.getAudioTracks().slice(0, 1), ...stream.getVideoTracks().slice(0, 1)];
    return tracks.map((track) => {
      const init = {direction: "sendonly", streams: [stream]};
      if (track.kind === "video" && sendEncodings && sendEncodings.length) init.sendEncodings = sendEncodings;
      return {track, init};
    });
  }

  /** The transceivers a player adds: recvonly audio and video. */
  function playTransceivers() {
    return [
      {track: "audio", init: {direction: "recvonly"}},
      {track: "video", init: {direction: "recvonly"}},
    ];
  }

  /** Resolves when `pc` has gathered its candidates, or after `timeoutMs`. */
  function waitGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === "complete") done();
      };
      const timer = setTimeout(done, timeoutMs);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  function authHeaders(token) {
    const t = String(token || "").trim();
    return t ? {Authorization: `Bearer ${t}`} : {};
  }

  /** Rejects with a WhipError for a fetch that failed before any answer (CORS, refused...). */
  async function send(fetchFn, url, init) {
    try {
      return await fetchFn(url, init);
    } catch (e) {
      throw new WhipError(0, "", e && e.message ? e.message : String(e), null);
    }
  }

  /** A WhipError from a non-success response (its body is the reason). */
  async function errorOf(res) {
    const body = await res.text().catch(() => "");
    return new WhipError(res.status, res.statusText, body.trim(), retryAfterSeconds(res.headers.get("Retry-After")));
  }

  /**
   * Makes the offer (once per pc), POSTs it to `url` and applies the 201's answer. Resolves to
   * `{resource, etag, iceServers, responseUrl, redirected}`; rejects with a WhipError. Called
   * again on the same pc (e.g. after a 409) it re-sends the same offer.
   */
  async function negotiate({pc, url, token, fetch: fetchFn = global.fetch.bind(global), gatherTimeoutMs = GATHER_TIMEOUT_MS}) {
    if (!pc.localDescription) {
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathering(pc, gatherTimeoutMs);
    }
    const res = await send(fetchFn, url, {
      method: "POST",
      headers: Object.assign({"Content-Type": "application/sdp"}, authHeaders(token)),
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) throw await errorOf(res);
    const location = res.headers.get("Location");
    if (!location) {
      throw new WhipError(res.status, res.statusText,
        "the answer has no Location header (not sent, or not exposed by Access-Control-Expose-Headers)", null);
    }
    const responseUrl = res.url || url;
    const answer = await res.text();
    await pc.setRemoteDescription({type: "answer", sdp: answer});
    return {
      resource: resolveLocation(location, responseUrl),
      etag: res.headers.get("ETag"),
      iceServers: iceServersFromLinks(parseLinks(res.headers.get("Link"))),
      responseUrl,
      redirected: responseUrl !== url,
    };
  }

  /** DELETEs a session resource; resolves to the HTTP status, rejects with a WhipError on >= 300. */
  async function deleteSession(resource, token, fetchFn = global.fetch.bind(global)) {
    const res = await send(fetchFn, resource, {method: "DELETE", headers: authHeaders(token)});
    if (res.status >= 300) throw await errorOf(res);
    return res.status;
  }

  /**
   * Calls `onEnd` once when the server ends the session on its side: rtcdn sends a DTLS
   * close_notify when the stream stops (the publisher left, a REST terminate, the node drains),
   * which closes the DTLS transport without the page asking. Call once the connection is up.
   */
  function watchServerEnd(pc, onEnd) {
    const transports = [...pc.getSenders(), ...pc.getReceivers()].map((x) => x.transport).filter(Boolean);
    const transport = transports[0];
    if (!transport) return false;
    let fired = false;
    transport.addEventListener("statechange", () => {
      if (transport.state === "closed" && pc.signalingState !== "closed" && !fired) {
        fired = true;
        onEnd();
      }
    });
    return true;
  }

  const api = {
    WhipError,
    watchServerEnd,
    endpointUrl,
    resolveLocation,
    parseLinks,
    iceServersFromLinks,
    retryAfterSeconds,
    publishTransceivers,
    playTransceivers,
    waitGathering,
    negotiate,
    deleteSession,
  };

  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    global.rtcdnWhip = api;
  }
})(typeof window !== "undefined" ? window : globalThis);

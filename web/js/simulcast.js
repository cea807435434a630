/*
 * simulcast.js: makes a publisher send its video as three simulcast encodings (RFC 8853), with
 * any client that adds its tracks through the browser's RTCPeerConnection API, including the
 * unmodified Flashphoner Web SDK (it calls `pc.addTrack(track, stream)` for each local track)
 * and our rtcdn.js (it calls `pc.addTransceiver(track, {direction: "sendonly", streams})`).
 *
 *   rtcdnSimulcast.install(window);   // once, wraps RTCPeerConnection.prototype
 *   rtcdnSimulcast.setEnabled(true);  // then publish as usual
 *
 * While enabled, the first video track added to a peer connection gets a transceiver created
 * with `sendEncodings` (LAYERS: rids l, m, h at 1/4, 1/2 and full resolution, lowest first), so
 * the offer carries `a=rid:l send`, `a=rid:m send`, `a=rid:h send` and `a=simulcast:send l;m;h`.
 * Audio, receive-only transceivers ("video" given as a kind), and further video tracks are left
 * alone, as is everything while disabled. The flag is read when the track is added.
 *
 * Loaded as a plain script it defines `window.rtcdnSimulcast` and installs itself on
 * `window.RTCPeerConnection`; under CommonJS it is `module.exports` and installs nothing.
 */
(function (global) {
  "use strict";

  /** The encodings, lowest first (Chrome's order for simulcast; the SFU keys layers by rid). */
  const LAYERS = Object.freeze([
    Object.freeze({rid: "l", scaleResolutionDownBy: 4}),
    Object.freeze({rid: "m", scaleResolutionDownBy: 2}),
    Object.freeze({rid: "h", scaleResolutionDownBy: 1}),
  ]);

  /** Marks a prototype already wrapped, so installing twice wraps once. */
  const WRAPPED = "__rtcdnSimulcast";

  let enabled = false;

  /** Fresh copies of LAYERS (the browser may keep and change what it is given). */
  function sendEncodings() {
    return LAYERS.map((l) => Object.assign({}, l));
  }

  function isVideoTrack(t) {
    return Boolean(t) && typeof t === "object" && t.kind === "video";
  }

  /** Whether `pc` already has a video transceiver (then the native call is used). */
  function hasVideoTransceiver(pc) {
    if (typeof pc.getTransceivers !== "function") return false;
    return pc.getTransceivers().some((t) => t.receiver && t.receiver.track && t.receiver.track.kind === "video");
  }

  /** Whether a call adding `trackOrKind` with `init` should get the simulcast encodings. */
  function wants(pc, trackOrKind, init) {
    if (!enabled || !isVideoTrack(trackOrKind)) return false;
    if (init && init.sendEncodings) return false; // the caller chose its own encodings
    if (init && init.direction && init.direction !== "sendrecv" && init.direction !== "sendonly") return false;
    return !hasVideoTransceiver(pc);
  }

  /**
   * Wraps `Pc.prototype.addTrack` and `addTransceiver` (Pc: the RTCPeerConnection constructor)
   * so that, while enabled, the first video track is sent with LAYERS. `addTrack` then creates
   * the transceiver itself, with addTrack's direction (sendrecv; a publisher's offer options
   * still make it sendonly) and streams, and returns its sender, as addTrack does.
   * Returns false when there is nothing to wrap.
   */
  function install(Pc) {
    if (!Pc || !Pc.prototype || typeof Pc.prototype.addTransceiver !== "function") return false;
    const proto = Pc.prototype;
    if (proto[WRAPPED]) return true;
    const addTransceiver = proto.addTransceiver;
    const addTrack = proto.addTrack;
    proto.addTransceiver = function (trackOrKind, init) {
      if (wants(this, trackOrKind, init)) {
        init = Object.assign({}, init, {sendEncodings: sendEncodings()});
      }
      return init === undefined ? addTransceiver.call(this, trackOrKind) : addTransceiver.call(this, trackOrKind, init);
    };
    if (typeof addTrack === "function") {
      proto.addTrack = function (track, ...streams) {
        if (wants(this, track, undefined) && this.signalingState !== "closed") {
          return addTransceiver.call(this, track, {direction: "sendrecv", streams, sendEncodings: sendEncodings()}).sender;
        }
        return addTrack.apply(this, arguments);
      };
    }
    Object.defineProperty(proto, WRAPPED, {value: true});
    return true;
  }

  /**
   * The simulcast description of each video section of an SDP: `{mid, simulcast, rids}` where
   * `simulcast` is the value of `a=simulcast:` (e.g. "send l;m;h", or null) and `rids` the
   * `a=rid:` lines as `{id, direction}`. For logging and checking what an offer or answer says.
   */
  function describe(sdp) {
    const sections = String(sdp || "").split(/\r?\n(?=m=)/);
    const out = [];
    for (const section of sections) {
      if (!/^m=video /.test(section)) continue;
      const lines = section.split(/\r?\n/);
      const value = (prefix) => {
        const line = lines.find((l) => l.startsWith(prefix));
        return line === undefined ? null : line.slice(prefix.length).trim();
      };
      const rids = [];
      for (const l of lines) {
        const m = /^a=rid:(\S+)\s+(send|recv)\b/.exec(l);
        if (m) rids.push({id: m[1], direction: m[2]});
      }
      out.push({mid: value("a=mid:"), simulcast: value("a=simulcast:"), rids});
    }
    return out;
  }

  /**
   * The rids a peer connection's video sender has after negotiation (its encodings; a remote
   * answer without simulcast leaves one), or [] when it sends no video.
   */
  function sentLayers(pc) {
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
    if (!sender) return [];
    return (sender.getParameters().encodings || []).map((e) => e.rid || "");
  }

  const api = {
    LAYERS,
    sendEncodings,
    install,
    describe,
    sentLayers,
    setEnabled(on) {
      enabled = Boolean(on);
    },
    enabled() {
      return enabled;
    },
  };

  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    global.rtcdnSimulcast = api;
    install(global.RTCPeerConnection);
  }
})(typeof window !== "undefined" ? window : globalThis);

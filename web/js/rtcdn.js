/*
 * rtcdn.js: a small, dependency-free client for rtcdn's WCS-compatible signalling.
 *
 * It has the shape of the Flashphoner Web SDK's streaming API, reduced to WebRTC publish/play:
 *
 *   const session = RTCDN.createSession({urlServer: "ws://127.0.0.1:8080"})
 *     .on(RTCDN.SESSION_STATUS.ESTABLISHED, () => {
 *       session.createStream({name: "cam1", display: videoOrDiv})
 *         .on(RTCDN.STREAM_STATUS.PUBLISHING, (s) => console.log(s.status()))
 *         .publish();
 *     });
 *
 * Wire protocol: one JSON text frame per message, {"message": name, "data": [payload]}.
 * The browser always sends the SDP offer (publishStream / playStream); the server answers with
 * setRemoteSDP [mediaSessionId, sdp] and reports statuses with notifyStreamStatusEvent.
 *
 * Loaded as a plain script it defines `window.RTCDN`; under CommonJS it is `module.exports`.
 */
(function (global) {
  "use strict";

  const SESSION_STATUS = Object.freeze({
    PENDING: "PENDING",
    CONNECTED: "CONNECTED",
    ESTABLISHED: "ESTABLISHED",
    DISCONNECTED: "DISCONNECTED",
    FAILED: "FAILED",
    WARN: "WARN",
  });

  const STREAM_STATUS = Object.freeze({
    NEW: "NEW",
    PENDING: "PENDING",
    PUBLISHING: "PUBLISHING",
    PLAYING: "PLAYING",
    STOPPED: "STOPPED",
    UNPUBLISHED: "UNPUBLISHED",
    FAILED: "FAILED",
    AVAILABLE: "AVAILABLE",
    UNAVAILABLE: "UNAVAILABLE",
  });

  /** Callback name for relayed stream events (`notifyStreamEvent`, e.g. type "data"). */
  const STREAM_EVENT = "STREAM_EVENT";

  /** Statuses after which the server forgets the stream and so do we. */
  const FINAL = new Set([STREAM_STATUS.STOPPED, STREAM_STATUS.UNPUBLISHED, STREAM_STATUS.FAILED]);

  /** A random UUID; randomUUID needs a secure context, getRandomValues does not. */
  function uuid() {
    const c = global.crypto;
    if (c && typeof c.randomUUID === "function") {
      return c.randomUUID();
    }
    const b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
      c.getRandomValues(b);
    } else {
      for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Small callback table shared by sessions and streams: one callback per status name. */
  class Emitter {
    constructor() {
      this._callbacks = Object.create(null);
    }
    /** Registers `cb` for `status`; returns `this` for chaining. */
    on(status, cb) {
      if (typeof cb !== "function") throw new TypeError("callback must be a function");
      this._callbacks[status] = cb;
      return this;
    }
    _fire(status, ...args) {
      const cb = this._callbacks[status];
      if (!cb) return;
      try {
        cb(...args);
      } catch (e) {
        console.error(`rtcdn: ${status} callback threw`, e);
      }
    }
  }

  class Session extends Emitter {
    constructor(options) {
      super();
      if (!options || !options.urlServer) throw new Error("createSession: urlServer is required");
      this._url = options.urlServer;
      this._options = options;
      this._id = uuid();
      this._status = SESSION_STATUS.PENDING;
      this._streams = new Map(); // mediaSessionId -> Stream
      this._userData = null;
      const WS = options.WebSocket || global.WebSocket;
      this._ws = new WS(this._url);
      this._ws.onopen = () => this._onOpen();
      this._ws.onmessage = (ev) => this._onMessage(ev.data);
      this._ws.onerror = () => this._setStatus(SESSION_STATUS.FAILED);
      this._ws.onclose = () => {
        if (this._status !== SESSION_STATUS.FAILED) this._setStatus(SESSION_STATUS.DISCONNECTED);
      };
    }

    /** Local session id (the server assigns its own in getUserData). */
    id() {
      return this._id;
    }
    /** The websocket URL. */
    getServerUrl() {
      return this._url;
    }
    /** Current SESSION_STATUS. */
    status() {
      return this._status;
    }
    /** The getUserData object the server sent (null before ESTABLISHED). */
    getUserData() {
      return this._userData;
    }
    /** Streams of this session that have not reached a final status. */
    getStreams() {
      return Array.from(this._streams.values());
    }

    /** Creates a stream; `{name, display, constraints, unmutePlayOnStart}`. Needs ESTABLISHED. */
    createStream(options) {
      if (this._status !== SESSION_STATUS.ESTABLISHED) {
        throw new Error(`createStream: session is ${this._status}, not ESTABLISHED`);
      }
      if (!options || !options.name) throw new Error("createStream: name is required");
      const stream = new Stream(this, options);
      this._streams.set(stream.id(), stream);
      return stream;
    }

    /** Closes the websocket; the server cleans up every stream of this session. */
    disconnect() {
      if (this._ws) this._ws.close();
    }

    _send(message, payload) {
      if (!this._ws || this._ws.readyState !== 1) return false;
      this._ws.send(JSON.stringify({message, data: [payload]}));
      return true;
    }

    _onOpen() {
      this._setStatus(SESSION_STATUS.CONNECTED);
      const nav = global.navigator || {};
      const hello = {
        appKey: this._options.appKey || "defaultApp",
        mediaProviders: ["WebRTC"],
        clientVersion: "2.0",
        clientOSVersion: nav.appVersion,
        clientBrowserVersion: nav.userAgent,
      };
      if (this._options.custom !== undefined) hello.custom = this._options.custom;
      this._send("connection", hello);
    }

    _onMessage(raw) {
      if (typeof raw !== "string") return; // binary frames are not part of the protocol
      let msg;
      try {
        msg = JSON.parse(raw);
      } catch (e) {
        console.warn("rtcdn: bad server message", raw);
        return;
      }
      const data = Array.isArray(msg.data) ? msg.data : [];
      const obj = data[0] || {};
      switch (msg.message) {
        case "ping":
          this._send("pong", null);
          break;
        case "getUserData":
          this._userData = obj;
          this._setStatus(SESSION_STATUS.ESTABLISHED, obj);
          break;
        case "setRemoteSDP": {
          const stream = this._streams.get(data[0]);
          if (stream) stream._setRemoteSdp(data[1]);
          break;
        }
        case "notifyStreamStatusEvent": {
          const stream = this._streams.get(obj.mediaSessionId);
          if (stream) stream._onStatus(obj);
          break;
        }
        case "notifyStreamEvent": {
          const stream = this._streams.get(obj.mediaSessionId);
          if (stream) stream._fire(STREAM_EVENT, {type: obj.type, payload: obj.payload}, stream);
          break;
        }
        case "availableStream": {
          const stream = this._streams.get(obj.id);
          if (stream) stream._onAvailable(obj);
          break;
        }
        case "fail":
          this._fire(SESSION_STATUS.WARN, obj, this);
          break;
        default:
          break; // unknown messages are ignored, as the SDK does
      }
    }

    _setStatus(status, data) {
      if (this._status === status) return;
      const final = status === SESSION_STATUS.DISCONNECTED || status === SESSION_STATUS.FAILED;
      if (final && (this._status === SESSION_STATUS.DISCONNECTED || this._status === SESSION_STATUS.FAILED)) {
        return;
      }
      this._status = status;
      if (final) {
        for (const stream of Array.from(this._streams.values())) {
          stream._onStatus({status: STREAM_STATUS.FAILED, info: "Session " + status.toLowerCase()});
        }
        this._streams.clear();
      }
      this._fire(status, this, data);
    }

    _forget(stream) {
      this._streams.delete(stream.id());
    }
  }

  class Stream extends Emitter {
    constructor(session, options) {
      super();
      this._session = session;
      this._id = uuid();
      this._name = String(options.name);
      this._display = options.display || null;
      this._constraints = options.constraints || {audio: true, video: true};
      this._unmute = options.unmutePlayOnStart !== false;
      this._status = STREAM_STATUS.NEW;
      this._info = "";
      this._published = false;
      this._requested = false; // publishStream/playStream was sent
      this._pc = null;
      this._local = null;
      this._video = null;
      this._hasAudio = false;
      this._hasVideo = false;
    }

    /** The mediaSessionId. */
    id() {
      return this._id;
    }
    /** The stream name. */
    name() {
      return this._name;
    }
    /** True for a publisher. */
    published() {
      return this._published;
    }
    /** Current STREAM_STATUS (any string the server sent). */
    status() {
      return this._status;
    }
    /** The last non-empty `info` from the server, or a local error. */
    getInfo() {
      return this._info;
    }
    /** The <video> element this stream renders into, once created. */
    videoElement() {
      return this._video;
    }
    /** The RTCPeerConnection (null before publish/play and after a final status). */
    peerConnection() {
      return this._pc;
    }

    /** Captures camera and microphone and publishes them under this stream's name. */
    async publish() {
      this._begin(true);
      try {
        this._local = await global.navigator.mediaDevices.getUserMedia(this._constraints);
      } catch (e) {
        this._localFailure("Local error", e);
        return;
      }
      if (this._status !== STREAM_STATUS.PENDING) {
        this._releaseMedia(); // stopped while the camera was opening
        return;
      }
      const video = this._videoFor(true);
      if (video) video.srcObject = this._local;
      try {
        const pc = this._newPeerConnection();
        for (const track of this._local.getTracks()) {
          pc.addTransceiver(track, {direction: "sendonly", streams: [this._local]});
        }
        this._hasAudio = this._local.getAudioTracks().length > 0;
        this._hasVideo = this._local.getVideoTracks().length > 0;
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        if (this._status !== STREAM_STATUS.PENDING) return;
        this._request("publishStream", offer.sdp);
      } catch (e) {
        this._localFailure("Local error", e);
      }
    }

    /** Plays the stream with this name from the server. */
    async play() {
      this._begin(false);
      this._hasAudio = true;
      this._hasVideo = true;
      this._fire(STREAM_STATUS.PENDING, this); // as the SDK does, before anything is sent
      const video = this._videoFor(false);
      try {
        const pc = this._newPeerConnection();
        pc.addTransceiver("audio", {direction: "recvonly"});
        pc.addTransceiver("video", {direction: "recvonly"});
        const remote = new global.MediaStream();
        pc.ontrack = (ev) => {
          const src = ev.streams && ev.streams[0];
          const tracks = src ? src.getTracks() : [ev.track];
          for (const t of tracks) if (!remote.getTracks().includes(t)) remote.addTrack(t);
          if (video && video.srcObject !== remote) video.srcObject = remote;
        };
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        if (this._status !== STREAM_STATUS.PENDING) return;
        this._request("playStream", offer.sdp, {width: 0, height: 0});
      } catch (e) {
        this._localFailure("Local error", e);
      }
    }

    /**
     * Stops publishing or playing. The peer connection closes at once; the final status
     * (UNPUBLISHED / STOPPED) comes from the server.
     */
    stop() {
      if (FINAL.has(this._status)) return;
      if (this._status === STREAM_STATUS.NEW) {
        this._localFailure("Invalid stream state");
        return;
      }
      if (!this._requested) {
        // Nothing reached the server yet: finish locally.
        this._onStatus({status: this._published ? STREAM_STATUS.UNPUBLISHED : STREAM_STATUS.STOPPED});
        return;
      }
      this._session._send(this._published ? "unPublishStream" : "stopStream", this._describe());
      this._closePeer();
      this._releaseMedia();
    }

    /**
     * Asks the server whether a stream with this name is published. Resolves with this
     * stream (status AVAILABLE), rejects with it (UNAVAILABLE, reason in getInfo()).
     */
    available() {
      if (this._status !== STREAM_STATUS.NEW && !this._availability) {
        return Promise.reject(new Error("available() needs a fresh stream"));
      }
      return new Promise((resolve, reject) => {
        this._availability = {resolve, reject};
        if (!this._session._send("availableStream", {mediaSessionId: this._id, name: this._name})) {
          this._availability = null;
          reject(this);
        }
      });
    }

    /** Relays `payload` to every player of this stream (publishers only, while PUBLISHING). */
    sendData(payload) {
      if (!this._published || this._status !== STREAM_STATUS.PUBLISHING) {
        throw new Error("sendData: the stream is not publishing");
      }
      this._session._send("sendStreamEvent", {mediaSessionId: this._id, type: "data", payload});
    }

    _begin(published) {
      if (this._status !== STREAM_STATUS.NEW) {
        throw new Error(`stream is ${this._status}: create a new stream to start again`);
      }
      this._published = published;
      this._status = STREAM_STATUS.PENDING;
    }

    _newPeerConnection() {
      const config = Object.assign({iceServers: []}, this._session._options.mediaOptions || {}, {
        rtcpMuxPolicy: "require",
      });
      this._pc = new global.RTCPeerConnection(config);
      this._pc.oniceconnectionstatechange = () => {
        if (this._pc && this._pc.iceConnectionState === "failed" && !FINAL.has(this._status)) {
          this._info = "ICE failed";
        }
      };
      return this._pc;
    }

    _describe() {
      return {
        mediaSessionId: this._id,
        name: this._name,
        published: this._published,
        hasVideo: this._hasVideo,
        hasAudio: this._hasAudio,
        status: this._status,
        record: false,
      };
    }

    _request(message, sdp, extra) {
      const payload = Object.assign(this._describe(), {status: STREAM_STATUS.PENDING}, extra || {}, {
        mediaProvider: "WebRTC",
        sdp,
      });
      if (this._session._send(message, payload)) {
        this._requested = true;
      } else {
        this._localFailure("Session is not connected");
      }
    }

    async _setRemoteSdp(sdp) {
      if (!this._pc || typeof sdp !== "string") return;
      try {
        await this._pc.setRemoteDescription({type: "answer", sdp});
      } catch (e) {
        console.error("rtcdn: setRemoteDescription failed", e);
        if (!FINAL.has(this._status)) {
          this._session._send(this._published ? "unPublishStream" : "stopStream", this._describe());
          this._localFailure("Bad answer SDP", e);
        }
      }
    }

    _onStatus(event) {
      if (FINAL.has(this._status) || !event || typeof event.status !== "string") return;
      if (event.status === STREAM_EVENT) {
        this._fire(STREAM_EVENT, {type: event.type, payload: event.payload}, this);
        return;
      }
      this._status = event.status;
      if (event.info) this._info = String(event.info);
      if (FINAL.has(this._status)) this._finish();
      this._fire(this._status, this);
    }

    _onAvailable(event) {
      const pending = this._availability;
      this._availability = null;
      this._info = event.info ? String(event.info) : "";
      // The protocol's "true" is a string; accept a JSON boolean as well.
      const ok = event.status === "true" || event.status === true;
      this._status = ok ? STREAM_STATUS.AVAILABLE : STREAM_STATUS.UNAVAILABLE;
      this._session._forget(this);
      this._fire(this._status, this);
      if (pending) (ok ? pending.resolve : pending.reject)(this);
    }

    _localFailure(info, error) {
      if (error) console.error(`rtcdn: ${info}`, error);
      this._onStatus({status: STREAM_STATUS.FAILED, info});
    }

    _finish() {
      this._closePeer();
      this._releaseMedia();
      if (this._video && !this._published) this._video.srcObject = null;
      this._session._forget(this);
    }

    _closePeer() {
      if (!this._pc) return;
      this._pc.ontrack = null;
      this._pc.oniceconnectionstatechange = null;
      try {
        this._pc.close();
      } catch (e) {
        /* already closed */
      }
      this._pc = null;
    }

    _releaseMedia() {
      if (this._local) {
        for (const t of this._local.getTracks()) t.stop();
        this._local = null;
      }
      if (this._video && this._published) this._video.srcObject = null;
    }

    /** The <video> to render into: `display` itself if it is one, else a child we create. */
    _videoFor(local) {
      const d = this._display;
      if (!d) return null;
      let video;
      if (d.tagName === "VIDEO") {
        video = d;
      } else {
        video = d.ownerDocument.createElement("video");
        video.id = this._id;
        d.replaceChildren(video);
      }
      video.autoplay = true;
      video.playsInline = true;
      video.setAttribute("playsinline", "");
      video.muted = true; // autoplay policies allow muted playback only
      if (!local) {
        video.onloadedmetadata = () => {
          const p = video.play();
          if (p && typeof p.then === "function") {
            p.then(() => {
              if (!this._unmute) return;
              video.muted = false;
              // Without a user gesture the browser may pause unmuted media: stay muted then.
              setTimeout(() => {
                if (video.paused && video.srcObject) {
                  video.muted = true;
                  video.play().catch(() => {});
                }
              }, 0);
            }).catch(() => {
              /* autoplay refused: stays paused until the user acts */
            });
          }
        };
      }
      this._video = video;
      return video;
    }
  }

  /** Opens a websocket session to `options.urlServer`. */
  function createSession(options) {
    return new Session(options);
  }

  const RTCDN = Object.freeze({createSession, SESSION_STATUS, STREAM_STATUS, STREAM_EVENT, uuid});

  if (typeof module === "object" && module.exports) module.exports = RTCDN;
  global.RTCDN = RTCDN;
})(typeof globalThis !== "undefined" ? globalThis : this);

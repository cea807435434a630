// Protocol tests of js/rtcdn.js with fake WebSocket, RTCPeerConnection and getUserMedia.
// Run: node --test web/test/
"use strict";
const test = require("node:test");
const assert = require("node:assert");

class FakeWs {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWs.last = this;
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose && this.onclose();
  }
  open() {
    this.readyState = 1;
    this.onopen();
  }
  serverSends(message, data) {
    this.onmessage({data: JSON.stringify({message, data})});
  }
  lastSent() {
    return this.sent[this.sent.length - 1];
  }
}

class FakePc {
  constructor(config) {
    this.config = config;
    this.transceivers = [];
    this.closed = false;
    FakePc.last = this;
  }
  addTransceiver(what, init) {
    this.transceivers.push({what, direction: init.direction});
  }
  async createOffer() {
    return {type: "offer", sdp: "v=0\r\noffer\r\n"};
  }
  async setLocalDescription(d) {
    this.local = d;
  }
  async setRemoteDescription(d) {
    this.remote = d;
  }
  close() {
    this.closed = true;
  }
}

const track = (kind) => ({kind, stopped: false, stop() { this.stopped = true; }});
globalThis.RTCPeerConnection = FakePc;
globalThis.MediaStream = class { constructor() { this.t = []; } getTracks() { return this.t; } addTrack(t) { this.t.push(t); } };
Object.defineProperty(globalThis, "navigator", {
  value: {
    userAgent: "test",
    appVersion: "5.0",
    mediaDevices: {
      async getUserMedia() {
        const tracks = [track("audio"), track("video")];
        return {
          getTracks: () => tracks,
          getAudioTracks: () => tracks.filter((t) => t.kind === "audio"),
          getVideoTracks: () => tracks.filter((t) => t.kind === "video"),
        };
      },
    },
  },
});
globalThis.WebSocket = FakeWs;
const RTCDN = require("../js/rtcdn.js");
const {SESSION_STATUS, STREAM_STATUS} = RTCDN;
const tick = () => new Promise((r) => setTimeout(r, 0));

function established() {
  const session = RTCDN.createSession({urlServer: "ws://127.0.0.1:8080"});
  const ws = FakeWs.last;
  const seen = [];
  for (const s of Object.values(SESSION_STATUS)) session.on(s, () => seen.push(s));
  ws.open();
  ws.serverSends("getUserData", [{authToken: "t"}]);
  return {session, ws, seen};
}

test("connection handshake, ping and disconnect", () => {
  const {session, ws, seen} = established();
  assert.equal(ws.url, "ws://127.0.0.1:8080");
  const hello = ws.sent[0];
  assert.equal(hello.message, "connection");
  assert.equal(hello.data.length, 1);
  assert.equal(hello.data[0].appKey, "defaultApp");
  assert.deepEqual(hello.data[0].mediaProviders, ["WebRTC"]);
  assert.equal(hello.data[0].clientVersion, "2.0");
  assert.equal(session.status(), SESSION_STATUS.ESTABLISHED);
  ws.serverSends("ping", []);
  assert.deepEqual(ws.lastSent(), {message: "pong", data: [null]});
  ws.onmessage({data: "not json"}); // ignored, no throw
  ws.serverSends("somethingUnknown", [{}]);
  session.disconnect();
  assert.deepEqual(seen, ["CONNECTED", "ESTABLISHED", "DISCONNECTED"]);
});

test("createStream needs ESTABLISHED", () => {
  const session = RTCDN.createSession({urlServer: "ws://x"});
  assert.throws(() => session.createStream({name: "a"}));
  assert.throws(() => RTCDN.createSession({}));
});

test("publish sends a sendonly offer and follows server statuses", async () => {
  const {session, ws} = established();
  const stream = session.createStream({name: "cam"});
  const statuses = [];
  for (const s of Object.values(STREAM_STATUS)) stream.on(s, (st) => statuses.push(st.status()));
  await stream.publish();
  const pc = FakePc.last;
  assert.deepEqual(pc.transceivers.map((t) => t.direction), ["sendonly", "sendonly"]);
  assert.equal(pc.config.rtcpMuxPolicy, "require");
  const msg = ws.lastSent();
  assert.equal(msg.message, "publishStream");
  const p = msg.data[0];
  assert.equal(p.mediaSessionId, stream.id());
  assert.equal(p.name, "cam");
  assert.equal(p.published, true);
  assert.equal(p.hasAudio, true);
  assert.equal(p.hasVideo, true);
  assert.equal(p.status, "PENDING");
  assert.equal(p.record, false);
  assert.equal(p.mediaProvider, "WebRTC");
  assert.equal(p.sdp, "v=0\r\noffer\r\n");
  ws.serverSends("setRemoteSDP", [stream.id(), "v=0\r\nanswer\r\n"]);
  await tick();
  assert.deepEqual(pc.remote, {type: "answer", sdp: "v=0\r\nanswer\r\n"});
  ws.serverSends("notifyStreamStatusEvent", [{mediaSessionId: "other", status: "FAILED"}]);
  ws.serverSends("notifyStreamStatusEvent", [{mediaSessionId: stream.id(), status: "PUBLISHING"}]);
  assert.equal(stream.status(), "PUBLISHING");
  stream.sendData({n: 1});
  assert.deepEqual(ws.lastSent().data[0], {mediaSessionId: stream.id(), type: "data", payload: {n: 1}});
  stream.stop();
  assert.equal(ws.lastSent().message, "unPublishStream");
  assert.equal(ws.lastSent().data[0].status, "PUBLISHING");
  assert.ok(pc.closed);
  ws.serverSends("notifyStreamStatusEvent", [{mediaSessionId: stream.id(), status: "UNPUBLISHED"}]);
  ws.serverSends("notifyStreamStatusEvent", [{mediaSessionId: stream.id(), status: "PUBLISHING"}]);
  assert.equal(stream.status(), "UNPUBLISHED");
  assert.deepEqual(statuses, ["PUBLISHING", "UNPUBLISHED"]);
});

test("play: recvonly offer, FAILED info, stream data events", async () => {
  const {session, ws} = established();
  const stream = session.createStream({name: "cam"});
  const events = [];
  stream.on(STREAM_STATUS.PENDING, () => events.push("PENDING"));
  stream.on(RTCDN.STREAM_EVENT, (e) => events.push(e));
  stream.on(STREAM_STATUS.FAILED, (s) => events.push("FAILED:" + s.getInfo()));
  await stream.play();
  assert.deepEqual(FakePc.last.transceivers.map((t) => [t.what, t.direction]), [["audio", "recvonly"], ["video", "recvonly"]]);
  const p = ws.lastSent();
  assert.equal(p.message, "playStream");
  assert.equal(p.data[0].published, false);
  ws.serverSends("notifyStreamEvent", [{mediaSessionId: stream.id(), type: "data", payload: {a: 1}}]);
  ws.serverSends("notifyStreamStatusEvent", [{mediaSessionId: stream.id(), status: "FAILED", info: "Stream not found"}]);
  assert.deepEqual(events, ["PENDING", {type: "data", payload: {a: 1}}, "FAILED:Stream not found"]);
  assert.equal(stream.getInfo(), "Stream not found");
});

test("available resolves on the string \"true\" only", async () => {
  const {session, ws} = established();
  const yes = session.createStream({name: "a"});
  const pYes = yes.available();
  assert.deepEqual(ws.lastSent(), {message: "availableStream", data: [{mediaSessionId: yes.id(), name: "a"}]});
  ws.serverSends("availableStream", [{id: yes.id(), status: "true", info: "Available"}]);
  assert.equal(await pYes, yes);
  assert.equal(yes.status(), "AVAILABLE");
  const no = session.createStream({name: "b"});
  const pNo = no.available();
  ws.serverSends("availableStream", [{id: no.id(), status: "false", info: "Stream not found"}]);
  await assert.rejects(pNo);
  assert.equal(no.status(), "UNAVAILABLE");
  assert.equal(no.getInfo(), "Stream not found");
});

test("socket close fails every stream locally", async () => {
  const {session, ws} = established();
  const stream = session.createStream({name: "cam"});
  let failed = false;
  stream.on(STREAM_STATUS.FAILED, () => (failed = true));
  await stream.play();
  ws.close();
  assert.equal(session.status(), SESSION_STATUS.DISCONNECTED);
  assert.ok(failed);
  assert.ok(FakePc.last.closed);
});

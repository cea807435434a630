// Tests of js/simulcast.js with a fake RTCPeerConnection that records what it is asked for.
// Run: node --test web/test/
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const simulcast = require("../js/simulcast.js");

/** Records addTransceiver calls; its addTrack is the "native" one the wrapper falls back to. */
class FakePc {
  constructor() {
    this.calls = [];
    this.transceivers = [];
    this.signalingState = "stable";
  }
  addTransceiver(trackOrKind, init) {
    this.calls.push({how: "addTransceiver", what: trackOrKind, init});
    const kind = typeof trackOrKind === "string" ? trackOrKind : trackOrKind.kind;
    const t = {receiver: {track: {kind}}, sender: {track: typeof trackOrKind === "string" ? null : trackOrKind}, init};
    this.transceivers.push(t);
    return t;
  }
  addTrack(track, ...streams) {
    this.calls.push({how: "addTrack", what: track, streams});
    const t = {receiver: {track: {kind: track.kind}}, sender: {track}};
    this.transceivers.push(t);
    return t.sender;
  }
  getTransceivers() {
    return this.transceivers;
  }
  getSenders() {
    return this.transceivers.map((t) => t.sender);
  }
}
simulcast.install(FakePc);

const video = {kind: "video", id: "v1"};
const video2 = {kind: "video", id: "v2"};
const audio = {kind: "audio", id: "a1"};
const stream = {id: "s"};

function withSimulcast(on, fn) {
  simulcast.setEnabled(on);
  try {
    fn();
  } finally {
    simulcast.setEnabled(false);
  }
}

const LMH = [
  {rid: "l", scaleResolutionDownBy: 4},
  {rid: "m", scaleResolutionDownBy: 2},
  {rid: "h", scaleResolutionDownBy: 1},
];

test("the layers are l, m, h, lowest first", () => {
  assert.deepEqual(simulcast.sendEncodings(), LMH);
  const a = simulcast.sendEncodings();
  a[0].rid = "x";
  assert.equal(simulcast.sendEncodings()[0].rid, "l", "each call returns fresh copies");
});

test("addTrack of the first video track (the Web SDK's way) creates a simulcast transceiver", () => {
  withSimulcast(true, () => {
    const pc = new FakePc();
    const audioSender = pc.addTrack(audio, stream);
    const videoSender = pc.addTrack(video, stream);
    assert.deepEqual(pc.calls.map((c) => c.how), ["addTrack", "addTransceiver"]);
    const init = pc.calls[1].init;
    assert.deepEqual(init, {direction: "sendrecv", streams: [stream], sendEncodings: LMH});
    assert.equal(videoSender, pc.transceivers[1].sender, "returns the new transceiver's sender");
    assert.equal(videoSender.track, video);
    assert.equal(audioSender.track, audio);
    // A second video track is sent as usual.
    pc.addTrack(video2, stream);
    assert.equal(pc.calls[2].how, "addTrack");
  });
});

test("addTransceiver of a sending video track (rtcdn.js's way) gets the encodings, other calls do not", () => {
  withSimulcast(true, () => {
    const pc = new FakePc();
    pc.addTransceiver(audio, {direction: "sendonly", streams: [stream]});
    pc.addTransceiver(video, {direction: "sendonly", streams: [stream]});
    assert.equal(pc.calls[0].init.sendEncodings, undefined, "audio untouched");
    assert.deepEqual(pc.calls[1].init, {direction: "sendonly", streams: [stream], sendEncodings: LMH});

    const player = new FakePc();
    player.addTransceiver("video", {direction: "recvonly"});
    assert.deepEqual(player.calls[0].init, {direction: "recvonly"}, "a receive-only kind is untouched");

    const recvTrack = new FakePc();
    recvTrack.addTransceiver(video, {direction: "recvonly"});
    assert.deepEqual(recvTrack.calls[0].init, {direction: "recvonly"});

    const own = new FakePc();
    own.addTransceiver(video, {sendEncodings: [{rid: "x"}]});
    assert.deepEqual(own.calls[0].init, {sendEncodings: [{rid: "x"}]}, "the caller's own encodings are kept");

    const bare = new FakePc();
    bare.addTransceiver(video);
    assert.deepEqual(bare.calls[0].init, {sendEncodings: LMH});
  });
});

test("disabled: every call passes through unchanged", () => {
  const pc = new FakePc();
  pc.addTrack(video, stream);
  pc.addTransceiver(video2, {direction: "sendonly"});
  assert.deepEqual(pc.calls.map((c) => c.how), ["addTrack", "addTransceiver"]);
  assert.deepEqual(pc.calls[1].init, {direction: "sendonly"});
  assert.equal(simulcast.enabled(), false);
});

test("installing twice wraps once", () => {
  assert.equal(simulcast.install(FakePc), true);
  withSimulcast(true, () => {
    const pc = new FakePc();
    pc.addTransceiver(video, {direction: "sendonly"});
    assert.equal(pc.calls.length, 1);
    assert.deepEqual(pc.calls[0].init.sendEncodings, LMH);
  });
  assert.equal(simulcast.install(undefined), false);
});

test("sentLayers reads the video sender's encodings", () => {
  const pc = {
    getSenders: () => [
      {track: {kind: "audio"}, getParameters: () => ({encodings: [{}]})},
      {track: {kind: "video"}, getParameters: () => ({encodings: [{rid: "l"}, {rid: "m"}, {rid: "h"}]})},
    ],
  };
  assert.deepEqual(simulcast.sentLayers(pc), ["l", "m", "h"]);
  assert.deepEqual(simulcast.sentLayers({getSenders: () => []}), []);
});

// The video section of an offer as Chromium writes it for three encodings (trimmed).
const OFFER = [
  "v=0",
  "o=- 1 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "a=mid:0",
  "a=sendonly",
  "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
  "a=mid:1",
  "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
  "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
  "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
  "a=sendonly",
  "a=rtpmap:96 VP8/90000",
  "a=rid:l send",
  "a=rid:m send",
  "a=rid:h send",
  "a=simulcast:send l;m;h",
  "",
].join("\r\n");

test("describe finds a=simulcast and a=rid in video sections only", () => {
  assert.deepEqual(simulcast.describe(OFFER), [
    {
      mid: "1",
      simulcast: "send l;m;h",
      rids: [
        {id: "l", direction: "send"},
        {id: "m", direction: "send"},
        {id: "h", direction: "send"},
      ],
    },
  ]);
  const plain = OFFER.split("\r\n").filter((l) => !/^a=(rid|simulcast)/.test(l)).join("\n");
  assert.deepEqual(simulcast.describe(plain), [{mid: "1", simulcast: null, rids: []}]);
  assert.deepEqual(simulcast.describe(""), []);
  const answer = OFFER.replace(/a=rid:(\w) send/g, "a=rid:$1 recv").replace("a=simulcast:send", "a=simulcast:recv");
  assert.deepEqual(simulcast.describe(answer)[0].simulcast, "recv l;m;h");
  assert.deepEqual(simulcast.describe(answer)[0].rids.map((r) => r.direction), ["recv", "recv", "recv"]);
});

// Tests of js/whip_client.js (the WHIP / WHEP pages' client) with a fake fetch and a fake
// RTCPeerConnection that record what they are asked for.
// Run: node --test web/test/
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const whip = require("../js/whip_client.js");

test("endpointUrl joins the server and the percent-encoded name as one segment", () => {
  assert.equal(whip.endpointUrl("http://h:8080", "whip", "cam1"), "http://h:8080/whip/cam1");
  assert.equal(whip.endpointUrl(" https://h/ ", "whep", " a b/c "), "https://h/whep/a%20b%2Fc");
  assert.equal(whip.endpointUrl("http://h:8080//", "whep", "é"), "http://h:8080/whep/%C3%A9");
});

test("endpointUrl refuses an empty name, a non-http server and an unknown kind", () => {
  assert.throws(() => whip.endpointUrl("http://h", "whip", "  "), /stream name is empty/);
  assert.throws(() => whip.endpointUrl("ws://h:8080", "whip", "a"), /must be an http\(s\):\/\/ URL, not "ws:\/\/h:8080"/);
  assert.throws(() => whip.endpointUrl("", "whip", "a"), /http\(s\)/);
  assert.throws(() => whip.endpointUrl("http://h", "whap", "a"), /unknown endpoint kind whap/);
});

test("resolveLocation resolves a relative Location against the URL that answered", () => {
  // After a 307 from the origin the session lives on the edge that answered.
  assert.equal(
    whip.resolveLocation("/whep/session/0123abcd", "http://127.0.0.1:9002/whep/cam1"),
    "http://127.0.0.1:9002/whep/session/0123abcd",
  );
  assert.equal(whip.resolveLocation("session/x", "http://h:1/whip/cam1"), "http://h:1/whip/session/x");
  assert.equal(whip.resolveLocation("https://other/r/1", "http://h:1/whip/cam1"), "https://other/r/1");
});

test("parseLinks reads several entries, quoted values with commas and escapes, and bare params", () => {
  const links = whip.parseLinks(
    '<stun:stun.example.net:3478>; rel="ice-server", ' +
      '<turn:t.example.net:3478?transport=udp>; rel="ice-server"; username="u,1"; credential="p\\"w"; ' +
      'credential-type="password", <https://x/y>;REL=next;anchor',
  );
  assert.deepEqual(links, [
    {url: "stun:stun.example.net:3478", params: {rel: "ice-server"}},
    {
      url: "turn:t.example.net:3478?transport=udp",
      params: {rel: "ice-server", username: "u,1", credential: 'p"w', "credential-type": "password"},
    },
    {url: "https://x/y", params: {rel: "next", anchor: ""}},
  ]);
});

test("parseLinks of no header or garbage is empty", () => {
  assert.deepEqual(whip.parseLinks(null), []);
  assert.deepEqual(whip.parseLinks(""), []);
  assert.deepEqual(whip.parseLinks("stun:h; rel=ice-server"), []);
});

test("iceServersFromLinks keeps rel=ice-server links with their credentials", () => {
  const links = whip.parseLinks(
    '<stun:s:3478>; rel="ice-server", <https://x>; rel="next", ' +
      '<turn:t:3478>; rel=ice-server; username=u; credential=c',
  );
  assert.deepEqual(whip.iceServersFromLinks(links), [
    {urls: "stun:s:3478"},
    {urls: "turn:t:3478", username: "u", credential: "c"},
  ]);
});

test("retryAfterSeconds reads delta-seconds only", () => {
  assert.equal(whip.retryAfterSeconds("3"), 3);
  assert.equal(whip.retryAfterSeconds(" 0 "), 0);
  assert.equal(whip.retryAfterSeconds(null), null);
  assert.equal(whip.retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), null);
  assert.equal(whip.retryAfterSeconds("-1"), null);
});

function fakeStream(kinds) {
  const tracks = kinds.map((kind, i) => ({kind, id: `${kind}${i}`}));
  return {
    tracks,
    getAudioTracks: () => tracks.filter((t) => t.kind === "audio"),
    getVideoTracks: () => tracks.filter((t) => t.kind === "video"),
  };
}

test("publishTransceivers: audio then video, sendonly, the encodings on the video only", () => {
  const stream = fakeStream(["video", "audio", "video"]);
  const layers = [{rid: "l", scaleResolutionDownBy: 4}, {rid: "m", scaleResolutionDownBy: 2}, {rid: "h", scaleResolutionDownBy: 1}];
  const t = whip.publishTransceivers(stream, layers);
  assert.deepEqual(
    t.map(({track, init}) => [track.id, init.direction, init.streams[0] === stream, init.sendEncodings]),
    [
      ["audio1", "sendonly", true, undefined],
      ["video0", "sendonly", true, layers],
    ],
  );
  const plain = whip.publishTransceivers(stream, null);
  assert.equal(plain[1].init.sendEncodings, undefined);
  assert.equal(whip.publishTransceivers(fakeStream(["video"]), []).length, 1);
  assert.equal(whip.publishTransceivers(fakeStream(["video"]), [])[0].init.sendEncodings, undefined);
});

test("playTransceivers: recvonly audio and video", () => {
  assert.deepEqual(whip.playTransceivers(), [
    {track: "audio", init: {direction: "recvonly"}},
    {track: "video", init: {direction: "recvonly"}},
  ]);
});

/** A peer connection whose gathering completes when told; records the descriptions. */
class FakePc {
  constructor() {
    this.localDescription = null;
    this.remote = null;
    this.iceGatheringState = "new";
    this.listeners = [];
    this.offers = 0;
  }
  async createOffer() {
    this.offers += 1;
    return {type: "offer", sdp: `v=0\r\no=offer ${this.offers}\r\n`};
  }
  async setLocalDescription(d) {
    this.localDescription = d;
    this.iceGatheringState = "gathering";
    setImmediate(() => this.gathered());
  }
  gathered() {
    this.iceGatheringState = "complete";
    this.listeners.forEach((l) => l());
  }
  async setRemoteDescription(d) {
    this.remote = d;
  }
  addEventListener(name, fn) {
    assert.equal(name, "icegatheringstatechange");
    this.listeners.push(fn);
  }
  removeEventListener(name, fn) {
    this.listeners = this.listeners.filter((l) => l !== fn);
  }
}

/** A fetch answering from `responses` in turn and recording the requests. */
function fakeFetch(responses) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({url, init});
    const r = responses.shift();
    if (r instanceof Error) throw r;
    const headers = new Map(Object.entries(r.headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      status: r.status,
      statusText: r.statusText || "",
      url: r.url === undefined ? url : r.url,
      headers: {get: (k) => (headers.has(k.toLowerCase()) ? headers.get(k.toLowerCase()) : null)},
      text: async () => r.body || "",
    };
  };
  fn.calls = calls;
  return fn;
}

test("negotiate POSTs the gathered offer with the token and applies the answer", async () => {
  const pc = new FakePc();
  const fetch = fakeFetch([
    {
      status: 201,
      body: "v=0\r\no=answer\r\n",
      headers: {
        Location: "/whip/session/00ff",
        ETag: '"e1"',
        Link: '<stun:s:3478>; rel="ice-server"',
      },
    },
  ]);
  const s = await whip.negotiate({pc, url: "http://h:1/whip/cam1", token: " secret ", fetch});
  assert.equal(fetch.calls.length, 1);
  const {url, init} = fetch.calls[0];
  assert.equal(url, "http://h:1/whip/cam1");
  assert.deepEqual(init, {
    method: "POST",
    headers: {"Content-Type": "application/sdp", Authorization: "Bearer secret"},
    body: "v=0\r\no=offer 1\r\n",
  });
  assert.equal(pc.iceGatheringState, "complete", "the offer is sent once gathering completed");
  assert.deepEqual(pc.remote, {type: "answer", sdp: "v=0\r\no=answer\r\n"});
  assert.deepEqual(s, {
    resource: "http://h:1/whip/session/00ff",
    etag: '"e1"',
    iceServers: [{urls: "stun:s:3478"}],
    responseUrl: "http://h:1/whip/cam1",
    redirected: false,
  });
});

test("negotiate after a redirect puts the session on the node that answered", async () => {
  const pc = new FakePc();
  const fetch = fakeFetch([
    {status: 201, url: "http://127.0.0.1:9002/whep/cam1", body: "v=0\r\n", headers: {Location: "/whep/session/ab"}},
  ]);
  const s = await whip.negotiate({pc, url: "http://127.0.0.1:9000/whep/cam1", token: "", fetch});
  assert.equal(s.resource, "http://127.0.0.1:9002/whep/session/ab");
  assert.equal(s.responseUrl, "http://127.0.0.1:9002/whep/cam1");
  assert.equal(s.redirected, true);
  assert.deepEqual(fetch.calls[0].init.headers, {"Content-Type": "application/sdp"}, "no Authorization without a token");
});

test("negotiate rejects a non-201 with the status, reason and Retry-After, and re-sends the same offer", async () => {
  const pc = new FakePc();
  const fetch = fakeFetch([
    {status: 409, statusText: "Conflict", body: "stream cam1 is not published\n", headers: {"Retry-After": "2"}},
    {status: 201, body: "v=0\r\n", headers: {Location: "/whep/session/1"}},
  ]);
  await assert.rejects(whip.negotiate({pc, url: "http://h/whep/cam1", fetch}), (e) => {
    assert.ok(e instanceof whip.WhipError);
    assert.equal(e.message, "HTTP 409 Conflict: stream cam1 is not published");
    assert.deepEqual([e.status, e.reason, e.retryAfter], [409, "stream cam1 is not published", 2]);
    return true;
  });
  assert.equal(pc.remote, null);
  await whip.negotiate({pc, url: "http://h/whep/cam1", fetch});
  assert.equal(pc.offers, 1, "one offer for both POSTs");
  assert.equal(fetch.calls[1].init.body, fetch.calls[0].init.body);
});

test("negotiate reports an error without a body, a network error, and a 201 without Location", async () => {
  await assert.rejects(
    whip.negotiate({pc: new FakePc(), url: "http://h/whip/a", fetch: fakeFetch([{status: 401}])}),
    (e) => e.message === "HTTP 401" && e.retryAfter === null,
  );
  await assert.rejects(
    whip.negotiate({pc: new FakePc(), url: "http://h/whip/a", fetch: fakeFetch([new TypeError("Failed to fetch")])}),
    (e) => e instanceof whip.WhipError && e.status === 0 && e.message === "network error: Failed to fetch",
  );
  const pc = new FakePc();
  await assert.rejects(
    whip.negotiate({pc, url: "http://h/whip/a", fetch: fakeFetch([{status: 201, body: "v=0\r\n"}])}),
    /HTTP 201: the answer has no Location header \(not sent, or not exposed by Access-Control-Expose-Headers\)/,
  );
  assert.equal(pc.remote, null, "an answer without a session is not applied");
});

test("negotiate sends the offer when gathering does not complete in time", async () => {
  const pc = new FakePc();
  pc.gathered = () => {}; // never completes
  const fetch = fakeFetch([{status: 201, body: "v=0\r\n", headers: {Location: "/whip/session/1"}}]);
  await whip.negotiate({pc, url: "http://h/whip/a", fetch, gatherTimeoutMs: 5});
  assert.equal(pc.iceGatheringState, "gathering");
  assert.equal(fetch.calls.length, 1);
  assert.deepEqual(pc.listeners, [], "the gathering listener is removed");
});

test("deleteSession DELETEs the resource with the token; an error answer rejects with its reason", async () => {
  const fetch = fakeFetch([{status: 200}, {status: 404, statusText: "Not Found", body: "no such session"}]);
  assert.equal(await whip.deleteSession("http://e:2/whip/session/1", "t", fetch), 200);
  assert.deepEqual(fetch.calls[0], {url: "http://e:2/whip/session/1", init: {method: "DELETE", headers: {Authorization: "Bearer t"}}});
  await assert.rejects(whip.deleteSession("http://e:2/whip/session/1", "", fetch), /^WhipError: HTTP 404 Not Found: no such session$/);
  assert.deepEqual(fetch.calls[1].init.headers, {});
});

test("watchServerEnd fires once when the DTLS transport closes while the page did not close", () => {
  const listeners = [];
  const transport = {state: "connected", addEventListener: (_, f) => listeners.push(f)};
  const pc = {
    signalingState: "stable",
    getSenders: () => [{transport: null}],
    getReceivers: () => [{transport}],
  };
  let ended = 0;
  assert.equal(whip.watchServerEnd(pc, () => ended++), true);
  listeners.forEach((f) => f());
  assert.equal(ended, 0, "still connected");
  transport.state = "closed";
  listeners.forEach((f) => f());
  listeners.forEach((f) => f());
  assert.equal(ended, 1, "once");
  // The page's own close is not the server's.
  const own = {...pc, signalingState: "closed"};
  let ownEnded = 0;
  listeners.length = 0;
  whip.watchServerEnd(own, () => ownEnded++);
  listeners.forEach((f) => f());
  assert.equal(ownEnded, 0);
  assert.equal(whip.watchServerEnd({getSenders: () => [], getReceivers: () => []}, () => {}), false);
});

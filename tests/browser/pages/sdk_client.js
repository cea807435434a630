// Test client page: drives the official Flashphoner Web SDK through its public API only
// (Flashphoner.init, createSession, createStream, publish/play/stop, status callbacks) and records
// every status with a timestamp in window.rt.log for the Node test to poll.
'use strict';

window.rt = {
  log: [],
  stream: null,
  session: null,
  startedAt: 0,
  firstFrameAt: 0,
};

function rtRecord(kind, status, info) {
  window.rt.log.push({ kind: kind, status: status, info: info || '', t: performance.now() });
}

/** The <video> the SDK created inside #display (null before the stream exists). */
function rtVideo() {
  return document.querySelector('#display video');
}

/** Connects to urlServer and then publishes or plays `name` (role 'publish' | 'play'). */
window.rtStart = function (role, urlServer, name) {
  var SESSION_STATUS = Flashphoner.constants.SESSION_STATUS;
  var STREAM_STATUS = Flashphoner.constants.STREAM_STATUS;
  Flashphoner.init({});
  rtRecord('session', 'CREATING');
  window.rt.session = Flashphoner.createSession({ urlServer: urlServer })
    .on(SESSION_STATUS.ESTABLISHED, function (session) {
      rtRecord('session', 'ESTABLISHED');
      var stream = session.createStream({ name: name, display: document.getElementById('display') });
      window.rt.stream = stream;
      [
        STREAM_STATUS.PENDING,
        STREAM_STATUS.PUBLISHING,
        STREAM_STATUS.PLAYING,
        STREAM_STATUS.STOPPED,
        STREAM_STATUS.UNPUBLISHED,
        STREAM_STATUS.FAILED,
      ].forEach(function (status) {
        stream.on(status, function (s) {
          rtRecord('stream', s.status(), s.getInfo());
        });
      });
      window.rt.startedAt = performance.now();
      if (role === 'publish') {
        stream.publish();
      } else {
        stream.play();
        rtWatchFirstFrame();
      }
    })
    .on(SESSION_STATUS.DISCONNECTED, function () {
      rtRecord('session', 'DISCONNECTED');
    })
    .on(SESSION_STATUS.FAILED, function () {
      rtRecord('session', 'FAILED');
    });
};

function rtWatchFirstFrame() {
  var timer = setInterval(function () {
    var v = rtVideo();
    if (v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0) {
      window.rt.firstFrameAt = performance.now();
      clearInterval(timer);
    }
  }, 10);
}

/** Stops the current stream (unPublishStream / stopStream). */
window.rtStop = function () {
  window.rt.stream.stop();
};

/** The first stream status equal to one of `statuses`, or null. */
window.rtFind = function (statuses) {
  return window.rt.log.find(function (e) {
    return e.kind === 'stream' && statuses.indexOf(e.status) >= 0;
  }) || null;
};

/**
 * The inbound video codec of the played stream, via the SDK's stream.getStats(cb, true)
 * (raw RTCStatsReport grouped by type): resolves to a mimeType such as "video/H264", or null.
 */
window.rtInboundVideoCodec = function () {
  return new Promise(function (resolve) {
    window.rt.stream.getStats(function (raw) {
      var inbound = (raw['inbound-rtp'] || []).filter(function (r) {
        return r.kind === 'video' && r.codecId;
      })[0];
      if (!inbound) {
        resolve(null);
        return;
      }
      var codec = (raw['codec'] || []).filter(function (c) {
        return c.id === inbound.codecId;
      })[0];
      resolve(codec ? codec.mimeType : null);
    }, true);
  });
};

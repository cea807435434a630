// Test client page: drives the official Flashphoner Web SDK through its public API only
// (Flashphoner.init, createSession, createStream, publish/play/stop, status callbacks) and records
// every status with a timestamp in window.rt.log for the Node test to poll.
'use strict';

// Every RTCPeerConnection the SDK creates, for tests that change a sender's parameters (the
// SDK itself is untouched: the page wraps the browser's constructor before it is used).
window.rtPeerConnections = [];
(function () {
  var Native = window.RTCPeerConnection;
  if (!Native) {
    return;
  }
  var Wrapped = function (config, constraints) {
    var pc = new Native(config, constraints);
    window.rtPeerConnections.push(pc);
    return pc;
  };
  Wrapped.prototype = Native.prototype;
  Object.setPrototypeOf(Wrapped, Native);
  window.RTCPeerConnection = Wrapped;
})();

window.rt = {
  log: [],
  stream: null,
  session: null,
  calledAt: 0,
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

/**
 * Connects to urlServer and then publishes or plays `name` (role 'publish' | 'play' | 'connect',
 * the last only establishes the session). Options:
 * - `lbUrl`: passed to createSession: the SDK asks that load balancer which server to connect
 *   to (and falls back to urlServer only if the request times out);
 * - `waitAvailable`: a player first polls `stream.available()` every 100 ms until the server
 *   has the stream (e.g. until an origin relayed it to this edge), then plays;
 * - `video`: a publisher's video constraints (e.g. `{ width: 640, height: 480 }`), passed to
 *   createStream as `constraints.video` (the SDK's default otherwise);
 * - `simulcast`: a publisher sends its video as three encodings, rids l, m, h
 *   (simulcast.js, the demo page's option; the SDK is unchanged);
 * - `custom`: the session's `custom` object (what a REST hook backend authorizes with).
 * Session WARN events (a server `fail`, e.g. a refused connect) are logged with their info.
 */
window.rtStart = function (role, urlServer, name, options) {
  var SESSION_STATUS = Flashphoner.constants.SESSION_STATUS;
  Flashphoner.init({});
  window.rt.calledAt = performance.now();
  rtRecord('session', 'CREATING');
  var sessionOptions = { urlServer: urlServer };
  if (options && options.lbUrl) {
    sessionOptions.lbUrl = options.lbUrl;
  }
  if (options && options.custom) {
    sessionOptions.custom = options.custom;
  }
  window.rt.session = Flashphoner.createSession(sessionOptions)
    .on(SESSION_STATUS.ESTABLISHED, function (session) {
      rtRecord('session', 'ESTABLISHED');
      if (role === 'connect') {
        return;
      }
      if (role === 'play' && options && options.waitAvailable) {
        rtWhenAvailable(session, name, function () {
          rtCreateAndStart(session, role, name, options);
        });
      } else {
        rtCreateAndStart(session, role, name, options);
      }
    })
    .on(SESSION_STATUS.DISCONNECTED, function () {
      rtRecord('session', 'DISCONNECTED');
    })
    .on(SESSION_STATUS.FAILED, function () {
      rtRecord('session', 'FAILED');
    })
    .on(SESSION_STATUS.WARN, function (warning) {
      rtRecord('warn', warning && warning.status, warning && warning.info);
    });
};

/** Calls `done` once the server answers `availableStream` for `name` with "true". */
function rtWhenAvailable(session, name, done) {
  var probe = session.createStream({ name: name });
  var attempt = function () {
    probe.available().then(
      function () {
        rtRecord('probe', 'AVAILABLE');
        done();
      },
      function () {
        setTimeout(attempt, 100);
      },
    );
  };
  attempt();
}

/** Creates the page's stream in `session` and publishes or plays it; sets rt.startedAt. */
function rtCreateAndStart(session, role, name, options) {
  var STREAM_STATUS = Flashphoner.constants.STREAM_STATUS;
  var streamOptions = { name: name, display: document.getElementById('display') };
  if (options && options.video) {
    streamOptions.constraints = { audio: true, video: options.video };
  }
  if (role === 'publish' && window.rtcdnSimulcast) {
    window.rtcdnSimulcast.setEnabled(Boolean(options && options.simulcast));
  }
  var stream = session.createStream(streamOptions);
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
  // Stream events (notEnoughBandwidth, resize, data...): type and payload.info; for
  // notEnoughBandwidth also the two figures as the SDK parsed them.
  stream.on(Flashphoner.constants.STREAM_EVENT, function (e) {
    var info = e.payload && e.payload.info ? e.payload.info : '';
    rtRecord('event', e.type, info);
    if (e.type === 'notEnoughBandwidth') {
      window.rt.bandwidth = { remote: stream.getRemoteBitrate(), network: stream.getNetworkBandwidth() };
    }
  });
  // The SDK's connection quality, from the server's inboundVideoRate (publisher) and
  // outboundVideoRate (player) against its own byte counts: kept apart from the status log.
  window.rt.quality = [];
  stream.on(Flashphoner.constants.CONNECTION_QUALITY.UPDATE, function (quality, clientRate, serverRate) {
    window.rt.quality.push({ quality: quality, clientRate: clientRate, serverRate: serverRate });
  });
  window.rt.startedAt = performance.now();
  if (role === 'publish') {
    stream.publish();
  } else {
    stream.play();
    rtWatchFirstFrame();
  }
}

function rtWatchFirstFrame() {
  var timer = setInterval(function () {
    var v = rtVideo();
    if (v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0) {
      window.rt.firstFrameAt = performance.now();
      clearInterval(timer);
    }
  }, 10);
}

/** The websocket URL the session connected to (after the balancer's answer, with lbUrl). */
window.rtServerUrl = function () {
  return window.rt.session ? window.rt.session.getServerUrl() : null;
};

/** Stops the current stream (unPublishStream / stopStream). */
window.rtStop = function () {
  window.rt.stream.stop();
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

/**
 * The video counters of the page's stream, via the SDK's stream.getStats(cb, true): for a
 * player the inbound-rtp report, for a publisher the outbound-rtp report (the fields below that
 * the report has; Chromium's names) and the sender's bandwidth estimate
 * (`availableOutgoingBitrate` of the nominated candidate pair). Resolves to null before the
 * stream has video statistics.
 */
window.rtVideoStats = function () {
  var FIELDS = [
    'framesDecoded', 'framesReceived', 'framesDropped', 'freezeCount', 'totalFreezesDuration',
    'pauseCount', 'totalPausesDuration', 'packetsReceived', 'packetsLost', 'nackCount', 'pliCount',
    'firCount', 'retransmittedPacketsReceived', 'framesEncoded', 'framesSent', 'packetsSent',
    'retransmittedPacketsSent', 'frameWidth', 'frameHeight', 'framesPerSecond', 'keyFramesDecoded',
    'keyFramesEncoded', 'jitterBufferDelay', 'jitterBufferEmittedCount', 'targetBitrate',
    'bytesSent', 'bytesReceived',
  ];
  return new Promise(function (resolve) {
    window.rt.stream.getStats(function (raw) {
      var rtp = (raw['inbound-rtp'] || []).concat(raw['outbound-rtp'] || []).filter(function (r) {
        return r.kind === 'video';
      })[0];
      if (!rtp) {
        resolve(null);
        return;
      }
      var out = { type: rtp.type };
      if (rtp.qualityLimitationReason) {
        out.qualityLimitationReason = rtp.qualityLimitationReason;
      }
      FIELDS.forEach(function (f) {
        if (typeof rtp[f] === 'number') {
          out[f] = rtp[f];
        }
      });
      // What the other end reported about our video (round trip and loss from its RTCP).
      (raw['remote-inbound-rtp'] || []).forEach(function (r) {
        if (r.kind === 'video') {
          out.remoteRoundTripTime = r.roundTripTime;
          out.remotePacketsLost = r.packetsLost;
          out.remoteFractionLost = r.fractionLost;
        }
      });
      // The sender's bandwidth estimate (on the selected candidate pair).
      (raw['candidate-pair'] || []).forEach(function (p) {
        if (p.nominated && typeof p.availableOutgoingBitrate === 'number') {
          out.availableOutgoingBitrate = p.availableOutgoingBitrate;
        }
      });
      resolve(out);
    }, true);
  });
};

/**
 * Makes every video sender keep its resolution when bandwidth or CPU are short (it lowers
 * quality and frame rate instead): resolves to the number of senders changed.
 */
window.rtMaintainResolution = function () {
  var changes = [];
  window.rtPeerConnections.forEach(function (pc) {
    pc.getSenders().forEach(function (sender) {
      if (sender.track && sender.track.kind === 'video') {
        var params = sender.getParameters();
        params.degradationPreference = 'maintain-resolution';
        changes.push(sender.setParameters(params));
      }
    });
  });
  return Promise.all(changes).then(function () {
    return changes.length;
  });
};

/**
 * What the page's first peer connection negotiated: the local and remote SDP, the simulcast
 * lines of their video sections (rtcdnSimulcast.describe) and the rids the video sender has
 * now (one encoding when the answer declined simulcast). Null before there is an offer.
 */
window.rtNegotiated = function () {
  var pc = window.rtPeerConnections[0];
  if (!pc || !pc.localDescription) {
    return null;
  }
  var local = pc.localDescription.sdp;
  var remote = pc.remoteDescription ? pc.remoteDescription.sdp : '';
  return {
    offer: local,
    answer: remote,
    offerVideo: window.rtcdnSimulcast.describe(local),
    answerVideo: window.rtcdnSimulcast.describe(remote),
    sentLayers: window.rtcdnSimulcast.sentLayers(pc),
  };
};

/**
 * A publisher's outbound video per encoding (Chromium has one outbound-rtp report per rid):
 * `[{ rid, frameWidth, frameHeight, framesPerSecond, bytesSent, qualityLimitationReason }]`.
 */
window.rtOutboundLayers = function () {
  var pc = window.rtPeerConnections[0];
  if (!pc) {
    return Promise.resolve([]);
  }
  return pc.getStats().then(function (report) {
    var out = [];
    report.forEach(function (r) {
      if (r.type === 'outbound-rtp' && r.kind === 'video') {
        out.push({
          rid: r.rid || '',
          ssrc: r.ssrc,
          frameWidth: r.frameWidth || 0,
          frameHeight: r.frameHeight || 0,
          framesPerSecond: r.framesPerSecond || 0,
          bytesSent: r.bytesSent,
          active: r.active,
          qualityLimitationReason: r.qualityLimitationReason || '',
        });
      }
    });
    // In the order of the encodings (lowest first).
    var order = window.rtcdnSimulcast.LAYERS.map(function (l) {
      return l.rid;
    });
    out.sort(function (a, b) {
      return order.indexOf(a.rid) - order.indexOf(b.rid);
    });
    return out;
  });
};

/**
 * Frame timing of the played <video>: from `rtFrameWatch()` on, every presented frame (the
 * element's requestVideoFrameCallback, or totalVideoFrames polled every 20 ms where that is
 * missing) with its time and size. `rtFrameWatch()` (re)starts the record; `rtFrameReport()`
 * returns `{ frames, seconds, fps, maxGapMs, widths: [{ t, width, height }] }` since then,
 * `maxGapMs` counting the time from the start and to now as gaps too.
 */
window.rtFrameWatch = function () {
  var watch = { start: performance.now(), times: [], widths: [], lastWidth: -1, stopped: false };
  if (window.rt.frameWatch) {
    window.rt.frameWatch.stopped = true;
  }
  window.rt.frameWatch = watch;
  var note = function (t, v) {
    watch.times.push(t);
    if (v.videoWidth !== watch.lastWidth) {
      watch.lastWidth = v.videoWidth;
      watch.widths.push({ t: t - watch.start, width: v.videoWidth, height: v.videoHeight });
    }
  };
  var v = rtVideo();
  if (v && typeof v.requestVideoFrameCallback === 'function') {
    var onFrame = function (now) {
      if (watch.stopped) {
        return;
      }
      var el = rtVideo();
      note(performance.now(), el);
      el.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
    watch.how = 'requestVideoFrameCallback';
  } else {
    var last = -1;
    var timer = setInterval(function () {
      var el = rtVideo();
      if (watch.stopped || !el) {
        clearInterval(timer);
        return;
      }
      var n = el.getVideoPlaybackQuality().totalVideoFrames;
      if (last >= 0 && n > last) {
        note(performance.now(), el);
      }
      last = n;
    }, 20);
    watch.how = 'totalVideoFrames every 20 ms';
  }
  return watch.how;
};

window.rtFrameReport = function () {
  var w = window.rt.frameWatch;
  if (!w) {
    return null;
  }
  var now = performance.now();
  var prev = w.start;
  var maxGap = 0;
  w.times.concat([now]).forEach(function (t) {
    maxGap = Math.max(maxGap, t - prev);
    prev = t;
  });
  var seconds = (now - w.start) / 1000;
  return {
    how: w.how,
    frames: w.times.length,
    seconds: seconds,
    fps: w.times.length / seconds,
    maxGapMs: Math.round(maxGap),
    widths: w.widths,
  };
};

/** The SDK's id of the page's stream (the mediaSessionId the server knows it by). */
window.rtStreamId = function () {
  return window.rt.stream ? window.rt.stream.id() : null;
};

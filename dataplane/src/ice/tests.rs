//! ICE tests on a virtual clock: an `IceControlling` and an `IceLite` wired by a pump, timers,
//! selection switching and hostile input.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::rng::SplitMix64;
use crate::stun::{
    write_binding_error, write_binding_request, write_binding_success,
    write_controlled_binding_request, StunClass,
};

pub(super) const LITE_UFRAG: &str = "liteUfrag";
pub(super) const LITE_PWD: &str = "litePasswordOf22chars!";
pub(super) const CTL_UFRAG: &str = "ctlU";
pub(super) const CTL_PWD: &str = "controllingPassword123";
const TIEBREAKER: u64 = 0x1234_5678_9abc_def0;

pub(super) fn lite_addr() -> SocketAddr {
    "10.0.0.1:3478".parse().unwrap()
}

fn ctl_addr() -> SocketAddr {
    "192.0.2.2:50000".parse().unwrap()
}

pub(super) fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 40000 + n))
}

pub(super) fn lite(now: Instant) -> IceLite {
    IceLite::new(IceConfig::default(), LITE_UFRAG, LITE_PWD, CTL_UFRAG, now)
        .with_remote_password(CTL_PWD, 1)
}

fn controlling(now: Instant) -> IceControlling {
    IceControlling::new(
        IceConfig::default(),
        CTL_UFRAG,
        CTL_PWD,
        LITE_UFRAG,
        LITE_PWD,
        lite_addr(),
        TIEBREAKER,
        now,
    )
}

/// A valid check as the browser would send it to the lite agent.
pub(super) fn check(txid: u8, use_candidate: bool) -> Vec<u8> {
    let mut out = vec![0u8; MAX_TRANSMIT_LEN];
    let username = format!("{LITE_UFRAG}:{CTL_UFRAG}");
    let n = write_binding_request(
        &mut out,
        &[txid; 12],
        username.as_bytes(),
        LITE_PWD.as_bytes(),
        CHECK_PRIORITY,
        7,
        use_candidate,
    )
    .unwrap();
    out.truncate(n);
    out
}

/// Sends everything `l` queued and answers its consent checks as the browser would (a success
/// response keyed with the browser's password, from the address the check went to) at `now`.
/// Returns the addresses whose checks were answered.
pub(super) fn answer_probes(l: &mut IceLite, now: Instant) -> Vec<SocketAddr> {
    let mut buf = [0u8; MAX_TRANSMIT_LEN];
    let mut answers = Vec::new();
    while let Some(t) = l.poll_transmit(&mut buf) {
        let msg = StunMessage::parse(&buf[..t.len]).unwrap();
        if msg.is_binding_request() {
            answers.push((t.dst, msg.transaction_id()));
        }
    }
    for &(from, txid) in &answers {
        let mut out = [0u8; MAX_TRANSMIT_LEN];
        let n = write_binding_success(&mut out, &txid, lite_addr(), CTL_PWD.as_bytes()).unwrap();
        l.handle_input(now, from, &out[..n]).unwrap();
    }
    answers.into_iter().map(|(a, _)| a).collect()
}

/// Two agents, a virtual clock and two one-way links that can be cut.
struct Pair {
    now: Instant,
    ctl: IceControlling,
    lite: IceLite,
    ctl_events: Vec<IceEvent>,
    lite_events: Vec<IceEvent>,
    /// Deliver controlling → lite datagrams.
    up: bool,
    /// Deliver lite → controlling datagrams.
    down: bool,
    checks_sent: Vec<Instant>,
}

impl Pair {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            now,
            ctl: controlling(now),
            lite: lite(now),
            ctl_events: Vec::new(),
            lite_events: Vec::new(),
            up: true,
            down: true,
            checks_sent: Vec::new(),
        }
    }

    /// Moves datagrams between the agents until both are quiet, collecting events.
    fn pump(&mut self) {
        let mut buf = [0u8; MAX_TRANSMIT_LEN];
        loop {
            let mut moved = false;
            while let Some(t) = self.ctl.poll_transmit(&mut buf) {
                moved = true;
                assert_eq!(t.dst, lite_addr());
                if StunMessage::parse(&buf[..t.len]).is_ok_and(|m| m.is_binding_request()) {
                    self.checks_sent.push(self.now);
                }
                if self.up {
                    self.lite
                        .handle_input(self.now, ctl_addr(), &buf[..t.len])
                        .unwrap();
                }
            }
            while let Some(t) = self.lite.poll_transmit(&mut buf) {
                moved = true;
                assert_eq!(t.dst, ctl_addr());
                if self.down {
                    self.ctl
                        .handle_input(self.now, lite_addr(), &buf[..t.len])
                        .unwrap();
                }
            }
            if !moved {
                break;
            }
        }
        self.ctl_events
            .extend(std::iter::from_fn(|| self.ctl.poll_event()));
        self.lite_events
            .extend(std::iter::from_fn(|| self.lite.poll_event()));
    }

    /// Jumps to the earliest deadline (if before `until`), fires it and pumps.
    fn step(&mut self, until: Instant) -> bool {
        let next = [self.ctl.poll_timeout(), self.lite.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= until => {
                self.now = self.now.max(t);
                self.ctl.handle_timeout(self.now);
                self.lite.handle_timeout(self.now);
                self.pump();
                true
            }
            _ => {
                self.now = until;
                false
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
    }
}

#[test]
fn pump_connects_both_sides() {
    let mut p = Pair::new();
    p.pump();
    assert_eq!(p.ctl_events, [IceEvent::Selected(lite_addr())]);
    assert_eq!(p.lite_events, [IceEvent::Selected(ctl_addr())]);
    assert_eq!(p.ctl.selected(), Some(lite_addr()));
    assert_eq!(p.lite.selected(), Some(ctl_addr()));
    assert_eq!(
        p.lite.media_target(),
        Some(ctl_addr()),
        "the controlling agent answered the lite agent's consent check"
    );
    assert!(p.lite.is_validated(ctl_addr()));
    assert!(!p.lite.is_validated(lite_addr()));
}

#[test]
fn consent_refresh_keeps_both_connected() {
    let mut p = Pair::new();
    p.pump();
    p.run_for(Duration::from_secs(300));
    assert_eq!(p.ctl_events.len(), 1, "{:?}", p.ctl_events);
    assert_eq!(p.lite_events.len(), 1, "{:?}", p.lite_events);
    assert_eq!(p.ctl.failure(), None);
    assert_eq!(p.lite.failure(), None);
    // Consent checks every 1.6–2.4 s.
    let gaps: Vec<_> = p.checks_sent.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 300 / 3, "{} checks", p.checks_sent.len());
    for gap in gaps {
        assert!(gap >= Duration::from_millis(1600) && gap < Duration::from_millis(2400));
    }
}

#[test]
fn lite_consent_expires_when_checks_stop() {
    let mut p = Pair::new();
    p.pump();
    p.run_for(Duration::from_secs(10));
    p.up = false;
    p.run_for(Duration::from_secs(60));
    assert_eq!(
        p.lite_events.last(),
        Some(&IceEvent::Failed(IceFailure::ConsentExpired))
    );
    assert_eq!(p.lite.failure(), Some(IceFailure::ConsentExpired));
    assert_eq!(p.lite.selected(), None);
    assert_eq!(p.lite.poll_timeout(), None);
    // The controlling side gets no answers either, so it gives up too, after the lite side.
    assert_eq!(p.ctl.failure(), Some(IceFailure::ConsentExpired));
}

#[test]
fn lite_consent_deadline_is_last_check_plus_timeout() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    assert_eq!(answer_probes(&mut l, t0), [addr(1)]);
    let t1 = t0 + Duration::from_secs(5);
    l.handle_input(t1, addr(1), &check(2, false)).unwrap();
    let deadline = t1 + IceConfig::default().consent_timeout;
    assert_eq!(l.poll_timeout(), Some(deadline));
    l.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(l.failure(), None);
    l.handle_timeout(deadline);
    assert_eq!(l.failure(), Some(IceFailure::ConsentExpired));
    // Checks from another validated address do not refresh consent of the selected one.
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    answer_probes(&mut l, t0);
    l.handle_input(t1, addr(2), &check(2, false)).unwrap();
    assert_eq!(
        l.poll_timeout(),
        Some(t0 + IceConfig::default().consent_timeout)
    );
}

#[test]
fn controlling_consent_expires_without_responses() {
    let mut p = Pair::new();
    p.pump();
    p.down = false;
    let cut = p.now;
    p.run_for(Duration::from_secs(60));
    assert_eq!(
        p.ctl_events,
        [
            IceEvent::Selected(lite_addr()),
            IceEvent::Failed(IceFailure::ConsentExpired)
        ]
    );
    // The lite side still got checks until the controlling side gave up.
    assert_eq!(p.ctl.failure(), Some(IceFailure::ConsentExpired));
    assert!(*p.checks_sent.last().unwrap() < cut + IceConfig::default().consent_timeout);
}

#[test]
fn connect_timeout_on_both_sides() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    let deadline = t0 + IceConfig::default().connect_timeout;
    assert_eq!(l.poll_timeout(), Some(deadline));
    l.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(l.poll_event(), None);
    l.handle_timeout(deadline);
    assert_eq!(l.poll_event(), Some(IceEvent::Failed(IceFailure::Timeout)));
    assert_eq!(l.poll_event(), None);
    assert_eq!(l.poll_timeout(), None);
    assert_eq!(
        l.handle_input(deadline, addr(1), &check(1, true)),
        Err(IceError::Failed)
    );

    let mut p = Pair::new();
    p.up = false;
    p.pump();
    p.run_for(Duration::from_secs(40));
    assert_eq!(p.ctl_events, [IceEvent::Failed(IceFailure::Timeout)]);
    assert_eq!(p.lite_events, [IceEvent::Failed(IceFailure::Timeout)]);
    assert_eq!(p.ctl.poll_timeout(), None);
    // Checks back off 50, 100, 200, 400 ms, then every 500 ms until the timeout.
    let gaps: Vec<_> = p.checks_sent.windows(2).map(|w| w[1] - w[0]).collect();
    let ms = Duration::from_millis;
    assert_eq!(gaps[..5], [ms(50), ms(100), ms(200), ms(400), ms(500)]);
    assert!(gaps[5..].iter().all(|&g| g == ms(500)));
    assert!(*p.checks_sent.last().unwrap() < p.checks_sent[0] + Duration::from_secs(30));
}

#[test]
fn controlling_connects_after_lost_checks() {
    let mut p = Pair::new();
    p.up = false;
    p.run_for(Duration::from_millis(400));
    assert!(p.ctl_events.is_empty());
    p.up = true;
    p.run_for(Duration::from_millis(500));
    assert_eq!(p.ctl_events, [IceEvent::Selected(lite_addr())]);
    assert_eq!(p.lite_events, [IceEvent::Selected(ctl_addr())]);
}

#[test]
fn validated_list_evicts_oldest_but_never_the_selected() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    for n in 1..=4u16 {
        let t = t0 + Duration::from_secs(u64::from(n));
        l.handle_input(t, addr(n), &check(n as u8, false)).unwrap();
    }
    assert_eq!(l.selected(), Some(addr(1)));
    assert_eq!(l.poll_event(), Some(IceEvent::Selected(addr(1))));
    assert_eq!(
        l.poll_event(),
        None,
        "nothing forgotten while there is room"
    );
    // addr(1) is the least recently checked but selected; addr(2) goes.
    l.handle_input(t0 + Duration::from_secs(10), addr(5), &check(5, false))
        .unwrap();
    assert_eq!(l.poll_event(), Some(IceEvent::Forgotten(addr(2))));
    assert!(l.is_validated(addr(1)));
    assert!(!l.is_validated(addr(2)));
    for n in 3..=5 {
        assert!(l.is_validated(addr(n)));
    }
    // A refresh moves addr(3) ahead of addr(4).
    l.handle_input(t0 + Duration::from_secs(11), addr(3), &check(6, false))
        .unwrap();
    l.handle_input(t0 + Duration::from_secs(12), addr(6), &check(7, false))
        .unwrap();
    assert!(!l.is_validated(addr(4)));
    assert!(l.is_validated(addr(3)));
    assert_eq!(l.poll_event(), Some(IceEvent::Forgotten(addr(4))));
    assert_eq!(l.poll_event(), None);
}

#[test]
fn response_queue_is_bounded() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    for n in 0..20u8 {
        l.handle_input(t0, addr(1), &check(n, true)).unwrap();
    }
    let mut buf = [0u8; MAX_TRANSMIT_LEN];
    let mut ids = Vec::new();
    while let Some(t) = l.poll_transmit(&mut buf) {
        let msg = StunMessage::parse(&buf[..t.len]).unwrap();
        if msg.class() == StunClass::SuccessResponse {
            ids.push(msg.transaction_id()[0]);
        }
    }
    assert_eq!(ids, (12..20).collect::<Vec<u8>>());
}

/// Feeds `bad` to a connected lite agent and checks that nothing changed.
fn assert_lite_rejects(bad: &[u8], expected: Option<IceError>) {
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    answer_probes(&mut l, t0);
    let mut buf = [0u8; MAX_TRANSMIT_LEN];
    while l.poll_event().is_some() {}
    let timeout = l.poll_timeout();

    let t1 = t0 + Duration::from_secs(1);
    let err = l.handle_input(t1, addr(2), bad).unwrap_err();
    if let Some(e) = expected {
        assert_eq!(err, e);
    }
    assert!(l.poll_transmit(&mut buf).is_none());
    assert_eq!(l.poll_event(), None);
    assert!(!l.is_validated(addr(2)));
    assert_eq!(l.selected(), Some(addr(1)));
    assert_eq!(l.poll_timeout(), timeout);
    // A bad datagram from the selected address does not refresh consent either.
    assert!(l.handle_input(t1, addr(1), bad).is_err());
    assert_eq!(l.poll_timeout(), timeout);
    assert!(l.poll_transmit(&mut buf).is_none());
}

fn request_with(username: &str, pwd: &str) -> Vec<u8> {
    let mut out = vec![0u8; MAX_TRANSMIT_LEN];
    let n = write_binding_request(
        &mut out,
        &[9; 12],
        username.as_bytes(),
        pwd.as_bytes(),
        1,
        2,
        true,
    )
    .unwrap();
    out.truncate(n);
    out
}

#[test]
fn lite_rejects_bad_credentials() {
    let good_user = format!("{LITE_UFRAG}:{CTL_UFRAG}");
    assert_lite_rejects(
        &request_with(&good_user, "wrong password"),
        Some(IceError::BadIntegrity),
    );
    for user in [
        format!("other:{CTL_UFRAG}"),
        format!("{LITE_UFRAG}:other"),
        format!("{LITE_UFRAG}{CTL_UFRAG}"),
        format!("{LITE_UFRAG}:{CTL_UFRAG}x"),
        format!("{CTL_UFRAG}:{LITE_UFRAG}"),
        String::new(),
    ] {
        assert_lite_rejects(
            &request_with(&user, LITE_PWD),
            Some(IceError::WrongUsername),
        );
    }
}

#[test]
fn lite_rejects_corrupted_fingerprint_and_wrong_class() {
    let mut bad = check(3, true);
    let n = bad.len();
    bad[n - 1] ^= 0x80;
    assert_lite_rejects(&bad, Some(IceError::BadFingerprint));

    // Flip a bit in the body: caught by the fingerprint before anything else.
    let mut bad = check(3, true);
    bad[30] ^= 0x01;
    assert_lite_rejects(&bad, Some(IceError::BadFingerprint));

    // A success response is not a check, nor the answer to one of ours.
    let mut out = [0u8; MAX_TRANSMIT_LEN];
    let n = write_binding_success(&mut out, &[3; 12], addr(2), LITE_PWD.as_bytes()).unwrap();
    assert_lite_rejects(&out[..n], Some(IceError::UnknownTransaction));

    // A request without USERNAME or MESSAGE-INTEGRITY.
    let mut hdr = [0u8; 20];
    hdr[1] = 0x01;
    hdr[4..8].copy_from_slice(&crate::stun::MAGIC_COOKIE.to_be_bytes());
    assert_lite_rejects(&hdr, Some(IceError::MissingUsername));
}

#[test]
fn lite_rejects_every_truncation_and_bit_flip() {
    let good = check(4, true);
    for len in 0..good.len() {
        assert_lite_rejects(&good[..len], None);
    }
    // The FINGERPRINT type bytes are exempt: with them flipped the attribute becomes an
    // unknown one after MESSAGE-INTEGRITY, which is ignored, and the check is still
    // authenticated (FINGERPRINT is optional).
    let fingerprint_type = good.len() - 8..good.len() - 6;
    for i in (0..good.len()).filter(|i| !fingerprint_type.contains(i)) {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[i] ^= 1 << bit;
            assert_lite_rejects(&bad, None);
        }
    }
}

#[test]
fn random_garbage_never_panics_nor_changes_state() {
    let mut rng = SplitMix64(42);
    let mut buf = [0u8; 200];
    for i in 0..5_000 {
        let len = (rng.next_u64() % 200) as usize;
        for b in buf.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        if i % 2 == 0 && len >= 20 {
            // Looks like STUN: exercise attribute parsing.
            buf[0] &= 0x3f;
            buf[2..4].copy_from_slice(&(((len - 20) & !3) as u16).to_be_bytes());
            buf[4..8].copy_from_slice(&crate::stun::MAGIC_COOKIE.to_be_bytes());
            assert_lite_rejects(&buf[..20 + ((len - 20) & !3)], None);
        } else {
            assert_lite_rejects(&buf[..len], None);
        }
    }
}

#[test]
fn controlling_ignores_bad_responses() {
    let t0 = Instant::now();
    let mut c = controlling(t0);
    let mut buf = [0u8; MAX_TRANSMIT_LEN];
    let t = c.poll_transmit(&mut buf).unwrap();
    let req = StunMessage::parse(&buf[..t.len]).unwrap();
    assert!(req.is_binding_request());
    assert!(req.has_use_candidate());
    assert_eq!(req.ice_controlling(), Some(TIEBREAKER));
    assert_eq!(req.priority(), Some(CHECK_PRIORITY));
    let expected_user = format!("{LITE_UFRAG}:{CTL_UFRAG}");
    assert_eq!(req.username(), Some(expected_user.as_bytes()));
    assert!(req.verify_integrity(LITE_PWD.as_bytes()));
    assert!(req.verify_fingerprint());
    let txid = req.transaction_id();
    let timeout = c.poll_timeout();

    let mut out = [0u8; MAX_TRANSMIT_LEN];
    let mut resp = |id: [u8; 12], key: &str| {
        let n = write_binding_success(&mut out, &id, ctl_addr(), key.as_bytes()).unwrap();
        out[..n].to_vec()
    };
    let cases: [(Vec<u8>, SocketAddr, IceError); 4] = [
        (resp(txid, "wrong"), lite_addr(), IceError::BadIntegrity),
        (
            resp([0; 12], LITE_PWD),
            lite_addr(),
            IceError::UnknownTransaction,
        ),
        (resp(txid, LITE_PWD), addr(9), IceError::UnexpectedSource),
        (check(1, true), lite_addr(), IceError::WrongUsername),
    ];
    for (bytes, from, err) in &cases {
        assert_eq!(c.handle_input(t0, *from, bytes), Err(*err));
        for len in 0..bytes.len() {
            assert!(c.handle_input(t0, *from, &bytes[..len]).is_err());
        }
    }
    let mut err_out = [0u8; MAX_TRANSMIT_LEN];
    let n = write_binding_error(&mut err_out, &txid, 401, None).unwrap();
    assert_eq!(
        c.handle_input(t0, lite_addr(), &err_out[..n]),
        Err(IceError::ErrorResponse(401))
    );
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.selected(), None);
    assert_eq!(c.poll_timeout(), timeout);
    assert!(c.poll_transmit(&mut buf).is_none());

    // The genuine response still connects.
    let good = resp(txid, LITE_PWD);
    c.handle_input(t0, lite_addr(), &good).unwrap();
    assert_eq!(c.poll_event(), Some(IceEvent::Selected(lite_addr())));
    assert_eq!(c.selected(), Some(lite_addr()));
}

/// A check a full controlled agent (Janus's libnice) sends back to the controlling agent.
fn controlled_check(txid: u8, key: &str) -> Vec<u8> {
    let mut out = vec![0u8; MAX_TRANSMIT_LEN];
    let username = format!("{CTL_UFRAG}:{LITE_UFRAG}");
    let n = write_controlled_binding_request(
        &mut out,
        &[txid; 12],
        username.as_bytes(),
        key.as_bytes(),
        CHECK_PRIORITY,
        9,
    )
    .unwrap();
    out.truncate(n);
    out
}

#[test]
fn controlling_answers_the_peers_checks() {
    let t0 = Instant::now();
    let mut c = controlling(t0);
    let mut buf = [0u8; MAX_TRANSMIT_LEN];
    let first = c.poll_transmit(&mut buf).unwrap();
    let our_txid = StunMessage::parse(&buf[..first.len])
        .unwrap()
        .transaction_id();
    assert!(c.poll_transmit(&mut buf).is_none());

    // Hostile or misdirected checks: nothing is queued.
    let mut wrong_user = vec![0u8; MAX_TRANSMIT_LEN];
    let n = write_controlled_binding_request(
        &mut wrong_user,
        &[3; 12],
        format!("{LITE_UFRAG}:{CTL_UFRAG}").as_bytes(),
        CTL_PWD.as_bytes(),
        CHECK_PRIORITY,
        9,
    )
    .unwrap();
    let mut conflict = vec![0u8; MAX_TRANSMIT_LEN];
    let m = write_binding_request(
        &mut conflict,
        &[4; 12],
        format!("{CTL_UFRAG}:{LITE_UFRAG}").as_bytes(),
        CTL_PWD.as_bytes(),
        CHECK_PRIORITY,
        9,
        true,
    )
    .unwrap();
    let cases: [(Vec<u8>, SocketAddr, IceError); 4] = [
        (
            controlled_check(1, "wrong"),
            lite_addr(),
            IceError::BadIntegrity,
        ),
        (
            controlled_check(2, CTL_PWD),
            addr(9),
            IceError::UnexpectedSource,
        ),
        (
            wrong_user[..n].to_vec(),
            lite_addr(),
            IceError::WrongUsername,
        ),
        (conflict[..m].to_vec(), lite_addr(), IceError::RoleConflict),
    ];
    for (bytes, from, err) in &cases {
        assert_eq!(c.handle_input(t0, *from, bytes), Err(*err));
    }
    assert!(
        c.poll_transmit(&mut buf).is_none(),
        "no answer to bad checks"
    );

    // A genuine check is answered, to the peer, keyed with our password; it selects nothing.
    c.handle_input(t0, lite_addr(), &controlled_check(7, CTL_PWD))
        .unwrap();
    let t = c.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.dst, lite_addr());
    let resp = StunMessage::parse(&buf[..t.len]).unwrap();
    assert_eq!(resp.class(), StunClass::SuccessResponse);
    assert_eq!(resp.transaction_id(), [7; 12]);
    assert!(resp.verify_integrity(CTL_PWD.as_bytes()));
    assert_eq!(resp.xor_mapped_address(), Some(lite_addr()));
    assert!(c.poll_transmit(&mut buf).is_none());
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.selected(), None);

    // Our own check's answer still connects; checks keep being answered afterwards.
    let n = write_binding_success(&mut buf, &our_txid, ctl_addr(), LITE_PWD.as_bytes()).unwrap();
    let answer = buf[..n].to_vec();
    c.handle_input(t0, lite_addr(), &answer).unwrap();
    assert_eq!(c.poll_event(), Some(IceEvent::Selected(lite_addr())));
    c.handle_input(t0, lite_addr(), &controlled_check(8, CTL_PWD))
        .unwrap();
    assert!(c.poll_transmit(&mut buf).is_some());
}

#[test]
fn controlling_runs_are_repeatable() {
    let run = || {
        let mut p = Pair::new();
        let start = p.now;
        p.pump();
        p.run_for(Duration::from_secs(20));
        p.checks_sent.iter().map(|t| *t - start).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn small_output_buffer_drops_instead_of_panicking() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    let mut tiny = [0u8; 10];
    assert!(l.poll_transmit(&mut tiny).is_none());
    let mut c = controlling(t0);
    assert!(c.poll_transmit(&mut tiny).is_none());
}

#[test]
fn rfc5769_request_is_authenticated_but_claims_the_controlled_role() {
    // The RFC 5769 sample request (USERNAME "evtj:h6vY") carries ICE-CONTROLLED: a lite agent
    // with the matching credentials authenticates it, then refuses it as a role conflict.
    use crate::stun::tests::{PASSWORD, SAMPLE_REQUEST};
    let t0 = Instant::now();
    let pwd = std::str::from_utf8(PASSWORD).unwrap();
    let mut l = IceLite::new(IceConfig::default(), "evtj", pwd, "h6vY", t0);
    assert_eq!(
        l.handle_input(t0, addr(1), &SAMPLE_REQUEST),
        Err(IceError::RoleConflict)
    );
    let mut l = IceLite::new(IceConfig::default(), "evtj", "other", "h6vY", t0);
    assert_eq!(
        l.handle_input(t0, addr(1), &SAMPLE_REQUEST),
        Err(IceError::BadIntegrity)
    );
    assert_eq!(l.poll_event(), None);
}

#[test]
fn check_without_fingerprint_is_accepted() {
    let mut bytes = check(8, true);
    bytes.truncate(bytes.len() - 8);
    let len = (bytes.len() - 20) as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &bytes).unwrap();
    assert_eq!(l.poll_event(), Some(IceEvent::Selected(addr(1))));
    // Without MESSAGE-INTEGRITY as well, it is refused.
    bytes.truncate(bytes.len() - 24);
    let len = (bytes.len() - 20) as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        l.handle_input(t0, addr(2), &bytes),
        Err(IceError::MissingIntegrity)
    );
}

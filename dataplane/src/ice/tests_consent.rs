//! The ICE-lite agent's consent (RFC 7675) on a virtual clock: media only goes to an address
//! that answered a check of ours or completed DTLS; switches wait for the answer; what goes
//! to an address that never answers is capped.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::tests::{
    addr, answer_probes, check, lite, lite_addr, CTL_PWD, CTL_UFRAG, LITE_PWD, LITE_UFRAG,
};
use super::*;
use crate::stun::{write_binding_success, StunMessage};

/// The transmits `l` queued: `(destination, is a check of ours)`.
fn transmits(l: &mut IceLite) -> Vec<(SocketAddr, bool)> {
    let mut buf = [0u8; MAX_TRANSMIT_LEN];
    std::iter::from_fn(|| {
        let t = l.poll_transmit(&mut buf)?;
        let msg = StunMessage::parse(&buf[..t.len]).unwrap();
        Some((t.dst, msg.is_binding_request()))
    })
    .collect()
}

#[test]
fn first_valid_check_selects_and_use_candidate_switches_once_the_new_address_answers() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    let mut buf = [0u8; MAX_TRANSMIT_LEN];

    // Aggressive nomination: the first valid check selects, even without USE-CANDIDATE...
    l.handle_input(t0, addr(1), &check(1, false)).unwrap();
    assert_eq!(l.poll_event(), Some(IceEvent::Selected(addr(1))));
    let t = l.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.dst, addr(1));
    let resp = StunMessage::parse(&buf[..t.len]).unwrap();
    assert_eq!(resp.transaction_id(), [1; 12]);
    assert_eq!(resp.xor_mapped_address(), Some(addr(1)));
    assert!(resp.verify_integrity(LITE_PWD.as_bytes()));
    assert!(resp.verify_fingerprint());
    // ... but media waits until the address answers our own check: a controlled agent's
    // check, keyed with the browser's password.
    assert_eq!(l.media_target(), None);
    let t = l.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.dst, addr(1));
    let probe = StunMessage::parse(&buf[..t.len]).unwrap();
    assert!(probe.is_binding_request());
    assert_eq!(
        probe.username(),
        Some(format!("{CTL_UFRAG}:{LITE_UFRAG}").as_bytes())
    );
    assert!(probe.ice_controlled().is_some() && probe.ice_controlling().is_none());
    assert!(!probe.has_use_candidate());
    assert!(probe.verify_integrity(CTL_PWD.as_bytes()) && probe.verify_fingerprint());
    let mut answer = [0u8; MAX_TRANSMIT_LEN];
    let n = write_binding_success(
        &mut answer,
        &probe.transaction_id(),
        lite_addr(),
        CTL_PWD.as_bytes(),
    )
    .unwrap();
    l.handle_input(t0, addr(1), &answer[..n]).unwrap();
    assert_eq!(l.media_target(), Some(addr(1)));
    assert_eq!(l.poll_event(), None, "the selection did not change");

    // A valid check from another address validates it but does not switch.
    l.handle_input(t0, addr(2), &check(2, false)).unwrap();
    assert!(l.is_validated(addr(2)));
    assert_eq!(l.selected(), Some(addr(1)));
    assert_eq!(l.poll_event(), None);
    assert_eq!(transmits(&mut l), [(addr(2), false)], "only the answer");

    // USE-CANDIDATE from the selected address changes nothing.
    l.handle_input(t0, addr(1), &check(3, true)).unwrap();
    assert_eq!(l.poll_event(), None);
    assert_eq!(transmits(&mut l), [(addr(1), false)]);

    // USE-CANDIDATE from another address: our check goes there; no switch yet.
    let t1 = t0 + Duration::from_secs(1);
    l.handle_input(t1, addr(2), &check(4, true)).unwrap();
    assert_eq!(l.poll_event(), None);
    assert_eq!(
        (l.selected(), l.media_target()),
        (Some(addr(1)), Some(addr(1)))
    );
    // Answers that do not count: from elsewhere, to another transaction, with another key.
    let mut buf2 = [0u8; MAX_TRANSMIT_LEN];
    l.poll_transmit(&mut buf2).unwrap(); // the answer to its check
    let t = l.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.dst, addr(2));
    let txid = StunMessage::parse(&buf[..t.len]).unwrap().transaction_id();
    let answer = |txid: &[u8; 12], pwd: &str| {
        let mut out = [0u8; MAX_TRANSMIT_LEN];
        let n = write_binding_success(&mut out, txid, lite_addr(), pwd.as_bytes()).unwrap();
        out[..n].to_vec()
    };
    let good = answer(&txid, CTL_PWD);
    assert_eq!(
        l.handle_input(t1, addr(3), &good),
        Err(IceError::UnexpectedSource)
    );
    assert_eq!(
        l.handle_input(t1, addr(2), &answer(&[7; 12], CTL_PWD)),
        Err(IceError::UnknownTransaction)
    );
    assert_eq!(
        l.handle_input(t1, addr(2), &answer(&txid, LITE_PWD)),
        Err(IceError::BadIntegrity)
    );
    assert_eq!(l.poll_event(), None);
    // The answer from the new address switches.
    l.handle_input(t1, addr(2), &good).unwrap();
    assert_eq!(l.poll_event(), Some(IceEvent::Selected(addr(2))));
    assert_eq!(
        (l.selected(), l.media_target()),
        (Some(addr(2)), Some(addr(2)))
    );
    assert_eq!(
        l.poll_timeout(),
        Some(t1 + IceConfig::default().consent_timeout)
    );
    assert_eq!(
        l.handle_input(t1, addr(2), &good),
        Err(IceError::UnknownTransaction),
        "an answer counts once"
    );

    // And back, at once: addr(1) answered us less than a consent timeout ago.
    l.handle_input(t1, addr(1), &check(5, true)).unwrap();
    assert_eq!(l.poll_event(), Some(IceEvent::Selected(addr(1))));
    assert_eq!(transmits(&mut l), [(addr(1), false)]);
}

#[test]
fn an_address_that_never_answers_is_never_selected_and_gets_a_few_checks() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    answer_probes(&mut l, t0);
    while l.poll_event().is_some() {}

    // Nominations from a spoofed address, every 500 ms for 20 s.
    let mut checks_to_it = Vec::new();
    let mut now = t0;
    let end = t0 + Duration::from_secs(20);
    let mut next_nomination = t0;
    while now < end {
        if now >= next_nomination {
            l.handle_input(now, addr(9), &check(9, true)).unwrap();
            next_nomination += Duration::from_millis(500);
        }
        l.handle_timeout(now);
        for (dst, ours) in transmits(&mut l) {
            if ours {
                assert_eq!(dst, addr(9));
                checks_to_it.push(now - t0);
            }
        }
        now = l.poll_timeout().unwrap().min(next_nomination);
    }
    assert_eq!(l.poll_event(), None, "never switched");
    assert_eq!(l.media_target(), Some(addr(1)));
    // Six checks from each nomination that found none on its way: at 0, 0.1, 0.3, 0.7, 1.5
    // and 3.1 s, given up at 6.3 s; the next nomination (6.5 s) starts again.
    let ms: Vec<u128> = checks_to_it.iter().map(Duration::as_millis).collect();
    assert_eq!(
        ms,
        [
            0, 100, 300, 700, 1500, 3100, 6500, 6600, 6800, 7200, 8000, 9600, 13000, 13100, 13300,
            13700, 14500, 16100, 19500, 19600, 19800
        ]
    );
}

#[test]
fn nominations_alternating_between_addresses_get_one_check_on_its_way_at_a_time() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    answer_probes(&mut l, t0);
    let mut ours = 0;
    for i in 0..130u32 {
        let now = t0 + Duration::from_millis(100) * i;
        l.handle_timeout(now);
        let from = if i % 2 == 0 { addr(8) } else { addr(9) };
        l.handle_input(now, from, &check(8, true)).unwrap();
        ours += transmits(&mut l).iter().filter(|(_, ours)| *ours).count();
    }
    // 13 s: two full rounds of six and the start of a third, never one per nomination.
    assert!(ours <= 18, "{ours} checks of ours");
    assert_eq!(l.selected(), Some(addr(1)));
}

#[test]
fn a_dtls_handshake_with_the_selected_address_gives_it_consent() {
    let t0 = Instant::now();
    let mut l = lite(t0);
    l.handle_input(t0, addr(1), &check(1, true)).unwrap();
    assert_eq!(l.media_target(), None);
    l.confirm(t0, addr(3)); // never validated: ignored
    assert_eq!(l.media_target(), None);
    l.confirm(t0, addr(1));
    assert_eq!(l.media_target(), Some(addr(1)));
    // Our check to it is no longer needed.
    assert_eq!(transmits(&mut l), [(addr(1), false)], "only the answer");
    assert_eq!(
        l.poll_timeout(),
        Some(t0 + IceConfig::default().consent_timeout)
    );
}

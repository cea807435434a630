//! SRTP tests with fixed keying material (the DTLS-derived round trip lives in `dtls::tests`).

use super::*;

fn keys(profile: SrtpProfile, is_client: bool) -> SrtpKeys {
    SrtpKeys {
        profile,
        keying_material: (0..profile.keying_material_len())
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
            .collect(),
        is_client,
    }
}

fn pair(profile: SrtpProfile) -> (SrtpSession, SrtpSession) {
    let client = SrtpSession::new(&keys(profile, true)).expect("valid client keys");
    let server = SrtpSession::new(&keys(profile, false)).expect("valid server keys");
    (client, server)
}

/// A plain RTP packet: V=2, PT 96, the given sequence number, SSRC 0x11223344, a payload.
pub(crate) fn rtp_packet(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&0x1122_3344u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A plain RTCP receiver report with no report blocks, from SSRC 0x55667788.
pub(crate) fn rtcp_packet() -> Vec<u8> {
    vec![0x80, 201, 0x00, 0x01, 0x55, 0x66, 0x77, 0x88]
}

#[test]
fn rtp_and_rtcp_round_trip_both_ways_for_both_profiles() {
    for profile in SrtpProfile::ALL {
        let (mut client, mut server) = pair(profile);
        for seq in [1u16, 2, 3] {
            let plain = rtp_packet(seq, b"media payload");
            let protected = client.protect_rtp(&plain).unwrap();
            assert_ne!(&protected[..], &plain[..]);
            assert_eq!(&server.unprotect_rtp(&protected).unwrap()[..], &plain[..]);

            let protected = server.protect_rtp(&plain).unwrap();
            assert_eq!(&client.unprotect_rtp(&protected).unwrap()[..], &plain[..]);
        }
        let plain = rtcp_packet();
        let protected = client.protect_rtcp(&plain).unwrap();
        assert_eq!(&server.unprotect_rtcp(&protected).unwrap()[..], &plain[..]);
        let protected = server.protect_rtcp(&plain).unwrap();
        assert_eq!(&client.unprotect_rtcp(&protected).unwrap()[..], &plain[..]);
    }
}

#[test]
fn protect_rtp_into_matches_protect_rtp_output_length_and_decrypts() {
    for profile in SrtpProfile::ALL {
        let (mut client, mut server) = pair(profile);
        let mut out = vec![0xEE; 3];
        let plain = rtp_packet(7, b"into");
        client.protect_rtp_into(&plain, &mut out).unwrap();
        assert_eq!(&server.unprotect_rtp(&out).unwrap()[..], &plain[..]);
    }
}

#[test]
fn same_direction_keys_do_not_decrypt() {
    // A client context cannot open what another client protected: the halves are role-bound.
    for profile in SrtpProfile::ALL {
        let mut a = SrtpSession::new(&keys(profile, true)).unwrap();
        let mut b = SrtpSession::new(&keys(profile, true)).unwrap();
        let protected = a.protect_rtp(&rtp_packet(1, b"x")).unwrap();
        assert_eq!(b.unprotect_rtp(&protected), Err(SrtpError::Auth));
    }
}

#[test]
fn tampered_packets_fail_authentication() {
    for profile in SrtpProfile::ALL {
        let (mut client, mut server) = pair(profile);
        let mut protected = client.protect_rtp(&rtp_packet(10, b"payload!")).unwrap();
        protected[14] ^= 0x01;
        assert_eq!(server.unprotect_rtp(&protected), Err(SrtpError::Auth));

        let mut protected = client.protect_rtcp(&rtcp_packet()).unwrap();
        protected[9] ^= 0x80;
        assert_eq!(server.unprotect_rtcp(&protected), Err(SrtpError::Auth));

        // The untampered next packet still goes through: a failure does not poison the context.
        let good = client.protect_rtp(&rtp_packet(11, b"payload!")).unwrap();
        assert!(server.unprotect_rtp(&good).is_ok());
    }
}

#[test]
fn replayed_packets_are_refused() {
    for profile in SrtpProfile::ALL {
        let (mut client, mut server) = pair(profile);
        let protected = client.protect_rtp(&rtp_packet(100, b"once")).unwrap();
        assert!(server.unprotect_rtp(&protected).is_ok());
        assert_eq!(server.unprotect_rtp(&protected), Err(SrtpError::Replay));

        let protected = client.protect_rtcp(&rtcp_packet()).unwrap();
        assert!(server.unprotect_rtcp(&protected).is_ok());
        assert_eq!(server.unprotect_rtcp(&protected), Err(SrtpError::Replay));
    }
}

#[test]
fn wrong_keying_material_length_is_refused() {
    let mut k = keys(SrtpProfile::AeadAes128Gcm, true);
    k.keying_material.pop();
    assert_eq!(SrtpSession::new(&k).unwrap_err(), SrtpError::Keys);
    let mut k = keys(SrtpProfile::Aes128CmHmacSha1_80, false);
    k.keying_material.push(0);
    assert_eq!(SrtpSession::new(&k).unwrap_err(), SrtpError::Keys);
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    let mut state = 0x1234_5678u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for profile in SrtpProfile::ALL {
        let (mut client, mut server) = pair(profile);
        let protected = client.protect_rtp(&rtp_packet(5, &[7u8; 64])).unwrap();
        for len in 0..protected.len() {
            assert!(server.unprotect_rtp(&protected[..len]).is_err());
            assert!(server.unprotect_rtcp(&protected[..len]).is_err());
        }
        let protected = client.protect_rtcp(&rtcp_packet()).unwrap();
        for len in 0..protected.len() {
            assert!(server.unprotect_rtcp(&protected[..len]).is_err());
        }
        for round in 0..2000 {
            let len = (next() % 300) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 && !buf.is_empty() {
                buf[0] = 0x80 | (buf[0] & 0x3f); // pass the version check
            }
            assert!(server.unprotect_rtp(&buf).is_err());
            assert!(server.unprotect_rtcp(&buf).is_err());
            // Protecting garbage must not panic either (it may succeed: any RTP parses).
            let _ = client.protect_rtp(&buf);
            let _ = client.protect_rtcp(&buf);
        }
    }
    assert_eq!(
        SrtpSession::new(&keys(SrtpProfile::AeadAes128Gcm, true))
            .unwrap()
            .protect_rtp(&[0x80, 0]),
        Err(SrtpError::Malformed)
    );
}

#[test]
fn profile_ids_round_trip() {
    for profile in SrtpProfile::ALL {
        assert_eq!(SrtpProfile::from_id(profile.id()), Some(profile));
    }
    assert_eq!(SrtpProfile::from_id(0x0002), None);
    assert_eq!(SrtpProfile::AeadAes128Gcm.keying_material_len(), 56);
    assert_eq!(SrtpProfile::Aes128CmHmacSha1_80.keying_material_len(), 60);
}

#[test]
fn unencrypted_srtcp_without_a_valid_tag_is_refused() {
    // rtc-srtp skips authentication when the E flag is clear; the session must not.
    let (mut client, mut server) = pair(SrtpProfile::Aes128CmHmacSha1_80);
    let protected = client.protect_rtcp(&rtcp_packet()).unwrap();
    let mut forged = protected.to_vec();
    let e_flag = forged.len() - CM_SRTCP_TRAILER_LEN;
    forged[e_flag] &= 0x7f;
    assert_eq!(server.unprotect_rtcp(&forged), Err(SrtpError::Auth));
    // The genuine packet is still accepted afterwards (the forgery did not touch the window).
    assert!(server.unprotect_rtcp(&protected).is_ok());
}

/// rtc-srtp's own outbound context for the client half of `keys(GCM, true)`.
fn crate_gcm_outbound() -> Context {
    let k = keys(SrtpProfile::AeadAes128Gcm, true);
    let mut config = Config {
        profile: ProtectionProfile::AeadAes128Gcm,
        ..Default::default()
    };
    config
        .set_session_keys_from_keying_material(&k.keying_material, true)
        .unwrap();
    let provider = rtc_srtp::crypto::default_provider().unwrap();
    Context::new(
        &config.keys.local_master_key,
        &config.keys.local_master_salt,
        config.profile,
        None,
        None,
        provider.crypto(),
    )
    .unwrap()
}

/// An RTP packet with two CSRCs and a one-byte extension block (all part of the GCM AAD).
fn rtp_packet_with_ext(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x92, 0x80 | 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 8]);
    p.extend_from_slice(&[0xBE, 0xDE, 0, 2, 0x12, 0xAA, 0xBB, 0xCC, 0x30, 0x55, 0, 0]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn in_place_gcm_seal_is_byte_identical_to_rtc_srtp_and_opens_there_across_a_wrap() {
    let (mut client, mut server) = pair(SrtpProfile::AeadAes128Gcm);
    let mut reference = crate_gcm_outbound();
    let mut buf = Vec::with_capacity(2048);
    // Two SSRCs, a wrap of the sequence number (ROC 0 -> 1) and a late packet from before it.
    let seqs = [0xFFFDu16, 0xFFFE, 0xFFFF, 0, 1, 0xFFFC, 2, 3];
    for (i, seq) in seqs.into_iter().enumerate() {
        for ssrc in [0xAABB_CCDDu32, 0x1234_5678] {
            let payload: Vec<u8> = (0..(100 + i * 37)).map(|b| b as u8).collect();
            let plain = rtp_packet_with_ext(seq, ssrc, &payload);
            buf.clear();
            buf.extend_from_slice(&plain);
            let cap = buf.capacity();
            client.protect_rtp_in_place(&mut buf).unwrap();
            assert_eq!(buf.capacity(), cap, "sealing must not reallocate");
            assert_eq!(buf.len(), plain.len() + 16);
            let expected = reference.encrypt_rtp(&plain).unwrap();
            assert_eq!(&buf[..], &expected[..], "seq {seq:#x} ssrc {ssrc:#x}");
            assert_eq!(&server.unprotect_rtp(&buf).unwrap()[..], &plain[..]);
        }
    }
}

#[test]
fn in_place_protect_rejects_bad_rtp_and_leaves_the_buffer_alone() {
    for profile in SrtpProfile::ALL {
        let (mut client, _) = pair(profile);
        for bad in [
            &[][..],
            &[0x80; 11][..],
            &[0x40; 40][..],
            // X bit set, extension header cut off.
            &[0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE][..],
            // Extension length beyond the packet.
            &[0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 9][..],
            // 15 CSRCs announced, none present.
            &[0x8F, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0][..],
        ] {
            let mut buf = bad.to_vec();
            assert_eq!(
                client.protect_rtp_in_place(&mut buf),
                Err(SrtpError::Malformed),
                "{profile:?} {bad:?}"
            );
            assert_eq!(&buf[..], bad);
        }
    }
}

#[test]
fn in_place_gcm_tracks_eight_ssrcs_and_refuses_a_ninth() {
    let (mut client, mut server) = pair(SrtpProfile::AeadAes128Gcm);
    let mut buf = Vec::with_capacity(2048);
    let mut seal = |client: &mut SrtpSession, ssrc: u32, seq: u16| {
        let plain = rtp_packet_with_ext(seq, ssrc, b"payload");
        buf.clear();
        buf.extend_from_slice(&plain);
        client
            .protect_rtp_in_place(&mut buf)
            .map(|()| (plain, buf.clone()))
    };
    for ssrc in 1..=8u32 {
        let (plain, sealed) = seal(&mut client, ssrc, 10).unwrap();
        assert_eq!(&server.unprotect_rtp(&sealed).unwrap()[..], &plain[..]);
    }
    assert_eq!(
        seal(&mut client, 9, 10).map(drop),
        Err(SrtpError::TooManySsrcs)
    );
    // The eight keep working.
    let (plain, sealed) = seal(&mut client, 8, 11).unwrap();
    assert_eq!(&server.unprotect_rtp(&sealed).unwrap()[..], &plain[..]);
}

#[test]
fn in_place_protect_works_for_the_cm_profile_too() {
    let (mut client, mut server) = pair(SrtpProfile::Aes128CmHmacSha1_80);
    let plain = rtp_packet_with_ext(9, 0x0101_0101, b"cm payload");
    let mut buf = plain.clone();
    client.protect_rtp_in_place(&mut buf).unwrap();
    assert_eq!(buf.len(), plain.len() + 10);
    assert_eq!(&server.unprotect_rtp(&buf).unwrap()[..], &plain[..]);
}

/// `plain` with its SSRC (RTP bytes 8..12) set to `ssrc`.
fn with_ssrc(mut plain: Vec<u8>, ssrc: u32) -> Vec<u8> {
    plain[8..12].copy_from_slice(&ssrc.to_be_bytes());
    plain
}

#[test]
fn forged_packets_of_new_ssrcs_are_refused_without_admitting_their_ssrc() {
    for profile in SrtpProfile::ALL {
        let (mut client, mut server) = pair(profile);
        let genuine = client.protect_rtp(&rtp_packet(1, b"media")).unwrap();
        for ssrc in 0..1000u32 {
            // A genuine-looking packet of a fresh SSRC with a tag that cannot verify.
            let mut forged = with_ssrc(genuine.to_vec(), 0x9000_0000 + ssrc);
            let last = forged.len() - 1;
            forged[last] ^= 0x5A;
            assert_eq!(server.unprotect_rtp(&forged), Err(SrtpError::Auth));
            let mut rtcp = client.protect_rtcp(&rtcp_packet()).unwrap().to_vec();
            rtcp[4..8].copy_from_slice(&(0xA000_0000 + ssrc).to_be_bytes());
            assert!(server.unprotect_rtcp(&rtcp).is_err());
        }
        assert_eq!(
            server.inbound_ssrcs(),
            (0, 0),
            "{profile:?}: nothing admitted"
        );
        // The genuine packet is admitted, once: a replay of it is refused.
        assert!(server.unprotect_rtp(&genuine).is_ok());
        assert_eq!(server.unprotect_rtp(&genuine), Err(SrtpError::Replay));
        let rtcp = client.protect_rtcp(&rtcp_packet()).unwrap();
        assert!(server.unprotect_rtcp(&rtcp).is_ok());
        assert_eq!(server.inbound_ssrcs(), (1, 1));
    }
}

#[test]
fn at_most_max_inbound_ssrcs_are_admitted_and_admitted_ones_keep_flowing() {
    for profile in SrtpProfile::ALL {
        let (_, mut server) = pair(profile);
        // One sender per SSRC (our in-place GCM sender tracks eight SSRCs at most).
        let mut senders: Vec<SrtpSession> = (0..=MAX_INBOUND_SSRCS)
            .map(|_| SrtpSession::new(&keys(profile, true)).unwrap())
            .collect();
        for (i, sender) in senders.iter_mut().enumerate() {
            let plain = with_ssrc(rtp_packet(10, b"layer"), 0x100 + i as u32);
            let got = server.unprotect_rtp(&sender.protect_rtp(&plain).unwrap());
            if i < MAX_INBOUND_SSRCS {
                assert_eq!(
                    &got.unwrap()[..],
                    &plain[..],
                    "{profile:?}: SSRC {i} admitted"
                );
            } else {
                assert_eq!(
                    got,
                    Err(SrtpError::TooManySsrcs),
                    "{profile:?}: one too many"
                );
            }
        }
        assert_eq!(server.inbound_ssrcs().0, MAX_INBOUND_SSRCS);
        for (i, sender) in senders.iter_mut().take(MAX_INBOUND_SSRCS).enumerate() {
            let plain = with_ssrc(rtp_packet(11, b"more"), 0x100 + i as u32);
            let got = server.unprotect_rtp(&sender.protect_rtp(&plain).unwrap());
            assert_eq!(&got.unwrap()[..], &plain[..]);
        }
    }
}

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

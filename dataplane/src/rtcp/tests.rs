use super::*;
use std::time::{Duration, Instant};

fn all(buf: &[u8]) -> Vec<Result<RtcpPacket<'_>, RtcpError>> {
    RtcpCompound::iter(buf).collect()
}

fn one(buf: &[u8]) -> RtcpPacket<'_> {
    let mut v = all(buf);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0).unwrap()
}

/// SR from 0x11223344 with one report block, followed by SDES CNAME "ab".
const SR_SDES: [u8; 64] = [
    0x81, 0xC8, 0x00, 0x0C, // V=2 RC=1 PT=200 len=12 words
    0x11, 0x22, 0x33, 0x44, // sender SSRC
    0xAA, 0xBB, 0xCC, 0xDD, 0x01, 0x02, 0x03, 0x04, // NTP
    0x00, 0x00, 0x10, 0x00, // RTP ts
    0x00, 0x00, 0x00, 0x05, // packets
    0x00, 0x00, 0x01, 0x00, // octets
    0x55, 0x66, 0x77, 0x88, // block: SSRC
    0x40, 0xFF, 0xFF, 0xFE, // fraction 64, cumulative -2
    0x00, 0x01, 0x00, 0x10, // ext highest seq
    0x00, 0x00, 0x00, 0x20, // jitter
    0x12, 0x34, 0x56, 0x78, // LSR
    0x00, 0x01, 0x00, 0x00, // DLSR
    0x81, 0xCA, 0x00, 0x02, // SDES, 1 chunk, len 2 words
    0x11, 0x22, 0x33, 0x44, // SSRC
    0x01, 0x02, b'a', b'b', // CNAME "ab" ... (null follows in next word)
];

#[test]
fn parses_sender_report_and_sdes() {
    let mut buf = SR_SDES.to_vec();
    // The SDES chunk needs its null terminator: extend the SDES by one word.
    buf[54..56].copy_from_slice(&[0x00, 0x03]);
    buf.extend_from_slice(&[0, 0, 0, 0]);
    let pkts: Vec<_> = RtcpCompound::iter(&buf).map(Result::unwrap).collect();
    assert_eq!(pkts.len(), 2);
    let RtcpPacket::SenderReport(sr) = pkts[0] else {
        panic!("{:?}", pkts[0]);
    };
    assert_eq!(sr.sender_ssrc(), 0x1122_3344);
    assert_eq!(sr.ntp(), 0xAABB_CCDD_0102_0304);
    assert_eq!(sr.rtp_timestamp(), 0x1000);
    assert_eq!(sr.packet_count(), 5);
    assert_eq!(sr.octet_count(), 256);
    let blocks: Vec<_> = sr.report_blocks().collect();
    assert_eq!(
        blocks,
        vec![ReportBlock {
            ssrc: 0x5566_7788,
            fraction_lost: 64,
            cumulative_lost: -2,
            extended_highest_seq: 0x0001_0010,
            jitter: 32,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }]
    );
    let RtcpPacket::Sdes(sdes) = pkts[1] else {
        panic!("{:?}", pkts[1]);
    };
    assert_eq!(sdes.cname(), Some((0x1122_3344, &b"ab"[..])));
    assert_eq!(sdes.items().count(), 1);
}

#[test]
fn sdes_without_terminator_is_malformed() {
    // As in SR_SDES: the chunk's items end exactly at the packet end, with no null octet.
    let r = all(&SR_SDES);
    assert!(r[0].is_ok());
    assert_eq!(r[1], Err(RtcpError::Malformed));
    assert_eq!(r.len(), 2);
}

#[test]
fn parses_padded_receiver_report() {
    let buf = [
        0xA0, 0xC9, 0x00, 0x02, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x00, 0x00, 0x04,
    ];
    let RtcpPacket::ReceiverReport(rr) = one(&buf) else {
        panic!();
    };
    assert_eq!(rr.sender_ssrc(), 0xDEAD_BEEF);
    assert_eq!(rr.report_blocks().count(), 0);
}

#[test]
fn parses_feedback_by_hand() {
    let pli = [0x81, 0xCE, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    assert_eq!(
        one(&pli),
        RtcpPacket::Pli(Pli {
            sender_ssrc: 1,
            media_ssrc: 2
        })
    );
    // NACK: PID 100, BLP 0b101 → 100, 101, 103.
    let nack = [0x81, 0xCD, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0, 5];
    let RtcpPacket::Nack(n) = one(&nack) else {
        panic!();
    };
    assert_eq!(n.media_ssrc, 2);
    assert_eq!(n.pairs().collect::<Vec<_>>(), vec![(100, 5)]);
    assert_eq!(n.lost().collect::<Vec<_>>(), vec![100, 101, 103]);
    // TWCC and another RTPFB; a PSFB SLI (FMT 2).
    let twcc = [0x8F, 0xCD, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9, 9, 9];
    let RtcpPacket::Twcc(t) = one(&twcc) else {
        panic!();
    };
    assert_eq!((t.fmt, t.fci), (15, &[9, 9, 9, 9][..]));
    let other = [0x83, 0xCD, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    assert!(matches!(one(&other), RtcpPacket::TransportFeedback(f) if f.fmt == 3));
    let sli = [0x82, 0xCE, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    assert!(matches!(one(&sli), RtcpPacket::PayloadFeedback(f) if f.fmt == 2));
    // Application feedback that is not REMB.
    let afb = [
        0x8F, 0xCE, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, b'X', b'Y', b'Z', b'W',
    ];
    assert!(matches!(one(&afb), RtcpPacket::PayloadFeedback(f) if f.fmt == 15));
}

#[test]
fn parses_bye_app_unknown() {
    let bye = [0x81, 0xCB, 0, 2, 0, 0, 0, 7, 3, b'b', b'y', b'e'];
    let RtcpPacket::Bye(b) = one(&bye) else {
        panic!();
    };
    assert_eq!(b.ssrcs().collect::<Vec<_>>(), vec![7]);
    assert_eq!(b.reason(), Some(&b"bye"[..]));
    let app = [
        0x83, 0xCC, 0, 3, 0, 0, 0, 7, b'N', b'A', b'M', b'E', 1, 2, 3, 4,
    ];
    let RtcpPacket::App(a) = one(&app) else {
        panic!();
    };
    assert_eq!(
        (a.subtype, a.ssrc, &a.name, a.data),
        (3, 7, b"NAME", &[1, 2, 3, 4][..])
    );
    let xr = [0x80, 0xCF, 0, 1, 1, 2, 3, 4];
    assert_eq!(
        one(&xr),
        RtcpPacket::Unknown {
            pt: 207,
            count: 0,
            body: &[1, 2, 3, 4]
        }
    );
}

#[test]
fn writers_round_trip() {
    let mut buf = [0u8; 1500];
    let mut at = 0;
    at += write_sender_report(&mut buf[at..], 1, 0x0102_0304_0506_0708, 9, 10, 11).unwrap();
    let blocks = [
        ReportBlock {
            ssrc: 5,
            fraction_lost: 3,
            cumulative_lost: -7,
            extended_highest_seq: 70000,
            jitter: 12,
            last_sr: 13,
            delay_since_last_sr: 14,
        },
        ReportBlock {
            ssrc: 6,
            cumulative_lost: 0x7F_FFFF,
            ..ReportBlock::default()
        },
    ];
    at += write_receiver_report(&mut buf[at..], 2, &blocks).unwrap();
    at += write_pli(&mut buf[at..], 3, 4).unwrap();
    at += write_fir(&mut buf[at..], 3, 4, 77).unwrap();
    at += write_nack(&mut buf[at..], 3, 4, &[(65535, 0x8001)]).unwrap();
    at += write_remb(&mut buf[at..], 3, 1_000_000, &[4, 8]).unwrap();
    at += write_sdes_cname(&mut buf[at..], 1, b"cname-x").unwrap();
    at += write_bye(&mut buf[at..], &[1, 2]).unwrap();
    let pkts: Vec<_> = RtcpCompound::iter(&buf[..at]).map(Result::unwrap).collect();
    assert_eq!(pkts.len(), 8);

    let RtcpPacket::SenderReport(sr) = pkts[0] else {
        panic!();
    };
    assert_eq!(
        (
            sr.sender_ssrc(),
            sr.ntp(),
            sr.rtp_timestamp(),
            sr.packet_count(),
            sr.octet_count()
        ),
        (1, 0x0102_0304_0506_0708, 9, 10, 11)
    );
    assert_eq!(sr.report_blocks().count(), 0);
    let RtcpPacket::ReceiverReport(rr) = pkts[1] else {
        panic!();
    };
    assert_eq!(rr.sender_ssrc(), 2);
    assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks.to_vec());
    assert_eq!(
        pkts[2],
        RtcpPacket::Pli(Pli {
            sender_ssrc: 3,
            media_ssrc: 4
        })
    );
    let RtcpPacket::Fir(fir) = pkts[3] else {
        panic!();
    };
    assert_eq!(fir.sender_ssrc, 3);
    assert_eq!(
        fir.entries().collect::<Vec<_>>(),
        vec![FirEntry { ssrc: 4, seq: 77 }]
    );
    let RtcpPacket::Nack(nack) = pkts[4] else {
        panic!();
    };
    assert_eq!(nack.lost().collect::<Vec<_>>(), vec![65535, 0, 15]);
    let RtcpPacket::Remb(remb) = pkts[5] else {
        panic!();
    };
    assert_eq!(remb.bitrate, 1_000_000);
    assert_eq!(remb.ssrcs().collect::<Vec<_>>(), vec![4, 8]);
    let RtcpPacket::Sdes(sdes) = pkts[6] else {
        panic!();
    };
    assert_eq!(sdes.cname(), Some((1, &b"cname-x"[..])));
    let RtcpPacket::Bye(bye) = pkts[7] else {
        panic!();
    };
    assert_eq!(bye.ssrcs().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(bye.reason(), None);
}

#[test]
fn writer_byte_layouts() {
    let mut b = [0xFFu8; 32];
    assert_eq!(write_pli(&mut b, 0x0A0B_0C0D, 0x01020304).unwrap(), 12);
    assert_eq!(&b[..12], &[0x81, 206, 0, 2, 10, 11, 12, 13, 1, 2, 3, 4]);
    assert_eq!(write_fir(&mut b, 1, 2, 3).unwrap(), 20);
    assert_eq!(
        &b[..20],
        &[0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 3, 0, 0, 0]
    );
    // CNAME of 6 bytes: 4 + 4 + 2 + 6 = 16, plus a null word → 20.
    assert_eq!(write_sdes_cname(&mut b, 1, b"abcdef").unwrap(), 20);
    assert_eq!(&b[..4], &[0x81, 202, 0, 4]);
    assert_eq!(&b[16..20], &[0, 0, 0, 0]);
    // CNAME of 5 bytes: 4 + 4 + 2 + 5 + null = 16.
    assert_eq!(write_sdes_cname(&mut b, 1, b"abcde").unwrap(), 16);
    assert_eq!(b[15], 0);
}

#[test]
fn remb_rounds_large_bitrates_down() {
    let mut b = [0u8; 64];
    let n = write_remb(&mut b, 1, 123_456_789_012, &[]).unwrap();
    let RtcpPacket::Remb(r) = one(&b[..n]) else {
        panic!();
    };
    assert!(r.bitrate <= 123_456_789_012);
    assert!(r.bitrate > 123_456_789_012 - (123_456_789_012 >> 17));
}

#[test]
fn writers_reject_small_buffers_and_large_values() {
    let mut b = [0u8; 11];
    assert_eq!(write_pli(&mut b, 1, 2), Err(RtcpError::BufferTooSmall));
    assert_eq!(write_fir(&mut b, 1, 2, 3), Err(RtcpError::BufferTooSmall));
    assert_eq!(
        write_sender_report(&mut b, 1, 2, 3, 4, 5),
        Err(RtcpError::BufferTooSmall)
    );
    let mut big = [0u8; 2048];
    let blocks = [ReportBlock::default(); 32];
    assert_eq!(
        write_receiver_report(&mut big, 1, &blocks),
        Err(RtcpError::TooLarge)
    );
    assert_eq!(
        write_receiver_report(&mut big[..8 + 24 * 31 - 1], 1, &blocks[..31]),
        Err(RtcpError::BufferTooSmall)
    );
    assert_eq!(
        write_receiver_report(&mut big, 1, &blocks[..31]),
        Ok(8 + 24 * 31)
    );
    assert_eq!(
        write_sdes_cname(&mut big, 1, &[b'a'; 256]),
        Err(RtcpError::TooLarge)
    );
    assert_eq!(write_nack(&mut big, 1, 2, &[]), Err(RtcpError::Malformed));
    assert_eq!(write_bye(&mut big, &[0; 32]), Err(RtcpError::TooLarge));
}

#[test]
fn cumulative_lost_is_clamped_to_24_bits() {
    let mut b = [0u8; 64];
    let blocks = [ReportBlock {
        cumulative_lost: -10_000_000,
        ..ReportBlock::default()
    }];
    let n = write_receiver_report(&mut b, 1, &blocks).unwrap();
    let RtcpPacket::ReceiverReport(rr) = one(&b[..n]) else {
        panic!();
    };
    assert_eq!(
        rr.report_blocks().next().unwrap().cumulative_lost,
        -0x80_0000
    );
}

#[test]
fn malformed_compounds_are_errors() {
    assert_eq!(all(&[]), vec![Err(RtcpError::TooShort)]);
    for n in 1..4 {
        assert_eq!(
            all(&[0x80, 0xC9, 0, 1][..n]),
            vec![Err(RtcpError::TooShort)]
        );
    }
    assert_eq!(all(&[0x40, 0xC9, 0, 0]), vec![Err(RtcpError::BadVersion)]);
    // Length field beyond the buffer.
    assert_eq!(
        all(&[0x80, 0xC9, 0, 2, 0, 0, 0, 1]),
        vec![Err(RtcpError::LengthOverrun)]
    );
    assert_eq!(
        all(&[0x80, 0xC9, 0xFF, 0xFF, 0, 0, 0, 1]),
        vec![Err(RtcpError::LengthOverrun)]
    );
    // Padding count 0, and larger than the body.
    assert_eq!(
        all(&[0xA0, 0xC9, 0, 1, 0, 0, 0, 0]),
        vec![Err(RtcpError::BadPadding)]
    );
    assert_eq!(
        all(&[0xA0, 0xC9, 0, 1, 0, 0, 0, 5]),
        vec![Err(RtcpError::BadPadding)]
    );
    let bad_bodies: &[&[u8]] = &[
        &[0x80, 0xC8, 0, 1, 0, 0, 0, 1], // SR without sender info
        &[0x81, 0xC9, 0, 1, 0, 0, 0, 1], // RR count past the body
        &[0x80, 0xC9, 0, 0],             // RR without sender SSRC
        &[0x81, 0xCA, 0, 1, 0, 0, 0, 1], // SDES chunk without items/null
        &[0x81, 0xCA, 0, 2, 0, 0, 0, 1, 1, 9, b'a', 0], // SDES item past the end
        &[0x82, 0xCA, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0], // SDES second chunk missing
        &[0x82, 0xCB, 0, 1, 0, 0, 0, 1], // BYE count past the end
        &[0x81, 0xCB, 0, 2, 0, 0, 0, 1, 9, b'x', 0, 0], // BYE reason past the end
        &[0x80, 0xCC, 0, 1, 0, 0, 0, 1], // APP without name
        &[0x81, 0xCE, 0, 1, 0, 0, 0, 1], // PLI without media SSRC
        &[0x81, 0xCD, 0, 1, 0, 0, 0, 1], // NACK without media SSRC
        &[0x84, 0xCE, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2], // FIR entry cut short
        &[0x81, 0xCD, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0], // NACK FCI not words (len lies)
        &[
            0x8F, 0xCE, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 2, 0, 0, 1,
        ], // REMB with 2 SSRCs missing
        &[
            0x8F, 0xCE, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B',
        ], // REMB cut short
    ];
    for (i, b) in bad_bodies.iter().enumerate() {
        let r = all(b);
        assert_eq!(r.len(), 1, "case {i}: {r:?}");
        assert!(r[0].is_err(), "case {i}: {r:?}");
    }
}

#[test]
fn iteration_stops_after_an_error() {
    let mut buf = vec![0x81, 0xCE, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    buf.extend_from_slice(&[0x00, 0xC9, 0, 1, 0, 0, 0, 1]); // bad version
    buf.extend_from_slice(&[0x81, 0xCE, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
    let r = all(&buf);
    assert_eq!(r.len(), 2);
    assert!(r[0].is_ok());
    assert_eq!(r[1], Err(RtcpError::BadVersion));
}

#[test]
fn every_truncation_is_an_error_or_a_prefix() {
    let mut buf = [0u8; 512];
    let mut at = write_sender_report(&mut buf, 1, 2, 3, 4, 5).unwrap();
    at += write_receiver_report(&mut buf[at..], 1, &[ReportBlock::default(); 2]).unwrap();
    at += write_sdes_cname(&mut buf[at..], 1, b"cn").unwrap();
    at += write_nack(&mut buf[at..], 1, 2, &[(1, 2), (3, 4)]).unwrap();
    at += write_remb(&mut buf[at..], 1, 5000, &[2]).unwrap();
    let full = all(&buf[..at]).len();
    for n in 0..at {
        let r = all(&buf[..n]);
        assert!(r.len() <= full);
        // A strict prefix always ends in an error, except when it ends on a packet boundary.
        let oks = r.iter().filter(|p| p.is_ok()).count();
        assert!(oks == r.len() || oks + 1 == r.len());
        assert!(oks < full);
    }
}

#[test]
fn garbage_never_panics() {
    let mut x: u32 = 0x9E37_79B9;
    let mut buf = [0u8; 96];
    for _ in 0..20_000 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let len = (x % 96) as usize;
        buf[0] = 0x80 | (buf[0] & 0x3F);
        buf[1] = 200 + (buf[1] % 8);
        buf[2] = 0;
        buf[3] %= 24; // mostly lengths that fit, so the typed parsers see the bytes
        for p in RtcpCompound::iter(&buf[..len]).flatten() {
            match p {
                RtcpPacket::SenderReport(s) => drop(s.report_blocks().count()),
                RtcpPacket::ReceiverReport(r) => drop(r.report_blocks().count()),
                RtcpPacket::Sdes(s) => drop(s.items().count()),
                RtcpPacket::Bye(b) => drop(b.ssrcs().count()),
                RtcpPacket::Fir(f) => drop(f.entries().count()),
                RtcpPacket::Nack(n) => drop(n.lost().count()),
                RtcpPacket::Remb(r) => drop(r.ssrcs().count()),
                _ => {}
            }
        }
    }
}

#[test]
fn receiver_stats_loss_and_wrap() {
    let t0 = Instant::now();
    let mut s = ReceiverStats::new(42, 90_000);
    // Seqs 65500.. for 100 numbers (wraps after 36), every 10th missing.
    for i in 0..100u16 {
        if i % 10 != 9 {
            s.on_packet(65500u16.wrapping_add(i), u32::from(i) * 3000, t0);
        }
    }
    let rb = s.report_block(t0);
    assert_eq!(rb.ssrc, 42);
    // Highest is 65500 + 98 = 1 cycle + 62; 99 expected, the 10th loss (63) is not yet known.
    assert_eq!(rb.extended_highest_seq, (1 << 16) | 62);
    assert_eq!(rb.cumulative_lost, 9);
    assert_eq!(rb.fraction_lost, (9 * 256 / 99) as u8);
    // Next interval: 64 and 65 arrive, 63 is now known lost: 1 of 3 expected.
    s.on_packet(64, 0, t0);
    s.on_packet(65, 0, t0);
    let rb = s.report_block(t0);
    assert_eq!(rb.fraction_lost, (256 / 3) as u8);
    assert_eq!(rb.cumulative_lost, 10);
    assert_eq!(rb.extended_highest_seq, (1 << 16) | 65);
    // A late packet fills a hole: cumulative loss goes down, nothing new expected → 0.
    s.on_packet(63, 0, t0);
    let rb = s.report_block(t0);
    assert_eq!((rb.cumulative_lost, rb.fraction_lost), (9, 0));
    // Duplicates make the cumulative loss count down, never below what it is worth.
    let mut d = ReceiverStats::new(1, 90_000);
    d.on_packet(5, 0, t0);
    d.on_packet(5, 0, t0);
    assert_eq!(d.report_block(t0).cumulative_lost, -1);
    // 99 of the 100 numbers of the second interval lost.
    let mut l = ReceiverStats::new(1, 90_000);
    l.on_packet(0, 0, t0);
    let _ = l.report_block(t0);
    l.on_packet(100, 0, t0);
    let rb = l.report_block(t0);
    assert_eq!(rb.fraction_lost, (99 * 256 / 100) as u8);
    assert_eq!(rb.cumulative_lost, 99);
}

#[test]
fn receiver_stats_reorder_before_first_packet() {
    let t0 = Instant::now();
    let mut s = ReceiverStats::new(1, 8000);
    s.on_packet(1, 0, t0);
    s.on_packet(65535, 0, t0); // sent before the first one, across a wrap
    s.on_packet(0, 0, t0);
    let rb = s.report_block(t0);
    assert_eq!(rb.cumulative_lost, 0);
    // Cycles count from the first packet received, as in RFC 3550 A.1.
    assert_eq!(rb.extended_highest_seq, 1);
}

#[test]
fn receiver_stats_jitter_known_answer() {
    let t0 = Instant::now();
    // Constant transit → zero jitter.
    let mut s = ReceiverStats::new(1, 90_000);
    for i in 0..50u32 {
        s.on_packet(
            i as u16,
            1000 + i * 900,
            t0 + Duration::from_millis(u64::from(i) * 10),
        );
    }
    assert_eq!(s.report_block(t0).jitter, 0);

    // Every other packet arrives 1 ms (90 units) late: |D| = 90 for every pair, so
    // J_n = 90 * (1 - (15/16)^n) after n differences (RFC 3550 6.4.1 recurrence).
    let mut s = ReceiverStats::new(1, 90_000);
    let mut expected = 0.0f64;
    for i in 0..200u32 {
        let late = if i % 2 == 1 { 1 } else { 0 };
        let at = t0 + Duration::from_millis(u64::from(i) * 10 + late);
        s.on_packet(i as u16, 5000 + i * 900, at);
        if i > 0 {
            expected += (90.0 - expected) / 16.0;
            let got = f64::from(s.jitter());
            assert!(
                (got - expected.floor()).abs() <= 1.0,
                "i={i} got {got} want {expected}"
            );
        }
    }
    assert_eq!(s.report_block(t0 + Duration::from_secs(2)).jitter, 89);
}

#[test]
fn receiver_stats_lsr_dlsr() {
    let t0 = Instant::now();
    let mut s = ReceiverStats::new(7, 48_000);
    let rb = s.report_block(t0);
    assert_eq!(
        rb,
        ReportBlock {
            ssrc: 7,
            ..ReportBlock::default()
        }
    );
    s.on_sender_report(0x1122_3344_5566_7788, t0);
    s.on_packet(1, 0, t0);
    let rb = s.report_block(t0 + Duration::from_millis(1500));
    assert_eq!(rb.last_sr, 0x3344_5566);
    assert_eq!(rb.delay_since_last_sr, 98_304);
    // `now` before the SR arrival (misuse) saturates to 0 instead of panicking.
    let mut s2 = ReceiverStats::new(7, 48_000);
    s2.on_sender_report(1 << 16, t0 + Duration::from_secs(1));
    assert_eq!(s2.report_block(t0).delay_since_last_sr, 0);
}

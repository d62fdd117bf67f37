//! Framing edge cases.

use kiln_proto::*;

#[test]
fn crc_is_crc32_iso_hdlc() {
    assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
}

#[test]
fn max_frame_fits_the_largest_messages() {
    let data = [0xAAu8; MAX_CHUNK];
    let mut buf = [0u8; MAX_FRAME];
    let req = Request::WriteInput {
        input: u8::MAX,
        offset: u32::MAX,
        data: &data,
    };
    assert!(encode_request(&req, &mut buf).is_ok());
    let resp = Response::Output {
        offset: u32::MAX,
        data: &data,
    };
    assert!(encode_response(&resp, &mut buf).is_ok());
    // Worst case for COBS: a body with no zero byte at all.
    let body = [0x55u8; MAX_BODY];
    let frame = encode_frame(CHANNEL_LOG, &body, &mut buf).unwrap();
    assert!(frame.len() <= MAX_FRAME);
    let mut rx = frame.to_vec();
    let f = decode_frame(&mut rx).unwrap();
    assert_eq!(f.channel, CHANNEL_LOG);
    assert_eq!(f.body, &body[..]);
}

#[test]
fn oversize_messages_are_refused() {
    let data = [0u8; MAX_CHUNK + 16];
    let mut buf = [0u8; 4 * MAX_FRAME];
    let req = Request::WriteInput {
        input: 0,
        offset: 0,
        data: &data,
    };
    assert_eq!(encode_request(&req, &mut buf), Err(Error::BodyTooLong));
    assert_eq!(
        encode_frame(1, &[1u8; MAX_BODY + 1], &mut buf),
        Err(Error::BodyTooLong)
    );
}

#[test]
fn small_buffers_are_refused_not_overrun() {
    let mut buf = [0u8; MAX_FRAME];
    let full = encode_request(&Request::Stats, &mut buf).unwrap().len();
    for n in 0..full {
        let mut small = vec![0u8; n];
        assert_eq!(
            encode_request(&Request::Stats, &mut small),
            Err(Error::BufferTooSmall),
            "{n}"
        );
    }
    let mut exact = vec![0u8; full];
    assert!(encode_request(&Request::Stats, &mut exact).is_ok());
}

#[test]
fn reader_reports_overlong_frames_then_recovers() {
    let mut reader = FrameReader::new();
    for _ in 0..MAX_FRAME + 100 {
        assert!(reader.push(0x42).is_none());
    }
    assert_eq!(
        reader.push(0).map(|r| r.map(|f| f.channel)),
        Some(Err(Error::FrameTooLong))
    );
    let mut buf = [0u8; MAX_FRAME];
    let frame = encode_request(&Request::Invoke, &mut buf).unwrap();
    let mut last = None;
    for &b in frame {
        if let Some(r) = reader.push(b) {
            last = Some(r.map(|f| f.body.to_vec()));
        }
    }
    assert_eq!(last, Some(Ok(vec![2])));
}

#[test]
fn reader_skips_empty_frames() {
    let mut reader = FrameReader::new();
    assert!(reader.push(0).is_none());
    assert!(reader.push(0).is_none());
    assert!(!reader.in_frame());
    reader.push(5);
    assert!(reader.in_frame());
    reader.reset();
    assert!(!reader.in_frame());
}

#[test]
fn short_and_invalid_frames() {
    // COBS of a 4-byte payload: shorter than channel + CRC.
    assert_eq!(decode_frame(&mut [0x05, 1, 2, 3, 4]), Err(Error::TooShort));
    // A code byte pointing past the end.
    assert_eq!(decode_frame(&mut [0x09, 1, 2]), Err(Error::Cobs));
    // An embedded terminator.
    assert_eq!(decode_frame(&mut [0x02, 0, 0x01, 1]), Err(Error::Cobs));
    assert!(matches!(
        decode_frame(&mut [0x06, 1, 2, 3, 4, 5]),
        Err(Error::Crc { .. })
    ));
}

#[test]
fn strict_body_decoding() {
    // Stats followed by a stray byte.
    assert_eq!(decode_request(&[0x04, 0x00]), Err(Error::TrailingBytes));
    // Unknown variants.
    assert_eq!(decode_request(&[0x07]), Err(Error::Decode));
    assert_eq!(decode_response(&[0x06]), Err(Error::Decode));
    assert_eq!(
        decode_response(&[0x05, 0x07]),
        Err(Error::Decode),
        "unknown error code"
    );
    // Truncated WriteInput.
    assert_eq!(
        decode_request(&[0x01, 0x00, 0x00, 0x04, 1, 2]),
        Err(Error::Decode)
    );
    assert_eq!(decode_request(&[]), Err(Error::Decode));
    // Invalid UTF-8 board name.
    let mut body = vec![0x00, 0x01];
    body.extend([0u8; 16]);
    body.extend([0x01, 0xff, 0, 0, 0, 0]);
    assert_eq!(decode_response(&body), Err(Error::Decode));
}

/// Log frames (channel 2) interleaved with protocol frames, one of them damaged: the reader
/// hands each frame over whole with its channel, so a protocol reader skips the logs and still
/// decodes every answer, and a damaged log frame costs nothing but itself.
#[test]
fn log_frames_between_protocol_frames_are_delivered_apart() {
    // Raw defmt frames: a little-endian string index, then arguments (zeros included).
    let logs: [&[u8]; 3] = [
        &[0x03, 0x00],
        &[0x07, 0x00, 0x00, 0x10, 0x00, 0x00],
        &[0x00; 40],
    ];
    let answers = [
        Response::Ack,
        Response::Invoked { ticks: 1234 },
        Response::Stats {
            stack_used: 900,
            stack_reserve: 8192,
        },
    ];
    let mut wire = Vec::new();
    let mut buf = [0u8; MAX_FRAME];
    for (log, answer) in logs.iter().zip(&answers) {
        wire.extend_from_slice(encode_frame(CHANNEL_LOG, log, &mut buf).unwrap());
        wire.extend_from_slice(encode_response(answer, &mut buf).unwrap());
    }
    // Damage the first log frame's CRC (its last byte before the terminator).
    let first_end = wire.iter().position(|&b| b == 0).unwrap();
    wire[first_end - 1] ^= 0x40;

    let mut reader = FrameReader::new();
    let (mut got_logs, mut got_answers, mut damaged) = (Vec::new(), Vec::new(), 0);
    for &b in &wire {
        match reader.push(b) {
            None => {}
            Some(Err(Error::Crc { .. })) => damaged += 1,
            Some(Err(e)) => panic!("unexpected {e}"),
            Some(Ok(f)) if f.channel == CHANNEL_PROTOCOL => {
                let r = decode_response(f.body).unwrap();
                got_answers.push(format!("{r:?}"));
            }
            Some(Ok(f)) => {
                assert_eq!(f.channel, CHANNEL_LOG);
                got_logs.push(f.body.to_vec());
            }
        }
    }
    assert_eq!(damaged, 1);
    assert_eq!(got_logs, [logs[1].to_vec(), logs[2].to_vec()]);
    let expected: Vec<String> = answers.iter().map(|a| format!("{a:?}")).collect();
    assert_eq!(got_answers, expected);
}

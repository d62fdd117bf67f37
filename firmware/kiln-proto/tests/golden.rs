//! Golden bytes: the encoded frame of every message, pinned.
//!
//! The expected bytes were computed independently of this crate (hand-written postcard,
//! zlib's CRC-32, textbook COBS). A failure here means the bytes on the wire changed: that
//! needs a `PROTOCOL_VERSION` bump and new golden bytes — except for `Request::Hello` and the
//! first field of `Response::Hello`, which must never change.

use kiln_proto::*;

const HASH: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn check_request(req: Request<'_>, golden: &str) {
    let golden = hex(golden);
    let mut buf = [0u8; MAX_FRAME];
    let frame = encode_request(&req, &mut buf).unwrap();
    assert_eq!(frame, &golden[..], "encoding of {req:?} changed");
    let mut rx = golden.clone();
    let f = decode_frame(&mut rx).unwrap();
    assert_eq!(f.channel, CHANNEL_PROTOCOL);
    assert_eq!(decode_request(f.body).unwrap(), req);
}

fn check_response(resp: Response<'_>, golden: &str) {
    let golden = hex(golden);
    let mut buf = [0u8; MAX_FRAME];
    let frame = encode_response(&resp, &mut buf).unwrap();
    assert_eq!(frame, &golden[..], "encoding of {resp:?} changed");
    let mut rx = golden.clone();
    let f = decode_frame(&mut rx).unwrap();
    assert_eq!(f.channel, CHANNEL_PROTOCOL);
    assert_eq!(decode_response(f.body).unwrap(), resp);
}

#[test]
fn protocol_version_is_pinned() {
    // Changing this constant means the golden bytes below changed too.
    assert_eq!(PROTOCOL_VERSION, 2);
}

/// The one frame that must be identical in every protocol version, past and future.
#[test]
fn hello_request_bytes_never_change() {
    let mut buf = [0u8; MAX_FRAME];
    let frame = encode_request(&Request::Hello { magic: *b"KILN" }, &mut buf).unwrap();
    assert_eq!(
        frame,
        &[0x02, 0x01, 0x09, b'K', b'I', b'L', b'N', 0xeb, 0x77, 0x68, 0x84, 0x00]
    );
}

/// Any version's hello answer starts with tag 0 then the version as a varint.
#[test]
fn hello_response_version_comes_first() {
    let mut buf = [0u8; MAX_FRAME];
    for version in [0u16, 1, 127, 128, 300, u16::MAX] {
        let resp = Response::Hello {
            version,
            model_hash: HASH,
            board: "x",
            arena_bytes: 0,
            stack_reserve: 0,
            n_inputs: 0,
            n_outputs: 0,
        };
        let mut frame = encode_response(&resp, &mut buf).unwrap().to_vec();
        let f = decode_frame(&mut frame).unwrap();
        assert_eq!(peek_version(f.body), Some(version));
        // Only the tag and the version are needed: the rest may be anything.
        let n = if version < 128 {
            2
        } else if version < 16384 {
            3
        } else {
            4
        };
        assert_eq!(peek_version(&f.body[..n]), Some(version));
    }
    assert_eq!(peek_version(&[0x01]), None, "Ack is not a hello");
    assert_eq!(peek_version(&[]), None);
    assert_eq!(peek_version(&[0x00]), None, "truncated version");
    assert_eq!(peek_version(&[0x00, 0x80]), None, "truncated varint");
}

#[test]
fn golden_req_hello() {
    check_request(
        Request::Hello { magic: HELLO_MAGIC },
        "0201094b494c4eeb77688400",
    );
}

#[test]
fn golden_req_write_input() {
    check_request(
        Request::WriteInput {
            input: 1,
            offset: 300,
            data: &[1, 0, 2, 0xff],
        },
        "08010101ac0204010702ff2e43524800",
    );
}

#[test]
fn golden_req_write_input_long() {
    check_request(
        Request::WriteInput {
            input: 0,
            offset: 0,
            data: &[0x11; 300],
        },
        concat!(
            "03010101ffac0211111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "1111113511111111111111111111111111111111111111111111111111111111",
            "11111111111111111111111111111111111111112beef09700"
        ),
    );
}

#[test]
fn golden_req_invoke() {
    check_request(Request::Invoke, "0701029242ccb600");
}

#[test]
fn golden_req_read_output() {
    check_request(
        Request::ReadOutput {
            output: 0,
            offset: 128,
            len: 496,
        },
        "030103098001f0036fcaa1dc00",
    );
}

#[test]
fn golden_req_stats() {
    check_request(Request::Stats, "070104a7e7af5f00");
}

#[test]
fn golden_resp_hello() {
    check_response(
        Response::Hello {
            version: 1,
            model_hash: HASH,
            board: "mps2-an386",
            arena_bytes: 65536,
            stack_reserve: 8192,
            n_inputs: 2,
            n_outputs: 2,
        },
        concat!(
            "02010201260102030405060708090a0b0c0d0e0f0a6d7073322d616e33383680",
            "8004804002024e83c01100"
        ),
    );
}

#[test]
fn golden_resp_ack() {
    check_response(Response::Ack, "0701012813c52f00");
}

#[test]
fn golden_resp_invoked() {
    check_response(
        Response::Invoked { ticks: 1_234_567 },
        "0a010287ad4b9f41964f00",
    );
}

#[test]
fn golden_resp_output() {
    check_response(
        Response::Output {
            offset: 4,
            data: &1.0f32.to_le_bytes(),
        },
        "05010304040107803fca94947b00",
    );
}

#[test]
fn golden_resp_stats() {
    check_response(
        Response::Stats {
            stack_used: 1500,
            stack_reserve: 8192,
        },
        "0b0104dc0b8040dde496a200",
    );
}

#[test]
fn golden_resp_error_bad_frame() {
    check_response(
        Response::Error {
            code: ErrorCode::BadFrame,
        },
        "030105056047f48300",
    );
}

#[test]
fn golden_resp_error_bad_request() {
    check_response(
        Response::Error {
            code: ErrorCode::BadRequest,
        },
        "08010501f677f3f400",
    );
}

#[test]
fn golden_resp_error_no_such_tensor() {
    check_response(
        Response::Error {
            code: ErrorCode::NoSuchTensor,
        },
        "080105024c26fa6d00",
    );
}

#[test]
fn golden_resp_error_out_of_range() {
    check_response(
        Response::Error {
            code: ErrorCode::OutOfRange,
        },
        "08010503da16fd1a00",
    );
}

#[test]
fn golden_resp_error_too_long() {
    check_response(
        Response::Error {
            code: ErrorCode::TooLong,
        },
        "080105047983998400",
    );
}

#[test]
fn golden_resp_error_not_invoked() {
    check_response(
        Response::Error {
            code: ErrorCode::NotInvoked,
        },
        "08010505efb39ef300",
    );
}

#[test]
fn golden_req_invoke_until() {
    check_request(Request::InvokeUntil { layer: 7 }, "08010507c3d2901d00");
    check_request(Request::InvokeUntil { layer: 300 }, "090105ac025be88f7300");
}

#[test]
fn golden_req_read_arena() {
    check_request(
        Request::ReadArena {
            offset: 1024,
            len: 496,
        },
        "0b01068008f00322d0219b00",
    );
}

#[test]
fn golden_resp_error_stale_inputs() {
    check_response(
        Response::Error {
            code: ErrorCode::StaleInputs,
        },
        "0801050655e2976a00",
    );
}

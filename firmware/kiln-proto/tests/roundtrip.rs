//! Property tests: every message survives encode → byte stream → decode, and every corruption
//! of a frame (flipped byte, truncation) is detected.

use kiln_proto::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum OwnedRequest {
    Hello([u8; 4]),
    WriteInput(u8, u32, Vec<u8>),
    Invoke,
    ReadOutput(u8, u32, u16),
    Stats,
}

impl OwnedRequest {
    fn borrow(&self) -> Request<'_> {
        match self {
            OwnedRequest::Hello(magic) => Request::Hello { magic: *magic },
            OwnedRequest::WriteInput(input, offset, data) => Request::WriteInput {
                input: *input,
                offset: *offset,
                data,
            },
            OwnedRequest::Invoke => Request::Invoke,
            OwnedRequest::ReadOutput(output, offset, len) => Request::ReadOutput {
                output: *output,
                offset: *offset,
                len: *len,
            },
            OwnedRequest::Stats => Request::Stats,
        }
    }
}

#[derive(Debug, Clone)]
enum OwnedResponse {
    Hello(u16, [u8; 16], String, u32, u32, u8, u8),
    Ack,
    Invoked(u64),
    Output(u32, Vec<u8>),
    Stats(u32, u32),
    Error(ErrorCode),
}

impl OwnedResponse {
    fn borrow(&self) -> Response<'_> {
        match self {
            OwnedResponse::Hello(version, model_hash, board, arena_bytes, stack_reserve, i, o) => {
                Response::Hello {
                    version: *version,
                    model_hash: *model_hash,
                    board,
                    arena_bytes: *arena_bytes,
                    stack_reserve: *stack_reserve,
                    n_inputs: *i,
                    n_outputs: *o,
                }
            }
            OwnedResponse::Ack => Response::Ack,
            OwnedResponse::Invoked(ticks) => Response::Invoked { ticks: *ticks },
            OwnedResponse::Output(offset, data) => Response::Output {
                offset: *offset,
                data,
            },
            OwnedResponse::Stats(stack_used, stack_reserve) => Response::Stats {
                stack_used: *stack_used,
                stack_reserve: *stack_reserve,
            },
            OwnedResponse::Error(code) => Response::Error { code: *code },
        }
    }
}

fn any_request() -> impl Strategy<Value = OwnedRequest> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(OwnedRequest::Hello),
        (
            any::<u8>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_CHUNK)
        )
            .prop_map(|(i, o, d)| OwnedRequest::WriteInput(i, o, d)),
        Just(OwnedRequest::Invoke),
        (any::<u8>(), any::<u32>(), any::<u16>())
            .prop_map(|(i, o, l)| OwnedRequest::ReadOutput(i, o, l)),
        Just(OwnedRequest::Stats),
    ]
}

fn any_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::BadFrame),
        Just(ErrorCode::BadRequest),
        Just(ErrorCode::NoSuchTensor),
        Just(ErrorCode::OutOfRange),
        Just(ErrorCode::TooLong),
        Just(ErrorCode::NotInvoked),
    ]
}

fn any_response() -> impl Strategy<Value = OwnedResponse> {
    prop_oneof![
        (
            any::<u16>(),
            any::<[u8; 16]>(),
            "[ -~]{0,64}",
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(|(v, h, b, a, s, i, o)| OwnedResponse::Hello(v, h, b, a, s, i, o)),
        Just(OwnedResponse::Ack),
        any::<u64>().prop_map(OwnedResponse::Invoked),
        (
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_CHUNK)
        )
            .prop_map(|(o, d)| OwnedResponse::Output(o, d)),
        (any::<u32>(), any::<u32>()).prop_map(|(u, r)| OwnedResponse::Stats(u, r)),
        any_code().prop_map(OwnedResponse::Error),
    ]
}

/// Feeds `bytes` to a fresh reader; returns every completed result, with owned bodies.
fn read_all(bytes: &[u8]) -> Vec<Result<(u8, Vec<u8>), Error>> {
    let mut reader = FrameReader::new();
    let mut out = Vec::new();
    for &b in bytes {
        if let Some(r) = reader.push(b) {
            out.push(r.map(|f| (f.channel, f.body.to_vec())));
        }
    }
    out
}

fn request_frame(req: &OwnedRequest) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    encode_request(&req.borrow(), &mut buf).unwrap().to_vec()
}

fn response_frame(resp: &OwnedResponse) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    encode_response(&resp.borrow(), &mut buf).unwrap().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_round_trip(req in any_request()) {
        let frame = request_frame(&req);
        prop_assert!(frame.len() <= MAX_FRAME);
        prop_assert_eq!(frame.iter().filter(|&&b| b == 0).count(), 1);
        prop_assert_eq!(*frame.last().unwrap(), 0);
        let got = read_all(&frame);
        prop_assert_eq!(got.len(), 1);
        let (channel, body) = got[0].clone().unwrap();
        prop_assert_eq!(channel, CHANNEL_PROTOCOL);
        prop_assert!(body.len() <= MAX_BODY);
        prop_assert_eq!(decode_request(&body).unwrap(), req.borrow());
    }

    #[test]
    fn response_round_trip(resp in any_response()) {
        let frame = response_frame(&resp);
        prop_assert!(frame.len() <= MAX_FRAME);
        let got = read_all(&frame);
        prop_assert_eq!(got.len(), 1);
        let (channel, body) = got[0].clone().unwrap();
        prop_assert_eq!(channel, CHANNEL_PROTOCOL);
        prop_assert_eq!(decode_response(&body).unwrap(), resp.borrow());
        if let OwnedResponse::Hello(version, ..) = resp {
            prop_assert_eq!(peek_version(&body), Some(version));
        } else {
            prop_assert_eq!(peek_version(&body), None);
        }
    }

    /// Back-to-back frames in one stream come out one by one, in order.
    #[test]
    fn stream_of_frames(reqs in proptest::collection::vec(any_request(), 1..8)) {
        let stream: Vec<u8> = reqs.iter().flat_map(request_frame).collect();
        let got = read_all(&stream);
        prop_assert_eq!(got.len(), reqs.len());
        for (req, r) in reqs.iter().zip(got) {
            let (_, body) = r.unwrap();
            prop_assert_eq!(decode_request(&body).unwrap(), req.borrow());
        }
    }

    /// Any single changed byte (terminator excluded) is caught: no frame comes out intact.
    #[test]
    fn flipped_byte_is_detected(
        resp in any_response(),
        pos in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let mut frame = response_frame(&resp);
        let i = pos.index(frame.len() - 1);
        frame[i] ^= mask;
        for r in read_all(&frame) {
            prop_assert!(r.is_err(), "corrupted frame accepted: {:?}", r);
        }
    }

    /// A frame cut short (then terminated) is an error, never a message.
    #[test]
    fn truncated_frame_is_detected(req in any_request(), cut in any::<prop::sample::Index>()) {
        let frame = request_frame(&req);
        let keep = 1 + cut.index(frame.len() - 2);
        let mut short = frame[..keep].to_vec();
        short.push(0);
        let got = read_all(&short);
        prop_assert_eq!(got.len(), 1);
        prop_assert!(got[0].is_err());
    }

    /// Line noise before a frame costs at most an error, and the frame after it decodes.
    #[test]
    fn recovers_after_noise(noise in proptest::collection::vec(any::<u8>(), 0..700), req in any_request()) {
        let mut stream = noise.clone();
        stream.push(0);
        stream.extend(request_frame(&req));
        let got = read_all(&stream);
        let (_, body) = got.last().unwrap().clone().unwrap();
        prop_assert_eq!(decode_request(&body).unwrap(), req.borrow());
    }
}

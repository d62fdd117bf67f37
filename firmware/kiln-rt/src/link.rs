//! The link loop: frames in on UART0, one response out per frame (after the log frames, if
//! any, about it).

use kiln_proto::{
    decode_request, encode_response, ErrorCode, FrameReader, Request, Response, CHANNEL_PROTOCOL,
    HELLO_MAGIC, MAX_CHUNK, MAX_FRAME, PROTOCOL_VERSION,
};

use crate::log::{log_debug, log_error, log_info, log_warn};
use crate::uart::Uart;
use crate::{stack, timer, Invoke, IoDesc, ModelDesc, ALL_LAYERS};

/// What the arena holds, relative to the inputs the host wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Run {
    /// Inputs written (or the boot state); nothing ran on them yet.
    Fresh,
    /// The whole model ran on the current inputs, taking `ticks`.
    Full(u64),
    /// Layers `0..=layer` ran on the current inputs, taking `ticks`.
    Until { layer: u32, ticks: u64 },
}

pub(crate) fn serve(desc: &ModelDesc, arena: &mut [u8], invoke: Invoke) -> ! {
    let mut uart = Uart::take();
    crate::log::start();
    timer::start();
    // Statics rather than locals keep the runtime's own stack use small.
    let reader = cortex_m::singleton!(: FrameReader = FrameReader::new()).unwrap();
    let tx = cortex_m::singleton!(: [u8; MAX_FRAME] = [0; MAX_FRAME]).unwrap();
    let mut last = Run::Fresh;
    loop {
        let byte = uart.read();
        let Some(frame) = reader.push(byte) else {
            continue;
        };
        let response = match frame {
            Ok(frame) if frame.channel == CHANNEL_PROTOCOL => match decode_request(frame.body) {
                Ok(req) => {
                    let response = handle(req, desc, arena, invoke, &mut last);
                    log_answer(&req, &response, desc);
                    response
                }
                Err(e) => {
                    log_error!("undecodable request: {}", e);
                    error(ErrorCode::BadRequest)
                }
            },
            Ok(frame) => {
                log_error!("frame on channel {=u8}, not the protocol's", frame.channel);
                error(ErrorCode::BadFrame)
            }
            Err(e) => {
                log_error!("damaged frame: {}", e);
                error(ErrorCode::BadFrame)
            }
        };
        // Every response fits MAX_FRAME (kiln-proto's tests); an encoding error cannot happen.
        if let Ok(out) = encode_response(&response, tx) {
            uart.write_all(out);
        }
    }
}

fn error(code: ErrorCode) -> Response<'static> {
    Response::Error { code }
}

/// What the device logs about a request it answered: the session start at `info` (the host
/// opens a session with a hello; bytes sent before it would be lost), every request at
/// `debug`, refusals at `warn`. Runs after any timed inference, before the answer goes out.
#[cfg_attr(not(feature = "defmt"), allow(unused_variables))]
fn log_answer(req: &Request<'_>, resp: &Response<'_>, desc: &ModelDesc) {
    match (req, resp) {
        (_, Response::Error { code }) => log_warn!("{=str} refused: {}", req.name(), code),
        (Request::Hello { .. }, _) => log_info!(
            "session start: board {=str}, model {=u128:032x}, arena {=u32} bytes, \
             stack reserve {=u32} bytes, protocol {=u16}",
            desc.board,
            u128::from_be_bytes(desc.hash),
            desc.arena_bytes,
            desc.stack_reserve,
            PROTOCOL_VERSION
        ),
        (
            Request::WriteInput {
                input,
                offset,
                data,
            },
            _,
        ) => log_debug!(
            "input {=u8}: {=usize} bytes at {=u32}",
            *input,
            data.len(),
            *offset
        ),
        (Request::Invoke, Response::Invoked { ticks }) => {
            log_debug!("invoke: {=u64} ticks", *ticks)
        }
        (Request::InvokeUntil { layer }, Response::Invoked { ticks }) => {
            log_debug!("invoke until layer {=u32}: {=u64} ticks", *layer, *ticks)
        }
        (
            Request::ReadOutput {
                output,
                offset,
                len,
            },
            _,
        ) => log_debug!(
            "output {=u8}: {=u16} bytes at {=u32}",
            *output,
            *len,
            *offset
        ),
        (Request::ReadArena { offset, len }, _) => {
            log_debug!("arena: {=u16} bytes at {=u32}", *len, *offset)
        }
        (
            Request::Stats,
            Response::Stats {
                stack_used,
                stack_reserve,
            },
        ) => log_debug!(
            "stack: {=u32} of {=u32} bytes used",
            *stack_used,
            *stack_reserve
        ),
        _ => {}
    }
}

/// Byte range `offset .. offset + len` of tensor `io` in the arena, if it lies within it.
fn range(io: &IoDesc, offset: u32, len: usize) -> Option<core::ops::Range<usize>> {
    let start = offset as usize;
    let end = start.checked_add(len)?;
    if end > io.bytes as usize {
        return None;
    }
    let base = io.offset as usize;
    Some(base + start..base + end)
}

fn handle<'a>(
    req: Request<'_>,
    desc: &'a ModelDesc,
    arena: &'a mut [u8],
    invoke: Invoke,
    last: &mut Run,
) -> Response<'a> {
    match req {
        Request::Hello { magic } if magic == HELLO_MAGIC => Response::Hello {
            version: PROTOCOL_VERSION,
            model_hash: desc.hash,
            board: desc.board,
            arena_bytes: desc.arena_bytes,
            stack_reserve: desc.stack_reserve,
            n_inputs: desc.inputs.len() as u8,
            n_outputs: desc.outputs.len() as u8,
        },
        Request::Hello { .. } => error(ErrorCode::BadRequest),
        Request::WriteInput {
            input,
            offset,
            data,
        } => {
            let Some(io) = desc.inputs.get(input as usize) else {
                return error(ErrorCode::NoSuchTensor);
            };
            let Some(r) = range(io, offset, data.len()) else {
                return error(ErrorCode::OutOfRange);
            };
            arena[r].copy_from_slice(data);
            *last = Run::Fresh;
            Response::Ack
        }
        Request::Invoke => match *last {
            Run::Full(ticks) => Response::Invoked { ticks },
            Run::Fresh => {
                let ticks = timer::measure(|| invoke(arena, ALL_LAYERS));
                *last = Run::Full(ticks);
                Response::Invoked { ticks }
            }
            Run::Until { .. } => error(ErrorCode::StaleInputs),
        },
        Request::InvokeUntil { layer } => match *last {
            Run::Until { layer: l, ticks } if l == layer => Response::Invoked { ticks },
            Run::Fresh => {
                let ticks = timer::measure(|| invoke(arena, layer));
                *last = Run::Until { layer, ticks };
                Response::Invoked { ticks }
            }
            _ => error(ErrorCode::StaleInputs),
        },
        Request::ReadArena { offset, len } => {
            if len as usize > MAX_CHUNK {
                return error(ErrorCode::TooLong);
            }
            let whole = IoDesc {
                offset: 0,
                bytes: desc.arena_bytes,
            };
            let Some(r) = range(&whole, offset, len as usize) else {
                return error(ErrorCode::OutOfRange);
            };
            if *last == Run::Fresh {
                return error(ErrorCode::NotInvoked);
            }
            Response::Output {
                offset,
                data: &arena[r],
            }
        }
        Request::ReadOutput {
            output,
            offset,
            len,
        } => {
            if len as usize > MAX_CHUNK {
                return error(ErrorCode::TooLong);
            }
            let Some(io) = desc.outputs.get(output as usize) else {
                return error(ErrorCode::NoSuchTensor);
            };
            let Some(r) = range(io, offset, len as usize) else {
                return error(ErrorCode::OutOfRange);
            };
            if !matches!(last, Run::Full(_)) {
                return error(ErrorCode::NotInvoked);
            }
            Response::Output {
                offset,
                data: &arena[r],
            }
        }
        Request::Stats => Response::Stats {
            stack_used: stack::used(),
            stack_reserve: desc.stack_reserve,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN: IoDesc = IoDesc {
        offset: 0,
        bytes: 8,
    };
    const OUT: IoDesc = IoDesc {
        offset: 8,
        bytes: 8,
    };
    static DESC: ModelDesc = ModelDesc {
        hash: [7; 16],
        board: "test-board",
        arena_bytes: 16,
        stack_reserve: 1024,
        inputs: &[IN],
        outputs: &[OUT],
    };

    fn never(_: &mut [u8], _: u32) {
        unreachable!("Invoke is not exercised on the host");
    }

    fn answer(req: Request<'_>, arena: &mut [u8], last: &mut Run) -> Response<'static> {
        // Copy out the one borrowed answer, so the arena can be inspected afterwards.
        match handle(req, &DESC, arena, never, last) {
            Response::Output { .. } => Response::Ack,
            Response::Hello {
                version,
                model_hash,
                n_inputs,
                n_outputs,
                ..
            } => Response::Hello {
                version,
                model_hash,
                board: "",
                arena_bytes: 0,
                stack_reserve: 0,
                n_inputs,
                n_outputs,
            },
            Response::Ack => Response::Ack,
            Response::Invoked { ticks } => Response::Invoked { ticks },
            Response::Stats {
                stack_used,
                stack_reserve,
            } => Response::Stats {
                stack_used,
                stack_reserve,
            },
            Response::Error { code } => Response::Error { code },
        }
    }

    fn err(code: ErrorCode) -> Response<'static> {
        Response::Error { code }
    }

    #[test]
    fn hello_reports_the_model_and_checks_the_magic() {
        let mut arena = [0u8; 16];
        let mut last = Run::Fresh;
        match handle(
            Request::Hello { magic: HELLO_MAGIC },
            &DESC,
            &mut arena,
            never,
            &mut last,
        ) {
            Response::Hello {
                version,
                model_hash,
                board,
                arena_bytes,
                stack_reserve,
                n_inputs,
                n_outputs,
            } => {
                assert_eq!(version, PROTOCOL_VERSION);
                assert_eq!(model_hash, [7; 16]);
                assert_eq!(board, "test-board");
                assert_eq!(
                    (arena_bytes, stack_reserve, n_inputs, n_outputs),
                    (16, 1024, 1, 1)
                );
            }
            other => panic!("{other:?}"),
        }
        let bad = Request::Hello { magic: *b"KILL" };
        assert_eq!(
            answer(bad, &mut arena, &mut last),
            err(ErrorCode::BadRequest)
        );
    }

    #[test]
    fn inputs_are_written_within_their_tensor_only() {
        let mut arena = [0u8; 16];
        let mut last = Run::Full(5);
        let w = |offset, data| Request::WriteInput {
            input: 0,
            offset,
            data,
        };
        assert_eq!(
            answer(w(2, &[1, 2, 3]), &mut arena, &mut last),
            Response::Ack
        );
        assert_eq!(arena[..8], [0, 0, 1, 2, 3, 0, 0, 0]);
        assert_eq!(last, Run::Fresh, "a write invalidates the last inference");
        assert_eq!(
            answer(w(6, &[9, 9, 9]), &mut arena, &mut last),
            err(ErrorCode::OutOfRange)
        );
        assert_eq!(
            answer(w(u32::MAX, &[9]), &mut arena, &mut last),
            err(ErrorCode::OutOfRange)
        );
        let other = Request::WriteInput {
            input: 1,
            offset: 0,
            data: &[9],
        };
        assert_eq!(
            answer(other, &mut arena, &mut last),
            err(ErrorCode::NoSuchTensor)
        );
        assert_eq!(arena[8..], [0; 8], "refused writes change nothing");
    }

    #[test]
    fn outputs_are_read_only_after_an_inference() {
        let mut arena = [0u8; 16];
        arena[8..].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = |output, offset, len| Request::ReadOutput {
            output,
            offset,
            len,
        };
        let mut last = Run::Fresh;
        assert_eq!(
            answer(r(0, 0, 8), &mut arena, &mut last),
            err(ErrorCode::NotInvoked)
        );
        last = Run::Until { layer: 0, ticks: 1 };
        assert_eq!(
            answer(r(0, 0, 8), &mut arena, &mut last),
            err(ErrorCode::NotInvoked),
            "outputs need a whole run"
        );
        last = Run::Full(1);
        match handle(r(0, 3, 4), &DESC, &mut arena, never, &mut last) {
            Response::Output { offset: 3, data } => assert_eq!(data, &[4, 5, 6, 7]),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            answer(r(0, 5, 4), &mut arena, &mut last),
            err(ErrorCode::OutOfRange)
        );
        assert_eq!(
            answer(r(1, 0, 1), &mut arena, &mut last),
            err(ErrorCode::NoSuchTensor)
        );
        let long = r(0, 0, MAX_CHUNK as u16 + 1);
        assert_eq!(answer(long, &mut arena, &mut last), err(ErrorCode::TooLong));
    }

    #[test]
    fn invoke_answers_from_the_last_result_while_inputs_are_unchanged() {
        let mut arena = [0u8; 16];
        let mut last = Run::Full(1234);
        // `never` would panic if the model ran again.
        assert_eq!(
            answer(Request::Invoke, &mut arena, &mut last),
            Response::Invoked { ticks: 1234 }
        );
    }

    #[test]
    fn partial_runs_need_fresh_inputs_and_are_idempotent() {
        let mut arena = [0u8; 16];
        let until = |layer| Request::InvokeUntil { layer };
        let mut last = Run::Until {
            layer: 3,
            ticks: 77,
        };
        assert_eq!(
            answer(until(3), &mut arena, &mut last),
            Response::Invoked { ticks: 77 },
            "a resent InvokeUntil answers the previous result"
        );
        assert_eq!(
            answer(until(4), &mut arena, &mut last),
            err(ErrorCode::StaleInputs)
        );
        assert_eq!(
            answer(Request::Invoke, &mut arena, &mut last),
            err(ErrorCode::StaleInputs)
        );
        last = Run::Full(5);
        assert_eq!(
            answer(until(0), &mut arena, &mut last),
            err(ErrorCode::StaleInputs)
        );
    }

    #[test]
    fn the_arena_is_read_only_after_a_run_and_within_bounds() {
        let mut arena = [0u8; 16];
        arena.copy_from_slice(&core::array::from_fn::<u8, 16, _>(|i| i as u8));
        let r = |offset, len| Request::ReadArena { offset, len };
        let mut last = Run::Fresh;
        assert_eq!(
            answer(r(0, 4), &mut arena, &mut last),
            err(ErrorCode::NotInvoked)
        );
        last = Run::Until { layer: 1, ticks: 9 };
        match handle(r(12, 4), &DESC, &mut arena, never, &mut last) {
            Response::Output { offset: 12, data } => assert_eq!(data, &[12, 13, 14, 15]),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            answer(r(13, 4), &mut arena, &mut last),
            err(ErrorCode::OutOfRange)
        );
        assert_eq!(
            answer(r(0, MAX_CHUNK as u16 + 1), &mut arena, &mut last),
            err(ErrorCode::TooLong)
        );
    }
}

//! The link loop: frames in on UART0, one response out per frame.

use kiln_proto::{
    decode_request, encode_response, ErrorCode, FrameReader, Request, Response, CHANNEL_PROTOCOL,
    HELLO_MAGIC, MAX_CHUNK, MAX_FRAME, PROTOCOL_VERSION,
};

use crate::uart::Uart;
use crate::{stack, timer, IoDesc, ModelDesc};

pub(crate) fn serve(desc: &ModelDesc, arena: &mut [u8], invoke: fn(&mut [u8])) -> ! {
    let mut uart = Uart::take();
    timer::start();
    // Statics rather than locals keep the runtime's own stack use small.
    let reader = cortex_m::singleton!(: FrameReader = FrameReader::new()).unwrap();
    let tx = cortex_m::singleton!(: [u8; MAX_FRAME] = [0; MAX_FRAME]).unwrap();
    // Ticks of the last inference, while the inputs it ran on are unchanged.
    let mut last: Option<u64> = None;
    loop {
        let byte = uart.read();
        let Some(frame) = reader.push(byte) else { continue };
        let response = match frame {
            Ok(frame) if frame.channel == CHANNEL_PROTOCOL => match decode_request(frame.body) {
                Ok(req) => handle(req, desc, arena, invoke, &mut last),
                Err(_) => error(ErrorCode::BadRequest),
            },
            _ => error(ErrorCode::BadFrame),
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
    invoke: fn(&mut [u8]),
    last: &mut Option<u64>,
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
        Request::WriteInput { input, offset, data } => {
            let Some(io) = desc.inputs.get(input as usize) else {
                return error(ErrorCode::NoSuchTensor);
            };
            let Some(r) = range(io, offset, data.len()) else {
                return error(ErrorCode::OutOfRange);
            };
            arena[r].copy_from_slice(data);
            *last = None;
            Response::Ack
        }
        Request::Invoke => {
            let ticks = match *last {
                Some(ticks) => ticks,
                None => {
                    let ticks = timer::measure(|| invoke(arena));
                    *last = Some(ticks);
                    ticks
                }
            };
            Response::Invoked { ticks }
        }
        Request::ReadOutput { output, offset, len } => {
            if len as usize > MAX_CHUNK {
                return error(ErrorCode::TooLong);
            }
            let Some(io) = desc.outputs.get(output as usize) else {
                return error(ErrorCode::NoSuchTensor);
            };
            let Some(r) = range(io, offset, len as usize) else {
                return error(ErrorCode::OutOfRange);
            };
            if last.is_none() {
                return error(ErrorCode::NotInvoked);
            }
            Response::Output { offset, data: &arena[r] }
        }
        Request::Stats => {
            Response::Stats { stack_used: stack::used(), stack_reserve: desc.stack_reserve }
        }
    }
}

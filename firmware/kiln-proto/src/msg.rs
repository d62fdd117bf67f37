//! The messages of protocol channel [`CHANNEL_PROTOCOL`](crate::CHANNEL_PROTOCOL).
//!
//! Bodies are [postcard] encodings of [`Request`] (host → device) and [`Response`]
//! (device → host). The order of variants and of fields is the wire format: reordering,
//! adding or removing anything here is a byte-level change and bumps
//! [`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION) — except that `Request::Hello` and
//! `Response::Hello` stay variant 0 with their first field unchanged forever, so that any
//! two versions can tell each other apart (`tests/golden.rs` pins every message).

use core::fmt;

use serde::{Deserialize, Serialize};

/// The fixed magic carried by [`Request::Hello`].
pub const HELLO_MAGIC: [u8; 4] = *b"KILN";

/// Host → device. Every request is answered by exactly one [`Response`], and every request is
/// idempotent, so the host may resend one after a timeout or a corrupt frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request<'a> {
    /// Start of a session. Its encoded bytes never change between protocol versions.
    /// Answered by [`Response::Hello`].
    Hello {
        /// Always [`HELLO_MAGIC`]; anything else is answered with [`ErrorCode::BadRequest`].
        magic: [u8; 4],
    },
    /// Write `data` into model input `input` at byte `offset` (little-endian element bytes).
    /// Answered by [`Response::Ack`]. Invalidates the result of the last [`Request::Invoke`].
    WriteInput {
        input: u8,
        offset: u32,
        /// At most [`MAX_CHUNK`](crate::MAX_CHUNK) bytes.
        #[serde(borrow)]
        data: &'a [u8],
    },
    /// Run one inference on the current inputs. Answered by [`Response::Invoked`].
    ///
    /// Idempotent: an `Invoke` with no `WriteInput` since the previous `Invoke` does not run
    /// the model again; the device answers with the previous result (so a resent `Invoke`
    /// never runs on an arena the first run may have overwritten).
    Invoke,
    /// Read `len` bytes (at most [`MAX_CHUNK`](crate::MAX_CHUNK)) of model output `output`
    /// from byte `offset`. Answered by [`Response::Output`]; [`ErrorCode::NotInvoked`] when no
    /// inference ran since the inputs last changed.
    ReadOutput { output: u8, offset: u32, len: u16 },
    /// Stack high-water mark. Answered by [`Response::Stats`].
    Stats,
    /// Run layers `0..=layer` of the model (its straight-line steps, in order) on the current
    /// inputs and stop, leaving layer `layer`'s output in the arena for [`Request::ReadArena`].
    /// Answered by [`Response::Invoked`] with the ticks of those layers.
    ///
    /// The inputs must have been written since the last run (a run may overwrite them), else
    /// [`ErrorCode::StaleInputs`]; a resent `InvokeUntil` with the same `layer` and no write in
    /// between answers the previous result without running.
    InvokeUntil { layer: u32 },
    /// Read `len` bytes (at most [`MAX_CHUNK`](crate::MAX_CHUNK)) of the arena from byte
    /// `offset` after a run. Answered by [`Response::Output`]; [`ErrorCode::NotInvoked`] when
    /// nothing ran since the inputs last changed.
    ReadArena { offset: u32, len: u16 },
}

impl Request<'_> {
    /// The request's name, for error messages.
    pub const fn name(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "Hello",
            Request::WriteInput { .. } => "WriteInput",
            Request::Invoke => "Invoke",
            Request::ReadOutput { .. } => "ReadOutput",
            Request::Stats => "Stats",
            Request::InvokeUntil { .. } => "InvokeUntil",
            Request::ReadArena { .. } => "ReadArena",
        }
    }
}

/// Device → host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response<'a> {
    /// Answer to [`Request::Hello`]. `version` is the first field in every protocol version:
    /// read it with [`peek_version`](crate::peek_version) before decoding the rest.
    Hello {
        version: u16,
        /// The model hash baked into the firmware (first 16 bytes of the model's digest).
        model_hash: [u8; 16],
        /// Board name the firmware was built for.
        board: &'a str,
        arena_bytes: u32,
        /// Bytes the link reserved for the stack.
        stack_reserve: u32,
        n_inputs: u8,
        n_outputs: u8,
    },
    /// Answer to [`Request::WriteInput`].
    Ack,
    /// Answer to [`Request::Invoke`]: SysTick ticks spent in the model's `invoke`
    /// (24-bit wraps extended to 64 bits).
    Invoked { ticks: u64 },
    /// Answer to [`Request::ReadOutput`]: `data` starts at byte `offset` of the output.
    Output {
        offset: u32,
        #[serde(borrow)]
        data: &'a [u8],
    },
    /// Answer to [`Request::Stats`]: stack bytes ever used since reset (stack painting), next to
    /// the bytes reserved for it.
    Stats { stack_used: u32, stack_reserve: u32 },
    /// The request could not be served.
    Error { code: ErrorCode },
}

impl Response<'_> {
    /// The response's name, for error messages.
    pub const fn name(&self) -> &'static str {
        match self {
            Response::Hello { .. } => "Hello",
            Response::Ack => "Ack",
            Response::Invoked { .. } => "Invoked",
            Response::Output { .. } => "Output",
            Response::Stats { .. } => "Stats",
            Response::Error { .. } => "Error",
        }
    }
}

/// Why the device refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum ErrorCode {
    /// The frame was damaged: bad COBS, bad CRC, too long, or not on the protocol channel.
    BadFrame = 0,
    /// The frame was intact but its body is no valid [`Request`] (or a wrong hello magic).
    BadRequest = 1,
    /// The input or output index does not exist.
    NoSuchTensor = 2,
    /// `offset + length` runs past the end of the tensor.
    OutOfRange = 3,
    /// A read longer than [`MAX_CHUNK`](crate::MAX_CHUNK).
    TooLong = 4,
    /// Outputs were requested but no inference ran since the inputs last changed.
    NotInvoked = 5,
    /// A run was requested on inputs an earlier run may have overwritten: write them again.
    StaleInputs = 6,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCode::BadFrame => "the device received a damaged frame",
            ErrorCode::BadRequest => "the device received a frame that is no valid request",
            ErrorCode::NoSuchTensor => "no such input or output tensor",
            ErrorCode::OutOfRange => "offset and length run past the end of the tensor",
            ErrorCode::TooLong => "the requested chunk is longer than MAX_CHUNK",
            ErrorCode::NotInvoked => "no inference ran since the inputs last changed",
            ErrorCode::StaleInputs => {
                "the inputs must be written again before this run (an earlier run may have \
                 overwritten them)"
            }
        })
    }
}

impl core::error::Error for ErrorCode {}

//! kiln's wire protocol, shared by the device runtime and the host. `no_std`, no alloc, no
//! atomics; the `std` feature only forwards to postcard's and serde's.
//!
//! # Frames
//!
//! Every message travels as one frame:
//!
//! ```text
//! COBS( channel: u8 | body | CRC-32/ISO-HDLC of channel+body, little-endian ) 0x00
//! ```
//!
//! - channel [`CHANNEL_PROTOCOL`] (1) carries [`Request`]s and [`Response`]s, postcard-encoded;
//!   channel [`CHANNEL_LOG`] (2) carries the device's defmt log frames (see below).
//! - bodies are at most [`MAX_BODY`] bytes, so a frame is at most [`MAX_FRAME`] bytes; data
//!   travels in chunks of at most [`MAX_CHUNK`] bytes.
//! - a receiver splits on 0x00, skips empty frames, and rejects a frame with bad COBS, a bad
//!   CRC or an oversize length ([`FrameReader`]).
//!
//! # Sessions
//!
//! The host speaks first with [`Request::Hello`], whose bytes never change between versions.
//! The device answers [`Response::Hello`] with [`PROTOCOL_VERSION`] as its first field; the host
//! reads it with [`peek_version`] and compares it before decoding anything else. Every request
//! then gets exactly one response, and every request is idempotent, so the host resends after
//! a timeout or a damaged frame.
//!
//! Any change to the bytes on the wire bumps [`PROTOCOL_VERSION`]; `tests/golden.rs` pins the
//! encoded frame of every message.
//!
//! # Logs
//!
//! A device may log with [defmt](https://defmt.ferrous-systems.com) over the same UART (kiln-rt's
//! `defmt` feature). Each defmt log frame travels whole as one frame on [`CHANNEL_LOG`]:
//!
//! ```text
//! COBS( 2 | one defmt frame, `raw` encoding | CRC-32 of 2+frame, little-endian ) 0x00
//! ```
//!
//! - The body is exactly one defmt frame (string index, then arguments) in defmt's `raw`
//!   encoding: this frame already delimits it and its CRC checks it, so defmt's own rzCOBS
//!   framing (and the lone 0x00 it writes before its first frame) is not used. The host decodes
//!   a body with the defmt table of the ELF that runs (`defmt-decoder`, `Table::parse`), which
//!   records the encoding.
//! - Log frames only go device → host, are written whole between protocol frames, never inside
//!   one, and answer no request: a host reading answers skips (or hands on) every frame whose
//!   channel is not [`CHANNEL_PROTOCOL`]. Channel 1's bytes therefore do not depend on logging,
//!   and logging is no change to [`PROTOCOL_VERSION`].
//! - A defmt frame longer than the device's log buffer (at most [`MAX_BODY`]) is dropped by the
//!   device, never sent truncated.
//! - Which levels a firmware emits is fixed when it is built (defmt's `DEFMT_LOG`).

#![no_std]
#![forbid(unsafe_code)]

mod frame;
mod msg;

pub use frame::{
    decode_frame, decode_request, decode_response, encode_frame, encode_message, encode_request,
    encode_response, peek_version, Error, Frame, FrameReader, CRC32, MAX_BODY, MAX_CHUNK,
    MAX_FRAME, MAX_RAW_FRAME,
};
pub use msg::{ErrorCode, Request, Response, HELLO_MAGIC};

/// Version of the bytes on the wire. Bump it for any change to them.
pub const PROTOCOL_VERSION: u16 = 2;

/// Frame channel of protocol messages.
pub const CHANNEL_PROTOCOL: u8 = 1;

/// Frame channel of the device's defmt log frames (see [Logs](crate#logs)).
pub const CHANNEL_LOG: u8 = 2;

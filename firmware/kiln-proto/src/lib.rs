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
//!   channel [`CHANNEL_LOG`] (2) is reserved for defmt logs sharing the UART.
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

/// Frame channel reserved for defmt log frames.
pub const CHANNEL_LOG: u8 = 2;

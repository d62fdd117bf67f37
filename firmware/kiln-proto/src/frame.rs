//! Framing: `COBS(channel | body | CRC-32 LE of channel+body) 0x00`, without allocation.

use core::fmt;

use cobs::CobsEncoder;
use crc::{Crc, Digest, CRC_32_ISO_HDLC};
use postcard::ser_flavors::Flavor;
use serde::Serialize;

use crate::msg::{Request, Response};
use crate::CHANNEL_PROTOCOL;

/// CRC-32/ISO-HDLC (the zlib/Ethernet CRC-32): poly 0x04C11DB7 reflected, init and xorout
/// 0xFFFFFFFF. Check value: `CRC32.checksum(b"123456789") == 0xCBF43926`.
pub static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Largest message body (postcard bytes) a frame carries.
pub const MAX_BODY: usize = 512;

/// Largest data chunk of one [`Request::WriteInput`] or [`Response::Output`]: their bodies, with
/// tag, index, offset and length varints (at most 9 bytes), stay within [`MAX_BODY`].
pub const MAX_CHUNK: usize = 496;

const CRC_LEN: usize = 4;

/// Largest decoded frame: channel byte, body, CRC.
pub const MAX_RAW_FRAME: usize = 1 + MAX_BODY + CRC_LEN;

/// Largest frame on the wire, terminating 0x00 included. A buffer this long holds any frame.
pub const MAX_FRAME: usize = cobs::max_encoding_length(MAX_RAW_FRAME) + 1;

/// What went wrong encoding or decoding a frame or a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The output buffer cannot hold the encoded frame (use [`MAX_FRAME`] bytes).
    BufferTooSmall,
    /// The message body would be longer than [`MAX_BODY`].
    BodyTooLong,
    /// The message cannot be represented by postcard (never happens for this crate's types).
    Encode,
    /// More than [`MAX_FRAME`] bytes arrived before a 0x00 terminator, or the decoded frame is
    /// longer than [`MAX_RAW_FRAME`].
    FrameTooLong,
    /// The bytes are not valid COBS.
    Cobs,
    /// The decoded frame is shorter than a channel byte and a CRC.
    TooShort,
    /// The CRC does not match: `expected` is computed over the received channel and body,
    /// `found` is the CRC the frame carried.
    Crc { expected: u32, found: u32 },
    /// The body is not a valid message.
    Decode,
    /// The body holds bytes after a complete message.
    TrailingBytes,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BufferTooSmall => write!(f, "output buffer too small (need {MAX_FRAME} bytes)"),
            Error::BodyTooLong => write!(f, "message body longer than {MAX_BODY} bytes"),
            Error::Encode => f.write_str("message cannot be encoded"),
            Error::FrameTooLong => write!(f, "frame longer than {MAX_FRAME} bytes"),
            Error::Cobs => f.write_str("invalid COBS encoding"),
            Error::TooShort => f.write_str("frame too short for a channel byte and a CRC"),
            Error::Crc { expected, found } => {
                write!(
                    f,
                    "CRC mismatch: computed {expected:#010x}, frame carries {found:#010x}"
                )
            }
            Error::Decode => f.write_str("body is not a valid message"),
            Error::TrailingBytes => f.write_str("body has bytes after the message"),
        }
    }
}

impl core::error::Error for Error {}

/// A decoded, CRC-checked frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub channel: u8,
    pub body: &'a [u8],
}

/// Postcard output that feeds the COBS encoder and the CRC as bytes are produced, so a
/// message is framed without a scratch buffer.
struct FrameFlavor<'b> {
    cobs: CobsEncoder<'b>,
    crc: Digest<'static, u32>,
    body_len: usize,
    error: Option<Error>,
}

impl<'b> FrameFlavor<'b> {
    fn new(channel: u8, out: &'b mut [u8]) -> Result<Self, Error> {
        let mut crc = CRC32.digest();
        crc.update(&[channel]);
        let mut cobs = CobsEncoder::new(out);
        cobs.push(&[channel]).map_err(|_| Error::BufferTooSmall)?;
        Ok(FrameFlavor {
            cobs,
            crc,
            body_len: 0,
            error: None,
        })
    }

    /// Finishes the frame and returns its encoded length, terminator included.
    fn finish(mut self, out_len: usize) -> Result<usize, Error> {
        let crc = self.crc.finalize();
        self.cobs
            .push(&crc.to_le_bytes())
            .map_err(|_| Error::BufferTooSmall)?;
        let n = self.cobs.finalize();
        if n >= out_len {
            return Err(Error::BufferTooSmall);
        }
        Ok(n + 1)
    }
}

impl Flavor for FrameFlavor<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.body_len += data.len();
        if self.body_len > MAX_BODY {
            self.error = Some(Error::BodyTooLong);
            return Err(postcard::Error::SerializeBufferFull);
        }
        self.crc.update(data);
        self.cobs.push(data).map_err(|_| {
            self.error = Some(Error::BufferTooSmall);
            postcard::Error::SerializeBufferFull
        })
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.try_extend(&[data])
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Encodes `body` as one frame on `channel` into `out`; returns the frame, 0x00 included.
pub fn encode_frame<'b>(channel: u8, body: &[u8], out: &'b mut [u8]) -> Result<&'b [u8], Error> {
    if body.len() > MAX_BODY {
        return Err(Error::BodyTooLong);
    }
    let out_len = out.len();
    let mut flavor = FrameFlavor::new(channel, out)?;
    flavor
        .try_extend(body)
        .map_err(|_| flavor.error.unwrap_or(Error::BufferTooSmall))?;
    let n = flavor.finish(out_len)?;
    out[n - 1] = 0;
    Ok(&out[..n])
}

/// Encodes `msg` (postcard) as one frame on `channel` into `out`; returns the frame, 0x00
/// included.
pub fn encode_message<'b, T: Serialize + ?Sized>(
    channel: u8,
    msg: &T,
    out: &'b mut [u8],
) -> Result<&'b [u8], Error> {
    let out_len = out.len();
    let mut ser = postcard::Serializer {
        output: FrameFlavor::new(channel, out)?,
    };
    if msg.serialize(&mut ser).is_err() {
        return Err(ser.output.error.unwrap_or(Error::Encode));
    }
    let n = ser.output.finish(out_len)?;
    out[n - 1] = 0;
    Ok(&out[..n])
}

/// Encodes a request as a protocol-channel frame into `out` ([`MAX_FRAME`] bytes always suffice).
pub fn encode_request<'b>(req: &Request<'_>, out: &'b mut [u8]) -> Result<&'b [u8], Error> {
    encode_message(CHANNEL_PROTOCOL, req, out)
}

/// Encodes a response as a protocol-channel frame into `out` ([`MAX_FRAME`] bytes always
/// suffice).
pub fn encode_response<'b>(resp: &Response<'_>, out: &'b mut [u8]) -> Result<&'b [u8], Error> {
    encode_message(CHANNEL_PROTOCOL, resp, out)
}

/// Decodes one COBS frame in place (with or without its trailing 0x00) and checks its CRC.
pub fn decode_frame(encoded: &mut [u8]) -> Result<Frame<'_>, Error> {
    let end = match encoded.last() {
        Some(0) => encoded.len() - 1,
        _ => encoded.len(),
    };
    let encoded = &mut encoded[..end];
    if encoded.contains(&0) {
        return Err(Error::Cobs);
    }
    if encoded.len() > MAX_FRAME - 1 {
        return Err(Error::FrameTooLong);
    }
    let n = cobs::decode_in_place(encoded).map_err(|_| Error::Cobs)?;
    let raw = &encoded[..n];
    if raw.len() < 1 + CRC_LEN {
        return Err(Error::TooShort);
    }
    if raw.len() > MAX_RAW_FRAME {
        return Err(Error::FrameTooLong);
    }
    let (data, crc) = raw.split_at(raw.len() - CRC_LEN);
    let found = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let expected = CRC32.checksum(data);
    if found != expected {
        return Err(Error::Crc { expected, found });
    }
    Ok(Frame {
        channel: data[0],
        body: &data[1..],
    })
}

fn decode_exact<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Error> {
    let (msg, rest) = postcard::take_from_bytes(body).map_err(|_| Error::Decode)?;
    if !rest.is_empty() {
        return Err(Error::TrailingBytes);
    }
    Ok(msg)
}

/// Decodes a request body (the `body` of a protocol-channel [`Frame`]).
pub fn decode_request(body: &[u8]) -> Result<Request<'_>, Error> {
    decode_exact(body)
}

/// Decodes a response body. On the host, call [`peek_version`] first on a hello answer.
pub fn decode_response(body: &[u8]) -> Result<Response<'_>, Error> {
    decode_exact(body)
}

/// The protocol version carried by a [`Response::Hello`] body, read without decoding anything
/// else; `None` when `body` is not a hello answer. Valid across all protocol versions.
pub fn peek_version(body: &[u8]) -> Option<u16> {
    match body.split_first() {
        Some((0, rest)) => postcard::take_from_bytes::<u16>(rest).ok().map(|(v, _)| v),
        _ => None,
    }
}

/// Accumulates received bytes until a 0x00 terminator, then decodes the frame.
///
/// Lone terminators (empty frames) are skipped. A frame longer than [`MAX_FRAME`] is discarded
/// up to its terminator and reported as [`Error::FrameTooLong`]. After any result, the next
/// [`push`](Self::push) starts a new frame.
pub struct FrameReader {
    buf: [u8; MAX_FRAME],
    len: usize,
    overflow: bool,
    done: bool,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    pub const fn new() -> Self {
        FrameReader {
            buf: [0; MAX_FRAME],
            len: 0,
            overflow: false,
            done: false,
        }
    }

    /// Feeds one received byte. Returns `Some` when it completed a frame (decoded and
    /// CRC-checked, or the reason it is damaged).
    pub fn push(&mut self, byte: u8) -> Option<Result<Frame<'_>, Error>> {
        if self.done {
            self.len = 0;
            self.done = false;
        }
        if byte != 0 {
            if self.len < MAX_FRAME - 1 {
                self.buf[self.len] = byte;
                self.len += 1;
            } else {
                self.overflow = true;
            }
            return None;
        }
        self.done = true;
        if self.overflow {
            self.overflow = false;
            return Some(Err(Error::FrameTooLong));
        }
        if self.len == 0 {
            return None;
        }
        Some(decode_frame(&mut self.buf[..self.len]))
    }

    /// Drops any partly received frame.
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflow = false;
        self.done = false;
    }

    /// Whether bytes of an unfinished frame are buffered.
    pub fn in_frame(&self) -> bool {
        !self.done && (self.len > 0 || self.overflow)
    }
}

//! The protocol client.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use kiln_proto::{
    decode_response, encode_request, peek_version, ErrorCode, Frame, FrameReader, Request,
    Response, CHANNEL_LOG, CHANNEL_PROTOCOL, HELLO_MAGIC, MAX_CHUNK, MAX_FRAME, PROTOCOL_VERSION,
};
use serde::Serialize;

use super::LinkError;

/// A byte stream to a device whose reads and writes block for a bounded time.
///
/// [`Device`] sets the bound before each read, to the time left before its deadline; a read
/// that times out must return `ErrorKind::TimedOut` or `WouldBlock`.
pub trait Port: Read + Write {
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Port for serialport::TTYPort {
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        serialport::SerialPort::set_timeout(self, timeout).map_err(io::Error::from)
    }
}

impl Port for Box<dyn serialport::SerialPort> {
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.set_timeout(timeout).map_err(io::Error::from)
    }
}

/// Sockets reject a zero timeout: the bound is at least 1 ms.
fn socket_timeout(timeout: Duration) -> Option<Duration> {
    Some(timeout.max(Duration::from_millis(1)))
}

impl Port for std::os::unix::net::UnixStream {
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(socket_timeout(timeout))?;
        self.set_write_timeout(socket_timeout(timeout))
    }
}

impl Port for std::net::TcpStream {
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(socket_timeout(timeout))?;
        self.set_write_timeout(socket_timeout(timeout))
    }
}

/// Timeouts and retries of a [`Device`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOptions {
    /// How long one attempt waits for the answer to a request (default 2 s).
    pub timeout: Duration,
    /// How long one attempt waits for the answer to `Invoke`, which includes the inference
    /// (default 60 s).
    pub invoke_timeout: Duration,
    /// How often a request is resent after a timeout or a damaged frame (default 3).
    pub retries: u32,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            timeout: Duration::from_secs(2),
            invoke_timeout: Duration::from_secs(60),
            retries: 3,
        }
    }
}

/// What the device said about itself in the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    pub version: u16,
    pub model_hash: [u8; 16],
    pub board: String,
    pub arena_bytes: u32,
    pub stack_reserve: u32,
    pub n_inputs: u8,
    pub n_outputs: u8,
}

impl DeviceInfo {
    pub fn model_hash_hex(&self) -> String {
        hex::encode(self.model_hash)
    }
}

/// The device's stack high-water mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StackStats {
    /// Stack bytes used since the device started (stack painting).
    pub used: u32,
    /// Bytes the link reserved for the stack.
    pub reserve: u32,
}

/// Counters of a [`Device`]'s traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Request frames sent, resends included.
    pub requests: u64,
    /// Resends after a timeout or a damaged frame.
    pub retries: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Frames that arrived damaged (bad COBS or CRC).
    pub damaged_frames: u64,
    /// Intact answers that belonged to an earlier request, and were skipped.
    pub stale_responses: u64,
    /// Intact frames on channels other than the protocol's (logs included), which no answer
    /// is taken from.
    pub other_channel_frames: u64,
    /// Of those, frames on the log channel (handed to the log sink, when one is set).
    pub log_frames: u64,
}

/// Receives the body of every intact log-channel frame ([`CHANNEL_LOG`]: one raw defmt frame),
/// in arrival order, while the [`Device`] waits for answers; decode it with
/// [`LogDecoder`](super::LogDecoder).
pub type LogSink = Box<dyn FnMut(&[u8]) + Send>;

/// Log frames a [`Device`] keeps while no sink is set (the newest), for the next sink.
pub const LOG_BACKLOG: usize = 64;

/// An answer, owned.
enum Reply {
    Hello(DeviceInfo),
    Ack,
    Invoked(u64),
    Output(Vec<u8>),
    Stats(StackStats),
    Error(ErrorCode),
}

/// Why one attempt failed in a way a resend may fix.
enum Retry {
    Timeout,
    Damaged(kiln_proto::Error),
    DeviceSawDamage,
}

/// Gives a better error when the link fails (e.g. "QEMU exited, with this panic message").
pub(super) type Diagnose = Box<dyn FnMut() -> Option<LinkError> + Send>;

/// Protocol client of one device over `P`.
///
/// Requests are sent one at a time. Each attempt waits for its answer up to the timeout; a
/// timeout, a damaged answer or the device reporting a damaged request leads to a resend (all
/// requests are idempotent). Around a resend the client waits for the line to go quiet and
/// discards what arrives, so a late answer to the abandoned attempt is not taken for the
/// answer to a later request; answers whose kind, offset or length do not match the request
/// are skipped too. A device slower than the timeout plus that quiet period defeats this:
/// keep timeouts well above the device's answer time.
pub struct Device<P: Port> {
    port: P,
    options: LinkOptions,
    reader: Box<FrameReader>,
    rx: Vec<u8>,
    rx_pos: usize,
    stats: LinkStats,
    info: Option<DeviceInfo>,
    diagnose: Option<Diagnose>,
    log: Logs,
}

/// Where log frames go: the sink, or while there is none, a bounded backlog.
#[derive(Default)]
struct Logs {
    sink: Option<LogSink>,
    backlog: VecDeque<Vec<u8>>,
}

impl<P: Port> Device<P> {
    pub fn new(port: P) -> Self {
        Self::with_options(port, LinkOptions::default())
    }

    pub fn with_options(port: P, options: LinkOptions) -> Self {
        Device {
            port,
            options,
            reader: Box::new(FrameReader::new()),
            rx: Vec::with_capacity(4096),
            rx_pos: 0,
            stats: LinkStats::default(),
            info: None,
            diagnose: None,
            log: Logs::default(),
        }
    }

    pub fn options(&self) -> &LinkOptions {
        &self.options
    }

    pub fn set_options(&mut self, options: LinkOptions) {
        self.options = options;
    }

    pub fn link_stats(&self) -> LinkStats {
        self.stats
    }

    /// What the last successful handshake reported.
    pub fn info(&self) -> Option<&DeviceInfo> {
        self.info.as_ref()
    }

    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    pub fn into_inner(self) -> P {
        self.port
    }

    /// Sets (or, with `None`, removes) the receiver of the device's log frames; a new sink
    /// first gets the frames that arrived while there was none (the newest [`LOG_BACKLOG`]).
    /// Log frames are counted either way ([`LinkStats::log_frames`]).
    pub fn set_log_sink(&mut self, mut sink: Option<LogSink>) {
        if let Some(sink) = &mut sink {
            for body in self.log.backlog.drain(..) {
                sink(&body);
            }
        }
        self.log.sink = sink;
    }

    pub(super) fn set_diagnose(&mut self, diagnose: Diagnose) {
        self.diagnose = Some(diagnose);
    }

    /// Handshake, checking the protocol version (before decoding anything else) but not the
    /// model.
    pub fn identify(&mut self) -> Result<DeviceInfo, LinkError> {
        let req = Request::Hello { magic: HELLO_MAGIC };
        match self.transact(&req)? {
            Reply::Hello(info) => {
                self.info = Some(info.clone());
                Ok(info)
            }
            _ => Err(mismatch(&req)),
        }
    }

    /// Handshake: protocol version first, then the model hash against `expected_hash`
    /// ([`LinkError::ModelHashMismatch`] for stale firmware).
    pub fn hello(&mut self, expected_hash: &[u8; 16]) -> Result<DeviceInfo, LinkError> {
        let info = self.identify()?;
        if info.model_hash != *expected_hash {
            return Err(LinkError::ModelHashMismatch {
                expected: hex::encode(expected_hash),
                found: info.model_hash_hex(),
            });
        }
        Ok(info)
    }

    /// Writes the bytes of input `index`, in chunks of at most [`MAX_CHUNK`] bytes.
    pub fn write_input(&mut self, index: u8, bytes: &[u8]) -> Result<(), LinkError> {
        for (k, data) in bytes.chunks(MAX_CHUNK).enumerate() {
            let req = Request::WriteInput {
                input: index,
                offset: offset(k * MAX_CHUNK)?,
                data,
            };
            match self.transact(&req)? {
                Reply::Ack => {}
                _ => return Err(mismatch(&req)),
            }
        }
        Ok(())
    }

    /// Runs one inference; returns the SysTick ticks it took.
    pub fn invoke(&mut self) -> Result<u64, LinkError> {
        let req = Request::Invoke;
        match self.transact(&req)? {
            Reply::Invoked(ticks) => Ok(ticks),
            _ => Err(mismatch(&req)),
        }
    }

    /// Reads `len` bytes of output `index`, in chunks of at most [`MAX_CHUNK`] bytes.
    pub fn read_output(&mut self, index: u8, len: usize) -> Result<Vec<u8>, LinkError> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let n = (len - out.len()).min(MAX_CHUNK);
            let req = Request::ReadOutput {
                output: index,
                offset: offset(out.len())?,
                len: n as u16,
            };
            match self.transact(&req)? {
                Reply::Output(data) => out.extend_from_slice(&data),
                _ => return Err(mismatch(&req)),
            }
        }
        Ok(out)
    }

    /// Runs layers `0..=layer` on freshly written inputs; returns the SysTick ticks they took.
    pub fn invoke_until(&mut self, layer: u32) -> Result<u64, LinkError> {
        let req = Request::InvokeUntil { layer };
        match self.transact(&req)? {
            Reply::Invoked(ticks) => Ok(ticks),
            _ => Err(mismatch(&req)),
        }
    }

    /// Reads `len` arena bytes from byte `at` after a run, in chunks of at most [`MAX_CHUNK`].
    pub fn read_arena(&mut self, at: usize, len: usize) -> Result<Vec<u8>, LinkError> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let n = (len - out.len()).min(MAX_CHUNK);
            let req = Request::ReadArena {
                offset: offset(at + out.len())?,
                len: n as u16,
            };
            match self.transact(&req)? {
                Reply::Output(data) => out.extend_from_slice(&data),
                _ => return Err(mismatch(&req)),
            }
        }
        Ok(out)
    }

    /// The device's stack high-water mark.
    pub fn stats(&mut self) -> Result<StackStats, LinkError> {
        let req = Request::Stats;
        match self.transact(&req)? {
            Reply::Stats(stats) => Ok(stats),
            _ => Err(mismatch(&req)),
        }
    }

    /// Writes every input, runs one inference and reads every output: returns the outputs
    /// and the inference's ticks. Tensor counts are checked against the handshake, if any.
    pub fn run_sample(
        &mut self,
        inputs: &[&[u8]],
        output_sizes: &[usize],
    ) -> Result<(Vec<Vec<u8>>, u64), LinkError> {
        let (n_in, n_out) = match &self.info {
            Some(info) => (info.n_inputs as usize, info.n_outputs as usize),
            None => (inputs.len().min(256), output_sizes.len().min(256)),
        };
        if inputs.len() != n_in {
            return Err(LinkError::TensorCount {
                what: "inputs",
                expected: n_in,
                got: inputs.len(),
            });
        }
        if output_sizes.len() != n_out {
            return Err(LinkError::TensorCount {
                what: "outputs",
                expected: n_out,
                got: output_sizes.len(),
            });
        }
        for (i, bytes) in inputs.iter().enumerate() {
            self.write_input(i as u8, bytes)?;
        }
        let ticks = self.invoke()?;
        let outputs = output_sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| self.read_output(i as u8, len))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((outputs, ticks))
    }

    /// Sends `req` until an answer belonging to it arrives or the attempts run out.
    fn transact(&mut self, req: &Request<'_>) -> Result<Reply, LinkError> {
        let request = req.name();
        let timeout = match req {
            Request::Invoke | Request::InvokeUntil { .. } => self.options.invoke_timeout,
            _ => self.options.timeout,
        };
        let mut buf = [0u8; MAX_FRAME];
        let frame = encode_request(req, &mut buf)
            .map_err(|source| LinkError::Protocol { request, source })?;
        let attempts = self.options.retries + 1;
        let started = Instant::now();
        let mut last = Retry::Timeout;
        for attempt in 0..attempts {
            if attempt > 0 {
                self.stats.retries += 1;
                self.drain(timeout)?;
            }
            self.send(frame, request)?;
            last = match self.receive(req, timeout)? {
                Ok(Reply::Error(ErrorCode::BadFrame)) => Retry::DeviceSawDamage,
                Ok(reply) => {
                    if attempt > 0 {
                        // The abandoned attempt may still be answered: swallow that answer
                        // now rather than take it for the next request's.
                        self.drain(timeout)?;
                    }
                    return match reply {
                        Reply::Error(code) => Err(LinkError::DeviceError { request, code }),
                        reply => Ok(reply),
                    };
                }
                Err(retry) => retry,
            };
        }
        Err(match last {
            Retry::Timeout => self.diagnosed().unwrap_or_else(|| LinkError::Timeout {
                what: format!(
                    "the device's answer to {request} ({attempts} attempts of {timeout:?} each)"
                ),
                after: started.elapsed(),
            }),
            Retry::Damaged(source) => LinkError::Corrupt {
                request,
                attempts,
                source,
            },
            Retry::DeviceSawDamage => LinkError::DeviceError {
                request,
                code: ErrorCode::BadFrame,
            },
        })
    }

    fn send(&mut self, frame: &[u8], request: &'static str) -> Result<(), LinkError> {
        let result = self
            .port
            .set_io_timeout(self.options.timeout)
            .and_then(|()| self.port.write_all(frame))
            .and_then(|()| self.port.flush());
        match result {
            Ok(()) => {
                self.stats.requests += 1;
                self.stats.bytes_sent += frame.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                Err(self.diagnosed().unwrap_or_else(|| LinkError::Timeout {
                    what: format!("the device to accept {request}"),
                    after: self.options.timeout,
                }))
            }
            Err(source) => Err(self.diagnosed().unwrap_or_else(|| LinkError::Io {
                doing: format!("sending {request}"),
                source,
            })),
        }
    }

    /// Waits up to `timeout` for the answer to `req`. `Ok(Err(_))`: this attempt failed in a
    /// way a resend may fix.
    fn receive(
        &mut self,
        req: &Request<'_>,
        timeout: Duration,
    ) -> Result<Result<Reply, Retry>, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            while self.rx_pos < self.rx.len() {
                let byte = self.rx[self.rx_pos];
                self.rx_pos += 1;
                match self.reader.push(byte) {
                    None => {}
                    Some(Err(e)) => {
                        self.stats.damaged_frames += 1;
                        return Ok(Err(Retry::Damaged(e)));
                    }
                    Some(Ok(frame)) if frame.channel != CHANNEL_PROTOCOL => {
                        other_channel(&mut self.stats, &mut self.log, frame);
                    }
                    Some(Ok(frame)) => match interpret(req, frame.body)? {
                        Some(reply) => return Ok(Ok(reply)),
                        None => self.stats.stale_responses += 1,
                    },
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Err(Retry::Timeout));
            }
            self.fill(deadline - now, req.name())?;
        }
    }

    /// Reads what arrives within `wait` into the receive buffer; returns the byte count.
    fn fill(&mut self, wait: Duration, request: &'static str) -> Result<usize, LinkError> {
        if self.rx_pos == self.rx.len() {
            self.rx.clear();
            self.rx_pos = 0;
        }
        let mut buf = [0u8; 4096];
        let result = self
            .port
            .set_io_timeout(wait)
            .and_then(|()| self.port.read(&mut buf));
        match result {
            Ok(0) => Err(self.diagnosed().unwrap_or_else(|| LinkError::Io {
                doing: format!("waiting for the answer to {request}"),
                source: io::ErrorKind::UnexpectedEof.into(),
            })),
            Ok(n) => {
                self.stats.bytes_received += n as u64;
                self.rx.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(source) => Err(self.diagnosed().unwrap_or_else(|| LinkError::Io {
                doing: format!("waiting for the answer to {request}"),
                source,
            })),
        }
    }

    /// Discards everything received until the line stays quiet (bounded by `timeout`), so
    /// late answers to an abandoned attempt do not linger. Log frames among it still reach
    /// the log sink.
    fn drain(&mut self, timeout: Duration) -> Result<(), LinkError> {
        let quiet = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(200));
        let end = Instant::now() + timeout;
        loop {
            for &byte in &self.rx[self.rx_pos..] {
                if let Some(Ok(frame)) = self.reader.push(byte) {
                    if frame.channel != CHANNEL_PROTOCOL {
                        other_channel(&mut self.stats, &mut self.log, frame);
                    }
                }
            }
            self.rx_pos = self.rx.len();
            let now = Instant::now();
            if now >= end || self.fill(quiet.min(end - now), "a resend")? == 0 {
                break;
            }
        }
        self.reader.reset();
        Ok(())
    }

    fn diagnosed(&mut self) -> Option<LinkError> {
        self.diagnose.as_mut().and_then(|d| d())
    }
}

/// Counts an intact frame on a channel other than the protocol's and hands a log frame's body
/// to the sink (or keeps it for one).
fn other_channel(stats: &mut LinkStats, log: &mut Logs, frame: Frame<'_>) {
    stats.other_channel_frames += 1;
    if frame.channel != CHANNEL_LOG {
        return;
    }
    stats.log_frames += 1;
    match &mut log.sink {
        Some(sink) => sink(frame.body),
        None => {
            if log.backlog.len() == LOG_BACKLOG {
                log.backlog.pop_front();
            }
            log.backlog.push_back(frame.body.to_vec());
        }
    }
}

fn offset(n: usize) -> Result<u32, LinkError> {
    u32::try_from(n).map_err(|_| LinkError::Protocol {
        request: "a tensor transfer",
        source: kiln_proto::Error::BodyTooLong,
    })
}

fn mismatch(req: &Request<'_>) -> LinkError {
    LinkError::Protocol {
        request: req.name(),
        source: kiln_proto::Error::Decode,
    }
}

/// The answer to `req` carried by an intact protocol frame, or `None` when the frame answers
/// something else (a late answer to an earlier request).
fn interpret(req: &Request<'_>, body: &[u8]) -> Result<Option<Reply>, LinkError> {
    let request = req.name();
    if let Request::Hello { .. } = req {
        // The version is read before anything else is decoded.
        match peek_version(body) {
            Some(version) if version != PROTOCOL_VERSION => {
                return Err(LinkError::VersionMismatch {
                    device: version,
                    host: PROTOCOL_VERSION,
                })
            }
            Some(_) => {}
            // Not a hello answer: an error, or a late answer to something else, whose
            // encoding this version may not even know.
            None => {
                return Ok(match decode_response(body) {
                    Ok(Response::Error { code }) => Some(Reply::Error(code)),
                    _ => None,
                })
            }
        }
    }
    let resp = decode_response(body).map_err(|source| LinkError::Protocol { request, source })?;
    Ok(match (req, resp) {
        (_, Response::Error { code }) => Some(Reply::Error(code)),
        (
            Request::Hello { .. },
            Response::Hello {
                version,
                model_hash,
                board,
                arena_bytes,
                stack_reserve,
                n_inputs,
                n_outputs,
            },
        ) => Some(Reply::Hello(DeviceInfo {
            version,
            model_hash,
            board: board.to_string(),
            arena_bytes,
            stack_reserve,
            n_inputs,
            n_outputs,
        })),
        (Request::WriteInput { .. }, Response::Ack) => Some(Reply::Ack),
        (Request::Invoke | Request::InvokeUntil { .. }, Response::Invoked { ticks }) => {
            Some(Reply::Invoked(ticks))
        }
        (
            Request::ReadOutput { offset, len, .. } | Request::ReadArena { offset, len },
            Response::Output { offset: at, data },
        ) if at == *offset && data.len() == *len as usize => Some(Reply::Output(data.to_vec())),
        (
            Request::Stats,
            Response::Stats {
                stack_used,
                stack_reserve,
            },
        ) => Some(Reply::Stats(StackStats {
            used: stack_used,
            reserve: stack_reserve,
        })),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use kiln_proto::{encode_frame, encode_response};

    use super::*;

    /// A port whose device answers each request frame written with the next scripted chunk of
    /// bytes (a frame is written in one call).
    struct Scripted {
        chunks: VecDeque<Vec<u8>>,
        rx: VecDeque<u8>,
    }

    impl Scripted {
        fn new(chunks: Vec<Vec<u8>>) -> Scripted {
            Scripted {
                chunks: chunks.into(),
                rx: VecDeque::new(),
            }
        }
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.rx.is_empty() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let n = buf.len().min(self.rx.len());
            for (b, x) in buf.iter_mut().zip(self.rx.drain(..n)) {
                *b = x;
            }
            Ok(n)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.rx.extend(self.chunks.pop_front().unwrap_or_default());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Port for Scripted {
        fn set_io_timeout(&mut self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(body: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; MAX_FRAME];
        encode_frame(CHANNEL_LOG, body, &mut buf).unwrap().to_vec()
    }

    fn answer(resp: &Response<'_>) -> Vec<u8> {
        let mut buf = [0u8; MAX_FRAME];
        encode_response(resp, &mut buf).unwrap().to_vec()
    }

    fn collect() -> (Arc<Mutex<Vec<Vec<u8>>>>, LogSink) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        (
            got,
            Box::new(move |b: &[u8]| sink.lock().unwrap().push(b.to_vec())),
        )
    }

    fn quick() -> LinkOptions {
        LinkOptions {
            timeout: Duration::from_millis(20),
            invoke_timeout: Duration::from_millis(20),
            retries: 1,
        }
    }

    #[test]
    fn log_frames_reach_the_sink_in_order_around_answers() {
        let hello = Response::Hello {
            version: PROTOCOL_VERSION,
            model_hash: [9; 16],
            board: "b",
            arena_bytes: 16,
            stack_reserve: 1024,
            n_inputs: 1,
            n_outputs: 1,
        };
        let first = [log(&[1, 0]), answer(&hello)].concat();
        let second = [log(&[2, 0, 7]), answer(&Response::Invoked { ticks: 5 })].concat();
        let mut dev = Device::with_options(Scripted::new(vec![first, second]), quick());
        dev.hello(&[9; 16]).unwrap();
        // No sink yet: the frame before the hello answer waits in the backlog.
        assert_eq!(dev.link_stats().log_frames, 1);
        let (got, sink) = collect();
        dev.set_log_sink(Some(sink));
        assert_eq!(*got.lock().unwrap(), [vec![1, 0]]);
        assert_eq!(dev.invoke().unwrap(), 5);
        assert_eq!(*got.lock().unwrap(), [vec![1, 0], vec![2, 0, 7]]);
        let stats = dev.link_stats();
        assert_eq!((stats.log_frames, stats.other_channel_frames), (2, 2));
    }

    #[test]
    fn log_frames_survive_a_resend() {
        // The first answer is damaged; the logs after it arrive while the resend drains the
        // line, and one more comes with the answer to the resend.
        let mut damaged = answer(&Response::Ack);
        damaged[1] ^= 0x10;
        let first = [damaged, log(&[1, 0]), log(&[2, 0])].concat();
        let second = [log(&[3, 0]), answer(&Response::Ack)].concat();
        let mut dev = Device::with_options(Scripted::new(vec![first, second]), quick());
        let (got, sink) = collect();
        dev.set_log_sink(Some(sink));
        dev.write_input(0, &[1, 2, 3, 4]).unwrap();
        assert_eq!(dev.link_stats().retries, 1);
        assert_eq!(*got.lock().unwrap(), [[1, 0], [2, 0], [3, 0]]);
    }

    #[test]
    fn the_backlog_keeps_the_newest_frames() {
        let n = LOG_BACKLOG as u8 + 3;
        let mut chunk: Vec<u8> = (0..n).flat_map(|i| log(&[i, 0])).collect();
        chunk.extend(answer(&Response::Ack));
        let mut dev = Device::with_options(Scripted::new(vec![chunk]), quick());
        dev.write_input(0, &[1]).unwrap();
        let (got, sink) = collect();
        dev.set_log_sink(Some(sink));
        let got = got.lock().unwrap();
        assert_eq!(got.len(), LOG_BACKLOG);
        assert_eq!((got[0][0], got[LOG_BACKLOG - 1][0]), (3, n - 1));
        assert_eq!(dev.link_stats().log_frames, n as u64);
    }
}

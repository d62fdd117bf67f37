//! The MLPerf Tiny / EEMBC benchmark runner's ASCII serial protocol (the reference firmware API
//! of mlcommons/tiny, `benchmark/api`), as a firmware built with `--protocol mlperf-tiny` speaks
//! it on UART0. docs/MLPERF_TINY.md is the user-facing table; the contract in short:
//!
//! - A command is the bytes before a `%`; tokens are separated by spaces; command words are
//!   lower case (compared exactly). CR and LF are ignored. A command longer than [`CMD_BYTES`]
//!   is refused. Every command, an empty one included, is answered by zero or more lines and
//!   then `m-ready`; every line ends in `\r\n`. Errors are `e-[...]` lines.
//! - At start-up: `m-timestamp-mode-performance`, one `m-lap-us-N`, `m-init-done`, `m-ready`.
//! - `db load N` / `db HEX` fill the input buffer: the concatenated bytes of all model inputs in
//!   their own element type (f32 little-endian, int8 or uint8), in ONNX input order.
//! - `infer N W`: W warm-up inferences, then N timed ones between two `m-lap-us-` lines, then
//!   the results. `m-lap-us-N` is the timer in µs since start-up: the SysTick count at the
//!   board's timer rate, which under `qemu-system-arm -icount shift=0` is virtual time.

use crate::uart::Uart;
use crate::{timer, Invoke, ModelDesc, ALL_LAYERS};

/// Longest command (bytes before `%`), as the reference firmware's command buffer.
pub const CMD_BYTES: usize = 80;

/// `m-profile-[...]`: the firmware profile the runner expects from a benchmark firmware.
const PROFILE: &str = "ULPMark for tinyML Firmware V0.0.1";
/// `m-name-dut-[VENDOR]`: the device is always `dut` (the runner matches it); kiln is the vendor.
const VENDOR: &str = "kiln";
/// `infer` without a warm-up count runs this many (the reference's default).
const DEFAULT_WARMUPS: u64 = 10;

/// How `results` turns an output's bytes into the printed values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputKind {
    /// f32 values, printed as they are.
    F32,
    /// int8 values, printed dequantized: `(q - zero_point) * scale`.
    I8 { scale: f32, zero_point: i32 },
    /// uint8 values (zero point in `0..=255`), printed dequantized: `(q - zero_point) * scale`.
    U8 { scale: f32, zero_point: i32 },
}

impl OutputKind {
    fn width(self) -> usize {
        match self {
            OutputKind::F32 => 4,
            OutputKind::I8 { .. } | OutputKind::U8 { .. } => 1,
        }
    }

    fn value(self, b: &[u8]) -> f32 {
        match self {
            OutputKind::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            OutputKind::I8 { scale, zero_point } => (b[0] as i8 as i32 - zero_point) as f32 * scale,
            OutputKind::U8 { scale, zero_point } => (b[0] as i32 - zero_point) as f32 * scale,
        }
    }
}

/// What the MLPerf Tiny protocol needs beyond [`ModelDesc`].
#[derive(Debug, Clone, Copy)]
pub struct MlperfDesc {
    /// Model id reported as `m-model-[...]`; the runner picks its test script by it (`kws01`,
    /// `vww01`, `ad01`, `ic01` for the benchmark's own models). No `]`, `%` or control bytes.
    pub model: &'static str,
    /// Timer ticks per second ([`crate::ticks`]): the board's timer rate; on an emulated board
    /// the virtual rate (1e9 / instructions per tick).
    pub tick_hz: u32,
    /// One per [`ModelDesc::outputs`] entry.
    pub outputs: &'static [OutputKind],
    /// The memory plan lets later layers reuse input bytes: copy the inputs into the arena
    /// before every inference (inside the timed interval), not only once per `infer`.
    pub reload_inputs: bool,
}

/// Where replies go: UART0 on the device, a buffer in tests.
pub(crate) trait Out {
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Uart {
    fn put(&mut self, bytes: &[u8]) {
        self.write_all(bytes)
    }
}

/// `core::fmt` onto an [`Out`] (for the float values of `results`).
struct Fmt<'a>(&'a mut dyn Out);

impl core::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.put(s.as_bytes());
        Ok(())
    }
}

/// The protocol's state: the command being received, the input buffer and the model.
struct Bench<'a> {
    desc: &'a ModelDesc,
    m: &'a MlperfDesc,
    arena: &'a mut [u8],
    invoke: Invoke,
    /// Ticks of the timer ([`crate::ticks`] on the device).
    clock: fn() -> u64,
    /// The input buffer `db` fills: all inputs, concatenated.
    db: &'a mut [u8],
    /// Bytes announced by `db load N` (0: none).
    expected: usize,
    /// Bytes loaded since.
    loaded: usize,
    /// An inference has run: the arena holds outputs.
    ran: bool,
    /// The command received so far, and whether it overflowed [`CMD_BYTES`].
    line: [u8; CMD_BYTES],
    len: usize,
    too_long: bool,
}

pub(crate) fn run(
    desc: &ModelDesc,
    arena: &mut [u8],
    invoke: Invoke,
    m: &MlperfDesc,
    db: &mut [u8],
) -> ! {
    let mut uart = Uart::take();
    timer::start();
    let mut b = Bench::new(desc, m, arena, invoke, timer::ticks, db);
    b.start(&mut uart);
    loop {
        let c = uart.read();
        b.feed(&mut uart, c);
    }
}

impl<'a> Bench<'a> {
    /// # Panics
    ///
    /// When the descriptions do not fit each other (codegen's bug).
    fn new(
        desc: &'a ModelDesc,
        m: &'a MlperfDesc,
        arena: &'a mut [u8],
        invoke: Invoke,
        clock: fn() -> u64,
        db: &'a mut [u8],
    ) -> Self {
        let inputs: usize = desc.inputs.iter().map(|io| io.bytes as usize).sum();
        assert!(
            db.len() == inputs,
            "BUG(kiln): the db buffer has {} bytes, the model's inputs {inputs}",
            db.len()
        );
        assert!(
            m.outputs.len() == desc.outputs.len()
                && m.outputs
                    .iter()
                    .zip(desc.outputs)
                    .all(|(k, io)| io.bytes as usize % k.width() == 0),
            "BUG(kiln): MlperfDesc.outputs does not describe ModelDesc.outputs"
        );
        assert!(m.tick_hz > 0, "BUG(kiln): MlperfDesc.tick_hz is 0");
        Bench {
            desc,
            m,
            arena,
            invoke,
            clock,
            db,
            expected: 0,
            loaded: 0,
            ran: false,
            line: [0; CMD_BYTES],
            len: 0,
            too_long: false,
        }
    }

    /// The start-up lines.
    fn start(&mut self, o: &mut dyn Out) {
        o.put(b"m-timestamp-mode-performance\r\n");
        self.lap(o);
        o.put(b"m-init-done\r\nm-ready\r\n");
    }

    /// One received byte: a `%` runs the command and answers it.
    fn feed(&mut self, o: &mut dyn Out, c: u8) {
        match c {
            b'%' => {
                if self.too_long {
                    o.put(b"e-[Command longer than ");
                    dec(o, CMD_BYTES as u64);
                    o.put(b" characters]\r\n");
                } else {
                    let line = self.line;
                    self.command(o, &line[..self.len]);
                }
                o.put(b"m-ready\r\n");
                self.len = 0;
                self.too_long = false;
            }
            b'\r' | b'\n' => {}
            c if self.len < CMD_BYTES => {
                self.line[self.len] = c;
                self.len += 1;
            }
            _ => self.too_long = true,
        }
    }

    /// `m-lap-us-N`: microseconds since start-up (floor of ticks / tick rate). The clock is
    /// read after the prefix is sent and the digits are made without 64-bit division where
    /// possible: what follows the read is inside an `infer` interval.
    fn lap(&self, o: &mut dyn Out) {
        o.put(b"m-lap-us-");
        let t = (self.clock)();
        let hz = self.m.tick_hz;
        let us = if hz % 1_000_000 == 0 {
            let per_us = hz / 1_000_000;
            match u32::try_from(t) {
                Ok(t) => (t / per_us) as u64,
                Err(_) => t / per_us as u64,
            }
        } else {
            let hz = hz as u64;
            t / hz * 1_000_000 + t % hz * 1_000_000 / hz
        };
        dec(o, us);
        o.put(b"\r\n");
    }

    fn command(&mut self, o: &mut dyn Out, line: &[u8]) {
        let mut tokens = line.split(|&c| c == b' ').filter(|t| !t.is_empty());
        let Some(cmd) = tokens.next() else {
            return;
        };
        match cmd {
            b"name" => {
                o.put(b"m-name-dut-[");
                o.put(VENDOR.as_bytes());
                o.put(b"]\r\n");
            }
            b"timestamp" => self.lap(o),
            b"profile" => {
                o.put(b"m-profile-[");
                o.put(PROFILE.as_bytes());
                o.put(b"]\r\nm-model-[");
                o.put(self.m.model.as_bytes());
                o.put(b"]\r\n");
            }
            b"help" => help(o),
            b"db" => self.db(o, tokens.next(), tokens.next()),
            b"infer" => self.infer(o, tokens.next(), tokens.next()),
            b"results" if self.ran => self.results(o),
            b"results" => o.put(b"e-[No inference has run yet]\r\n"),
            other => {
                o.put(b"e-[Unknown command: ");
                printable(o, other);
                o.put(b"]\r\n");
            }
        }
    }

    fn db(&mut self, o: &mut dyn Out, sub: Option<&[u8]>, arg: Option<&[u8]>) {
        match sub {
            None => o.put(b"e-[Command 'db' requires a subcommand]\r\n"),
            Some(b"load") => {
                let Some(arg) = arg else {
                    o.put(b"e-[Command 'db load' requires the # of bytes]\r\n");
                    return;
                };
                // A new `db load` always discards what was loaded before.
                self.expected = 0;
                self.loaded = 0;
                let n = atoi(arg);
                if n <= 0 {
                    o.put(b"e-[Command 'db load' must be >0 bytes]\r\n");
                } else if n as u64 > self.db.len() as u64 {
                    o.put(b"e-[Supplied buffer size ");
                    dec(o, n as u64);
                    o.put(b" exceeds maximum of ");
                    dec(o, self.db.len() as u64);
                    o.put(b"]\r\n");
                } else {
                    self.expected = n as usize;
                    o.put(b"m-[Expecting ");
                    dec(o, n as u64);
                    o.put(b" bytes]\r\n");
                }
            }
            Some(b"print") => {
                for chunk in self.db[..self.expected].chunks(8) {
                    o.put(b"m-buffer-");
                    for (j, &byte) in chunk.iter().enumerate() {
                        if j > 0 {
                            o.put(b"-");
                        }
                        hex_byte(o, byte);
                    }
                    o.put(b"\r\n");
                }
            }
            Some(hex) => self.db_hex(o, hex),
        }
    }

    fn db_hex(&mut self, o: &mut dyn Out, hex: &[u8]) {
        if self.expected == 0 {
            o.put(b"e-[Command 'db' needs 'db load N' first]\r\n");
            return;
        }
        if self.loaded == self.expected {
            o.put(b"e-[db buffer is full: ");
            dec(o, self.expected as u64);
            o.put(b" bytes loaded; 'db load N' starts over]\r\n");
            return;
        }
        if hex.len() % 2 != 0 {
            // The reference firmware's wording, spelling included.
            o.put(b"e-[Insufficent number of hex digits]\r\n");
            return;
        }
        // Check the whole token first: a bad digit leaves the buffer as it was.
        if let Some(pair) = hex.chunks_exact(2).find(|p| hex_value(p).is_none()) {
            o.put(b"e-[Invalid hex digit '");
            printable(o, pair);
            o.put(b"']\r\n");
            return;
        }
        for pair in hex.chunks_exact(2) {
            // Checked above.
            self.db[self.loaded] = hex_value(pair).unwrap_or(0);
            self.loaded += 1;
            if self.loaded == self.expected {
                // Digits past the announced count are ignored, as the reference does.
                o.put(b"m-load-done\r\n");
                return;
            }
        }
    }

    fn infer(&mut self, o: &mut dyn Out, n: Option<&[u8]>, w: Option<&[u8]>) {
        let mut iterations = 1;
        let mut warmups = DEFAULT_WARMUPS;
        if let Some(n) = n {
            let v = atoi(n);
            if v <= 0 {
                o.put(b"e-[Inference iterations must be >0]\r\n");
                return;
            }
            iterations = v as u64;
            if let Some(w) = w {
                let v = atoi(w);
                if v < 0 {
                    o.put(b"e-[Inference warmup must be >=0]\r\n");
                    return;
                }
                warmups = v as u64;
            }
        }
        if self.loaded != self.db.len() {
            o.put(b"e-[Input db has ");
            dec(o, self.loaded as u64);
            o.put(b" bytes, expected ");
            dec(o, self.db.len() as u64);
            o.put(b"]\r\n");
            return;
        }
        self.load_inputs();
        o.put(b"m-warmup-start-");
        dec(o, warmups);
        o.put(b"\r\n");
        for _ in 0..warmups {
            self.infer_once();
        }
        o.put(b"m-warmup-done\r\nm-infer-start-");
        dec(o, iterations);
        o.put(b"\r\n");
        self.lap(o);
        for _ in 0..iterations {
            self.infer_once();
        }
        self.lap(o);
        o.put(b"m-infer-done\r\n");
        self.ran = true;
        self.results(o);
    }

    /// Copies the db buffer into the model's inputs in the arena.
    fn load_inputs(&mut self) {
        let mut rest = &self.db[..];
        for io in self.desc.inputs {
            let (bytes, tail) = rest.split_at(io.bytes as usize);
            self.arena[io.offset as usize..][..bytes.len()].copy_from_slice(bytes);
            rest = tail;
        }
    }

    #[inline(always)]
    fn infer_once(&mut self) {
        if self.m.reload_inputs {
            self.load_inputs();
        }
        (self.invoke)(self.arena, ALL_LAYERS);
    }

    /// `m-results-[v0,v1,..]`: every output's values in output order, 3 decimals.
    fn results(&self, o: &mut dyn Out) {
        use core::fmt::Write;
        o.put(b"m-results-[");
        let mut first = true;
        for (io, kind) in self.desc.outputs.iter().zip(self.m.outputs) {
            let bytes = &self.arena[io.offset as usize..][..io.bytes as usize];
            for b in bytes.chunks_exact(kind.width()) {
                if !first {
                    o.put(b",");
                }
                first = false;
                // Writes to the UART cannot fail.
                let _ = write!(Fmt(o), "{:.3}", kind.value(b));
            }
        }
        o.put(b"]\r\n");
    }
}

/// Decimal digits of `v`, without `core::fmt`, in 32-bit arithmetic when it fits (cheap enough
/// to sit inside a timed interval).
fn dec(o: &mut dyn Out, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let (mut hi, mut lo) = (v / 1_000_000_000, (v % 1_000_000_000) as u32);
    if v <= u32::MAX as u64 {
        (hi, lo) = (0, v as u32);
    }
    // `lo` holds the low nine digits when `hi` is non-zero (then zero-padded).
    loop {
        i -= 1;
        buf[i] = b'0' + (lo % 10) as u8;
        lo /= 10;
        if lo == 0 && (hi == 0 || i == buf.len() - 9) {
            break;
        }
    }
    while hi > 0 {
        i -= 1;
        buf[i] = b'0' + (hi % 10) as u8;
        hi /= 10;
    }
    o.put(&buf[i..]);
}

fn hex_byte(o: &mut dyn Out, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    o.put(&[DIGITS[(b >> 4) as usize], DIGITS[(b & 0xF) as usize]]);
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hex_value(pair: &[u8]) -> Option<u8> {
    Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?)
}

/// C's `atoi`: an optional sign and the leading decimal digits (0 when there are none),
/// saturating instead of overflowing.
fn atoi(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Echoes user bytes, with anything but printable ASCII as `?`.
fn printable(o: &mut dyn Out, s: &[u8]) {
    for &c in s {
        o.put(&[if c.is_ascii_graphic() { c } else { b'?' }]);
    }
}

fn help(o: &mut dyn Out) {
    o.put(PROFILE.as_bytes());
    o.put(
        b"\r\n\
          kiln: commands end with '%'; each answer ends with m-ready\r\n\
          name            m-name-dut-[vendor]\r\n\
          profile         m-profile-[...] and m-model-[model id]\r\n\
          timestamp       m-lap-us-N: microseconds since start-up\r\n\
          db load N       expect N bytes of model input (all inputs, their own dtype)\r\n\
          db HEX          append bytes given as hex digits; m-load-done when N are loaded\r\n\
          db print        the loaded bytes as hex\r\n\
          infer [N [W]]   W warm-up (default 10) then N timed inferences, then results\r\n\
          results         m-results-[...]: the outputs of the last inference\r\n",
    );
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::cell::Cell;
    use std::string::String;
    use std::vec::Vec;

    use super::*;
    use crate::IoDesc;

    impl Out for Vec<u8> {
        fn put(&mut self, bytes: &[u8]) {
            self.extend_from_slice(bytes)
        }
    }

    static DESC: ModelDesc = ModelDesc {
        hash: [0; 16],
        board: "test-board",
        arena_bytes: 32,
        stack_reserve: 1024,
        inputs: &[IoDesc {
            offset: 0,
            bytes: 8,
        }],
        outputs: &[IoDesc {
            offset: 16,
            bytes: 8,
        }],
    };
    static M: MlperfDesc = MlperfDesc {
        model: "test01",
        tick_hz: 2_000_000,
        outputs: &[OutputKind::F32],
        reload_inputs: true,
    };

    std::thread_local! {
        static TICKS: Cell<u64> = const { Cell::new(0) };
        static INVOKES: Cell<u32> = const { Cell::new(0) };
    }

    /// Each read advances the clock by 7 ticks (3.5 µs at 2 MHz).
    fn clock() -> u64 {
        TICKS.with(|t| {
            t.set(t.get() + 7);
            t.get()
        })
    }

    /// out = 2 * in, and clobbers the input (as a plan that reuses input bytes may).
    fn double(arena: &mut [u8], _until: u32) {
        INVOKES.with(|n| n.set(n.get() + 1));
        for i in 0..2 {
            let x = f32::from_le_bytes(arena[4 * i..4 * i + 4].try_into().unwrap());
            arena[16 + 4 * i..20 + 4 * i].copy_from_slice(&(2.0 * x).to_le_bytes());
        }
        arena[..8].fill(0xFF);
    }

    /// Sends each command with its `%` and returns the reply lines of each.
    fn session(commands: &[&str]) -> (String, Vec<Vec<String>>) {
        let mut arena = [0u8; 32];
        let mut db = [0u8; 8];
        let mut b = Bench::new(&DESC, &M, &mut arena, double, clock, &mut db);
        let mut out = Vec::new();
        b.start(&mut out);
        let banner = String::from_utf8(core::mem::take(&mut out)).unwrap();
        let mut replies = Vec::new();
        for c in commands {
            for &byte in c.as_bytes().iter().chain(b"%") {
                b.feed(&mut out, byte);
            }
            let text = String::from_utf8(core::mem::take(&mut out)).unwrap();
            assert!(text.ends_with("m-ready\r\n"), "{c}: {text:?}");
            assert!(
                text.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
                "{c}: {text:?}"
            );
            replies.push(text.lines().map(String::from).collect());
        }
        (banner, replies)
    }

    fn hex(values: &[f32]) -> String {
        values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .map(|b| std::format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn start_up_name_and_profile() {
        let (banner, r) = session(&["name", "profile", "", "timestamp"]);
        assert_eq!(
            banner,
            "m-timestamp-mode-performance\r\nm-lap-us-3\r\nm-init-done\r\nm-ready\r\n"
        );
        assert_eq!(r[0], ["m-name-dut-[kiln]", "m-ready"]);
        assert_eq!(
            r[1],
            [
                "m-profile-[ULPMark for tinyML Firmware V0.0.1]",
                "m-model-[test01]",
                "m-ready"
            ]
        );
        assert_eq!(r[2], ["m-ready"]);
        assert_eq!(r[3], ["m-lap-us-7", "m-ready"]);
    }

    #[test]
    fn load_infer_and_results() {
        let data = hex(&[1.5, -0.25]);
        let (_, r) = session(&[
            "results",
            "db load 8",
            &std::format!("db {}", &data[..6]),
            &std::format!("db {}", &data[6..]),
            "db print",
            "infer 3 2",
            "results",
            "infer",
        ]);
        assert_eq!(r[0], ["e-[No inference has run yet]", "m-ready"]);
        assert_eq!(r[1], ["m-[Expecting 8 bytes]", "m-ready"]);
        assert_eq!(r[2], ["m-ready"]);
        assert_eq!(r[3], ["m-load-done", "m-ready"]);
        assert_eq!(r[4], ["m-buffer-00-00-c0-3f-00-00-80-be", "m-ready"]);
        // The clock advances 7 ticks (3.5 µs) per read: reads 2 and 3 of the session.
        assert_eq!(
            r[5],
            [
                "m-warmup-start-2",
                "m-warmup-done",
                "m-infer-start-3",
                "m-lap-us-7",
                "m-lap-us-10",
                "m-infer-done",
                "m-results-[3.000,-0.500]",
                "m-ready"
            ]
        );
        assert_eq!(r[6], ["m-results-[3.000,-0.500]", "m-ready"]);
        // Default warm-up count; the inputs are reloaded before each of the 10 + 1 runs.
        assert_eq!(r[7][0], "m-warmup-start-10");
        assert_eq!(r[7][6], "m-results-[3.000,-0.500]");
        assert_eq!(INVOKES.with(|n| n.get()), 5 + 11);
    }

    #[test]
    fn db_errors() {
        let (_, r) = session(&[
            "db",
            "db 00",
            "db load",
            "db load 0",
            "db load x",
            "db load 9",
            "db 00",
            "db load 2",
            "db 0",
            "db 0g",
            "db print",
            "db 00112233",
            "db 44",
            "infer",
        ]);
        let first = |i: usize| r[i][0].as_str();
        assert_eq!(first(0), "e-[Command 'db' requires a subcommand]");
        assert_eq!(first(1), "e-[Command 'db' needs 'db load N' first]");
        assert_eq!(first(2), "e-[Command 'db load' requires the # of bytes]");
        assert_eq!(first(3), "e-[Command 'db load' must be >0 bytes]");
        assert_eq!(first(4), "e-[Command 'db load' must be >0 bytes]");
        assert_eq!(first(5), "e-[Supplied buffer size 9 exceeds maximum of 8]");
        // A refused `db load` leaves no buffer to fill.
        assert_eq!(first(6), "e-[Command 'db' needs 'db load N' first]");
        assert_eq!(first(7), "m-[Expecting 2 bytes]");
        assert_eq!(first(8), "e-[Insufficent number of hex digits]");
        assert_eq!(first(9), "e-[Invalid hex digit '0g']");
        // Bad digits load nothing.
        assert_eq!(first(10), "m-buffer-00-00");
        // Digits past the announced count are ignored; a full buffer refuses more.
        assert_eq!(first(11), "m-load-done");
        assert_eq!(
            first(12),
            "e-[db buffer is full: 2 bytes loaded; 'db load N' starts over]"
        );
        assert_eq!(first(13), "e-[Input db has 2 bytes, expected 8]");
        assert!(r.iter().all(|l| l.len() == 2), "{r:?}");
    }

    #[test]
    fn command_errors() {
        let long = "x".repeat(CMD_BYTES + 1);
        let (_, r) = session(&[
            "Name",
            "bogus arg",
            "infer 0",
            "infer -1",
            "infer 1 -1",
            &long,
            "name\r\n",
            "\x01",
        ]);
        assert_eq!(r[0], ["e-[Unknown command: Name]", "m-ready"]);
        assert_eq!(r[1], ["e-[Unknown command: bogus]", "m-ready"]);
        assert_eq!(r[2], ["e-[Inference iterations must be >0]", "m-ready"]);
        assert_eq!(r[3], ["e-[Inference iterations must be >0]", "m-ready"]);
        assert_eq!(r[4], ["e-[Inference warmup must be >=0]", "m-ready"]);
        assert_eq!(r[5], ["e-[Command longer than 80 characters]", "m-ready"]);
        assert_eq!(r[6], ["m-name-dut-[kiln]", "m-ready"]);
        assert_eq!(r[7], ["e-[Unknown command: ?]", "m-ready"]);
    }

    #[test]
    fn atoi_is_c_like() {
        assert_eq!(atoi(b"12"), 12);
        assert_eq!(atoi(b"12x"), 12);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"+7"), 7);
        assert_eq!(atoi(b"99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn decimal_digits() {
        for v in [
            0,
            7,
            10,
            999_999_999,
            1_000_000_000,
            4_294_967_295,
            4_294_967_296,
            10_000_000_001,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            dec(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), std::format!("{v}"));
        }
    }

    #[test]
    fn hex_pairs() {
        assert_eq!(hex_value(b"0a"), Some(10));
        assert_eq!(hex_value(b"Ff"), Some(255));
        assert_eq!(hex_value(b"g0"), None);
    }

    #[test]
    fn dequantized_outputs() {
        let i8k = OutputKind::I8 {
            scale: 0.5,
            zero_point: -2,
        };
        assert_eq!(i8k.value(&[0xFE]), 0.0);
        assert_eq!(i8k.value(&[2]), 2.0);
        let u8k = OutputKind::U8 {
            scale: 0.25,
            zero_point: 128,
        };
        assert_eq!(u8k.value(&[132]), 1.0);
        assert_eq!(OutputKind::F32.value(&1.5f32.to_le_bytes()), 1.5);
    }
}

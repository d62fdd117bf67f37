//! `kiln flash`: build the firmware for a real board, flash it through the board's debug probe,
//! reset it, and confirm over its serial port that it runs (handshake with the model hash);
//! with `--log`, then print the device's log lines until Ctrl-C or `--log-seconds`.

use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::{prepare, print_json, BuildArgs, Format, Target};
use crate::deploy::{DeviceRunner, Firmware, RealLink, Runner};
use crate::flash::{Connect, ProbeSelector};
use crate::link::LogSink;

#[derive(Args, Debug)]
pub struct FlashArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Seconds to wait for the board's answer after the reset.
    #[arg(long, default_value_t = 20.0)]
    pub timeout: f64,
    /// With `--log`: stop printing the device's log lines after this many seconds (default:
    /// at Ctrl-C).
    #[arg(long, value_name = "S", requires = "log")]
    pub log_seconds: Option<f64>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// How to reach a real board: its probe and serial port (shared with run, validate and bench).
#[derive(Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    /// Debug probe of a real board, as USB `VID:PID[:SERIAL]` in hex (default: the probe the
    /// board file names; `kiln doctor` lists the probes attached).
    #[arg(long, value_name = "VID:PID[:SERIAL]", value_parser = parse_probe)]
    pub probe: Option<ProbeSelector>,
    /// Serial port of a real board's UART (default: the port of its debug probe, found by the
    /// probe's USB identity).
    #[arg(long, value_name = "PATH")]
    pub port: Option<PathBuf>,
}

impl ConnectArgs {
    pub fn connect(&self) -> Connect {
        Connect {
            probe: self.probe.clone(),
            port: self.port.clone(),
        }
    }
}

fn parse_probe(s: &str) -> Result<ProbeSelector, String> {
    s.parse()
        .map_err(|e: crate::flash::SelectorError| e.to_string())
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    board: &'a str,
    precision: &'static str,
    chip: &'a str,
    /// The probe, its serial port and the handshake.
    #[serde(flatten)]
    link: &'a RealLink,
    firmware: Option<&'a Firmware>,
}

pub fn run(a: FlashArgs) -> anyhow::Result<()> {
    // The probe and port are looked for first: a missing board is reported before any build.
    let catalog = super::boards::catalog(a.build.boards_dir.as_deref())?;
    if a.build.board == crate::boards::HOST {
        anyhow::bail!("board `host` runs in-process: there is nothing to flash; pick a real board (`kiln boards`)");
    }
    let board = catalog.get(&a.build.board)?.clone();
    let resolved = crate::flash::resolve(&board, &a.connect.connect())?;
    let (p, target) = prepare(&a.build)?;
    let Target::Board(board) = target else {
        unreachable!("`host` was refused above");
    };
    crate::build::check_fit(&board, &p.plan.stats)?;
    let fw = super::build_firmware(&a.build, &p, &board, None)?;
    let spinner = super::progress::spinner(&format!(
        "flashing {} through {}",
        resolved.chip, resolved.probe
    ));
    let timeout = Duration::from_secs_f64(a.timeout.max(0.001));
    let mut log = a.build.log.then(|| super::log_printer(&fw)).transpose()?;
    let runner = DeviceRunner::start_real(&board, fw, &p.graph, &p.plan, &resolved, timeout);
    spinner.finish_and_clear();
    let mut runner = runner?;
    // Lines logged from the reset to the handshake's answer.
    runner.set_log_sink(log.take());
    let result = report(&a, &board, &p, &resolved, &runner);
    if result.is_err() || !a.build.log {
        return result;
    }
    let log = super::log_printer(runner.firmware().expect("a device runner has firmware"))?;
    follow_logs(runner.into_port(), log, a.log_seconds)
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Prints the device's log lines (stderr) until Ctrl-C or `seconds` pass.
fn follow_logs(
    mut port: serialport::TTYPort,
    mut sink: LogSink,
    seconds: Option<f64>,
) -> anyhow::Result<()> {
    // Without a handler of ours (another one was installed first), Ctrl-C ends the process.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    let until = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    eprintln!(
        "following the device's log{}",
        match seconds {
            Some(s) => format!(" for {s} s"),
            None => " (Ctrl-C stops)".into(),
        }
    );
    let n = stream_logs(&mut port, &mut sink, until, &STOP)
        .map_err(|e| anyhow::anyhow!("reading the device's log from its serial port: {e}"))?;
    eprintln!("{n} log lines");
    Ok(())
}

/// Reads `port` until `stop` is set, `until` passes or the stream ends, handing the body of
/// every intact log-channel frame to `sink` (other channels and damaged frames are skipped).
/// Returns the number of log frames. Read timeouts of `port` bound how late `stop` is seen.
fn stream_logs<R: Read>(
    port: &mut R,
    sink: &mut LogSink,
    until: Option<Instant>,
    stop: &AtomicBool,
) -> std::io::Result<u64> {
    let mut reader = Box::new(kiln_proto::FrameReader::new());
    let mut buf = [0u8; 512];
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) && until.is_none_or(|t| Instant::now() < t) {
        let k = match port.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        for &byte in &buf[..k] {
            if let Some(Ok(frame)) = reader.push(byte) {
                if frame.channel == kiln_proto::CHANNEL_LOG {
                    n += 1;
                    sink(frame.body);
                }
            }
        }
    }
    Ok(n)
}

fn report(
    a: &FlashArgs,
    board: &crate::boards::Board,
    p: &crate::deploy::Prepared,
    resolved: &crate::flash::Resolved,
    runner: &DeviceRunner,
) -> anyhow::Result<()> {
    let link = runner.real().expect("a real board's runner has its link");
    let report = Report {
        model: a.build.model.display().to_string(),
        board: &board.name,
        precision: p.precision(),
        chip: &resolved.chip,
        link,
        firmware: runner.firmware(),
    };
    if a.format == Format::Json {
        return print_json(&report);
    }
    let d = &link.device;
    println!("board     {} (chip {})", report.board, report.chip);
    println!("probe     {}", link.flashed.probe);
    println!(
        "flashed   {} in {:.1} s",
        link.flashed.elf.display(),
        link.flashed.seconds
    );
    println!(
        "port      {} at {} baud{}",
        link.port.display(),
        link.baud,
        if link.port_auto {
            " (the probe's own serial port)"
        } else {
            ""
        }
    );
    println!(
        "running   model {} ({}), protocol {}, arena {} bytes, stack reserve {} bytes",
        d.model_hash_hex(),
        report.precision,
        d.version,
        d.arena_bytes,
        d.stack_reserve
    );
    if let Some(f) = report.firmware {
        println!(
            "flash     {} bytes (weights {}, code {}); RAM {} bytes (arena {}, stack reserve {}, other {})",
            f.sizes.flash_bytes,
            f.sizes.flash_weights_bytes,
            f.sizes.flash_code_bytes,
            f.sizes.ram_bytes,
            f.sizes.ram_arena_bytes,
            f.sizes.ram_stack_reserve_bytes,
            f.sizes.ram_other_bytes
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn frame(channel: u8, body: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        kiln_proto::encode_frame(channel, body, &mut buf)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn log_frames_reach_the_sink_and_the_rest_is_skipped() {
        let mut bytes = frame(kiln_proto::CHANNEL_LOG, b"first");
        bytes.extend(frame(kiln_proto::CHANNEL_PROTOCOL, b"an answer"));
        bytes.extend([0x17, 0x42, 0x99, 0x00]); // damaged
        bytes.extend(frame(kiln_proto::CHANNEL_LOG, b"second"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let mut sink: LogSink = Box::new(move |b: &[u8]| s.lock().unwrap().push(b.to_vec()));
        let stop = AtomicBool::new(false);
        let n = stream_logs(&mut bytes.as_slice(), &mut sink, None, &stop).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            *seen.lock().unwrap(),
            [b"first".to_vec(), b"second".to_vec()]
        );

        // Stopped (Ctrl-C) or past the deadline: nothing more is read.
        stop.store(true, Ordering::SeqCst);
        assert_eq!(
            stream_logs(&mut bytes.as_slice(), &mut sink, None, &stop).unwrap(),
            0
        );
        let past = Some(Instant::now());
        let go = AtomicBool::new(false);
        assert_eq!(
            stream_logs(&mut bytes.as_slice(), &mut sink, past, &go).unwrap(),
            0
        );
    }
}

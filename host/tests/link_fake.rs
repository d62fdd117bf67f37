//! The link client against a simulated device on a pty pair: retries, stale answers, version
//! and hash checks, timeouts, typed device errors, and garbage that must never panic.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kiln::link::{Device, ErrorCode, LinkError, LinkOptions, Port, PROTOCOL_VERSION};
use kiln_proto::{
    decode_request, encode_frame, encode_response, FrameReader, Request, Response, CHANNEL_LOG,
    CHANNEL_PROTOCOL, HELLO_MAGIC, MAX_FRAME,
};
use proptest::prelude::*;
use serialport::{SerialPort, TTYPort};

const HASH: [u8; 16] = *b"fake-model-hash!";
const SIZES_IN: [usize; 2] = [64, 1200];
const TICKS: u64 = 4242;

/// What the simulated device does wrong, by 0-based index of the request it answers.
#[derive(Clone, Default)]
struct Faults {
    corrupt: Vec<usize>,
    /// Requests processed but not answered.
    drop: Vec<usize>,
    /// Requests lost before the device saw them: not processed, not answered.
    lose: Vec<usize>,
    delay: Vec<(usize, Duration)>,
    /// Answer every request with these bytes instead.
    garbage: Option<Vec<u8>>,
    /// Send a log-channel frame before each answer.
    log_frames: bool,
    /// Report this protocol version, with this hello body after the version.
    version: Option<(u16, Vec<u8>)>,
    hash: Option<[u8; 16]>,
}

/// A device that answers like kiln-rt running an echo model (`out = 2 * in + 1`).
struct Sim {
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    invoked: bool,
}

impl Sim {
    fn answer<'a>(&'a mut self, req: Request<'_>, faults: &Faults) -> Response<'a> {
        match req {
            Request::Hello { magic } if magic == HELLO_MAGIC => Response::Hello {
                version: PROTOCOL_VERSION,
                model_hash: faults.hash.unwrap_or(HASH),
                board: "fake-board",
                arena_bytes: 4096,
                stack_reserve: 2048,
                n_inputs: 2,
                n_outputs: 2,
            },
            Request::Hello { .. } | Request::InvokeUntil { .. } | Request::ReadArena { .. } => {
                Response::Error {
                    code: ErrorCode::BadRequest,
                }
            }
            Request::WriteInput {
                input,
                offset,
                data,
            } => {
                let Some(buf) = self.inputs.get_mut(input as usize) else {
                    return Response::Error {
                        code: ErrorCode::NoSuchTensor,
                    };
                };
                let start = offset as usize;
                if start + data.len() > buf.len() {
                    return Response::Error {
                        code: ErrorCode::OutOfRange,
                    };
                }
                buf[start..start + data.len()].copy_from_slice(data);
                self.invoked = false;
                Response::Ack
            }
            Request::Invoke => {
                for (i, o) in self.inputs.iter().zip(&mut self.outputs) {
                    for (x, y) in i.chunks_exact(4).zip(o.chunks_exact_mut(4)) {
                        let v = f32::from_le_bytes(x.try_into().unwrap());
                        y.copy_from_slice(&(2.0 * v + 1.0).to_le_bytes());
                    }
                }
                self.invoked = true;
                Response::Invoked { ticks: TICKS }
            }
            Request::ReadOutput {
                output,
                offset,
                len,
            } => {
                let Some(buf) = self.outputs.get(output as usize) else {
                    return Response::Error {
                        code: ErrorCode::NoSuchTensor,
                    };
                };
                let start = offset as usize;
                if start + len as usize > buf.len() {
                    return Response::Error {
                        code: ErrorCode::OutOfRange,
                    };
                }
                if !self.invoked {
                    return Response::Error {
                        code: ErrorCode::NotInvoked,
                    };
                }
                Response::Output {
                    offset,
                    data: &buf[start..start + len as usize],
                }
            }
            Request::Stats => Response::Stats {
                stack_used: 512,
                stack_reserve: 2048,
            },
        }
    }
}

struct Fake {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the simulated device on one end of a pty pair; returns the other end.
fn fake(faults: Faults) -> (TTYPort, Fake) {
    let (mut master, slave) = TTYPort::pair().expect("pty pair");
    master.set_timeout(Duration::from_millis(20)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut sim = Sim {
            inputs: SIZES_IN.iter().map(|&n| vec![0; n]).collect(),
            outputs: SIZES_IN.iter().map(|&n| vec![0; n]).collect(),
            invoked: false,
        };
        let mut reader = FrameReader::new();
        let mut n = 0usize;
        let mut buf = [0u8; 1024];
        while !stop2.load(Ordering::Relaxed) {
            let got = match master.read(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => break,
            };
            for &b in &buf[..got] {
                let Some(frame) = reader.push(b) else {
                    continue;
                };
                let k = n;
                n += 1;
                if faults.lose.contains(&k) {
                    continue;
                }
                let mut out = [0u8; MAX_FRAME];
                let mut frame_bytes = match frame {
                    Ok(f) if f.channel == CHANNEL_PROTOCOL => match decode_request(f.body) {
                        Ok(req) => {
                            let resp = sim.answer(req, &faults);
                            encode_response(&resp, &mut out).unwrap().to_vec()
                        }
                        Err(_) => encode_response(
                            &Response::Error {
                                code: ErrorCode::BadRequest,
                            },
                            &mut out,
                        )
                        .unwrap()
                        .to_vec(),
                    },
                    _ => encode_response(
                        &Response::Error {
                            code: ErrorCode::BadFrame,
                        },
                        &mut out,
                    )
                    .unwrap()
                    .to_vec(),
                };
                if let Some((version, rest)) = &faults.version {
                    // A hello answer of another protocol version: tag 0, version, then bytes
                    // this version cannot decode.
                    let mut body = vec![0u8];
                    body.extend(postcard::to_stdvec(version).unwrap());
                    body.extend(rest);
                    let mut out = [0u8; MAX_FRAME];
                    frame_bytes = encode_frame(CHANNEL_PROTOCOL, &body, &mut out)
                        .unwrap()
                        .to_vec();
                }
                if let Some(g) = &faults.garbage {
                    frame_bytes = g.clone();
                }
                if faults.drop.contains(&k) {
                    continue;
                }
                if faults.corrupt.contains(&k) {
                    let i = frame_bytes.len() / 2;
                    frame_bytes[i] ^= 0x5a;
                    if frame_bytes[i] == 0 {
                        frame_bytes[i] = 0x77;
                    }
                }
                if let Some((_, d)) = faults.delay.iter().find(|(i, _)| *i == k) {
                    std::thread::sleep(*d);
                }
                if faults.log_frames {
                    let mut out = [0u8; MAX_FRAME];
                    let log = encode_frame(CHANNEL_LOG, b"log line", &mut out).unwrap();
                    let _ = master.write_all(log);
                }
                let _ = master.write_all(&frame_bytes);
            }
        }
        n
    });
    (
        slave,
        Fake {
            stop,
            thread: Some(thread),
        },
    )
}

fn quick() -> LinkOptions {
    LinkOptions {
        timeout: Duration::from_millis(300),
        invoke_timeout: Duration::from_millis(300),
        retries: 3,
    }
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn sample() -> (Vec<u8>, Vec<u8>) {
    let a = f32_bytes((0..16).map(|i| i as f32 * 0.5 - 3.0));
    let b = f32_bytes((0..300).map(|i| i as f32 - 100.25));
    (a, b)
}

fn expected(input: &[u8]) -> Vec<u8> {
    f32_bytes(
        input
            .chunks_exact(4)
            .map(|c| 2.0 * f32::from_le_bytes(c.try_into().unwrap()) + 1.0),
    )
}

fn check_sample<P: Port>(dev: &mut Device<P>) {
    let (a, b) = sample();
    let (outs, ticks) = dev.run_sample(&[&a, &b], &[a.len(), b.len()]).unwrap();
    assert_eq!(ticks, TICKS);
    assert_eq!(outs[0], expected(&a));
    assert_eq!(outs[1], expected(&b));
}

#[test]
fn session_through_simulated_device() {
    let (port, _fake) = fake(Faults::default());
    let mut dev = Device::with_options(port, quick());
    let info = dev.hello(&HASH).unwrap();
    assert_eq!(info.version, PROTOCOL_VERSION);
    assert_eq!(info.board, "fake-board");
    assert_eq!((info.n_inputs, info.n_outputs), (2, 2));
    assert_eq!((info.arena_bytes, info.stack_reserve), (4096, 2048));
    check_sample(&mut dev);
    let stats = dev.stats().unwrap();
    assert_eq!((stats.used, stats.reserve), (512, 2048));
    let link = dev.link_stats();
    assert_eq!(link.retries, 0);
    // hello + 1 + 3 chunks + invoke + 1 + 3 chunks + stats
    assert_eq!(link.requests, 11);
}

#[test]
fn damaged_answers_are_resent() {
    let (port, _fake) = fake(Faults {
        corrupt: vec![0, 2, 5],
        ..Faults::default()
    });
    let mut dev = Device::with_options(port, quick());
    dev.hello(&HASH).unwrap();
    check_sample(&mut dev);
    let link = dev.link_stats();
    assert_eq!(link.damaged_frames, 3);
    assert_eq!(link.retries, 3);
}

#[test]
fn lost_answers_time_out_and_are_resent() {
    let (port, _fake) = fake(Faults {
        drop: vec![1, 6],
        ..Faults::default()
    });
    let mut dev = Device::with_options(port, quick());
    dev.hello(&HASH).unwrap();
    check_sample(&mut dev);
    assert_eq!(dev.link_stats().retries, 2);
}

/// An answer that arrives after its attempt gave up is not taken for the next request's.
#[test]
fn late_answers_are_not_mistaken_for_later_ones() {
    // Request 1 (input 0's only chunk) is answered late, after its resend (request 2), so two
    // Acks are on their way. Request 3 (input 1's first chunk) is then lost: if the second
    // Ack were taken for its answer, that chunk would silently never be written.
    let (port, _fake) = fake(Faults {
        delay: vec![(1, Duration::from_millis(400))],
        lose: vec![3],
        ..Faults::default()
    });
    let mut dev = Device::with_options(port, quick());
    dev.hello(&HASH).unwrap();
    check_sample(&mut dev);
    assert_eq!(dev.link_stats().retries, 2);
}

#[test]
fn log_frames_are_skipped() {
    let (port, _fake) = fake(Faults {
        log_frames: true,
        ..Faults::default()
    });
    let mut dev = Device::with_options(port, quick());
    dev.hello(&HASH).unwrap();
    check_sample(&mut dev);
    assert_eq!(dev.link_stats().other_channel_frames, 10);
}

#[test]
fn version_is_checked_before_decoding_the_rest() {
    let (port, _fake) = fake(Faults {
        version: Some((PROTOCOL_VERSION + 1, vec![0xff; 40])),
        ..Faults::default()
    });
    let mut dev = Device::with_options(port, quick());
    match dev.hello(&HASH) {
        Err(LinkError::VersionMismatch { device, host }) => {
            assert_eq!(device, PROTOCOL_VERSION + 1);
            assert_eq!(host, PROTOCOL_VERSION);
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
}

#[test]
fn stale_firmware_names_both_hashes() {
    let (port, _fake) = fake(Faults {
        hash: Some([0xab; 16]),
        ..Faults::default()
    });
    let mut dev = Device::with_options(port, quick());
    let err = dev.hello(&HASH).unwrap_err();
    match &err {
        LinkError::ModelHashMismatch { expected, found } => {
            assert_eq!(expected, &hex::encode(HASH));
            assert_eq!(found, &"ab".repeat(16));
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&hex::encode(HASH)) && msg.contains(&"ab".repeat(16)),
        "{msg}"
    );
}

#[test]
fn silent_link_times_out_naming_the_request() {
    // One end of a pty pair that nobody reads or writes.
    let (_other, port) = TTYPort::pair().unwrap();
    let opts = LinkOptions {
        timeout: Duration::from_millis(100),
        invoke_timeout: Duration::from_millis(100),
        retries: 2,
    };
    let mut dev = Device::with_options(port, opts);
    let started = Instant::now();
    let err = dev.hello(&HASH).unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        LinkError::Timeout { what, after } => {
            assert!(what.contains("Hello"), "{what}");
            assert!(*after >= Duration::from_millis(300), "{after:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(err.to_string().contains("answer to Hello"), "{err}");
    assert_eq!(dev.link_stats().requests, 3);
}

#[test]
fn device_refusals_are_typed() {
    let (port, _fake) = fake(Faults::default());
    let mut dev = Device::with_options(port, quick());
    dev.hello(&HASH).unwrap();
    match dev.write_input(7, &[0; 4]) {
        Err(LinkError::DeviceError {
            request: "WriteInput",
            code: ErrorCode::NoSuchTensor,
        }) => {}
        other => panic!("{other:?}"),
    }
    match dev.write_input(0, &[0; 68]) {
        Err(LinkError::DeviceError {
            code: ErrorCode::OutOfRange,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match dev.read_output(0, 64) {
        Err(LinkError::DeviceError {
            request: "ReadOutput",
            code: ErrorCode::NotInvoked,
        }) => {}
        other => panic!("{other:?}"),
    }
    match dev.run_sample(&[&[0; 64]], &[64, 1200]) {
        Err(LinkError::TensorCount {
            what: "inputs",
            expected: 2,
            got: 1,
        }) => {}
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the device sends back, the client returns an error or a value, never panics.
    #[test]
    fn garbage_answers_never_panic(garbage in proptest::collection::vec(any::<u8>(), 0..600), terminate: bool) {
        let mut garbage = garbage;
        if terminate {
            garbage.push(0);
        }
        let (port, _fake) = fake(Faults { garbage: Some(garbage), ..Faults::default() });
        let opts = LinkOptions {
            timeout: Duration::from_millis(30),
            invoke_timeout: Duration::from_millis(30),
            retries: 1,
        };
        let mut dev = Device::with_options(port, opts);
        let _ = dev.hello(&HASH);
        let _ = dev.write_input(0, &[1; 8]);
        let _ = dev.invoke();
        let _ = dev.read_output(1, 8);
        let _ = dev.stats();
    }
}

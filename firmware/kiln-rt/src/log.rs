//! Logging: with the `defmt` feature, the runtime's `#[defmt::global_logger]` sends each defmt
//! log frame whole as one kiln frame on `CHANNEL_LOG` over the link's UART (kiln-proto's
//! crate docs, "Logs"); without it the runtime's log macros expand to nothing.
//!
//! # Contract of the logger
//!
//! - A defmt frame (acquire .. release) is collected in a buffer of [`LOG_BODY_BYTES`] inside
//!   one critical section and written at release as one complete frame, so it never splits a
//!   protocol frame: the runtime logs only from thread mode, between the link's writes.
//! - Frames go out only while the link serves ([`start`], after the UART is up, in
//!   `crate::serve`); before that, and in self-test and MLPerf Tiny modes (text on the UART),
//!   they are dropped. A frame longer than the buffer is dropped whole.
//! - defmt's encoding is `raw` (the kiln frame delimits and checks it); no timestamp.
//! - Logging from within a log call (e.g. a `Format` impl that logs) panics.
//!
//! Which levels are compiled in is defmt's `DEFMT_LOG` at build time (default: errors only).
//! The firmware links defmt's `defmt.x` (`-C link-arg=-Tdefmt.x`).

/// Bytes of the largest defmt frame the logger sends (the runtime's own frames are well under
/// it: a string index and a few numbers).
#[cfg_attr(not(feature = "defmt"), allow(dead_code))]
pub(crate) const LOG_BODY_BYTES: usize = 128;

#[cfg(feature = "defmt")]
mod logger {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

    use kiln_proto::{encode_frame, CHANNEL_LOG};

    use super::LOG_BODY_BYTES;

    /// The link serves: the UART is up and the host reads kiln frames.
    static STARTED: AtomicBool = AtomicBool::new(false);
    /// A frame is being collected (acquire .. release).
    static TAKEN: AtomicBool = AtomicBool::new(false);

    /// Frame being collected; only touched between acquire and release, inside the critical
    /// section that `TAKEN` guards.
    struct Frame {
        encoder: defmt::Encoder,
        restore: critical_section::RestoreState,
        body: [u8; LOG_BODY_BYTES],
        len: usize,
        overflow: bool,
        wire: [u8; WIRE_BYTES],
    }

    const WIRE_BYTES: usize = kiln_proto::MAX_FRAME - kiln_proto::MAX_BODY + LOG_BODY_BYTES;

    static mut FRAME: Frame = Frame {
        encoder: defmt::Encoder::new(),
        restore: critical_section::RestoreState::invalid(),
        body: [0; LOG_BODY_BYTES],
        len: 0,
        overflow: false,
        wire: [0; WIRE_BYTES],
    };

    /// Lets frames out from now on (the link's UART is up).
    pub(crate) fn start() {
        STARTED.store(true, Relaxed);
    }

    /// # Safety
    ///
    /// Only between acquire and release (inside the critical section, `TAKEN` set).
    unsafe fn frame() -> &'static mut Frame {
        // SAFETY: per the caller's contract nothing else refers to FRAME meanwhile.
        unsafe { &mut *core::ptr::addr_of_mut!(FRAME) }
    }

    fn push(f: &mut [u8; LOG_BODY_BYTES], len: &mut usize, overflow: &mut bool, bytes: &[u8]) {
        match f.get_mut(*len..*len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                *len += bytes.len();
            }
            None => *overflow = true,
        }
    }

    #[defmt::global_logger]
    struct Logger;

    // SAFETY: acquire and release bracket every frame inside one critical section, and a
    // nested acquire panics, so `FRAME` has one user at a time.
    unsafe impl defmt::Logger for Logger {
        fn acquire() {
            // SAFETY: released in `release`, with the state it returned.
            let restore = unsafe { critical_section::acquire() };
            if TAKEN.load(Relaxed) {
                panic!("kiln-rt: defmt log call inside a log call");
            }
            TAKEN.store(true, Relaxed);
            // SAFETY: inside the critical section, `TAKEN` set.
            let f = unsafe { frame() };
            f.restore = restore;
            f.len = 0;
            f.overflow = false;
            let Frame {
                encoder,
                body,
                len,
                overflow,
                ..
            } = f;
            encoder.start_frame(|b| push(body, len, overflow, b));
        }

        unsafe fn write(bytes: &[u8]) {
            // SAFETY: defmt calls `write` only between acquire and release.
            let Frame {
                encoder,
                body,
                len,
                overflow,
                ..
            } = unsafe { frame() };
            encoder.write(bytes, |b| push(body, len, overflow, b));
        }

        unsafe fn flush() {}

        unsafe fn release() {
            // SAFETY: defmt calls `release` once after `acquire`.
            let f = unsafe { frame() };
            let restore = f.restore;
            let Frame {
                encoder,
                body,
                len,
                overflow,
                wire,
                ..
            } = f;
            encoder.end_frame(|b| push(body, len, overflow, b));
            if STARTED.load(Relaxed) && !*overflow {
                // The wire buffer holds any frame of a body this long.
                if let Ok(frame) = encode_frame(CHANNEL_LOG, &body[..*len], wire) {
                    crate::uart::write_unowned(frame);
                }
            }
            TAKEN.store(false, Relaxed);
            // SAFETY: the state `acquire` got, released once.
            unsafe { critical_section::release(restore) };
        }
    }
}

/// Lets log frames out from now on: call once the link's UART is up.
pub(crate) fn start() {
    #[cfg(feature = "defmt")]
    logger::start();
}

// `log_error!`, `log_warn!`, `log_info!`, `log_debug!`: defmt's `error!` .. `debug!` with the
// `defmt` feature; nothing without it (the arguments count as used, but are not evaluated).

macro_rules! log_error {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::error!($fmt $(, $arg)*);
        #[cfg(not(feature = "defmt"))]
        let _ = || { $(let _ = &$arg;)* };
    }};
}

macro_rules! log_warn {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::warn!($fmt $(, $arg)*);
        #[cfg(not(feature = "defmt"))]
        let _ = || { $(let _ = &$arg;)* };
    }};
}

macro_rules! log_info {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::info!($fmt $(, $arg)*);
        #[cfg(not(feature = "defmt"))]
        let _ = || { $(let _ = &$arg;)* };
    }};
}

macro_rules! log_debug {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::debug!($fmt $(, $arg)*);
        #[cfg(not(feature = "defmt"))]
        let _ = || { $(let _ = &$arg;)* };
    }};
}

#[allow(unused_imports)]
pub(crate) use {log_debug, log_error, log_info, log_warn};

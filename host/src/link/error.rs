use std::io;
use std::path::PathBuf;
use std::time::Duration;

use kiln_proto::ErrorCode;

/// Why talking to a device (or starting the emulator that runs it) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Nothing usable arrived in time, after every retry.
    #[error("timed out after {after:.1?} waiting for {what}")]
    Timeout { what: String, after: Duration },

    /// The firmware speaks another protocol version (checked before anything else is decoded).
    #[error(
        "the device speaks kiln protocol version {device} but this kiln speaks version {host}: \
         rebuild the firmware with this kiln and flash it again"
    )]
    VersionMismatch { device: u16, host: u16 },

    /// The firmware runs another model than the one asked for: stale firmware.
    #[error(
        "the device runs model {found}, not the expected model {expected}: the firmware on \
         the board is stale; rebuild and flash it"
    )]
    ModelHashMismatch {
        /// Hex of the expected model hash.
        expected: String,
        /// Hex of the hash the device reported.
        found: String,
    },

    #[error(
        "QEMU (`{}`) was not found: install it with `apt-get install qemu-system-arm`",
        binary.display()
    )]
    QemuNotFound { binary: PathBuf },

    #[error("could not start QEMU (`{}`)", binary.display())]
    QemuSpawn {
        binary: PathBuf,
        #[source]
        source: io::Error,
    },

    /// QEMU ended while kiln still needed it (bad machine or ELF, or the firmware panicked:
    /// its output then holds the panic message).
    #[error("QEMU exited ({status}) {during}; its output:\n{output}")]
    QemuExited {
        status: String,
        during: String,
        output: String,
    },

    #[error("cannot open the serial port {}", path.display())]
    OpenPort {
        path: PathBuf,
        #[source]
        source: serialport::Error,
    },

    #[error("serial link I/O error while {doing}")]
    Io {
        doing: String,
        #[source]
        source: io::Error,
    },

    /// Every attempt was answered with a damaged frame (bad COBS or CRC).
    #[error("damaged frames in answer to {request}, {attempts} attempts")]
    Corrupt {
        request: &'static str,
        attempts: u32,
        #[source]
        source: kiln_proto::Error,
    },

    /// An intact frame (CRC correct) whose body is no valid response: a firmware bug.
    #[error("the device's answer to {request} is no valid response")]
    Protocol {
        request: &'static str,
        #[source]
        source: kiln_proto::Error,
    },

    /// The device refused the request.
    #[error("the device refused {request}: {code}")]
    DeviceError {
        request: &'static str,
        code: ErrorCode,
    },

    /// The caller passed tensors that do not match the device's model.
    #[error("the model on the device has {expected} {what}, {got} were given")]
    TensorCount {
        what: &'static str,
        expected: usize,
        got: usize,
    },
}

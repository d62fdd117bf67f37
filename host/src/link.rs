//! The host end of the serial link: a protocol client ([`Device`]) over any port with read
//! timeouts, and QEMU sessions ([`QemuSession`]) that expose an emulated board's UART as a pty
//! opened through the same `serialport` code path as a real `/dev/ttyACM0`.
//!
//! The wire format lives in `kiln-proto` (one definition for both ends). This module adds what
//! only the host does: timeouts and retries, checking the protocol version before anything
//! else is decoded, checking the model hash, chunking tensors, keeping QEMU from outliving
//! kiln, and decoding the device's defmt logs, which share the link on their own channel
//! ([`log`]).
//!
//! ```no_run
//! use kiln::link::{LinkOptions, QemuConfig, QemuSession};
//!
//! # fn main() -> Result<(), kiln::link::LinkError> {
//! let qemu = QemuSession::spawn(&QemuConfig::new("mps2-an386", "cortex-m4", "fw.elf"))?;
//! let mut dev = qemu.connect(LinkOptions::default())?;
//! let info = dev.hello(&[0u8; 16])?;
//! let (outputs, ticks) = dev.run_sample(&[&[0u8; 64]], &[64])?;
//! # let _ = (info, outputs, ticks);
//! # Ok(())
//! # }
//! ```

mod device;
mod error;
pub mod log;
mod qemu;

pub use device::{
    Device, DeviceInfo, LinkOptions, LinkStats, LogSink, Port, StackStats, LOG_BACKLOG,
};
pub use error::LinkError;
pub use kiln_proto::{ErrorCode, MAX_CHUNK, PROTOCOL_VERSION};
pub use log::{LogDecoder, LogLine};
pub use qemu::{
    install_interrupt_handler, kill_all_qemu, run_to_exit, QemuConfig, QemuRun, QemuSession,
};

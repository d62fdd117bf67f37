//! kiln inference kernels, `no_std`, compiled for the device and linked into the host simulation:
//! the host simulates exactly the code the device runs.
//!
//! Math functions come from `libm` on every target (never `std`), so host and device results are
//! bit-identical.
#![no_std]

pub mod f32;
pub mod i8;
mod walk;

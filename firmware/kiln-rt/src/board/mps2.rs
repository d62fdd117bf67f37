//! `mps2`: Arm MPS2+ FPGA images AN385 (Cortex-M3), AN386 (Cortex-M4F), AN500 (Cortex-M7) as
//! QEMU models them.

/// CMSDK APB UART0 base address.
pub(crate) const UART0_BASE: usize = 0x4000_4000;
/// UART0 receive interrupt (NVIC IRQ number).
pub(crate) const UART0_RX_IRQ: u16 = 0;

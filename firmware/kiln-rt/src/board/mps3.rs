//! `mps3`: Arm MPS3 FPGA image AN547 (Cortex-M55) as QEMU models it.

/// CMSDK APB UART0 base address (Secure alias).
pub(crate) const UART0_BASE: usize = 0x5930_3000;
/// UART0 receive interrupt (NVIC IRQ number).
pub(crate) const UART0_RX_IRQ: u16 = 33;

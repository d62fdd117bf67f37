//! `an505`: Arm MPS2+ FPGA image AN505 (Cortex-M33 with the SSE-200-like IoT kit) as QEMU models
//! it. The core boots Secure, so the firmware runs in the Secure world and uses the Secure
//! aliases (address bit 28 set).

/// CMSDK APB UART0 base address (Secure alias of 0x4020_0000).
pub(crate) const UART0_BASE: usize = 0x5020_0000;
/// UART0 receive interrupt (NVIC IRQ number).
pub(crate) const UART0_RX_IRQ: u16 = 32;

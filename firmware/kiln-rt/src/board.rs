//! Board-family constants (the `mps2` ones also when no feature is selected on the host).

/// CMSDK APB UART0 base address.
#[cfg(not(feature = "mps3"))]
pub(crate) const UART0_BASE: usize = 0x4000_4000;
/// UART0 receive interrupt (NVIC IRQ number).
#[cfg(not(feature = "mps3"))]
pub(crate) const UART0_RX_IRQ: u16 = 0;

#[cfg(feature = "mps3")]
pub(crate) const UART0_BASE: usize = 0x5930_3000;
#[cfg(feature = "mps3")]
pub(crate) const UART0_RX_IRQ: u16 = 33;

//! `nrf51`: Nordic nRF51822 (Cortex-M0; the BBC micro:bit, QEMU `microbit`). UART0 on the
//! micro:bit's USB-serial pins.

pub(crate) use nrf51_pac as pac;

/// The UART instance the link uses.
pub(crate) fn uart() -> &'static pac::uart0::RegisterBlock {
    // SAFETY: UART0 belongs to the runtime (crate docs); its registers are plain MMIO.
    unsafe { &*pac::UART0::ptr() }
}
/// UART0's interrupt.
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::UART0;
/// Transmit pin: P0.24, to the micro:bit's USB interface chip.
pub(crate) const UART_TX_PIN: u32 = 24;
/// Receive pin: P0.25, from the USB interface chip.
pub(crate) const UART_RX_PIN: u32 = 25;

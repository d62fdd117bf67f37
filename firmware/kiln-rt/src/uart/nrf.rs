//! Nordic nRF51 UART (legacy, non-EasyDMA UART0), through the family's peripheral-access crate:
//! polled transmit, interrupt-woken receive. Events double as status flags: `EVENTS_RXDRDY` is
//! set while a received byte waits in `RXD`, `EVENTS_TXDRDY` once `TXD` has been sent.

use cortex_m::peripheral::NVIC;

use crate::board::{uart, UART_IRQ, UART_RX_PIN, UART_TX_PIN};

pub(super) fn init() {
    let u = uart();
    // SAFETY (all raw `bits` writes below): pin numbers of the board family, and task triggers,
    // where 1 is the only value the register takes.
    u.pseltxd.write(|w| unsafe { w.bits(UART_TX_PIN) });
    u.pselrxd.write(|w| unsafe { w.bits(UART_RX_PIN) });
    u.baudrate.write(|w| w.baudrate().baud115200());
    u.config.reset();
    u.enable.write(|w| w.enable().enabled());
    u.events_rxdrdy.reset();
    u.events_txdrdy.reset();
    u.tasks_starttx.write(|w| unsafe { w.bits(1) });
    u.tasks_startrx.write(|w| unsafe { w.bits(1) });
    u.intenset.write(|w| w.rxdrdy().set_bit());
    NVIC::unpend(UART_IRQ);
    // SAFETY: the handler (`on_interrupt`) only masks the UART's receive interrupt.
    unsafe { NVIC::unmask(UART_IRQ) };
}

pub(super) fn write_byte(byte: u8) {
    let u = uart();
    u.txd.write(|w| unsafe { w.txd().bits(byte) });
    while u.events_txdrdy.read().bits() == 0 {}
    u.events_txdrdy.reset();
}

pub(super) fn try_read() -> Option<u8> {
    let u = uart();
    if u.events_rxdrdy.read().bits() == 0 {
        return None;
    }
    // Clear the event before reading RXD: the read raises it again when more bytes wait.
    u.events_rxdrdy.reset();
    Some(u.rxd.read().rxd().bits())
}

/// The interrupt is re-armed here and masked by its handler: `EVENTS_RXDRDY` is both the
/// level that interrupts and the "byte waiting" flag [`try_read`] consumes, so the handler
/// cannot clear it.
pub(super) fn wait() {
    let u = uart();
    u.intenset.write(|w| w.rxdrdy().set_bit());
    super::sleep_until(|| u.events_rxdrdy.read().bits() != 0);
}

#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(super) fn on_interrupt(irqn: i16) -> bool {
    if irqn == UART_IRQ as i16 {
        uart().intenclr.write(|w| w.rxdrdy().set_bit());
        true
    } else {
        false
    }
}

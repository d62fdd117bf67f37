//! STM32 USART and LPUART through stm32-metapac (embassy's STM32 PAC): polled transmit,
//! interrupt-woken receive. The board family names the instance, pins, alternate function and
//! BRR value. Register flavours: STM32F4's USART (`usart_v2`: SR/DR) and the L4+/H7 USART and
//! LPUART (`usart_v4`: ISR/RDR/TDR) share everything else.
//!
//! The receive interrupt is level-sensitive (RXNE) and only reading the byte clears it, so its
//! handler masks the NVIC line and [`wait`] unmasks it again.

use cortex_m::peripheral::NVIC;

use crate::board::{pac, UART, UART_AF, UART_BRR, UART_IRQ, UART_PINS};
use pac::gpio::vals::{Moder, Pupdr};

pub(super) fn init() {
    crate::board::bring_up();
    for (port, pin) in UART_PINS {
        port.afr(pin / 8).modify(|w| w.set_afr(pin % 8, UART_AF));
        port.pupdr().modify(|w| w.set_pupdr(pin, Pupdr::PULL_UP));
        port.moder().modify(|w| w.set_moder(pin, Moder::ALTERNATE));
    }
    // BRR may only be written while the UART is disabled.
    UART.cr1().write(|_| {});
    UART.brr().write_value(pac::usart::regs::Brr(UART_BRR));
    // An overrun drops the byte instead of latching ORE (which would keep the interrupt
    // asserted); the link's CRC and retries recover the frame.
    #[cfg(not(feature = "stm32f4"))]
    UART.cr3().modify(|w| w.set_ovrdis(true));
    UART.cr1().write(|w| {
        w.set_ue(true);
        w.set_te(true);
        w.set_re(true);
        w.set_rxneie(true);
    });
    NVIC::unpend(UART_IRQ);
}

#[cfg(not(feature = "stm32f4"))]
pub(super) fn write_byte(byte: u8) {
    while !UART.isr().read().txe() {}
    UART.tdr().write(|w| w.set_dr(byte as u16));
}

#[cfg(not(feature = "stm32f4"))]
fn rx_ready() -> bool {
    UART.isr().read().rxne()
}

#[cfg(not(feature = "stm32f4"))]
pub(super) fn try_read() -> Option<u8> {
    rx_ready().then(|| UART.rdr().read().dr() as u8)
}

#[cfg(feature = "stm32f4")]
pub(super) fn write_byte(byte: u8) {
    while !UART.sr().read().txe() {}
    UART.dr().write(|w| w.set_dr(byte as u16));
}

#[cfg(feature = "stm32f4")]
fn rx_ready() -> bool {
    let sr = UART.sr().read();
    sr.rxne() || sr.ore()
}

#[cfg(feature = "stm32f4")]
pub(super) fn try_read() -> Option<u8> {
    // Reading SR then DR clears an overrun too; the byte lost to it was never received.
    let sr = UART.sr().read();
    if sr.rxne() {
        Some(UART.dr().read().dr() as u8)
    } else {
        if sr.ore() {
            let _ = UART.dr().read();
        }
        None
    }
}

pub(super) fn wait() {
    // SAFETY: the handler (`on_interrupt`) only masks this line again.
    unsafe { NVIC::unmask(UART_IRQ) };
    super::sleep_until(rx_ready);
}

#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(super) fn on_interrupt(irqn: i16) -> bool {
    if irqn == UART_IRQ as i16 {
        NVIC::mask(UART_IRQ);
        true
    } else {
        false
    }
}

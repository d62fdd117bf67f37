//! nRF52 UART (the legacy UART0, without EasyDMA) through nrf-pac (embassy's nRF PAC): polled
//! transmit, interrupt-woken receive. Events double as status flags: `EVENTS_RXDRDY` is set
//! while a received byte waits in `RXD`, `EVENTS_TXDRDY` once `TXD` has been sent.
//!
//! `EVENTS_RXDRDY` is both the interrupt's level and the flag [`try_read`] consumes, so the
//! handler masks the NVIC line and [`wait`] unmasks it again.

use cortex_m::peripheral::NVIC;

use crate::board::{pac, UART, UART_BAUDRATE, UART_IRQ, UART_RX_PIN, UART_TX_PIN};
use pac::gpio::vals::{Dir, Input};
use pac::shared::vals::Connect;

pub(super) fn init() {
    // The crystal oscillator: the UART's rate from the internal RC oscillator is off by up to
    // a few percent.
    let clock = pac::CLOCK;
    clock.events_hfclkstarted().write_value(0);
    clock.tasks_hfclkstart().write_value(1);
    while clock.events_hfclkstarted().read() == 0 {}
    // TXD idles high as an output; RXD is an input.
    pac::P0
        .outset()
        .write(|w| w.set_pin(UART_TX_PIN as usize, true));
    pac::P0.pin_cnf(UART_TX_PIN as usize).write(|w| {
        w.set_dir(Dir::Output);
        w.set_input(Input::Disconnect);
    });
    pac::P0.pin_cnf(UART_RX_PIN as usize).write(|w| {
        w.set_dir(Dir::Input);
        w.set_input(Input::Connect);
    });
    for (psel, pin) in [
        (UART.psel().txd(), UART_TX_PIN),
        (UART.psel().rxd(), UART_RX_PIN),
    ] {
        psel.write(|w| {
            w.set_pin(pin);
            w.set_port(false);
            w.set_connect(Connect::Connected);
        });
    }
    UART.baudrate().write(|w| w.set_baudrate(UART_BAUDRATE));
    UART.config().write(|_| {});
    UART.enable()
        .write(|w| w.set_enable(pac::uart::vals::Enable::Enabled));
    UART.events_rxdrdy().write_value(0);
    UART.events_txdrdy().write_value(0);
    UART.tasks_starttx().write_value(1);
    UART.tasks_startrx().write_value(1);
    UART.intenset().write(|w| w.set_rxdrdy(true));
    NVIC::unpend(UART_IRQ);
}

pub(super) fn write_byte(byte: u8) {
    UART.txd().write(|w| w.set_txd(byte));
    while UART.events_txdrdy().read() == 0 {}
    UART.events_txdrdy().write_value(0);
}

pub(super) fn try_read() -> Option<u8> {
    if UART.events_rxdrdy().read() == 0 {
        return None;
    }
    // Clear the event before reading RXD: the read raises it again when more bytes wait.
    UART.events_rxdrdy().write_value(0);
    Some(UART.rxd().read().rxd())
}

pub(super) fn wait() {
    // SAFETY: the handler (`on_interrupt`) only masks this line again.
    unsafe { NVIC::unmask(UART_IRQ) };
    super::sleep_until(|| UART.events_rxdrdy().read() != 0);
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

//! Arm CMSDK APB UART (MPS2/MPS3 FPGA images): polled transmit, interrupt-woken receive.
//! Base address and receive interrupt come from the board family.

use core::ptr::{read_volatile, write_volatile};

use cortex_m::peripheral::NVIC;

use crate::board::{UART0_BASE, UART0_RX_IRQ};

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const INTCLEAR: usize = 0x0C;
const BAUDDIV: usize = 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_IRQ_EN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

/// The receive interrupt's NVIC line (no peripheral-access crate names it).
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: built only from the board family's receive interrupt number.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

fn read(reg: usize) -> u32 {
    // SAFETY: MMIO register of the link's UART, which only this module touches.
    unsafe { read_volatile((UART0_BASE + reg) as *const u32) }
}

fn write(reg: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { write_volatile((UART0_BASE + reg) as *mut u32, value) }
}

pub(super) fn init() {
    write(BAUDDIV, 16);
    write(CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_IRQ_EN);
    write(INTCLEAR, 0xF);
    NVIC::unpend(Irq(UART0_RX_IRQ));
    // SAFETY: the handler (`on_interrupt`) only clears the UART's flag.
    unsafe { NVIC::unmask(Irq(UART0_RX_IRQ)) };
}

pub(super) fn write_byte(byte: u8) {
    while read(STATE) & STATE_TX_FULL != 0 {}
    write(DATA, byte as u32);
}

pub(super) fn try_read() -> Option<u8> {
    (read(STATE) & STATE_RX_FULL != 0).then(|| read(DATA) as u8)
}

pub(super) fn wait() {
    super::sleep_until(|| read(STATE) & STATE_RX_FULL != 0);
}

/// The receive interrupt only wakes [`wait`]: clear the UART's flag (the line is
/// level-sensitive and would pend again); the byte stays in DATA for `try_read`.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(super) fn on_interrupt(irqn: i16) -> bool {
    if irqn == UART0_RX_IRQ as i16 {
        write(INTCLEAR, INT_RX);
        true
    } else {
        false
    }
}

//! CMSDK APB UART, polled for transmit, interrupt-woken (WFI) for receive.

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

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
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
const INT_RX: u32 = 1 << 1;

/// NVIC line number of the UART's receive interrupt.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: the value is a valid IRQ number of the board family's NVIC.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// UART0. Only one exists: [`Uart::take`] hands it out once.
pub(crate) struct Uart(());

impl Uart {
    /// Enables transmit, receive and the receive interrupt line (which only ever wakes
    /// [`Uart::read`] from WFI; no handler runs for it).
    pub(crate) fn take() -> Uart {
        // Load and store, not swap: thumbv6m has no compare-and-swap, and this runs before
        // any interrupt is enabled.
        static TAKEN: AtomicBool = AtomicBool::new(false);
        assert!(!TAKEN.load(Relaxed), "kiln-rt: UART0 initialised twice");
        TAKEN.store(true, Relaxed);
        let uart = Uart(());
        // SAFETY: MMIO registers of UART0, which only this struct touches.
        unsafe {
            uart.write(BAUDDIV, 16);
            uart.write(CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_IRQ_EN);
            uart.write(INTCLEAR, 0xF);
            NVIC::unpend(Irq(UART0_RX_IRQ));
            NVIC::unmask(Irq(UART0_RX_IRQ));
        }
        uart
    }

    unsafe fn write(&self, reg: usize, value: u32) {
        write_volatile((UART0_BASE + reg) as *mut u32, value)
    }

    fn read_reg(&self, reg: usize) -> u32 {
        // SAFETY: MMIO register of UART0.
        unsafe { read_volatile((UART0_BASE + reg) as *const u32) }
    }

    pub(crate) fn write_byte(&mut self, byte: u8) {
        while self.read_reg(STATE) & STATE_TX_FULL != 0 {}
        // SAFETY: MMIO register of UART0.
        unsafe { self.write(DATA, byte as u32) }
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    fn try_read(&mut self) -> Option<u8> {
        if self.read_reg(STATE) & STATE_RX_FULL != 0 {
            Some(self.read_reg(DATA) as u8)
        } else {
            None
        }
    }

    /// Waits for the next received byte, sleeping in WFI.
    ///
    /// Interrupts are masked (PRIMASK) around the last check and the WFI, so a byte arriving
    /// between them still wakes the core (WFI wakes on a pending interrupt even when masked).
    /// The receive interrupt's handler only clears the UART's interrupt flag.
    pub(crate) fn read(&mut self) -> u8 {
        loop {
            if let Some(b) = self.try_read() {
                return b;
            }
            cortex_m::interrupt::disable();
            if self.read_reg(STATE) & STATE_RX_FULL == 0 {
                cortex_m::asm::wfi();
            }
            // SAFETY: no critical section is open across this point.
            unsafe { cortex_m::interrupt::enable() };
        }
    }
}

/// Every device interrupt lands here (the firmware has no device crate). Only the UART's
/// receive interrupt is ever enabled; it just wakes [`Uart::read`], so the handler clears the
/// UART's flag (the line is level-sensitive and would pend again).
#[cfg(target_os = "none")]
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == UART0_RX_IRQ as i16 {
        write_volatile((UART0_BASE + INTCLEAR) as *mut u32, INT_RX);
    } else {
        panic!("kiln-rt: unexpected exception or interrupt {irqn}");
    }
}

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_all(s.as_bytes());
        Ok(())
    }
}

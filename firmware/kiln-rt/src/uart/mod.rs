//! The link's UART: one per board, handed out once by [`Uart::take`]. The board family
//! (`crate::board`) selects the UART kind, one file here each.
//!
//! # What a UART kind file provides
//!
//! Free functions, called only through [`Uart`] (so never concurrently, never before `init`):
//!
//! - `init()`: bring the UART up for 8N1 at the board's rate (clocks, pins, enables), with its
//!   receive interrupt enabled in the peripheral and the NVIC. Runs once, before any other call,
//!   with interrupts not yet used by anything else.
//! - `write_byte(u8)`: transmit one byte, blocking until the peripheral has accepted it.
//! - `try_read() -> Option<u8>`: the next received byte, if one is waiting; never blocks.
//! - `wait()`: sleep until a byte may have arrived. It returns at once when one is waiting, and
//!   must not lose a wake-up: a byte arriving between its check and the sleep still ends the
//!   sleep (see [`sleep_until`]). Spurious returns are allowed (the caller loops).
//! - `on_interrupt(irqn: i16) -> bool`: called from the runtime's `DefaultHandler` for every
//!   device interrupt; handles the kind's own receive interrupt (so that a level-sensitive line
//!   stops pending; it must not consume received bytes) and returns `true`, or returns `false`
//!   for any other interrupt, which the runtime then reports as unexpected.
//!
//! Nothing else in the runtime touches the UART's registers.

select_one! {
    "UART kind";
    use;
    host = "cmsdk.rs";
    "uart-cmsdk" => cmsdk,
    "uart-nrf" => nrf,
    "uart-stm32" => stm32,
    "uart-nrf52" => nrf52,
    "uart-rp" => rp,
}

/// The link's UART. Only one exists: [`Uart::take`] hands it out once.
pub(crate) struct Uart(());

impl Uart {
    /// Brings the UART up (the kind's `init`). Panics when called a second time.
    pub(crate) fn take() -> Uart {
        // Load and store, not swap: thumbv6m has no compare-and-swap, and this runs before
        // any interrupt is enabled.
        static TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
        use core::sync::atomic::Ordering::Relaxed;
        assert!(!TAKEN.load(Relaxed), "kiln-rt: UART initialised twice");
        TAKEN.store(true, Relaxed);
        init();
        Uart(())
    }

    /// Transmits one byte, blocking until the UART accepts it.
    pub(crate) fn write_byte(&mut self, byte: u8) {
        write_byte(byte);
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    /// Waits for the next received byte, sleeping between bytes.
    pub(crate) fn read(&mut self) -> u8 {
        loop {
            if let Some(b) = try_read() {
                return b;
            }
            wait();
        }
    }
}

/// Transmits `bytes` without the [`Uart`] handle, for the defmt logger (`crate::log`), which
/// writes whole frames between the link's own writes and only after [`Uart::take`].
#[cfg(feature = "defmt")]
pub(crate) fn write_unowned(bytes: &[u8]) {
    for &b in bytes {
        write_byte(b);
    }
}

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_all(s.as_bytes());
        Ok(())
    }
}

/// Sleeps in WFI unless `ready()`, for a kind's `wait`. Interrupts are masked (PRIMASK) around
/// the check and the WFI, so an interrupt pending after the check still wakes the core (WFI
/// wakes on a pending enabled interrupt even when masked); its handler runs once they are
/// unmasked, before this returns.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(crate) fn sleep_until(ready: impl FnOnce() -> bool) {
    cortex_m::interrupt::disable();
    if !ready() {
        cortex_m::asm::wfi();
    }
    // SAFETY: no critical section is open across this point.
    unsafe { cortex_m::interrupt::enable() };
}

/// Every device interrupt lands here (the firmware has no device crate's vector table). Only
/// the UART's receive interrupt is ever enabled: anything else is a bug, reported as a panic.
#[cfg(target_os = "none")]
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    if !on_interrupt(irqn) {
        panic!("kiln-rt: unexpected exception or interrupt {irqn}");
    }
}

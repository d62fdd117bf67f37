//! How a run ends, and whether semihosting reaches a host.
//!
//! Emulated boards always have a semihosting host (QEMU). A real chip has one only while a
//! debugger is attached (`probe-rs run` serves semihosting output and exit); without one a
//! semihosting call is a breakpoint with nobody to catch it, a HardFault. So on real chips
//! (the `hardware` feature of their families) the runtime uses semihosting only when the core
//! reports a debugger (DHCSR.C_DEBUGEN, readable by software from Cortex-M3 on); on the
//! ARMv6-M family (`rp2040`), where software cannot read it, never. Without a host, [`exit`]
//! parks the core in WFI.

/// Whether semihosting calls have a host to answer them.
pub(crate) fn semihosting() -> bool {
    #[cfg(not(feature = "hardware"))]
    return true;
    #[cfg(all(feature = "hardware", not(feature = "rp2040")))]
    return cortex_m::peripheral::DCB::is_debugger_attached();
    #[cfg(feature = "rp2040")]
    return false;
}

/// Ends the run: semihosting exit (QEMU's or `probe-rs run`'s status becomes `success`'s)
/// when a host listens, else sleep forever.
pub(crate) fn exit(success: bool) -> ! {
    if semihosting() {
        use cortex_m_semihosting::debug;
        debug::exit(if success {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    loop {
        cortex_m::asm::wfi();
    }
}

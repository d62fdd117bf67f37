//! Panics and hard faults: report over semihosting where a host listens, and exit with
//! failure (`crate::exit`).

use core::fmt::Write as _;

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::hio;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    if let Some(mut err) = crate::exit::semihosting()
        .then(hio::hstderr)
        .and_then(Result::ok)
    {
        let _ = writeln!(err, "kiln-rt: {info}");
    }
    crate::exit::exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Some(mut err) = crate::exit::semihosting()
        .then(hio::hstderr)
        .and_then(Result::ok)
    {
        let _ = writeln!(
            err,
            "kiln-rt: HardFault at pc={:#010x} lr={:#010x}",
            frame.pc(),
            frame.lr()
        );
    }
    crate::exit::exit(false)
}

//! The DWT cycle counter as a 64-bit tick counter (real chips with a cycle counter: Cortex-M3
//! and up). CYCCNT counts core clock cycles in 32 bits; wraps are counted in software, and
//! SysTick, interrupting every 2^24 cycles, samples the counter so no wrap goes unseen however
//! long the code between two reads runs. Same interface as the SysTick timer (`timer.rs`).

use core::cell::Cell;

use cortex_m::interrupt::Mutex;
use cortex_m::peripheral::{DWT, SYST};

/// Wraps of CYCCNT since the last restart, and the count last seen.
static STATE: Mutex<Cell<(u32, u32)>> = Mutex::new(Cell::new((0, 0)));

const RELOAD: u32 = 0x00FF_FFFF;

/// Enables the cycle counter, and SysTick (processor clock, reload 2^24 − 1) as its sampler.
pub(crate) fn start() {
    // SAFETY: DCB, DWT and SysTick belong to the runtime (crate docs).
    let mut core = unsafe { cortex_m::Peripherals::steal() };
    core.DCB.enable_trace();
    // Some chips (Cortex-M7) lock the DWT's registers after reset.
    DWT::unlock();
    core.DWT.set_cycle_count(0);
    core.DWT.enable_cycle_counter();
    let syst: &mut SYST = &mut core.SYST;
    syst.disable_counter();
    syst.set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    restart();
}

/// Restarts the count from zero.
pub(crate) fn restart() {
    cortex_m::interrupt::free(|cs| {
        // SAFETY: see `start`; CYCCNT is writable.
        unsafe { (*DWT::PTR).cyccnt.write(0) };
        STATE.borrow(cs).set((0, 0));
    });
}

/// Cycles since the runtime last restarted the counter (at the start of the latest
/// inference): per-layer timing hooks may call this from inside `invoke`. Must not be called
/// with interrupts masked for longer than one wrap period (2^32 cycles).
pub fn ticks() -> u64 {
    cortex_m::interrupt::free(|cs| {
        let state = STATE.borrow(cs);
        let (mut wraps, last) = state.get();
        let now = DWT::cycle_count();
        if now < last {
            wraps += 1;
        }
        state.set((wraps, now));
        ((wraps as u64) << 32) | now as u64
    })
}

/// Ticks `f` takes, measured from a restarted counter.
pub(crate) fn measure(f: impl FnOnce()) -> u64 {
    restart();
    let t0 = ticks();
    f();
    ticks() - t0
}

#[cfg(target_os = "none")]
#[cortex_m_rt::exception]
fn SysTick() {
    let _ = ticks();
}

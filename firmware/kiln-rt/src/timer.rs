//! SysTick as a 64-bit tick counter: 24-bit hardware count, wraps counted in the exception.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use cortex_m::peripheral::{SCB, SYST};

const RELOAD: u32 = 0x00FF_FFFF;
const CSR_ENABLE: u32 = 1 << 0;
const CSR_TICKINT: u32 = 1 << 1;
const CSR_CLKSOURCE_CPU: u32 = 1 << 2;
const ICSR_PENDSTCLR: u32 = 1 << 25;

/// Wraps since the last restart. Written only by the SysTick exception and by [`restart`]
/// (inside a critical section), so plain loads and stores suffice (no CAS on thumbv6m).
static WRAPS: AtomicU32 = AtomicU32::new(0);

fn syst() -> &'static cortex_m::peripheral::syst::RegisterBlock {
    // SAFETY: SysTick belongs to the runtime (crate docs); its registers are plain MMIO.
    unsafe { &*SYST::PTR }
}

/// Starts SysTick from the processor clock, reload 0xFF_FFFF, wrap exception enabled.
pub(crate) fn start() {
    let syst = syst();
    // SAFETY: see `syst`.
    unsafe {
        syst.csr.write(0);
        syst.rvr.write(RELOAD);
        syst.cvr.write(0);
        syst.csr.write(CSR_CLKSOURCE_CPU | CSR_TICKINT | CSR_ENABLE);
    }
    // QEMU loads the counter from a timer callback: it reads 0 until then.
    while syst.cvr.read() == 0 {}
}

/// Restarts the count from zero: the next tick comes one full period after this call, so a
/// measurement that starts here does not depend on the phase of the counter before it.
pub(crate) fn restart() {
    let syst = syst();
    cortex_m::interrupt::free(|_| {
        // SAFETY: see `syst`; writing CVR clears it and COUNTFLAG, and a wrap that pended
        // before is dropped with it.
        unsafe {
            syst.cvr.write(0);
            (*SCB::PTR).icsr.write(ICSR_PENDSTCLR);
        }
        WRAPS.store(0, Relaxed);
    });
    while syst.cvr.read() == 0 {}
}

/// Ticks since the runtime last restarted the counter (at the start of the latest
/// inference): per-layer timing hooks may call this from inside `invoke`. Must not be called
/// with interrupts masked for longer than one wrap period (2^24 ticks).
pub fn ticks() -> u64 {
    let syst = syst();
    loop {
        let wraps = WRAPS.load(Relaxed);
        let count = syst.cvr.read() & RELOAD;
        if WRAPS.load(Relaxed) == wraps {
            return ((wraps as u64) << 24) + (RELOAD - count) as u64;
        }
    }
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
    WRAPS.store(WRAPS.load(Relaxed).wrapping_add(1), Relaxed);
}

//! Stack painting: fill the unused stack with a pattern at start-up; the deepest word no
//! longer holding it is the high-water mark.

#[cfg(target_os = "none")]
use core::ptr::addr_of;
use core::ptr::{read_volatile, write_volatile};

/// The fill pattern.
const PAINT: u32 = 0xC5AC_CE55;
/// Bytes left unpainted just below the painting function's stack pointer.
const MARGIN: usize = 64;

#[cfg(target_os = "none")]
extern "C" {
    /// cortex-m-rt: the initial stack pointer, top of the stack region.
    static _stack_start: u32;
    /// Firmware `memory.x`: lowest address of the region reserved for the stack (crate docs).
    static _kiln_stack_bottom: u32;
}

#[cfg(target_os = "none")]
fn bounds() -> (usize, usize) {
    // Only the symbols' addresses are taken, never their contents.
    (
        addr_of!(_kiln_stack_bottom) as usize,
        addr_of!(_stack_start) as usize,
    )
}

/// Host builds only type-check the runtime: there is no stack region to measure.
#[cfg(not(target_os = "none"))]
fn bounds() -> (usize, usize) {
    (0, 0)
}

/// Bytes the link reserved for the stack.
pub(crate) fn reserve() -> usize {
    let (bottom, top) = bounds();
    top.saturating_sub(bottom)
}

/// Paints from the stack bottom up to the current stack pointer less a margin. Runs before any
/// interrupt is enabled, so nothing else uses the stack below this function's frame.
#[inline(never)]
pub(crate) fn paint() {
    let (bottom, top) = bounds();
    assert!(
        bottom % 4 == 0 && bottom < top,
        "BUG(kiln): _kiln_stack_bottom ({bottom:#x}) must be word-aligned and below _stack_start ({top:#x})"
    );
    let sp = cortex_m::register::msp::read() as usize;
    assert!(
        sp > bottom,
        "kiln-rt: stack overflow before start-up finished"
    );
    let end = sp.saturating_sub(MARGIN) & !3;
    let mut p = bottom;
    while p < end {
        // SAFETY: [bottom, end) lies in the stack region below the live stack.
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Stack bytes used since start-up: from the top down to the deepest overwritten word. Equals
/// the whole reserve when the stack reached (or overflowed) its bottom.
pub(crate) fn used() -> u32 {
    let (bottom, top) = bounds();
    let mut p = bottom;
    // SAFETY: reads words of the stack region, below or at the live stack.
    while p < top && unsafe { read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    (top - p) as u32
}

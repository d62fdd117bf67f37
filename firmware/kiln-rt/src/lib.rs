//! kiln's device runtime: board bring-up, the serial link loop, inference timing and the
//! stack high-water mark. Generated firmware calls [`serve`] (or [`selftest`]) from its
//! `#[kiln_rt::entry]` function and supplies the model as a [`ModelDesc`], an arena and an
//! `invoke` function.
//!
//! # Board family
//!
//! Exactly one feature selects the board family:
//!
//! | feature | UART0 (CMSDK APB UART) | RX interrupt | boards |
//! |---|---|---|---|
//! | `mps2` | `0x4000_4000` | IRQ 0 | QEMU `mps2-an385`, `mps2-an386`, `mps2-an500` |
//! | `mps3` | `0x5930_3000` | IRQ 33 | QEMU `mps3-an547` |
//!
//! # What the runtime owns
//!
//! The runtime defines the `#[panic_handler]`, the `SysTick` and `HardFault` handlers, and uses
//! SysTick and UART0; the firmware must not define or use them too. A panic or hard fault
//! prints its reason over semihosting (QEMU's stderr, or a debugger's console) and exits with
//! failure (`SYS_EXIT`, so QEMU's exit status is 1).
//!
//! # Link contract: the stack region
//!
//! The stack high-water mark is measured by stack painting, so the runtime must know where
//! the stack region ends. Besides cortex-m-rt's `_stack_start` (the initial stack pointer, top
//! of the stack), the firmware's `memory.x` must define **`_kiln_stack_bottom`**, the lowest
//! address of the region reserved for the stack, and keep everything else out of that region:
//!
//! ```text
//! _kiln_stack_bottom = _stack_start - STACK_RESERVE;   /* STACK_RESERVE: 8-byte multiple */
//! ASSERT(_kiln_stack_bottom % 8 == 0, "BUG(kiln): stack reserve is not 8-byte aligned");
//! ```
//!
//! and, after `INCLUDE link.x` has placed the sections (in `memory.x` the check goes inside a
//! `SECTIONS {}`-free `ASSERT` evaluated at the end of linking):
//!
//! ```text
//! ASSERT(__euninit <= _kiln_stack_bottom,
//!        "the model's RAM (arena and statics) does not fit next to the stack reserve");
//! ```
//!
//! `ModelDesc::stack_reserve` must equal `_stack_start - _kiln_stack_bottom`; [`serve`] and
//! [`selftest`] check this at start-up and panic (naming both numbers) when they differ.
//!
//! The runtime itself uses about 1 KiB of stack on top of the model's `invoke` (see
//! `Stats` at run time for the measured figure).
//!
//! # Timing
//!
//! SysTick runs from the processor clock with reload `0xFF_FFFF`; its exception counts
//! wraps, extending the count to 64 bits. Before each inference the counter is restarted, so
//! the ticks reported for an inference do not depend on when it started: under
//! `qemu-system-arm -icount shift=0` a repeated inference reports identical ticks (on mps2
//! boards one tick is 40 emulated instructions).

#![no_std]

#[cfg(all(feature = "mps2", feature = "mps3"))]
compile_error!("kiln-rt: select exactly one board family feature, not both `mps2` and `mps3`");
#[cfg(not(any(feature = "mps2", feature = "mps3")))]
compile_error!("kiln-rt: select exactly one board family feature: `mps2` or `mps3`");

mod board;
mod link;
mod selftest;
mod stack;
mod timer;
mod uart;

use core::fmt::Write as _;

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

/// The firmware's entry point attribute (cortex-m-rt's), so firmware needs no direct
/// dependency on cortex-m-rt.
pub use cortex_m_rt::entry;

pub use timer::ticks;

/// A model input or output in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoDesc {
    /// Byte offset in the arena.
    pub offset: u32,
    /// Byte length (little-endian element bytes).
    pub bytes: u32,
}

/// What the firmware tells the runtime about its model.
#[derive(Debug, Clone, Copy)]
pub struct ModelDesc {
    /// Model hash reported in the handshake; the host checks it against the model it runs.
    pub hash: [u8; 16],
    /// Board name reported in the handshake.
    pub board: &'static str,
    /// Arena size reported in the handshake.
    pub arena_bytes: u32,
    /// Bytes the link reserved for the stack: `_stack_start - _kiln_stack_bottom`.
    pub stack_reserve: u32,
    pub inputs: &'static [IoDesc],
    pub outputs: &'static [IoDesc],
}

/// Handshake, then serve requests forever.
///
/// Paints the stack, starts SysTick and UART0, then answers every frame received on UART0:
/// each request with its response, each damaged frame with `Error { BadFrame }`. Nothing is
/// sent before the host's hello.
///
/// # Panics
///
/// At start-up, when `desc` does not fit `arena` or the link's stack reserve.
pub fn serve(desc: &ModelDesc, arena: &mut [u8], invoke: fn(&mut [u8])) -> ! {
    stack::paint();
    check(desc, arena);
    link::serve(desc, arena, invoke)
}

/// Self-test mode: for each of `n` samples (the concatenated bytes of all inputs, one sample
/// after another in `samples`), copy inputs into the arena, invoke, and print each sample's
/// outputs and ticks as text lines on UART0; then exit QEMU via semihosting with status 0.
///
/// Output format, one line each (values with Rust's shortest round-trip `{:?}` for f32):
///
/// ```text
/// kiln selftest: 2 samples
/// sample 0: out0 = [1.0, 3.0, -1.5]
/// sample 0: ticks = 1234
/// sample 1: out0 = [...]
/// sample 1: ticks = 1234
/// kiln selftest: done, stack used 1184 of 8192 bytes
/// ```
///
/// An output whose length is not a multiple of 4 bytes is printed as hex bytes
/// (`out0 = hex:00ff..`).
///
/// # Panics
///
/// At start-up, when `desc` does not fit `arena` or the link's stack reserve, or `samples`
/// holds fewer than `n` samples.
pub fn selftest(
    desc: &ModelDesc,
    arena: &mut [u8],
    invoke: fn(&mut [u8]),
    samples: &[u8],
    n: u32,
) -> ! {
    stack::paint();
    check(desc, arena);
    selftest::run(desc, arena, invoke, samples, n)
}

/// Start-up checks of everything codegen decided; the request path then only guards
/// host-supplied indices and lengths.
fn check(desc: &ModelDesc, arena: &[u8]) {
    let reserve = stack::reserve();
    assert!(
        desc.stack_reserve as usize == reserve,
        "BUG(kiln): ModelDesc.stack_reserve is {} but memory.x reserves {} bytes \
         (_stack_start - _kiln_stack_bottom)",
        desc.stack_reserve,
        reserve
    );
    assert!(desc.inputs.len() <= u8::MAX as usize && desc.outputs.len() <= u8::MAX as usize);
    for io in desc.inputs.iter().chain(desc.outputs) {
        let end = io.offset as usize + io.bytes as usize;
        assert!(
            end <= arena.len(),
            "BUG(kiln): tensor at arena offset {} ({} bytes) ends past the {}-byte arena",
            io.offset,
            io.bytes,
            arena.len()
        );
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    if let Ok(mut err) = hio::hstderr() {
        let _ = writeln!(err, "kiln-rt: {info}");
    }
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::nop();
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Ok(mut err) = hio::hstderr() {
        let _ = writeln!(
            err,
            "kiln-rt: HardFault at pc={:#010x} lr={:#010x}",
            frame.pc(),
            frame.lr()
        );
    }
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::nop();
    }
}

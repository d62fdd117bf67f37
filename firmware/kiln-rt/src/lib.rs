//! kiln's device runtime: board bring-up, the serial link loop, inference timing and the
//! stack high-water mark. Generated firmware calls [`serve`] (or [`selftest`]) from its
//! `#[kiln_rt::entry]` function and supplies the model as a [`ModelDesc`], an arena and an
//! `invoke` function.
//!
//! # Board family
//!
//! Exactly one feature selects the board family (its module in `src/board/` holds the
//! family's constants; the feature also selects the family's UART kind, one file under
//! `src/uart/`):
//!
//! | feature | UART kind | UART0 | RX interrupt | boards |
//! |---|---|---|---|---|
//! | `mps2` | CMSDK APB UART | `0x4000_4000` | IRQ 0 | QEMU `mps2-an385`, `mps2-an386`, `mps2-an500` |
//! | `mps3` | CMSDK APB UART | `0x5930_3000` | IRQ 33 | QEMU `mps3-an547` |
//! | `an505` | CMSDK APB UART | `0x5020_0000` (Secure alias) | IRQ 32 | QEMU `mps2-an505` |
//! | `nrf51` | nRF51 UART | `UART0` of `nrf51-pac` | `UART0` | QEMU `microbit` |
//! | `stm32l4` | STM32 LPUART | `LPUART1` (PG7/PG8) of `stm32-metapac` | `LPUART1` | `nucleo-l4r5zi` |
//! | `stm32h7` | STM32 USART | `USART3` (PD8/PD9) of `stm32-metapac` | `USART3` | `nucleo-h7a3zi-q` |
//! | `stm32f4` | STM32 USART | `USART2` (PA2/PA3) of `stm32-metapac` | `USART2` | `stm32f4-discovery` |
//! | `nrf52840` | nRF52 UART | `UART0` (P0.06/P0.08) of `nrf-pac` | `UARTE0` | `nrf52840-dk` |
//! | `rp2040` | PL011 | `UART0` (GPIO0/GPIO1) of `rp-pac` | `UART0_IRQ` | `rp-pico` |
//! | `rp2350` | PL011 | `UART0` (GPIO0/GPIO1) of `rp-pac` | `UART0_IRQ` | `rp-pico2` |
//!
//! A build for a bare-metal target without one, or with two, fails with a `compile_error!`.
//! Built for the host (`cargo clippy --workspace`, `cargo test --workspace`) without a family,
//! the crate type-checks with the `mps2` family and no panic handler; only firmware can run it.
//!
//! # Real chips
//!
//! The real-chip families (`stm32l4` … `rp2350`, which enable the `hardware` feature) bring the
//! chip up through its peripheral-access crate before the UART: clocks (each family's module
//! in `src/board/` names the core clock it configures, which the board file's `clock_hz`
//! states), supplies and pins, and boot-ROM data (`rp2040`: the boot2 stage in `.boot2`;
//! `rp2350`: the IMAGE_DEF block in `.start_block`; the firmware's `memory.x` places both).
//! Their timer is the DWT cycle counter (feature `timer-dwt`: CYCCNT extended to 64 bits, with
//! SysTick interrupting every 2^24 cycles to catch every wrap), except `rp2040` (Cortex-M0+, no
//! cycle counter), which counts SysTick at the core clock.
//!
//! Semihosting needs a host: QEMU always has one, a real chip only while a debugger is
//! attached (`probe-rs run` answers semihosting output and exit). Without one a semihosting
//! call is a breakpoint nobody catches, a HardFault. So on real chips panics and hard faults
//! print their reason over semihosting and exit only when the core reports a debugger
//! (DHCSR.C_DEBUGEN; never on `rp2040`, whose core cannot read it), and otherwise park the core
//! in WFI; [`selftest`] ends the same way after printing its results on the UART.
//!
//! # What the runtime owns
//!
//! The runtime defines the `#[panic_handler]` and the `SysTick`, `HardFault` and
//! `DefaultHandler` (every device interrupt) handlers, and uses SysTick and UART0; the
//! firmware must not define or use them too. A panic, a hard fault or an unexpected interrupt
//! prints its reason over semihosting (QEMU's stderr, or a debugger's console) and exits with
//! failure (`SYS_EXIT`, so QEMU's exit status is 1). The firmware's `main` is cortex-m-rt's
//! entry: `#[kiln_rt::entry]`, whose `static mut` locals become `&'static mut` (a way to own
//! the arena).
//!
//! # Link contract: the stack region
//!
//! The stack high-water mark is measured by stack painting, so the runtime must know where
//! the stack region ends. Besides cortex-m-rt's `_stack_start` (the initial stack pointer, top
//! of the stack; by default the end of `RAM`), the firmware's `memory.x` must define
//! **`_kiln_stack_bottom`**, the lowest address of the region reserved for the stack:
//!
//! ```text
//! _kiln_stack_bottom = _stack_start - STACK_RESERVE;  /* or ORIGIN(RAM) + LENGTH(RAM) - ... */
//! ```
//!
//! It must be word-aligned (8-byte alignment keeps the stack pointer valid too), and nothing
//! else may be placed in `[_kiln_stack_bottom, _stack_start)`: check it at link time with an
//! assertion on cortex-m-rt's end of RAM statics, e.g. in a script passed after `link.x`
//! (LLD also accepts it in `memory.x`, evaluating it once the layout is known):
//!
//! ```text
//! ASSERT(__sheap <= _kiln_stack_bottom, "ERROR(kiln): ... does not fit next to the stack reserve");
//! ```
//!
//! `ModelDesc::stack_reserve` must equal `_stack_start - _kiln_stack_bottom`; [`serve`] and
//! [`selftest`] check this at start-up and panic (naming both numbers) when they differ.
//! Without the symbol the firmware does not link (`undefined symbol: _kiln_stack_bottom`).
//!
//! The runtime's own statics (frame buffers) take about 1.1 KiB of RAM; its stack use on top
//! of the model's `invoke` is a few hundred bytes (`Stats` reports the measured total).
//!
//! # Timing
//!
//! SysTick runs from the processor clock with reload `0xFF_FFFF`; its exception counts
//! wraps, extending the count to 64 bits. Before each inference the counter is restarted, so
//! the ticks reported for an inference do not depend on when it started: under
//! `qemu-system-arm -icount shift=0` a repeated inference reports identical ticks (on mps2
//! boards one tick is 40 emulated instructions).
//!
//! # Logging (feature `defmt`)
//!
//! With the `defmt` feature the runtime is defmt's global logger: while [`serve`] runs, each
//! defmt frame goes to the host as one frame on the link's log channel (kiln-proto's crate
//! docs, "Logs"), never inside a protocol frame. The runtime logs the session start (board,
//! model hash, arena, stack reserve) at `info`, each request at `debug` and refused or damaged
//! frames at `warn`/`error` — never inside a timed inference. `DEFMT_LOG` picks the levels at
//! build time; the firmware must link `-Tdefmt.x`.

#![no_std]

/// `select_one! { what; vis use; host = "file.rs"; "feature" => module, ... }`: for the
/// selected feature, declares `mod module;` and imports its items (`vis use module::*`). Without any of
/// the features, a host build uses `file.rs` (type-checking only) and a bare-metal build fails;
/// two features selected together fail with a `compile_error!` naming both. Board families and
/// UART kinds each use it once, so adding one is adding a line.
macro_rules! select_one {
    ($what:literal; $vis:vis use; host = $host:literal; $($feature:literal => $module:ident),+ $(,)?) => {
        $(
            #[cfg(feature = $feature)]
            mod $module;
            #[cfg(feature = $feature)]
            $vis use $module::*;
        )+
        #[cfg(all(not(target_os = "none"), not(any($(feature = $feature),+))))]
        #[path = $host]
        mod host_default;
        #[cfg(all(not(target_os = "none"), not(any($(feature = $feature),+))))]
        $vis use host_default::*;
        #[cfg(all(target_os = "none", not(any($(feature = $feature),+))))]
        compile_error!(concat!("kiln-rt: select exactly one ", $what, " feature, one of:" $(, " `", $feature, "`")+));
        select_one!(@pairs $what; $($feature),+);
    };
    (@pairs $what:literal; $first:literal $(, $rest:literal)*) => {
        $(
            #[cfg(all(feature = $first, feature = $rest))]
            compile_error!(concat!("kiln-rt: ", $what, " features `", $first, "` and `", $rest, "` are both selected; select exactly one"));
        )*
        select_one!(@pairs $what; $($rest),*);
    };
    (@pairs $what:literal;) => {};
}

mod board;
mod exit;
#[cfg(target_os = "none")]
mod fault;
mod link;
mod log;
mod mlperf;
mod selftest;
mod stack;
#[cfg_attr(feature = "timer-dwt", path = "timer_dwt.rs")]
mod timer;
mod uart;

/// The firmware's entry point attribute (cortex-m-rt's), so firmware needs no direct
/// dependency on cortex-m-rt.
pub use cortex_m_rt::entry;

pub use mlperf::{MlperfDesc, OutputKind};
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

/// The model's generated `invoke(arena, until)`: runs its straight-line steps (layers) in order
/// and returns after layer `until` (all of them when `until` is at least the layer count, e.g.
/// [`ALL_LAYERS`]).
pub type Invoke = fn(&mut [u8], u32);

/// `until` value of [`Invoke`] that runs every layer.
pub const ALL_LAYERS: u32 = u32::MAX;

/// Handshake, then serve requests forever.
///
/// Paints the stack, starts SysTick and UART0, then answers every frame received on UART0:
/// each request with its response, each damaged frame with `Error { BadFrame }`. Nothing is
/// sent before the host's hello.
///
/// # Panics
///
/// At start-up, when `desc` does not fit `arena` or the link's stack reserve.
pub fn serve(desc: &ModelDesc, arena: &mut [u8], invoke: Invoke) -> ! {
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
pub fn selftest(desc: &ModelDesc, arena: &mut [u8], invoke: Invoke, samples: &[u8], n: u32) -> ! {
    stack::paint();
    check(desc, arena);
    selftest::run(desc, arena, invoke, samples, n)
}

/// Kernel-check mode: runs `check` (the kernel crate's on-target check, writing its lines to the
/// UART and returning whether everything agreed), then prints the stack used and exits with
/// that result. The model is not run; `arena` and `invoke` are only kept linked (with the
/// weights), so the ELF reads like any kiln firmware.
pub fn kernel_check(
    desc: &ModelDesc,
    arena: &mut [u8],
    invoke: Invoke,
    check: fn(&mut dyn core::fmt::Write) -> bool,
) -> ! {
    use core::fmt::Write;
    core::hint::black_box((arena.as_mut_ptr(), invoke));
    stack::paint();
    let mut uart = uart::Uart::take();
    let ok = check(&mut uart);
    // Writes to the UART cannot fail.
    let _ = writeln!(
        uart,
        "kernel-check: done on {}, stack used {} of {} bytes",
        desc.board,
        stack::used(),
        desc.stack_reserve
    );
    exit::exit(ok)
}

/// MLPerf Tiny mode: speak the MLPerf Tiny / EEMBC benchmark runner's ASCII protocol on the
/// UART forever (commands ending in `%`, replies ending in `m-ready`; see docs/MLPERF_TINY.md).
/// `db` is the input buffer the runner's `db` commands fill: as many bytes as all inputs
/// together.
///
/// Paints the stack, starts SysTick and UART0, prints the start-up lines, then answers every
/// command.
///
/// # Panics
///
/// At start-up, when `desc` does not fit `arena` or the link's stack reserve, or `m` and `db`
/// do not fit `desc`.
pub fn mlperf_tiny(
    desc: &ModelDesc,
    arena: &mut [u8],
    invoke: Invoke,
    m: &MlperfDesc,
    db: &mut [u8],
) -> ! {
    stack::paint();
    check(desc, arena);
    mlperf::run(desc, arena, invoke, m, db)
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

//! RP2040 / RP2350 UART (an Arm PL011) through rp-pac (embassy's RP PAC): polled transmit,
//! interrupt-woken receive. Its `init` also brings the chip's clocks up (the boot ROM leaves
//! the core on the ring oscillator, whose rate is too loose for a UART): crystal, PLL_SYS at
//! the family's rate for `clk_sys` and `clk_peri`.
//!
//! The receive and receive-timeout interrupts clear only as the FIFO is read, so the handler
//! masks the NVIC line and [`wait`] unmasks it again.

use cortex_m::peripheral::NVIC;

use crate::board::{
    pac, CORE_HZ, PLL_SYS, UART, UART_BAUD, UART_FUNCSEL, UART_IRQ, UART_PINS, XOSC_HZ,
};
use pac::clocks::vals::{ClkPeriCtrlAuxsrc, ClkRefCtrlSrc, ClkSysCtrlAuxsrc, ClkSysCtrlSrc};

/// One-hot source of clk_ref / clk_sys now in use (the glitchless muxes switch a few cycles
/// after their control register is written).
#[cfg(feature = "rp2040")]
fn ref_selected() -> u32 {
    pac::CLOCKS.clk_ref_selected().read()
}
#[cfg(feature = "rp2040")]
fn sys_selected() -> u32 {
    pac::CLOCKS.clk_sys_selected().read()
}
#[cfg(feature = "rp2350")]
fn ref_selected() -> u32 {
    pac::CLOCKS.clk_ref_selected().read().0
}
#[cfg(feature = "rp2350")]
fn sys_selected() -> u32 {
    pac::CLOCKS.clk_sys_selected().read().0
}

fn clocks() {
    let xosc = pac::XOSC;
    xosc.ctrl()
        .write(|w| w.set_freq_range(pac::xosc::vals::CtrlFreqRange::_1_15MHZ));
    // Start-up delay in units of 256 crystal cycles: about 1 ms.
    xosc.startup()
        .write(|w| w.set_delay((XOSC_HZ / 1000).div_ceil(256) as u16));
    xosc.ctrl()
        .modify(|w| w.set_enable(pac::xosc::vals::Enable::ENABLE));
    while !xosc.status().read().stable() {}

    let clocks = pac::CLOCKS;
    // clk_ref from the crystal; clk_sys from clk_ref while PLL_SYS is (re)started.
    clocks
        .clk_ref_ctrl()
        .write(|w| w.set_src(ClkRefCtrlSrc::XOSC_CLKSRC));
    while ref_selected() != 1 << ClkRefCtrlSrc::XOSC_CLKSRC as u32 {}
    clocks
        .clk_sys_ctrl()
        .modify(|w| w.set_src(ClkSysCtrlSrc::CLK_REF));
    while sys_selected() != 1 << ClkSysCtrlSrc::CLK_REF as u32 {}

    pac::RESETS.reset().modify(|w| w.set_pll_sys(true));
    pac::RESETS.reset().modify(|w| w.set_pll_sys(false));
    while !pac::RESETS.reset_done().read().pll_sys() {}
    let (fbdiv, post1, post2) = PLL_SYS;
    let pll = pac::PLL_SYS;
    pll.cs().write(|w| w.set_refdiv(1));
    pll.fbdiv_int().write(|w| w.set_fbdiv_int(fbdiv));
    pll.pwr().modify(|w| {
        w.set_pd(false);
        w.set_vcopd(false);
    });
    while !pll.cs().read().lock() {}
    pll.prim().write(|w| {
        w.set_postdiv1(post1);
        w.set_postdiv2(post2);
    });
    pll.pwr().modify(|w| w.set_postdivpd(false));

    clocks
        .clk_sys_ctrl()
        .modify(|w| w.set_auxsrc(ClkSysCtrlAuxsrc::CLKSRC_PLL_SYS));
    clocks
        .clk_sys_ctrl()
        .modify(|w| w.set_src(ClkSysCtrlSrc::CLKSRC_CLK_SYS_AUX));
    while sys_selected() != 1 << ClkSysCtrlSrc::CLKSRC_CLK_SYS_AUX as u32 {}
    // clk_peri (UART clock) = clk_sys.
    clocks.clk_peri_ctrl().write(|w| w.set_enable(false));
    clocks.clk_peri_ctrl().write(|w| {
        w.set_auxsrc(ClkPeriCtrlAuxsrc::CLK_SYS);
        w.set_enable(true);
    });
}

pub(super) fn init() {
    clocks();
    let resets = pac::RESETS;
    resets.reset().modify(|w| {
        w.set_io_bank0(false);
        w.set_pads_bank0(false);
        w.set_uart0(false);
    });
    loop {
        let d = resets.reset_done().read();
        if d.io_bank0() && d.pads_bank0() && d.uart0() {
            break;
        }
    }
    for pin in UART_PINS {
        pac::PADS_BANK0.gpio(pin).modify(|w| {
            w.set_ie(true);
            w.set_od(false);
            #[cfg(feature = "rp2350")]
            w.set_iso(false);
        });
        pac::IO_BANK0
            .gpio(pin)
            .ctrl()
            .write(|w| w.set_funcsel(UART_FUNCSEL));
    }
    // Baud divisor in 1/64ths: 64 · clk_peri / (16 · baud), rounded.
    let div = (8 * CORE_HZ / UART_BAUD).div_ceil(2);
    UART.uartibrd()
        .write(|w| w.set_baud_divint((div >> 6) as u16));
    UART.uartfbrd()
        .write(|w| w.set_baud_divfrac((div & 63) as u8));
    // 8N1 with FIFOs; writing LCR_H also latches the divisors.
    UART.uartlcr_h().write(|w| {
        w.set_wlen(3);
        w.set_fen(true);
    });
    UART.uartcr().write(|w| {
        w.set_uarten(true);
        w.set_txe(true);
        w.set_rxe(true);
    });
    // Receive interrupt at the FIFO level, and the receive timeout for bytes below it.
    UART.uartimsc().write(|w| {
        w.set_rxim(true);
        w.set_rtim(true);
    });
    NVIC::unpend(UART_IRQ);
}

pub(super) fn write_byte(byte: u8) {
    while UART.uartfr().read().txff() {}
    UART.uartdr().write(|w| w.set_data(byte));
}

fn rx_ready() -> bool {
    !UART.uartfr().read().rxfe()
}

pub(super) fn try_read() -> Option<u8> {
    rx_ready().then(|| UART.uartdr().read().data())
}

pub(super) fn wait() {
    // SAFETY: the handler (`on_interrupt`) only masks this line again.
    unsafe { NVIC::unmask(UART_IRQ) };
    super::sleep_until(rx_ready);
}

#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(super) fn on_interrupt(irqn: i16) -> bool {
    if irqn == UART_IRQ as i16 {
        NVIC::mask(UART_IRQ);
        true
    } else {
        false
    }
}

//! `rp2350`: RP2350 (Cortex-M33, Arm, Secure) on the Raspberry Pi Pico 2. The runtime starts
//! the 12 MHz crystal and runs the core (and `clk_peri`) from PLL_SYS at 150 MHz. The link is
//! UART0 on GPIO0 (TX) / GPIO1 (RX), where the Raspberry Pi Debug Probe's UART connects.

pub(crate) use rp_pac as pac;

/// The boot ROM starts an image only if it finds an IMAGE_DEF block in the first 4 KiB of
/// flash (RP2350 datasheet, "Minimum viable image metadata"): start marker, an IMAGE_TYPE item
/// (executable, Arm, Secure, RP2350), the last-item marker, a link to itself, end marker. The
/// `.start_block` section follows the vector table (`memory.x`); the vector table is taken from
/// the start of flash.
#[cfg(target_os = "none")]
#[link_section = ".start_block"]
#[used]
static IMAGE_DEF: [u32; 5] = [
    0xffff_ded3,
    0x1021_0142,
    0x0000_01ff,
    0x0000_0000,
    0xab12_3579,
];

pub(crate) const XOSC_HZ: u32 = 12_000_000;
/// PLL_SYS `(FBDIV, POSTDIV1, POSTDIV2)`, REFDIV 1: 12 MHz × 125 = 1500 MHz VCO, ÷ 5 ÷ 2.
pub(crate) const PLL_SYS: (u16, u8, u8) = (125, 5, 2);
/// Core clock (Hz); the board file's `clock_hz`.
pub(crate) const CORE_HZ: u32 = 150_000_000;
pub(crate) const UART_BAUD: u32 = 115_200;
pub(crate) const UART: pac::uart::Uart = pac::UART0;
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::UART0_IRQ;
pub(crate) const UART_PINS: [usize; 2] = [0, 1];
pub(crate) const UART_FUNCSEL: u8 = 2;

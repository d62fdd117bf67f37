//! `rp2040`: RP2040 (Cortex-M0+) on the Raspberry Pi Pico. The runtime starts the 12 MHz
//! crystal and runs the core (and `clk_peri`) from PLL_SYS at 125 MHz. The link is UART0 on
//! GPIO0 (TX) / GPIO1 (RX), where the Raspberry Pi Debug Probe's UART connects.

pub(crate) use rp_pac as pac;

/// Second-stage bootloader for the Pico's W25Q080-compatible QSPI flash: the boot ROM copies
/// these 256 bytes (the `BOOT2` region of `memory.x`, at the start of flash) to SRAM, checks
/// their CRC and runs them to set up execute-in-place.
#[cfg(target_os = "none")]
#[link_section = ".boot2"]
#[used]
static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

pub(crate) const XOSC_HZ: u32 = 12_000_000;
/// PLL_SYS `(FBDIV, POSTDIV1, POSTDIV2)`, REFDIV 1: 12 MHz × 125 = 1500 MHz VCO, ÷ 6 ÷ 2.
pub(crate) const PLL_SYS: (u16, u8, u8) = (125, 6, 2);
/// Core clock (Hz); the board file's `clock_hz`.
pub(crate) const CORE_HZ: u32 = 125_000_000;
pub(crate) const UART_BAUD: u32 = 115_200;
pub(crate) const UART: pac::uart::Uart = pac::UART0;
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::UART0_IRQ;
/// TX and RX GPIOs, and the pin function that connects them to UART0.
pub(crate) const UART_PINS: [usize; 2] = [0, 1];
pub(crate) const UART_FUNCSEL: u8 = 2;

//! `stm32l4`: STM32L4R5ZI (Cortex-M4F) on the NUCLEO-L4R5ZI. The core runs at the reset clock,
//! MSI range 6 = 4 MHz (bus prescalers at reset: PCLK1 = 4 MHz). The link is LPUART1 on PG7
//! (TX) / PG8 (RX), AF8, the ST-LINK/V2-1's virtual COM port.

pub(crate) use stm32_metapac as pac;

/// Core clock (Hz) the runtime runs the chip at; the board file's `clock_hz`.
pub(crate) const CORE_HZ: u32 = 4_000_000;
pub(crate) const UART_BAUD: u32 = 115_200;
/// The link's UART and its interrupt.
pub(crate) const UART: pac::usart::Lpuart = pac::LPUART1;
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::LPUART1;
/// TX and RX pins, and their alternate function number.
pub(crate) const UART_PINS: [(pac::gpio::Gpio, usize); 2] = [(pac::GPIOG, 7), (pac::GPIOG, 8)];
pub(crate) const UART_AF: u8 = 8;
/// LPUART BRR = 256 · f(kernel clock) / baud, rounded (LPUART1SEL at reset: PCLK1).
pub(crate) const UART_BRR: u32 =
    ((256 * CORE_HZ as u64 + UART_BAUD as u64 / 2) / UART_BAUD as u64) as u32;

/// What the chip needs before the UART works: bus clocks, and the VDDIO2 supply of port G.
pub(crate) fn bring_up() {
    let rcc = pac::RCC;
    // PG2..PG15 are supplied by VDDIO2, isolated until PWR_CR2.IOSV is set.
    rcc.apb1enr1().modify(|w| w.set_pwren(true));
    let _ = rcc.apb1enr1().read();
    pac::PWR.cr2().modify(|w| w.set_iosv(true));
    rcc.ahb2enr().modify(|w| w.set_gpiogen(true));
    rcc.apb1enr2().modify(|w| w.set_lpuart1en(true));
    // Reading back lets the enables take effect before the first access (RCC errata).
    let _ = rcc.apb1enr2().read();
}

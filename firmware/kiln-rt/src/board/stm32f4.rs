//! `stm32f4`: STM32F407VG (Cortex-M4F) on the STM32F4DISCOVERY. The core runs at the reset
//! clock, HSI = 16 MHz (PCLK1 = 16 MHz). The link is USART2 on PA2 (TX) / PA3 (RX), AF7: the
//! ST-LINK/V2-A's virtual COM port on the STM32F407G-DISC1 once its two VCP wires are bridged
//! to PA2/PA3, or any 3.3 V USB-serial adapter.

pub(crate) use stm32_metapac as pac;

/// Core clock (Hz) the runtime runs the chip at; the board file's `clock_hz`.
pub(crate) const CORE_HZ: u32 = 16_000_000;
pub(crate) const UART_BAUD: u32 = 115_200;
pub(crate) const UART: pac::usart::Usart = pac::USART2;
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::USART2;
pub(crate) const UART_PINS: [(pac::gpio::Gpio, usize); 2] = [(pac::GPIOA, 2), (pac::GPIOA, 3)];
pub(crate) const UART_AF: u8 = 7;
/// USART BRR = f(PCLK1) / baud, rounded, 16× oversampling.
pub(crate) const UART_BRR: u32 = (CORE_HZ + UART_BAUD / 2) / UART_BAUD;

/// What the chip needs before the UART works: bus clocks.
pub(crate) fn bring_up() {
    let rcc = pac::RCC;
    rcc.ahb1enr().modify(|w| w.set_gpioaen(true));
    rcc.apb1enr().modify(|w| w.set_usart2en(true));
    let _ = rcc.apb1enr().read();
}

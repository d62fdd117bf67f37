//! `stm32h7`: STM32H7A3ZI (Cortex-M7) on the NUCLEO-H7A3ZI-Q. The core runs at the reset clock,
//! HSI = 64 MHz (all bus prescalers at reset: PCLK1 = 64 MHz), with the instruction and data
//! caches on. The power supply configuration (PWR_CR3) is left as the board boots it. The link
//! is USART3 on PD8 (TX) / PD9 (RX), AF7, the STLINK-V3E's virtual COM port.

pub(crate) use stm32_metapac as pac;

/// Core clock (Hz) the runtime runs the chip at; the board file's `clock_hz`.
pub(crate) const CORE_HZ: u32 = 64_000_000;
pub(crate) const UART_BAUD: u32 = 115_200;
pub(crate) const UART: pac::usart::Usart = pac::USART3;
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::USART3;
pub(crate) const UART_PINS: [(pac::gpio::Gpio, usize); 2] = [(pac::GPIOD, 8), (pac::GPIOD, 9)];
pub(crate) const UART_AF: u8 = 7;
/// USART BRR = f(kernel clock) / baud, rounded, 16× oversampling (USART234578SEL at reset:
/// PCLK1).
pub(crate) const UART_BRR: u32 = (CORE_HZ + UART_BAUD / 2) / UART_BAUD;

/// What the chip needs before the UART works: caches, bus clocks.
pub(crate) fn bring_up() {
    // SAFETY: the runtime owns the core peripherals (crate docs); nothing else holds them.
    let mut core = unsafe { cortex_m::Peripherals::steal() };
    core.SCB.enable_icache();
    core.SCB.enable_dcache(&mut core.CPUID);
    let rcc = pac::RCC;
    rcc.ahb4enr().modify(|w| w.set_gpioden(true));
    rcc.apb1lenr().modify(|w| w.set_usart3en(true));
    let _ = rcc.apb1lenr().read();
}

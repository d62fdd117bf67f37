//! `nrf52840`: nRF52840 (Cortex-M4F) on the nRF52840 DK. The core always runs at 64 MHz; the
//! runtime starts the 32 MHz crystal oscillator (HFXO) so the UART's rate is accurate. The
//! link is UART0 on P0.06 (TX) / P0.08 (RX), the interface MCU's (J-Link OB) virtual COM port.

pub(crate) use nrf_pac as pac;

pub(crate) const UART: pac::uart::Uart = pac::UART0;
pub(crate) const UART_IRQ: pac::Interrupt = pac::Interrupt::UARTE0;
/// Pins on port 0.
pub(crate) const UART_TX_PIN: u8 = 6;
pub(crate) const UART_RX_PIN: u8 = 8;
pub(crate) const UART_BAUDRATE: pac::uart::vals::Baudrate = pac::uart::vals::Baudrate::Baud115200;

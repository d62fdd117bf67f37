//! Board families: one module each, selected by the feature of the same name. A family module
//! holds the constants its UART kind (`crate::uart`) reads — addresses, interrupt numbers, the
//! chip's peripheral-access crate — and nothing else the runtime would branch on.
//!
//! Adding a family: a line below, a module file here, and a feature in Cargo.toml that also
//! enables the family's UART kind (and its chip crates).

select_one! {
    "board family";
    pub(crate) use;
    host = "mps2.rs";
    "mps2" => mps2,
    "mps3" => mps3,
    "an505" => an505,
    "nrf51" => nrf51,
    "stm32l4" => stm32l4,
    "stm32h7" => stm32h7,
    "stm32f4" => stm32f4,
    "nrf52840" => nrf52840,
    "rp2040" => rp2040,
    "rp2350" => rp2350,
}

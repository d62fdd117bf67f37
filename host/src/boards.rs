//! Board descriptions: `boards/*.toml` data files (built into kiln, plus a user's `--boards-dir`)
//! and the built-in `host` board.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};

static BUILTIN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../boards");

/// Name of the in-process board: the planned model run through `kiln-kernels` linked into kiln.
pub const HOST: &str = "host";
/// The board used when none is given.
pub const DEFAULT_BOARD: &str = "mps2-an386";

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("unknown board `{name}`; valid boards: {}", valid.join(", "))]
    Unknown { name: String, valid: Vec<String> },
    #[error("board file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot read board directory {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub flash_origin: u64,
    pub flash_size: u64,
    pub ram_origin: u64,
    pub ram_size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Uart {
    /// The peripheral kind, one of [`UART_KINDS`]: `cmsdk` (Arm CMSDK APB UART, MPS2/MPS3),
    /// `stm32-usart`, `stm32-lpuart`, `nrf-uart` (nRF51/nRF52 UART), `rp-uart` (PL011 of
    /// RP2040/RP2350).
    pub kind: String,
    /// Base address of memory-mapped UARTs (emulated boards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u64>,
    /// Peripheral instance as the chip's reference manual names it (`USART3`, `LPUART1`, `UART0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Transmit pin (`PD8`, `P0.06`, `GPIO0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    /// Receive pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx: Option<String>,
    /// Baud rate; emulated UARTs ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
}

/// A real board's debug probe: the probe-rs chip to attach to, and the USB identity of the
/// on-board probe (whose virtual COM port carries the serial link).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// probe-rs target name (`probe-rs chip list`), e.g. `STM32L4R5ZITx`.
    pub chip: String,
    /// USB vendor id of the on-board probe, when the board has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vid: Option<u16>,
    /// USB product id of the on-board probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u16>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Timer {
    /// `systick` or `dwt`.
    pub kind: String,
    /// Timer ticks per second (of virtual time on emulated boards).
    pub hz: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    pub machine: String,
    pub cpu: String,
}

/// A board file. Emulated boards have a `[qemu]` table, real boards a `[probe]` table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Board {
    pub name: String,
    pub description: String,
    pub core: String,
    /// Rust target triple of the firmware.
    pub target: String,
    pub clock_hz: u64,
    /// The `kiln-rt` board-family feature that brings this board up.
    pub runtime: String,
    /// Bytes reserved for the stack below the top of RAM.
    pub stack_reserve: u64,
    pub memory: Memory,
    pub uart: Uart,
    pub timer: Timer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu: Option<Qemu>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}

const TARGETS: &[&str] = &[
    "thumbv6m-none-eabi",
    "thumbv7m-none-eabi",
    "thumbv7em-none-eabi",
    "thumbv7em-none-eabihf",
    "thumbv8m.base-none-eabi",
    "thumbv8m.main-none-eabi",
    "thumbv8m.main-none-eabihf",
];
/// `kiln-rt` board-family features.
pub const RUNTIMES: &[&str] = &[
    "mps2", "mps3", "an505", "nrf51", "stm32l4", "stm32h7", "stm32f4", "nrf52840", "rp2040",
    "rp2350",
];
/// UART kinds `kiln-rt` drives.
pub const UART_KINDS: &[&str] = &[
    "cmsdk",
    "stm32-usart",
    "stm32-lpuart",
    "nrf-uart",
    "rp-uart",
];

/// What a real-chip `kiln-rt` family fixes in firmware; a board file naming the family must
/// state the same (checked on load), so the file describes what actually runs.
struct Family {
    runtime: &'static str,
    /// `uart.kind`, `uart.instance`, `uart.tx`, `uart.rx`, `uart.baud`.
    uart: (&'static str, &'static str, &'static str, &'static str, u32),
    /// The core clock the family configures (`clock_hz`, and `timer.hz`: both timers count
    /// core clock cycles).
    clock_hz: u64,
    /// `timer.kind`: `dwt` where the core has a cycle counter.
    timer: &'static str,
}

const FAMILIES: &[Family] = &[
    Family {
        runtime: "stm32l4",
        uart: ("stm32-lpuart", "LPUART1", "PG7", "PG8", 115_200),
        clock_hz: 4_000_000,
        timer: "dwt",
    },
    Family {
        runtime: "stm32h7",
        uart: ("stm32-usart", "USART3", "PD8", "PD9", 115_200),
        clock_hz: 64_000_000,
        timer: "dwt",
    },
    Family {
        runtime: "stm32f4",
        uart: ("stm32-usart", "USART2", "PA2", "PA3", 115_200),
        clock_hz: 16_000_000,
        timer: "dwt",
    },
    Family {
        runtime: "nrf52840",
        uart: ("nrf-uart", "UART0", "P0.06", "P0.08", 115_200),
        clock_hz: 64_000_000,
        timer: "dwt",
    },
    Family {
        runtime: "rp2040",
        uart: ("rp-uart", "UART0", "GPIO0", "GPIO1", 115_200),
        clock_hz: 125_000_000,
        timer: "systick",
    },
    Family {
        runtime: "rp2350",
        uart: ("rp-uart", "UART0", "GPIO0", "GPIO1", 115_200),
        clock_hz: 150_000_000,
        timer: "dwt",
    },
];

impl Family {
    /// The first field of `b` that differs from the family, as `(field, board's, family's)`.
    fn mismatch(&self, b: &Board) -> Option<(&'static str, String, String)> {
        let u = &b.uart;
        let (kind, instance, tx, rx, baud) = self.uart;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            ("uart.kind", u.kind.clone(), kind.to_string()),
            ("uart.instance", opt(&u.instance), instance.to_string()),
            ("uart.tx", opt(&u.tx), tx.to_string()),
            ("uart.rx", opt(&u.rx), rx.to_string()),
            (
                "uart.baud",
                u.baud.map(|v| v.to_string()).unwrap_or_default(),
                baud.to_string(),
            ),
            (
                "clock_hz",
                b.clock_hz.to_string(),
                self.clock_hz.to_string(),
            ),
            (
                "timer.hz",
                b.timer.hz.to_string(),
                self.clock_hz.to_string(),
            ),
            ("timer.kind", b.timer.kind.clone(), self.timer.to_string()),
        ]
        .into_iter()
        .find(|(_, have, want)| have != want)
    }
}

impl Board {
    /// The LLVM CPU the firmware is tuned for (`-C target-cpu`), from `core`: the Cortex-M cores
    /// LLVM knows (a trailing `f` for the FPU variant dropped, the target triple says it).
    /// `None` for others: the target's baseline.
    pub fn target_cpu(&self) -> Option<&str> {
        const KNOWN: &[&str] = &[
            "cortex-m0",
            "cortex-m0plus",
            "cortex-m1",
            "cortex-m3",
            "cortex-m4",
            "cortex-m7",
            "cortex-m23",
            "cortex-m33",
            "cortex-m35p",
            "cortex-m55",
            "cortex-m85",
        ];
        let core = self.core.strip_suffix('f').unwrap_or(&self.core);
        KNOWN.iter().copied().find(|k| *k == core)
    }

    /// The fewest instructions per MAC the instructions kiln's kernels use on this core allow,
    /// for an int8 (`int8`) or f32 layer: int8 `SMLAD` does two MACs (0.5) on cores with the
    /// DSP extension, `MLA` one (1.0) on the Cortex-M3, `MULS` + `ADDS` (2.0) on Armv6-M and
    /// the Cortex-M23; f32 `VFMA` one (1.0) with an FPU. `None` for soft float and unknown
    /// cores.
    pub fn mac_limit(&self, int8: bool) -> Option<f64> {
        let cpu = self.target_cpu()?;
        if !int8 {
            return self.target.ends_with("hf").then_some(1.0);
        }
        Some(match cpu {
            "cortex-m0" | "cortex-m0plus" | "cortex-m1" | "cortex-m23" => 2.0,
            "cortex-m3" => 1.0,
            _ => 0.5,
        })
    }

    fn parse(path: &Path, text: &str) -> Result<Board, BoardError> {
        let invalid = |message: String| BoardError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let b: Board = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if !TARGETS.contains(&b.target.as_str()) {
            return Err(invalid(format!(
                "field `target`: `{}` is not a Cortex-M target (one of {})",
                b.target,
                TARGETS.join(", ")
            )));
        }
        if !RUNTIMES.contains(&b.runtime.as_str()) {
            return Err(invalid(format!(
                "field `runtime`: `{}` is not a kiln-rt board family (one of {})",
                b.runtime,
                RUNTIMES.join(", ")
            )));
        }
        if !UART_KINDS.contains(&b.uart.kind.as_str()) {
            return Err(invalid(format!(
                "field `uart.kind`: `{}` is not supported (one of {})",
                b.uart.kind,
                UART_KINDS.join(", ")
            )));
        }
        if b.uart.kind == "cmsdk" && b.uart.base.is_none() {
            return Err(invalid(
                "field `uart.base`: a `cmsdk` UART needs its base address".into(),
            ));
        }
        if b.uart.kind != "cmsdk"
            && (b.uart.instance.is_none()
                || b.uart.tx.is_none()
                || b.uart.rx.is_none()
                || b.uart.baud.is_none())
        {
            return Err(invalid(format!(
                "table `uart`: a `{}` UART needs `instance`, `tx`, `rx` and `baud`",
                b.uart.kind
            )));
        }
        match (&b.qemu, &b.probe) {
            (Some(_), Some(_)) => return Err(invalid("tables `qemu` and `probe`: a board is emulated or real, not both".into())),
            (None, None) => return Err(invalid("missing table `qemu` (an emulated board) or `probe` (a real board, with its probe-rs `chip`)".into())),
            (None, Some(p)) if p.chip.trim().is_empty() => return Err(invalid("field `probe.chip`: empty; give the probe-rs chip name".into())),
            _ => {}
        }
        if b.timer.kind != "systick" && b.timer.kind != "dwt" {
            return Err(invalid(format!(
                "field `timer.kind`: `{}` is not `systick` or `dwt`",
                b.timer.kind
            )));
        }
        if let Some(f) = FAMILIES.iter().find(|f| f.runtime == b.runtime) {
            if b.qemu.is_some() {
                return Err(invalid(format!(
                    "field `runtime`: `{}` is a real chip's family; an emulated board (`qemu`) cannot use it",
                    b.runtime
                )));
            }
            if let Some((field, have, want)) = f.mismatch(&b) {
                return Err(invalid(format!(
                    "field `{field}`: `{have}` differs from what kiln-rt's `{}` family configures (`{want}`)",
                    b.runtime
                )));
            }
        }
        if b.timer.hz == 0 || b.memory.flash_size == 0 || b.memory.ram_size == 0 {
            return Err(invalid(
                "fields `timer.hz`, `memory.flash_size` and `memory.ram_size` must be non-zero"
                    .into(),
            ));
        }
        if b.stack_reserve >= b.memory.ram_size {
            return Err(invalid(format!(
                "field `stack_reserve`: {} bytes does not fit in {} bytes of RAM",
                b.stack_reserve, b.memory.ram_size
            )));
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !stem.is_empty() && stem != b.name {
            return Err(invalid(format!(
                "field `name`: `{}` differs from the file name `{stem}`",
                b.name
            )));
        }
        Ok(b)
    }

    pub fn is_emulated(&self) -> bool {
        self.qemu.is_some()
    }

    /// Emulated instructions per timer tick under `-icount shift=0` (1 ns of virtual time each).
    pub fn instructions_per_tick(&self) -> f64 {
        1e9 / self.timer.hz as f64
    }
}

/// The catalog: built-in boards plus any loaded from user directories (a user file replaces a
/// built-in board of the same name).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub boards: BTreeMap<String, Board>,
}

impl Catalog {
    pub fn builtin() -> Result<Catalog, BoardError> {
        let mut c = Catalog::default();
        for f in BUILTIN.files() {
            if f.path().extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let text = f.contents_utf8().unwrap_or_default();
            let b = Board::parse(&Path::new("boards").join(f.path()), text)?;
            c.boards.insert(b.name.clone(), b);
        }
        Ok(c)
    }

    pub fn with_dir(mut self, dir: &Path) -> Result<Catalog, BoardError> {
        let io = |source| BoardError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|source| BoardError::Io {
                path: p.clone(),
                source,
            })?;
            let b = Board::parse(&p, &text)?;
            self.boards.insert(b.name.clone(), b);
        }
        Ok(self)
    }

    /// All names, `host` included.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.boards.keys().cloned().collect();
        v.push(HOST.to_string());
        v
    }

    /// Looks up a board file (not `host`, which callers handle before).
    pub fn get(&self, name: &str) -> Result<&Board, BoardError> {
        self.boards.get(name).ok_or_else(|| BoardError::Unknown {
            name: name.to_string(),
            valid: self.names(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_limits_follow_the_core() {
        let c = Catalog::builtin().unwrap();
        let limit = |name: &str, int8| c.get(name).unwrap().mac_limit(int8);
        assert_eq!(limit("mps2-an386", true), Some(0.5));
        assert_eq!(limit("mps2-an386", false), Some(1.0));
        assert_eq!(limit("mps2-an500", true), Some(0.5));
        assert_eq!(limit("mps3-an547", true), Some(0.5));
        assert_eq!(limit("mps2-an385", true), Some(1.0));
        assert_eq!(limit("mps2-an385", false), None);
        assert_eq!(limit("microbit", true), Some(2.0));
    }

    #[test]
    fn target_cpu_comes_from_the_core() {
        let c = Catalog::builtin().unwrap();
        let cpu = |n: &str| c.get(n).unwrap().target_cpu().map(str::to_string);
        assert_eq!(cpu("mps2-an386").as_deref(), Some("cortex-m4"));
        assert_eq!(cpu("mps2-an385").as_deref(), Some("cortex-m3"));
        assert_eq!(cpu("mps2-an500").as_deref(), Some("cortex-m7"));
        assert_eq!(cpu("mps3-an547").as_deref(), Some("cortex-m55"));
    }

    #[test]
    fn builtin_catalog_has_the_emulated_boards() {
        let c = Catalog::builtin().unwrap();
        for name in ["mps2-an386", "mps2-an385", "mps2-an500", "mps3-an547"] {
            let b = c.get(name).unwrap();
            assert!(b.is_emulated(), "{name}");
        }
        assert!(c.names().contains(&"host".to_string()));
        assert_eq!(c.get("mps2-an386").unwrap().instructions_per_tick(), 40.0);
        assert_eq!(c.get("mps3-an547").unwrap().instructions_per_tick(), 31.25);
    }

    /// The ARMv8-M and ARMv6-M emulated boards: core, target, family, memory map and the
    /// SysTick rates measured under `-icount shift=0` (50 and 62.5 instructions per tick).
    #[test]
    fn armv8m_and_armv6m_emulated_boards() {
        let c = Catalog::builtin().unwrap();
        let an505 = c.get("mps2-an505").unwrap();
        let q = an505.qemu.as_ref().unwrap();
        assert_eq!(
            (q.machine.as_str(), q.cpu.as_str()),
            ("mps2-an505", "cortex-m33")
        );
        assert_eq!(an505.target, "thumbv8m.main-none-eabihf");
        assert_eq!(an505.target_cpu(), Some("cortex-m33"));
        assert_eq!(an505.runtime, "an505");
        assert!(RUNTIMES.contains(&"an505"));
        // Runs Secure: code and data in the Secure aliases (address bit 28 set).
        assert_eq!(an505.memory.flash_origin, 0x1000_0000);
        assert_eq!(an505.memory.ram_origin, 0x3800_0000);
        assert_eq!(
            (an505.uart.kind.as_str(), an505.uart.base),
            ("cmsdk", Some(0x5020_0000))
        );
        assert_eq!(an505.timer.kind, "systick");
        assert_eq!(an505.instructions_per_tick(), 50.0);

        let mb = c.get("microbit").unwrap();
        let q = mb.qemu.as_ref().unwrap();
        assert_eq!(
            (q.machine.as_str(), q.cpu.as_str()),
            ("microbit", "cortex-m0")
        );
        assert_eq!(mb.target, "thumbv6m-none-eabi");
        assert_eq!(mb.target_cpu(), Some("cortex-m0"));
        assert_eq!(mb.runtime, "nrf51");
        assert!(RUNTIMES.contains(&"nrf51"));
        assert_eq!(
            (mb.memory.flash_origin, mb.memory.flash_size),
            (0, 256 * 1024)
        );
        assert_eq!(
            (mb.memory.ram_origin, mb.memory.ram_size),
            (0x2000_0000, 16 * 1024)
        );
        assert_eq!(mb.uart.kind, "nrf-uart");
        assert_eq!(mb.uart.instance.as_deref(), Some("UART0"));
        assert_eq!(
            (mb.uart.tx.as_deref(), mb.uart.rx.as_deref()),
            (Some("P0.24"), Some("P0.25"))
        );
        assert_eq!(mb.timer.kind, "systick");
        assert_eq!(mb.instructions_per_tick(), 62.5);
        // A 4 KiB arena still fits next to the stack reserve and the runtime's statics.
        assert!(
            mb.stack_reserve + crate::build::RUNTIME_RAM_BYTES + 4096 <= mb.memory.ram_size,
            "{}",
            mb.stack_reserve
        );
    }

    /// The real-board catalog: (name, probe-rs chip, target, LLVM CPU, runtime, timer).
    const REAL: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "nucleo-l4r5zi",
            "STM32L4R5ZITx",
            "thumbv7em-none-eabihf",
            "cortex-m4",
            "stm32l4",
            "dwt",
        ),
        (
            "nucleo-h7a3zi-q",
            "STM32H7A3ZITxQ",
            "thumbv7em-none-eabihf",
            "cortex-m7",
            "stm32h7",
            "dwt",
        ),
        (
            "nrf52840-dk",
            "nRF52840_xxAA",
            "thumbv7em-none-eabihf",
            "cortex-m4",
            "nrf52840",
            "dwt",
        ),
        (
            "rp-pico",
            "RP2040",
            "thumbv6m-none-eabi",
            "cortex-m0plus",
            "rp2040",
            "systick",
        ),
        (
            "rp-pico2",
            "RP235x",
            "thumbv8m.main-none-eabihf",
            "cortex-m33",
            "rp2350",
            "dwt",
        ),
        (
            "stm32f4-discovery",
            "STM32F407VGTx",
            "thumbv7em-none-eabihf",
            "cortex-m4",
            "stm32f4",
            "dwt",
        ),
    ];

    #[test]
    fn builtin_catalog_has_the_real_boards() {
        let c = Catalog::builtin().unwrap();
        for &(name, chip, target, cpu, runtime, timer) in REAL {
            let b = c.get(name).unwrap();
            assert!(!b.is_emulated(), "{name}");
            assert_eq!(
                b.probe.as_ref().map(|p| p.chip.as_str()),
                Some(chip),
                "{name}"
            );
            assert_eq!(b.target, target, "{name}");
            assert_eq!(b.target_cpu(), Some(cpu), "{name}");
            assert_eq!(b.runtime, runtime, "{name}");
            assert_eq!(b.timer.kind, timer, "{name}");
            assert_eq!(
                b.timer.hz, b.clock_hz,
                "{name}: both timers count core cycles"
            );
            assert!(RUNTIMES.contains(&b.runtime.as_str()), "{name}");
            assert!(b.stack_reserve < b.memory.ram_size, "{name}");
        }
        // Only cores with a cycle counter (Cortex-M3 and up) use the DWT.
        let pico = c.get("rp-pico").unwrap();
        assert_eq!(pico.core, "cortex-m0plus");
        // Every real-chip family has a catalog board, and every catalog board with a probe is
        // listed above.
        for f in FAMILIES {
            assert!(REAL.iter().any(|r| r.4 == f.runtime), "{}", f.runtime);
        }
        let with_probe = c.boards.values().filter(|b| b.probe.is_some()).count();
        assert_eq!(with_probe, REAL.len());
    }

    #[test]
    fn real_board_files_must_match_their_family() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nucleo-l4r5zi.toml");
        let base = include_str!("../../boards/nucleo-l4r5zi.toml");
        let load = |text: String| {
            std::fs::write(&p, text).unwrap();
            Catalog::builtin()
                .unwrap()
                .with_dir(dir.path())
                .map(|c| c.get("nucleo-l4r5zi").unwrap().clone())
        };
        assert_eq!(load(base.to_string()).unwrap().clock_hz, 4_000_000);
        for (from, to, field) in [
            (
                "clock_hz = 4000000",
                "clock_hz = 120000000",
                "field `clock_hz`",
            ),
            ("\nhz = 4000000", "\nhz = 1000000", "field `timer.hz`"),
            ("tx = \"PG7\"", "tx = \"PA2\"", "field `uart.tx`"),
            (
                "instance = \"LPUART1\"",
                "instance = \"USART2\"",
                "field `uart.instance`",
            ),
            ("baud = 115200", "baud = 9600", "field `uart.baud`"),
            ("kind = \"dwt\"", "kind = \"systick\"", "field `timer.kind`"),
        ] {
            assert!(base.contains(from), "{from}");
            let e = load(base.replace(from, to)).unwrap_err().to_string();
            assert!(
                e.contains("nucleo-l4r5zi.toml") && e.contains(field) && e.contains("`stm32l4`"),
                "{e}"
            );
        }
        let emulated = base.replace(
            "[probe]\nchip = \"STM32L4R5ZITx\"\nvid = 0x0483\npid = 0x374B",
            "[qemu]\nmachine = \"mps2-an386\"\ncpu = \"cortex-m4\"",
        );
        assert!(emulated.contains("[qemu]"));
        let e = load(emulated).unwrap_err().to_string();
        assert!(
            e.contains("field `runtime`") && e.contains("real chip"),
            "{e}"
        );
    }

    #[test]
    fn unknown_board_lists_valid_names() {
        let c = Catalog::builtin().unwrap();
        let e = c.get("nope").unwrap_err().to_string();
        assert!(e.contains("unknown board `nope`"), "{e}");
        assert!(e.contains("mps2-an386") && e.contains("host"), "{e}");
    }

    #[test]
    fn bad_board_file_names_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../../boards/mps2-an386.toml")
            .replace("thumbv7em-none-eabihf", "riscv32imc");
        let p = dir.path().join("mps2-an386.toml");
        std::fs::write(&p, text).unwrap();
        let e = Catalog::builtin()
            .unwrap()
            .with_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mps2-an386.toml") && e.contains("field `target`"),
            "{e}"
        );

        let no_target = include_str!("../../boards/mps2-an386.toml").replace("[qemu]", "[nothing]");
        std::fs::write(&p, no_target).unwrap();
        let e = Catalog::builtin()
            .unwrap()
            .with_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mps2-an386.toml") && e.contains("nothing"),
            "{e}"
        );
        let both = format!(
            "{}\n[probe]\nchip = \"STM32L4R5ZITx\"\n",
            include_str!("../../boards/mps2-an386.toml")
        );
        std::fs::write(&p, both).unwrap();
        let e = Catalog::builtin()
            .unwrap()
            .with_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`qemu` and `probe`"), "{e}");
        let neither = include_str!("../../boards/mps2-an386.toml")
            .replace("[qemu]\nmachine = \"mps2-an386\"\ncpu = \"cortex-m4\"", "");
        std::fs::write(&p, neither).unwrap();
        let e = Catalog::builtin()
            .unwrap()
            .with_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing table `qemu`") && e.contains("`probe`"),
            "{e}"
        );

        std::fs::write(&p, "name = 3").unwrap();
        let e = Catalog::builtin()
            .unwrap()
            .with_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mps2-an386.toml"), "{e}");
    }
}

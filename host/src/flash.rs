//! Real boards through probe-rs: find the board's debug probe (by the USB identity in its board
//! file, or a `--probe VID:PID[:SERIAL]` selector), flash an ELF, reset and run, and find the
//! serial port the link runs over (`--port`, or the port whose USB identity is the probe's).
//!
//! Everything that only looks (probes, ports, the chip name) is cheap and runs before a firmware
//! build, so a missing probe is reported before minutes of compiling.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;

use crate::boards::Board;

/// How to reach a real board's probe and UART, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct Connect {
    pub probe: Option<ProbeSelector>,
    pub port: Option<PathBuf>,
}

/// `--probe VID:PID[:SERIAL]`: USB vendor and product id in hex (`0483:374b`, `0x` allowed),
/// and optionally the probe's serial number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeSelector {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "--probe `{given}`: {reason}; expected VID:PID[:SERIAL] with hex ids, e.g. 0483:374b or \
     0483:374b:0669FF555"
)]
pub struct SelectorError {
    pub given: String,
    pub reason: String,
}

impl FromStr for ProbeSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| SelectorError {
            given: s.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = s.splitn(3, ':');
        let hex = |part: Option<&str>, what: &str| -> Result<u16, SelectorError> {
            let p = part.map(str::trim).unwrap_or("");
            if p.is_empty() {
                return Err(err(&format!("missing {what}")));
            }
            let digits = p
                .strip_prefix("0x")
                .or_else(|| p.strip_prefix("0X"))
                .unwrap_or(p);
            if digits.is_empty()
                || digits.len() > 4
                || !digits.chars().all(|c| c.is_ascii_hexdigit())
            {
                return Err(err(&format!("{what} `{p}` is not a 16-bit hex number")));
            }
            u16::from_str_radix(digits, 16).map_err(|_| err(&format!("{what} `{p}` is not hex")))
        };
        let vid = hex(parts.next(), "vendor id (VID)")?;
        let pid = hex(parts.next(), "product id (PID)")?;
        let serial = match parts.next().map(str::trim) {
            None => None,
            Some("") => return Err(err("empty serial number after the second `:`")),
            Some(s) => Some(s.to_string()),
        };
        Ok(ProbeSelector { vid, pid, serial })
    }
}

impl fmt::Display for ProbeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vid, self.pid)?;
        if let Some(s) = &self.serial {
            write!(f, ":{s}")?;
        }
        Ok(())
    }
}

/// A debug probe as listed on USB.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeSeen {
    /// What probe-rs calls it (`STLink V3`, `J-Link`, `CMSIS-DAP`).
    pub name: String,
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
    /// False when the probe is there but this user may not open it (udev rules missing).
    pub accessible: bool,
}

impl ProbeSeen {
    /// `VID:PID[:SERIAL]`, the form `--probe` takes.
    pub fn selector(&self) -> String {
        ProbeSelector {
            vid: self.vid,
            pid: self.pid,
            serial: self.serial.clone(),
        }
        .to_string()
    }
}

impl fmt::Display for ProbeSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.selector())?;
        if !self.accessible {
            write!(f, " [permission denied]")?;
        }
        Ok(())
    }
}

/// The USB identity of the device behind a serial port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsbId {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
    /// USB interface number of the port (a probe may expose several ports).
    pub interface: Option<u8>,
}

/// A serial port, with its USB identity when it is a USB device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortSeen {
    pub path: PathBuf,
    pub usb: Option<UsbId>,
}

impl fmt::Display for PortSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(u) = &self.usb {
            write!(f, " (USB {:04x}:{:04x}", u.vid, u.pid)?;
            if let Some(s) = &u.serial {
                write!(f, ", serial {s}")?;
            }
            if let Some(i) = u.interface {
                write!(f, ", interface {i}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

fn list_or_none<T: fmt::Display>(v: &[T]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const UDEV_HINT: &str = "on Linux, install probe-rs' udev rules \
    (https://probe.rs/docs/getting-started/probe-setup/) and replug the probe";

#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error(transparent)]
    Selector(#[from] SelectorError),

    #[error("board `{board}` is emulated (it has no [probe] table): flashing needs a real board")]
    NotReal { board: String },

    #[error(
        "board `{board}`: probe-rs does not know the chip `{chip}` (field `probe.chip`){}",
        if similar.is_empty() { String::new() } else { format!("; similar chips: {}", similar.join(", ")) }
    )]
    UnknownChip {
        board: String,
        chip: String,
        similar: Vec<String>,
    },

    #[error(
        "no debug probe found for board `{board}` (chip {chip}): looked for {looked_for}\n  \
         probes seen: {}\n  ports seen: {}\n  \
         hint: connect the board's debug USB port; choose a probe with --probe VID:PID[:SERIAL] \
         and the serial port with --port PATH; {UDEV_HINT}",
        list_or_none(probes_seen),
        list_or_none(ports_seen)
    )]
    NoProbe {
        board: String,
        chip: String,
        looked_for: String,
        probes_seen: Vec<ProbeSeen>,
        ports_seen: Vec<PortSeen>,
    },

    #[error(
        "{} debug probes match {looked_for} for board `{board}`: {}\n  \
         hint: choose one with --probe VID:PID:SERIAL",
        matches.len(), list_or_none(matches)
    )]
    AmbiguousProbe {
        board: String,
        looked_for: String,
        matches: Vec<ProbeSeen>,
    },

    #[error("the debug probe {probe} cannot be opened by this user\n  hint: {UDEV_HINT}")]
    PermissionDenied { probe: ProbeSeen },

    #[error(
        "no serial port belongs to the debug probe {probe}: looked for USB {looked_for}\n  \
         ports seen: {}\n  hint: give the board's UART with --port PATH",
        list_or_none(ports_seen)
    )]
    NoPort {
        probe: ProbeSeen,
        looked_for: String,
        ports_seen: Vec<PortSeen>,
    },

    #[error(
        "several serial ports belong to USB {looked_for}: {}\n  hint: choose one with --port PATH",
        list_or_none(matches)
    )]
    AmbiguousPort {
        looked_for: String,
        matches: Vec<PortSeen>,
    },

    #[error("--port {}: no such serial port", path.display())]
    PortMissing { path: PathBuf },

    #[error("cannot open the debug probe {probe}\n  hint: {UDEV_HINT}")]
    Open {
        probe: ProbeSeen,
        #[source]
        source: Box<probe_rs::probe::DebugProbeError>,
    },

    #[error(
        "cannot attach to the chip {chip} through the debug probe {probe} (is the board powered \
         and the chip the board file names?)"
    )]
    Attach {
        chip: String,
        probe: ProbeSeen,
        #[source]
        source: Box<probe_rs::Error>,
    },

    #[error("flashing {} to the chip {chip} through {probe} failed", elf.display())]
    Flash {
        chip: String,
        probe: ProbeSeen,
        elf: PathBuf,
        #[source]
        source: Box<probe_rs::flashing::FileDownloadError>,
    },

    #[error("resetting the chip {chip} through {probe} after flashing failed")]
    Reset {
        chip: String,
        probe: ProbeSeen,
        #[source]
        source: Box<probe_rs::Error>,
    },
}

/// The debug probes on USB. Probes this user may not open are listed too, marked.
pub fn list_probes() -> Vec<(ProbeSeen, probe_rs::probe::DebugProbeInfo)> {
    use probe_rs::probe::list::{Accessibility, Lister};
    Lister::new()
        .list_all_with_access()
        .into_iter()
        .map(|item| {
            let i = &item.info;
            let seen = ProbeSeen {
                name: i.identifier.clone(),
                vid: i.vendor_id,
                pid: i.product_id,
                serial: i.serial_number.clone(),
                accessible: item.accessibility == Accessibility::Accessible,
            };
            (seen, item.info)
        })
        .collect()
}

/// The serial ports of this machine, with their USB identity where known.
pub fn list_ports() -> Vec<PortSeen> {
    #[cfg(target_os = "linux")]
    {
        scan_sysfs_tty(Path::new("/sys/class/tty"), Path::new("/dev"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut v: Vec<PortSeen> = serialport::available_ports()
            .unwrap_or_default()
            .into_iter()
            .map(|p| PortSeen {
                path: PathBuf::from(p.port_name),
                usb: match p.port_type {
                    serialport::SerialPortType::UsbPort(u) => Some(UsbId {
                        vid: u.vid,
                        pid: u.pid,
                        serial: u.serial_number,
                        interface: None,
                    }),
                    _ => None,
                },
            })
            .collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }
}

/// Serial ports from a sysfs `class/tty` directory (no libudev): each entry whose `device` link
/// exists, except placeholder UARTs of the `platform` bus (the unused `ttyS*`). The USB identity
/// (`idVendor`, `idProduct`, `serial`) comes from the first ancestor of the device that has it,
/// the interface number (`bInterfaceNumber`) from the directory below that. Only ports whose
/// node exists under `dev` are returned, sorted by path.
pub fn scan_sysfs_tty(class_tty: &Path, dev: &Path) -> Vec<PortSeen> {
    let Ok(entries) = std::fs::read_dir(class_tty) else {
        return Vec::new();
    };
    let read = |dir: &Path, file: &str| -> Option<String> {
        std::fs::read_to_string(dir.join(file))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let hex16 =
        |dir: &Path, file: &str| read(dir, file).and_then(|s| u16::from_str_radix(&s, 16).ok());
    let mut ports = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Ok(device) = e.path().join("device").canonicalize() else {
            continue;
        };
        let subsystem = device
            .join("subsystem")
            .canonicalize()
            .ok()
            .and_then(|s| s.file_name().map(|n| n.to_string_lossy().into_owned()));
        if subsystem.as_deref() == Some("platform") {
            continue;
        }
        let node = dev.join(&name);
        if !node.exists() {
            continue;
        }
        let mut usb = None;
        let mut below: Option<&Path> = None;
        for dir in device.ancestors().take(4) {
            if let (Some(vid), Some(pid)) = (hex16(dir, "idVendor"), hex16(dir, "idProduct")) {
                usb = Some(UsbId {
                    vid,
                    pid,
                    serial: read(dir, "serial"),
                    interface: below
                        .and_then(|b| read(b, "bInterfaceNumber"))
                        .and_then(|s| u8::from_str_radix(&s, 16).ok()),
                });
                break;
            }
            below = Some(dir);
        }
        ports.push(PortSeen { path: node, usb });
    }
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    ports
}

/// What `board` and `--probe` ask for, as text (`USB 0483:374b`, or `any debug probe ...`).
pub fn looked_for(board: &Board, sel: Option<&ProbeSelector>) -> String {
    match (sel, board.probe.as_ref().map(|p| (p.vid, p.pid))) {
        (Some(s), _) => format!("USB {s}"),
        (None, Some((Some(v), Some(p)))) => format!("USB {v:04x}:{p:04x}"),
        (None, Some((Some(v), None))) => format!("USB vendor {v:04x}"),
        _ => "any debug probe (the board file names no USB identity)".to_string(),
    }
}

/// Picks the probe for `board`: the one `sel` names, else the one with the board's USB identity,
/// else the only probe attached. `ports` only fill the error when none matches.
pub fn select_probe(
    board: &Board,
    sel: Option<&ProbeSelector>,
    probes: &[ProbeSeen],
    ports: impl FnOnce() -> Vec<PortSeen>,
) -> Result<usize, FlashError> {
    let bp = board.probe.as_ref().ok_or_else(|| FlashError::NotReal {
        board: board.name.clone(),
    })?;
    let matches: Vec<usize> = probes
        .iter()
        .enumerate()
        .filter(|(_, p)| match sel {
            Some(s) => {
                p.vid == s.vid
                    && p.pid == s.pid
                    && s.serial.as_ref().is_none_or(|want| {
                        p.serial
                            .as_ref()
                            .is_some_and(|have| have.eq_ignore_ascii_case(want))
                    })
            }
            None => bp.vid.is_none_or(|v| v == p.vid) && bp.pid.is_none_or(|d| d == p.pid),
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [] => Err(FlashError::NoProbe {
            board: board.name.clone(),
            chip: bp.chip.clone(),
            looked_for: looked_for(board, sel),
            probes_seen: probes.to_vec(),
            ports_seen: ports(),
        }),
        [i] if !probes[*i].accessible => Err(FlashError::PermissionDenied {
            probe: probes[*i].clone(),
        }),
        [i] => Ok(*i),
        many => Err(FlashError::AmbiguousProbe {
            board: board.name.clone(),
            looked_for: looked_for(board, sel),
            matches: many.iter().map(|&i| probes[i].clone()).collect(),
        }),
    }
}

/// The serial port of `probe`: the ports with its USB VID:PID, narrowed to its serial number
/// when that tells them apart; among the interfaces of one device the lowest-numbered (the
/// first virtual COM port).
pub fn find_port<'a>(probe: &ProbeSeen, ports: &'a [PortSeen]) -> Result<&'a PortSeen, FlashError> {
    let looked_for = format!("{:04x}:{:04x}", probe.vid, probe.pid);
    let same_id: Vec<&PortSeen> = ports
        .iter()
        .filter(|p| {
            p.usb
                .as_ref()
                .is_some_and(|u| u.vid == probe.vid && u.pid == probe.pid)
        })
        .collect();
    let serial = |p: &PortSeen| p.usb.as_ref().and_then(|u| u.serial.clone());
    let by_serial: Vec<&PortSeen> = match &probe.serial {
        Some(s) => same_id
            .iter()
            .copied()
            .filter(|p| serial(p).is_some_and(|x| x.eq_ignore_ascii_case(s)))
            .collect(),
        None => Vec::new(),
    };
    // A serial number that names no port (some probes report it encoded differently) does not
    // rule out the ports of the only device with this VID:PID.
    let mut cands = if by_serial.is_empty() {
        same_id
    } else {
        by_serial
    };
    if cands.is_empty() {
        return Err(FlashError::NoPort {
            probe: probe.clone(),
            looked_for,
            ports_seen: ports.to_vec(),
        });
    }
    let first_serial = serial(cands[0]);
    if cands.iter().any(|p| serial(p) != first_serial)
        || (first_serial.is_none() && cands.len() > 1)
    {
        return Err(FlashError::AmbiguousPort {
            looked_for,
            matches: cands.into_iter().cloned().collect(),
        });
    }
    cands.sort_by_key(|p| p.usb.as_ref().and_then(|u| u.interface).unwrap_or(u8::MAX));
    Ok(cands[0])
}

/// Checks the board's chip is one probe-rs knows (before anything is built).
pub fn check_chip(board: &Board) -> Result<(), FlashError> {
    let bp = board.probe.as_ref().ok_or_else(|| FlashError::NotReal {
        board: board.name.clone(),
    })?;
    let registry = probe_rs::config::Registry::from_builtin_families();
    if registry.get_target_by_name(&bp.chip).is_ok() {
        return Ok(());
    }
    // Suggestions: chips sharing the name's first 7 characters (`STM32L4`, `nRF5284`).
    let stem: String = bp.chip.chars().take(7).collect();
    let mut similar = registry.search_chips(&stem);
    similar.truncate(8);
    Err(FlashError::UnknownChip {
        board: board.name.clone(),
        chip: bp.chip.clone(),
        similar,
    })
}

/// The board's probe and serial port, resolved (nothing opened yet).
#[derive(Clone, Debug)]
pub struct Resolved {
    pub chip: String,
    pub probe: ProbeSeen,
    info: probe_rs::probe::DebugProbeInfo,
    pub port: PathBuf,
    /// The port was found from the probe's USB identity (not given with `--port`).
    pub port_auto: bool,
}

/// Finds the board's probe and serial port: chip known to probe-rs, exactly one matching probe,
/// and its port (or `--port`, which must exist).
pub fn resolve(board: &Board, c: &Connect) -> Result<Resolved, FlashError> {
    check_chip(board)?;
    let chip = board
        .probe
        .as_ref()
        .map(|p| p.chip.clone())
        .unwrap_or_default();
    let mut probes = list_probes();
    let seen: Vec<ProbeSeen> = probes.iter().map(|(s, _)| s.clone()).collect();
    let i = select_probe(board, c.probe.as_ref(), &seen, list_ports)?;
    let (probe, info) = probes.swap_remove(i);
    let (port, port_auto) = match &c.port {
        Some(p) if p.exists() => (p.clone(), false),
        Some(p) => return Err(FlashError::PortMissing { path: p.clone() }),
        None => (find_port(&probe, &list_ports())?.path.clone(), true),
    };
    Ok(Resolved {
        chip,
        probe,
        info,
        port,
        port_auto,
    })
}

/// What flashing did.
#[derive(Clone, Debug, Serialize)]
pub struct Flashed {
    pub chip: String,
    pub probe: ProbeSeen,
    pub elf: PathBuf,
    /// From opening the probe to the reset.
    pub seconds: f64,
}

/// A debug session on the board's chip: [`Attached::download`] the firmware, then
/// [`Attached::reset_and_run`] it (between the two the caller may open the serial port, so
/// nothing the firmware sends after its reset is lost).
pub struct Attached {
    session: probe_rs::Session,
    chip: String,
    probe: ProbeSeen,
    started: Instant,
}

/// Opens the probe and attaches to the board's chip.
pub fn attach(r: &Resolved) -> Result<Attached, FlashError> {
    let started = Instant::now();
    let probe = r.info.open().map_err(|source| FlashError::Open {
        probe: r.probe.clone(),
        source: Box::new(source),
    })?;
    let session = probe
        .attach(r.chip.as_str(), probe_rs::Permissions::default())
        .map_err(|source| FlashError::Attach {
            chip: r.chip.clone(),
            probe: r.probe.clone(),
            source: Box::new(source),
        })?;
    Ok(Attached {
        session,
        chip: r.chip.clone(),
        probe: r.probe.clone(),
        started,
    })
}

impl Attached {
    /// Writes `elf` to the chip's flash and verifies it.
    pub fn download(&mut self, elf: &Path) -> Result<(), FlashError> {
        use probe_rs::flashing::{
            download_file_with_options, DownloadOptions, ElfLoader, ElfOptions,
        };
        let mut opts = DownloadOptions::default();
        opts.verify = true;
        download_file_with_options(
            &mut self.session,
            elf,
            ElfLoader(ElfOptions::default()),
            opts,
        )
        .map_err(|source| FlashError::Flash {
            chip: self.chip.clone(),
            probe: self.probe.clone(),
            elf: elf.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// Resets the chip and lets it run; the debug session closes, the core keeps running.
    pub fn reset_and_run(mut self, elf: &Path) -> Result<Flashed, FlashError> {
        self.session
            .core(0)
            .and_then(|mut c| c.reset())
            .map_err(|source| FlashError::Reset {
                chip: self.chip.clone(),
                probe: self.probe.clone(),
                source: Box::new(source),
            })?;
        let flashed = Flashed {
            chip: self.chip.clone(),
            probe: self.probe.clone(),
            elf: elf.to_path_buf(),
            seconds: self.started.elapsed().as_secs_f64(),
        };
        drop(self.session);
        Ok(flashed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::Catalog;

    fn board(vid: Option<u16>, pid: Option<u16>) -> Board {
        let mut b = Catalog::builtin()
            .unwrap()
            .get("mps2-an386")
            .unwrap()
            .clone();
        b.name = "test-l4".into();
        b.qemu = None;
        b.probe = Some(crate::boards::Probe {
            chip: "STM32L4R5ZITx".into(),
            vid,
            pid,
        });
        b
    }

    fn probe(vid: u16, pid: u16, serial: Option<&str>) -> ProbeSeen {
        ProbeSeen {
            name: "STLink V3".into(),
            vid,
            pid,
            serial: serial.map(String::from),
            accessible: true,
        }
    }

    fn port(path: &str, usb: Option<(u16, u16, Option<&str>, Option<u8>)>) -> PortSeen {
        PortSeen {
            path: path.into(),
            usb: usb.map(|(vid, pid, s, i)| UsbId {
                vid,
                pid,
                serial: s.map(String::from),
                interface: i,
            }),
        }
    }

    #[test]
    fn selector_parses_and_prints() {
        let s: ProbeSelector = "0483:374b".parse().unwrap();
        assert_eq!((s.vid, s.pid, s.serial.as_deref()), (0x0483, 0x374b, None));
        let s: ProbeSelector = "0x1366:0x1015:000683".parse().unwrap();
        assert_eq!(
            (s.vid, s.pid, s.serial.as_deref()),
            (0x1366, 0x1015, Some("000683"))
        );
        assert_eq!(s.to_string(), "1366:1015:000683");
        // A serial number may itself hold colons.
        let s: ProbeSelector = "2e8a:000c:E6:61".parse().unwrap();
        assert_eq!(s.serial.as_deref(), Some("E6:61"));
    }

    #[test]
    fn bad_selectors_say_why() {
        for (given, why) in [
            ("", "missing vendor id"),
            ("0483", "missing product id"),
            ("0483:", "missing product id"),
            ("zz:374b", "vendor id (VID) `zz` is not a 16-bit hex number"),
            ("0483:12345", "`12345` is not a 16-bit hex number"),
            ("0483:0x", "`0x` is not a 16-bit hex number"),
            ("0483:374b:", "empty serial number"),
        ] {
            let e = given.parse::<ProbeSelector>().unwrap_err().to_string();
            assert!(e.contains(why), "{given}: {e}");
            assert!(e.contains("VID:PID[:SERIAL]"), "{e}");
        }
    }

    #[test]
    fn no_probe_error_lists_what_was_seen() {
        let b = board(Some(0x0483), Some(0x374b));
        let probes = [probe(0x1366, 0x1015, Some("000683"))];
        let e = select_probe(&b, None, &probes, || {
            vec![
                port(
                    "/dev/ttyACM0",
                    Some((0x1366, 0x1015, Some("000683"), Some(2))),
                ),
                port("/dev/ttyS4", None),
            ]
        })
        .unwrap_err();
        assert!(matches!(e, FlashError::NoProbe { .. }));
        let text = e.to_string();
        for want in [
            "board `test-l4`",
            "STM32L4R5ZITx",
            "looked for USB 0483:374b",
            "probes seen: STLink V3 (1366:1015:000683)",
            "ports seen: /dev/ttyACM0 (USB 1366:1015, serial 000683, interface 2), /dev/ttyS4",
            "--probe VID:PID[:SERIAL]",
            "--port PATH",
            "udev rules",
        ] {
            assert!(text.contains(want), "missing `{want}` in:\n{text}");
        }
        let none = select_probe(&b, None, &[], Vec::new)
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("probes seen: none") && none.contains("ports seen: none"),
            "{none}"
        );
    }

    #[test]
    fn probe_selection() {
        let b = board(Some(0x0483), Some(0x374b));
        let a = probe(0x0483, 0x374b, Some("AAA1"));
        let c = probe(0x0483, 0x374b, Some("CCC3"));
        let j = probe(0x1366, 0x1015, None);
        // The board's identity picks among unrelated probes.
        assert_eq!(
            select_probe(&b, None, &[j.clone(), a.clone()], Vec::new).unwrap(),
            1
        );
        // Two boards of one kind: ambiguous, listing both, until --probe names one.
        let e = select_probe(&b, None, &[a.clone(), c.clone()], Vec::new).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("2 debug probes") && text.contains("AAA1") && text.contains("CCC3"),
            "{text}"
        );
        assert!(text.contains("--probe VID:PID:SERIAL"), "{text}");
        let sel: ProbeSelector = "0483:374b:ccc3".parse().unwrap();
        assert_eq!(
            select_probe(&b, Some(&sel), &[a.clone(), c.clone()], Vec::new).unwrap(),
            1
        );
        // --probe overrides the board's identity.
        let sel: ProbeSelector = "1366:1015".parse().unwrap();
        assert_eq!(
            select_probe(&b, Some(&sel), &[a.clone(), j.clone()], Vec::new).unwrap(),
            1
        );
        let e = select_probe(
            &b,
            Some(&"1366:1016".parse().unwrap()),
            std::slice::from_ref(&j),
            Vec::new,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("looked for USB 1366:1016"), "{e}");
        // A board without a USB identity takes the only probe there is.
        let anyb = board(None, None);
        assert_eq!(
            select_probe(&anyb, None, std::slice::from_ref(&j), Vec::new).unwrap(),
            0
        );
        let e = select_probe(&anyb, None, &[], Vec::new)
            .unwrap_err()
            .to_string();
        assert!(e.contains("looked for any debug probe"), "{e}");
        // Found but not accessible: the udev hint.
        let mut locked = a.clone();
        locked.accessible = false;
        let e = select_probe(&b, None, &[locked], Vec::new)
            .unwrap_err()
            .to_string();
        assert!(e.contains("permission denied") && e.contains("udev"), "{e}");
        // An emulated board has no probe.
        let emu = Catalog::builtin()
            .unwrap()
            .get("mps2-an386")
            .unwrap()
            .clone();
        let e = select_probe(&emu, None, &[a], Vec::new)
            .unwrap_err()
            .to_string();
        assert!(e.contains("emulated"), "{e}");
    }

    #[test]
    fn port_matching() {
        let st = probe(0x0483, 0x374b, Some("066DFF"));
        let ports = vec![
            port(
                "/dev/ttyACM0",
                Some((0x1366, 0x1015, Some("000683"), Some(0))),
            ),
            port(
                "/dev/ttyACM1",
                Some((0x0483, 0x374b, Some("066DFF"), Some(2))),
            ),
            port("/dev/ttyS0", None),
        ];
        assert_eq!(
            find_port(&st, &ports).unwrap().path,
            Path::new("/dev/ttyACM1")
        );
        // Serial number encoded differently, one device with the VID:PID: still that one.
        let other = probe(0x0483, 0x374b, Some("3036364446"));
        assert_eq!(
            find_port(&other, &ports).unwrap().path,
            Path::new("/dev/ttyACM1")
        );
        // Two boards of one kind: the serial number decides.
        let mut two = ports.clone();
        two.push(port(
            "/dev/ttyACM2",
            Some((0x0483, 0x374b, Some("99AA00"), Some(2))),
        ));
        let b2 = probe(0x0483, 0x374b, Some("99aa00"));
        assert_eq!(
            find_port(&b2, &two).unwrap().path,
            Path::new("/dev/ttyACM2")
        );
        let e = find_port(&other, &two).unwrap_err().to_string();
        assert!(
            e.contains("several serial ports") && e.contains("--port"),
            "{e}"
        );
        // Several interfaces of one probe: the lowest-numbered.
        let jl = probe(0x1366, 0x1015, Some("000683"));
        let mut multi = ports.clone();
        multi.insert(
            0,
            port(
                "/dev/ttyACM9",
                Some((0x1366, 0x1015, Some("000683"), Some(4))),
            ),
        );
        assert_eq!(
            find_port(&jl, &multi).unwrap().path,
            Path::new("/dev/ttyACM0")
        );
        // None: the error lists the ports seen.
        let pico = probe(0x2e8a, 0x000c, Some("E661"));
        let e = find_port(&pico, &ports).unwrap_err().to_string();
        assert!(e.contains("looked for USB 2e8a:000c"), "{e}");
        assert!(
            e.contains("/dev/ttyACM1 (USB 0483:374b, serial 066DFF, interface 2)"),
            "{e}"
        );
        assert!(e.contains("--port PATH"), "{e}");
    }

    /// A fake sysfs: an ST-Link (ttyACM, the interface is the tty's device), an FTDI adapter
    /// (ttyUSB, one level deeper), a PCI UART, a placeholder platform UART, a virtual console
    /// and a tty whose /dev node is missing.
    #[test]
    fn sysfs_scan_reads_usb_identity() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let mk = |p: &str, files: &[(&str, &str)]| {
            let d = r.join(p);
            std::fs::create_dir_all(&d).unwrap();
            for (f, v) in files {
                std::fs::write(d.join(f), format!("{v}\n")).unwrap();
            }
            d
        };
        let st = "devices/pci0000:00/usb1/1-2";
        mk(
            st,
            &[
                ("idVendor", "0483"),
                ("idProduct", "374b"),
                ("serial", "066DFF"),
            ],
        );
        let st_if = mk(&format!("{st}/1-2:1.2"), &[("bInterfaceNumber", "02")]);
        let ft = "devices/pci0000:00/usb1/1-3";
        mk(ft, &[("idVendor", "0403"), ("idProduct", "6001")]);
        mk(&format!("{ft}/1-3:1.0"), &[("bInterfaceNumber", "00")]);
        let ft_tty = mk(&format!("{ft}/1-3:1.0/ttyUSB0"), &[]);
        let pci = mk("devices/pci0000:00/0000:00:16.3", &[]);
        let plat = mk("devices/platform/serial8250", &[]);
        mk("bus/platform", &[]);
        symlink(r.join("bus/platform"), plat.join("subsystem")).unwrap();
        let tty = mk("class/tty", &[]);
        for (name, dev) in [
            ("ttyACM0", Some(&st_if)),
            ("ttyUSB0", Some(&ft_tty)),
            ("ttyS4", Some(&pci)),
            ("ttyS0", Some(&plat)),
            ("ttyACM7", Some(&st_if)),
            ("tty1", None),
        ] {
            let d = mk(&format!("class/tty/{name}"), &[]);
            if let Some(dev) = dev {
                symlink(dev, d.join("device")).unwrap();
            }
        }
        let devdir = mk("dev", &[]);
        for n in ["ttyACM0", "ttyUSB0", "ttyS4", "ttyS0", "tty1"] {
            std::fs::write(devdir.join(n), "").unwrap();
        }
        let ports = scan_sysfs_tty(&tty, &devdir);
        let shown: Vec<String> = ports.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                format!(
                    "{}/ttyACM0 (USB 0483:374b, serial 066DFF, interface 2)",
                    devdir.display()
                ),
                format!("{}/ttyS4", devdir.display()),
                format!("{}/ttyUSB0 (USB 0403:6001, interface 0)", devdir.display()),
            ]
        );
        let st_probe = probe(0x0483, 0x374b, Some("066DFF"));
        assert_eq!(
            find_port(&st_probe, &ports).unwrap().path,
            devdir.join("ttyACM0")
        );
        assert!(scan_sysfs_tty(&r.join("nope"), &devdir).is_empty());
    }

    #[test]
    fn unknown_chip_is_named_with_suggestions() {
        let mut b = board(Some(0x0483), Some(0x374b));
        check_chip(&b).unwrap();
        b.probe.as_mut().unwrap().chip = "STM32L4R5ZIXX".into();
        let e = check_chip(&b).unwrap_err().to_string();
        assert!(
            e.contains("`STM32L4R5ZIXX`") && e.contains("probe.chip"),
            "{e}"
        );
        assert!(e.contains("similar chips: STM32L4"), "{e}");
    }
}

//! `kiln doctor`: what is installed and how to fix what is missing.

use std::process::Command;

use clap::Args;
use serde::Serialize;

use super::{print_json, CheckFailed, Format};
use crate::boards::{Catalog, DEFAULT_BOARD};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// QEMU binary to check.
    #[arg(long, env = "KILN_QEMU", default_value = "qemu-system-arm")]
    pub qemu: std::path::PathBuf,
}

#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    found: String,
    fix: Option<String>,
}

#[derive(Serialize)]
struct Report {
    default_board: &'static str,
    default_board_usable: bool,
    checks: Vec<Check>,
    serial_ports: Vec<String>,
    /// Serial ports with the USB identity of their device, where it has one.
    ports: Vec<crate::flash::PortSeen>,
    /// Debug probes on USB (real boards; informational, not part of the exit code).
    probes: Vec<crate::flash::ProbeSeen>,
}

pub fn run(a: DoctorArgs) -> anyhow::Result<()> {
    let catalog = Catalog::builtin()?;
    let default = catalog.get(DEFAULT_BOARD)?;
    let mut checks = Vec::new();

    let qemu = Command::new(&a.qemu).arg("--version").output();
    let (ok, found) = match qemu {
        Ok(o) if o.status.success() => (
            true,
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ),
        Ok(o) => (
            false,
            format!("{} exited with {}", a.qemu.display(), o.status),
        ),
        Err(e) => (false, format!("{}: {e}", a.qemu.display())),
    };
    checks.push(Check {
        name: "qemu".into(),
        ok,
        found,
        fix: (!ok).then(|| "apt-get install qemu-system-arm".into()),
    });

    let mut targets: Vec<&str> = catalog.boards.values().map(|b| b.target.as_str()).collect();
    targets.sort();
    targets.dedup();
    let mut default_tc_ok = false;
    for t in targets {
        let r = crate::toolchain::find(t);
        if t == default.target {
            default_tc_ok = r.is_ok();
        }
        checks.push(match r {
            Ok(tc) => Check {
                name: format!("toolchain {t}"),
                ok: true,
                found: format!("{} ({}, {:?})", tc.cargo.display(), tc.version, tc.kind),
                fix: None,
            },
            Err(e) => Check {
                name: format!("toolchain {t}"),
                ok: false,
                found: "none".into(),
                fix: Some(e.to_string()),
            },
        });
    }
    let ports = crate::flash::list_ports();
    let serial_ports: Vec<String> = ports.iter().map(|p| p.path.display().to_string()).collect();
    let probes: Vec<crate::flash::ProbeSeen> = crate::flash::list_probes()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let usable = checks[0].ok && default_tc_ok;
    let report = Report {
        default_board: DEFAULT_BOARD,
        default_board_usable: usable,
        checks,
        serial_ports,
        ports,
        probes,
    };
    if a.format == Format::Json {
        print_json(&report)?;
    } else {
        for c in &report.checks {
            println!(
                "{} {:<36} {}",
                if c.ok { "ok  " } else { "MISS" },
                c.name,
                c.found
            );
            if let Some(f) = &c.fix {
                for l in f.lines() {
                    println!("       fix: {l}");
                }
            }
        }
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        println!(
            "serial ports: {}",
            list(report.ports.iter().map(ToString::to_string).collect())
        );
        println!(
            "debug probes: {}{}",
            list(report.probes.iter().map(ToString::to_string).collect()),
            if report.probes.is_empty() {
                " (real boards need one; see `kiln flash --help`)"
            } else {
                ""
            }
        );
        println!(
            "default board {DEFAULT_BOARD}: {}",
            if usable { "usable" } else { "NOT usable" }
        );
    }
    if !usable {
        return Err(CheckFailed(format!(
            "the default board {DEFAULT_BOARD} cannot run (see the fixes above)"
        ))
        .into());
    }
    Ok(())
}

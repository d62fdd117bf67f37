//! `kiln boards`: the catalog.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{print_json, Format};
use crate::boards::{Board, Catalog, HOST};

#[derive(Args, Debug)]
pub struct BoardsArgs {
    /// Directory with extra board files.
    #[arg(long)]
    pub boards_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct Listing<'a> {
    boards: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    kind: &'static str,
    #[serde(flatten)]
    board: Option<&'a Board>,
}

pub fn catalog(dir: Option<&std::path::Path>) -> anyhow::Result<Catalog> {
    let c = Catalog::builtin()?;
    Ok(match dir {
        Some(d) => c.with_dir(d)?,
        None => c,
    })
}

pub fn run(a: BoardsArgs) -> anyhow::Result<()> {
    let c = catalog(a.boards_dir.as_deref())?;
    let mut boards: Vec<Entry> = c
        .boards
        .values()
        .map(|b| Entry {
            name: &b.name,
            kind: if b.is_emulated() {
                "emulated"
            } else {
                "hardware"
            },
            board: Some(b),
        })
        .collect();
    boards.push(Entry {
        name: HOST,
        kind: "host",
        board: None,
    });
    if a.format == Format::Json {
        return print_json(&Listing { boards });
    }
    println!(
        "{:<18} {:<9} {:<12} {:<26} {:>9} {:>9}",
        "BOARD", "KIND", "CORE", "TARGET", "FLASH", "RAM"
    );
    for e in &boards {
        match e.board {
            Some(b) => println!(
                "{:<18} {:<9} {:<12} {:<26} {:>8}K {:>8}K{}",
                b.name,
                e.kind,
                b.core,
                b.target,
                b.memory.flash_size / 1024,
                b.memory.ram_size / 1024,
                if b.name == crate::boards::DEFAULT_BOARD {
                    "  (default)"
                } else {
                    ""
                }
            ),
            None => println!(
                "{:<18} {:<9} in-process simulation through kiln-kernels (no build, no emulator)",
                e.name, e.kind
            ),
        }
    }
    Ok(())
}

//! Builds a generated firmware crate with the toolchain kiln found, and measures the ELF.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::boards::Board;
use crate::plan::PlanStats;
use crate::toolchain::Toolchain;

/// Flash kiln assumes for runtime and kernel code when checking fit before a build.
pub const CODE_ESTIMATE_BYTES: u64 = 32 * 1024;
/// RAM kiln assumes for the runtime's own statics (frame buffers) when checking fit.
pub const RUNTIME_RAM_BYTES: u64 = 4 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "the model does not fit board `{board}`: {what} needs {needed} bytes ({detail}), the board has {available}"
    )]
    DoesNotFit {
        board: String,
        what: &'static str,
        needed: u64,
        available: u64,
        detail: String,
    },
    #[error("cannot run {cargo}")]
    Spawn {
        cargo: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("firmware build failed in {dir} (status {status}):\n{log}")]
    Failed {
        dir: PathBuf,
        status: String,
        log: String,
    },
    #[error("cannot read the firmware ELF {path}: {message}")]
    Elf { path: PathBuf, message: String },
}

/// Refuses a plan that cannot fit the board, before any build.
pub fn check_fit(board: &Board, stats: &PlanStats) -> Result<(), BuildError> {
    let flash = stats.blob_bytes as u64 + CODE_ESTIMATE_BYTES;
    if flash > board.memory.flash_size {
        return Err(BuildError::DoesNotFit {
            board: board.name.clone(),
            what: "flash",
            needed: flash,
            available: board.memory.flash_size,
            detail: format!(
                "weights {} + code about {}",
                stats.blob_bytes, CODE_ESTIMATE_BYTES
            ),
        });
    }
    let ram = stats.arena_bytes as u64 + board.stack_reserve + RUNTIME_RAM_BYTES;
    if ram > board.memory.ram_size {
        return Err(BuildError::DoesNotFit {
            board: board.name.clone(),
            what: "RAM",
            needed: ram,
            available: board.memory.ram_size,
            detail: format!(
                "arena {} + stack reserve {} + runtime about {}",
                stats.arena_bytes, board.stack_reserve, RUNTIME_RAM_BYTES
            ),
        });
    }
    Ok(())
}

/// Flash and RAM use read from the firmware ELF.
///
/// Flash = weights (the `KILN_WEIGHTS` symbol) + code (everything else loaded into flash:
/// vector table, text, other read-only data, the load image of `.data`). RAM = arena (the
/// `KILN_ARENA` symbol) + stack reserve (the link's `_kiln_stack_reserve`) + other (`.data`,
/// `.bss` and `.uninit` besides the arena: the runtime's buffers and the kernels' statics).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Sizes {
    pub flash_bytes: u64,
    pub flash_weights_bytes: u64,
    pub flash_code_bytes: u64,
    pub ram_bytes: u64,
    pub ram_arena_bytes: u64,
    pub ram_stack_reserve_bytes: u64,
    pub ram_other_bytes: u64,
}

/// Symbols the generated firmware exports so kiln can attribute bytes (see [`Sizes`]).
pub const WEIGHTS_SYMBOL: &str = "KILN_WEIGHTS";
pub const ARENA_SYMBOL: &str = "KILN_ARENA";
pub const STACK_RESERVE_SYMBOL: &str = "_kiln_stack_reserve";

/// Reads [`Sizes`] from the ELF's section headers and symbol table.
pub fn sizes(elf: &Path) -> Result<Sizes, BuildError> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let err = |message: String| BuildError::Elf {
        path: elf.to_path_buf(),
        message,
    };
    let data = std::fs::read(elf).map_err(|e| err(e.to_string()))?;
    let file = object::File::parse(&*data).map_err(|e| err(e.to_string()))?;
    let mut flash = 0;
    let mut ram = 0;
    for s in file.sections() {
        let size = s.size();
        match s.name().unwrap_or("") {
            ".vector_table" | ".text" | ".rodata" | ".boot2" | ".start_block" | ".end_block"
            | ".bi_entries" => flash += size,
            ".data" => {
                flash += size;
                ram += size;
            }
            ".bss" | ".uninit" => ram += size,
            _ => {}
        }
    }
    let symbol = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .ok_or_else(|| err(format!("symbol `{name}` is missing (not a kiln firmware?)")))
    };
    let weights = symbol(WEIGHTS_SYMBOL)?.size();
    let arena = symbol(ARENA_SYMBOL)?.size();
    let stack_reserve = symbol(STACK_RESERVE_SYMBOL)?.address();
    Ok(Sizes {
        flash_bytes: flash,
        flash_weights_bytes: weights,
        flash_code_bytes: flash.saturating_sub(weights),
        ram_bytes: ram + stack_reserve,
        ram_arena_bytes: arena,
        ram_stack_reserve_bytes: stack_reserve,
        ram_other_bytes: ram.saturating_sub(arena),
    })
}

#[derive(Clone, Debug)]
pub struct Built {
    pub elf: PathBuf,
    pub seconds: f64,
}

/// `cargo build --release` in `crate_dir`; `target_dir` defaults to `crate_dir/target`.
/// The ELF is copied to `crate_dir/firmware.elf`.
pub fn cargo_build(
    crate_dir: &Path,
    bin: &str,
    board: &Board,
    tc: &Toolchain,
    target_dir: Option<&Path>,
) -> Result<Built, BuildError> {
    let start = Instant::now();
    let target_dir = target_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate_dir.join("target"));
    let mut cmd: Command = tc.cargo();
    cmd.current_dir(crate_dir)
        .args(["build", "--release", "--quiet"])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The generated crate's own .cargo/config.toml decides target and build-std.
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS");
    let out = cmd.output().map_err(|source| BuildError::Spawn {
        cargo: tc.cargo.clone(),
        source,
    })?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        return Err(BuildError::Failed {
            dir: crate_dir.to_path_buf(),
            status: out.status.to_string(),
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let built = target_dir.join(&board.target).join("release").join(bin);
    let elf = crate_dir.join("firmware.elf");
    std::fs::copy(&built, &elf).map_err(|e| BuildError::Elf {
        path: built.clone(),
        message: e.to_string(),
    })?;
    Ok(Built {
        elf,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::Catalog;

    #[test]
    fn too_big_is_refused_with_byte_counts() {
        let c = Catalog::builtin().unwrap();
        let b = c.get("mps3-an547").unwrap();
        let stats = PlanStats {
            arena_bytes: 600_000,
            activations_total_bytes: 600_000,
            largest_live_set_bytes: 600_000,
            blob_bytes: 1000,
        };
        let e = check_fit(b, &stats).unwrap_err().to_string();
        assert!(
            e.contains("mps3-an547")
                && e.contains("RAM")
                && e.contains("524288")
                && e.contains("arena 600000"),
            "{e}"
        );
        let stats = PlanStats {
            blob_bytes: 600_000,
            arena_bytes: 10,
            ..stats
        };
        let e = check_fit(b, &stats).unwrap_err().to_string();
        assert!(e.contains("flash needs 632768"), "{e}");
        check_fit(c.get("mps2-an386").unwrap(), &stats).unwrap();
    }
}

//! Helpers shared by the end-to-end tests: the repository root, the firmware target dir every
//! firmware build shares, `kiln` run from the root, and the self-test output parser. Each test
//! binary uses a subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the parent of `host/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The cargo target dir shared by every firmware build: `$KILN_TARGET_DIR` (set by the test
/// command), else `target/firmware`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("KILN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/firmware"))
}

/// `kiln`, run from the repository root with the shared firmware target dir; runs are stored
/// in `target/<db>`, a database of the tests' own, not the checkout's `./kiln.db`.
pub fn kiln(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(root());
    c.env("KILN_DB", root().join("target").join(db));
    c.env("KILN_TARGET_DIR", target_dir());
    c
}

/// The outputs a `--selftest` firmware printed, one `sample N: out0 = [..]` line per sample.
pub fn parse_selftest(text: &str) -> Vec<Vec<f32>> {
    text.lines()
        .filter_map(|l| l.split_once(": out0 = ["))
        .map(|(_, rest)| {
            rest.trim_end_matches(']')
                .split(", ")
                .map(|v| v.parse::<f32>().unwrap())
                .collect()
        })
        .collect()
}

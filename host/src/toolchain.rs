//! Finds a Rust toolchain that can build firmware for a board's target.
//!
//! Preference order: (1) the `cargo`/`rustc` on PATH (rustup) when its sysroot has the target's
//! prebuilt `core`; (2) Debian's `rustc-web` + `rust-web-src` (`/usr/bin/cargo`, library source under
//! `/usr/lib/rustlib/src/rust`), which builds `core` itself with `-Zbuild-std=core`.
//! `RUSTC_BOOTSTRAP=1` is set only on the child cargo process of case (2).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error(
        "no Rust toolchain can build for `{target}`: {details}\n\
         fix one of:\n  - rustup target add {target}\n  - apt-get install rustc-web cargo-web rust-web-src lld-22 (Debian 12; kiln then builds `core` itself)"
    )]
    NotFound { target: String, details: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A toolchain whose sysroot has the target installed.
    Installed,
    /// A nightly-capable toolchain with library source, using `-Zbuild-std=core`.
    BuildStd,
}

#[derive(Clone, Debug, Serialize)]
pub struct Toolchain {
    pub kind: Kind,
    pub cargo: PathBuf,
    pub rustc: PathBuf,
    /// `rustc --version` output.
    pub version: String,
    pub target: String,
}

impl Toolchain {
    pub fn build_std(&self) -> bool {
        self.kind == Kind::BuildStd
    }

    /// A `cargo` command set up for this toolchain (PATH, RUSTC, and RUSTC_BOOTSTRAP only when
    /// `build-std` needs it).
    pub fn cargo(&self) -> Command {
        let mut c = Command::new(&self.cargo);
        c.env("RUSTC", &self.rustc);
        if let Some(dir) = self.rustc.parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut parts = vec![dir.to_path_buf()];
            parts.extend(std::env::split_paths(&path));
            if let Ok(p) = std::env::join_paths(parts) {
                c.env("PATH", p);
            }
        }
        // A rustup proxy would otherwise pick its own toolchain for the child.
        c.env_remove("RUSTUP_TOOLCHAIN");
        if self.build_std() {
            c.env("RUSTC_BOOTSTRAP", "1");
        } else {
            c.env_remove("RUSTC_BOOTSTRAP");
        }
        c
    }
}

fn output(cmd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Checks one rustc/cargo pair for `target`; `Err` says why it cannot build it.
fn probe(cargo: &Path, rustc: &Path, target: &str) -> Result<Toolchain, String> {
    let version =
        output(rustc, &["--version"]).ok_or_else(|| format!("{} does not run", rustc.display()))?;
    if !cargo.is_file() {
        return Err(format!("{} not found", cargo.display()));
    }
    let sysroot = output(rustc, &["--print", "sysroot"])
        .ok_or_else(|| format!("{} --print sysroot failed", rustc.display()))?;
    let sysroot = PathBuf::from(sysroot);
    if sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
    {
        return Ok(Toolchain {
            kind: Kind::Installed,
            cargo: cargo.to_path_buf(),
            rustc: rustc.to_path_buf(),
            version,
            target: target.to_string(),
        });
    }
    if sysroot
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .is_file()
    {
        return Ok(Toolchain {
            kind: Kind::BuildStd,
            cargo: cargo.to_path_buf(),
            rustc: rustc.to_path_buf(),
            version,
            target: target.to_string(),
        });
    }
    Err(format!(
        "{} ({version}) has neither the `{target}` target nor library source",
        rustc.display()
    ))
}

/// Finds a toolchain for `target`, trying PATH first, then Debian's `/usr/bin` toolchain.
pub fn find(target: &str) -> Result<Toolchain, ToolchainError> {
    let mut candidates: Vec<(PathBuf, PathBuf)> = Vec::new();
    if let (Some(cargo), Some(rustc)) = (which("cargo"), which("rustc")) {
        candidates.push((cargo, rustc));
    }
    let debian = (
        PathBuf::from("/usr/bin/cargo"),
        PathBuf::from("/usr/bin/rustc"),
    );
    if !candidates.contains(&debian) {
        candidates.push(debian);
    }
    let mut why = Vec::new();
    // An installed target wins over build-std wherever it is found.
    let mut build_std = None;
    for (cargo, rustc) in &candidates {
        match probe(cargo, rustc, target) {
            Ok(t) if t.kind == Kind::Installed => return Ok(t),
            Ok(t) => {
                build_std.get_or_insert(t);
            }
            Err(e) => why.push(e),
        }
    }
    build_std.ok_or_else(|| ToolchainError::NotFound {
        target: target.to_string(),
        details: why.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_toolchain_for_thumbv7em_or_names_both_remedies() {
        match find("thumbv7em-none-eabihf") {
            Ok(t) => assert!(t.version.starts_with("rustc")),
            Err(e) => {
                let s = e.to_string();
                assert!(
                    s.contains("rustup target add thumbv7em-none-eabihf")
                        && s.contains("rust-web-src"),
                    "{s}"
                );
            }
        }
    }

    #[test]
    fn missing_rustc_is_refused_with_the_reason() {
        let e = probe(
            Path::new("/nonexistent/cargo"),
            Path::new("/nonexistent/rustc"),
            "thumbv7em-none-eabihf",
        )
        .unwrap_err();
        assert!(e.contains("/nonexistent/rustc does not run"), "{e}");
        let e = ToolchainError::NotFound {
            target: "thumbv6m-none-eabi".into(),
            details: e,
        }
        .to_string();
        assert!(
            e.contains("rustup target add thumbv6m-none-eabi") && e.contains("rust-web-src"),
            "{e}"
        );
    }
}

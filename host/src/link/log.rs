//! The device's defmt logs: decoding the bodies of log-channel frames with the defmt table of
//! the firmware ELF that runs.
//!
//! The wire contract is kiln-proto's (`Logs` in its crate docs): every frame on
//! [`CHANNEL_LOG`](kiln_proto::CHANNEL_LOG) carries exactly one defmt frame in defmt's `raw`
//! encoding. [`Device::set_log_sink`](super::Device::set_log_sink) hands those bodies over as
//! they arrive; [`LogDecoder::decode`] turns one into a [`LogLine`].
//!
//! Which levels a firmware emits is fixed when it is built: defmt's `DEFMT_LOG`, which kiln
//! sets from a [`Level`] (the generated crate's `.cargo/config.toml`, `[env]`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use defmt_decoder::{Encoding, Table};
use serde::Serialize;

use super::LogSink;

/// The `DEFMT_LOG` filter kiln builds a logging firmware with unless the environment sets one:
/// the session start and anything refused or damaged, not every request (`debug`).
pub const DEFAULT_FILTER: &str = "info";

/// A [`LogSink`] that decodes each log frame with `decoder` and hands the line (or why the
/// frame did not decode) to `each`.
pub fn sink(
    decoder: LogDecoder,
    mut each: impl FnMut(Result<LogLine, DecodeError>) + Send + 'static,
) -> LogSink {
    Box::new(move |body: &[u8]| each(decoder.decode(body)))
}

/// A defmt log level, lowest first. As a build filter (`DEFMT_LOG`) it keeps its own level and
/// every level above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// The level's name as defmt spells it (`DEFMT_LOG=info`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a log level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a log level: use trace, debug, info, warn or error")]
pub struct ParseLevelError(pub String);

impl FromStr for Level {
    type Err = ParseLevelError;

    fn from_str(s: &str) -> Result<Level, ParseLevelError> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseLevelError(s.to_string()))
    }
}

/// Why a firmware's defmt table cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("cannot read the firmware ELF {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} has no defmt table (no `.defmt` section): the firmware was built without logging \
         (kiln-rt's `defmt` feature)",
        path.display()
    )]
    NoTable { path: PathBuf },
    #[error("cannot read the defmt table of {}: {message}", path.display())]
    Table { path: PathBuf, message: String },
    #[error(
        "{} logs with defmt's `{encoding}` encoding; kiln's log channel carries `raw` frames \
         (kiln-rt enables defmt's `encoding-raw`)",
        path.display()
    )]
    Encoding { path: PathBuf, encoding: String },
}

/// A log-channel body that is not a defmt frame of the table's firmware (a firmware other
/// than the ELF's, or a device bug: the frame's CRC was intact).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("log frame of {len} bytes does not decode with the firmware's defmt table")]
    Malformed { len: usize },
    #[error("log frame of {len} bytes has {extra} bytes after its defmt frame")]
    Trailing { len: usize, extra: usize },
}

/// One decoded log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// `None` for defmt's `println!`, which has no level.
    pub level: Option<Level>,
    /// The firmware's defmt timestamp, formatted; `None` when it defines none.
    pub timestamp: Option<String>,
    pub message: String,
}

impl fmt::Display for LogLine {
    /// `[device INFO ] message`, with the timestamp (if any) before the level.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = self.level.map_or("PRINT", |l| match l {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO ",
            Level::Warn => "WARN ",
            Level::Error => "ERROR",
        });
        match &self.timestamp {
            Some(t) => write!(f, "[device {t} {level}] {}", self.message),
            None => write!(f, "[device {level}] {}", self.message),
        }
    }
}

/// Decodes log-channel bodies with the defmt table of one firmware ELF.
pub struct LogDecoder {
    table: Table,
}

impl fmt::Debug for LogDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogDecoder").finish_non_exhaustive()
    }
}

impl LogDecoder {
    /// Reads the defmt table of the ELF at `path`: it must be the firmware that runs, or lines
    /// decode wrongly or not at all.
    pub fn from_elf(path: &Path) -> Result<LogDecoder, LogError> {
        let elf = std::fs::read(path).map_err(|source| LogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        LogDecoder::from_elf_bytes(&elf, path)
    }

    /// As [`from_elf`](Self::from_elf), from the ELF's bytes (`path` names it in errors).
    pub fn from_elf_bytes(elf: &[u8], path: &Path) -> Result<LogDecoder, LogError> {
        let table = Table::parse(elf)
            .map_err(|e| LogError::Table {
                path: path.to_path_buf(),
                message: format!("{e:#}"),
            })?
            .ok_or_else(|| LogError::NoTable {
                path: path.to_path_buf(),
            })?;
        if table.encoding() != Encoding::Raw {
            return Err(LogError::Encoding {
                path: path.to_path_buf(),
                encoding: format!("{:?}", table.encoding()).to_lowercase(),
            });
        }
        Ok(LogDecoder { table })
    }

    /// Decodes the body of one log-channel frame: exactly one raw defmt frame.
    pub fn decode(&self, body: &[u8]) -> Result<LogLine, DecodeError> {
        let len = body.len();
        let (frame, used) = self
            .table
            .decode(body)
            .map_err(|_| DecodeError::Malformed { len })?;
        if used != len {
            return Err(DecodeError::Trailing {
                len,
                extra: len - used,
            });
        }
        let level = match frame.level() {
            Some(l) => Some(
                l.as_str()
                    .parse()
                    .map_err(|_| DecodeError::Malformed { len })?,
            ),
            None => None,
        };
        Ok(LogLine {
            level,
            timestamp: frame.display_timestamp().map(|t| t.to_string()),
            message: frame.display_message().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order_like_defmt_log() {
        assert_eq!("info".parse(), Ok(Level::Info));
        assert_eq!("WARN".parse(), Ok(Level::Warn));
        let e = "verbose".parse::<Level>().unwrap_err().to_string();
        assert!(e.contains("verbose") && e.contains("trace, debug"), "{e}");
        assert!(Level::Debug < Level::Info && Level::Info < Level::Error);
        for l in Level::ALL {
            assert_eq!(l.as_str().parse(), Ok(l));
        }
    }

    #[test]
    fn lines_render_with_the_device_prefix() {
        let line = LogLine {
            level: Some(Level::Info),
            timestamp: None,
            message: "hello".into(),
        };
        assert_eq!(line.to_string(), "[device INFO ] hello");
        let line = LogLine {
            level: None,
            timestamp: Some("1.5".into()),
            ..line
        };
        assert_eq!(line.to_string(), "[device 1.5 PRINT] hello");
    }

    #[test]
    fn an_elf_without_defmt_is_refused_by_name() {
        // This test binary is an ELF without a `.defmt` section.
        let exe = std::env::current_exe().unwrap();
        let e = LogDecoder::from_elf(&exe).unwrap_err();
        assert!(matches!(e, LogError::NoTable { .. }), "{e}");
        assert!(e.to_string().contains(&exe.display().to_string()), "{e}");
        let missing = Path::new("/nonexistent/firmware.elf");
        let e = LogDecoder::from_elf(missing).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/firmware.elf"), "{e}");
        let e = LogDecoder::from_elf_bytes(b"not an elf", Path::new("x.elf")).unwrap_err();
        assert!(matches!(e, LogError::Table { .. }), "{e}");
    }
}

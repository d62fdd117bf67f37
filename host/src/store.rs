//! Stored runs: validate reports in a SQLite file (`./kiln.db`, `$KILN_DB` or `--db`).
//!
//! One row per `kiln validate` run in table `runs`: the figures `kiln history` lists and gates use,
//! plus the full report JSON. The schema version is SQLite's `PRAGMA user_version`
//! ([`SCHEMA_VERSION`]); opening an older file migrates it, a newer one is refused.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::gate::{AccuracyFigures, GateError, InstructionFigures, RunSummary};

/// Version of the database schema (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Migrations: entry `i` takes a database from user_version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at        TEXT    NOT NULL,  -- UTC, ISO 8601 (2025-01-31T12:34:56.789Z)
    model             TEXT    NOT NULL,  -- model path as given
    model_name        TEXT    NOT NULL,  -- file stem, or folder of models/<name>/model.onnx
    model_hash        TEXT,              -- firmware model hash, else SHA-256 of the model file
    board             TEXT    NOT NULL,
    precision         TEXT    NOT NULL,
    samples           INTEGER NOT NULL,
    data              TEXT,
    accuracy_device   REAL,
    accuracy_host     REAL,
    accuracy_float    REAL,
    instructions_mean REAL,
    instructions_min  INTEGER,
    instructions_max  INTEGER,
    flash_bytes       INTEGER,
    ram_bytes         INTEGER,
    passed            INTEGER NOT NULL,  -- 0 or 1
    git_commit        TEXT,
    kiln_version      TEXT    NOT NULL,
    report_json       TEXT    NOT NULL   -- the full kiln.validate/1 report
);
CREATE INDEX runs_model_board ON runs (model_name, board);
"#];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a SQLite database (kiln stores runs there; pass another --db or move the file)")]
    NotADatabase { path: PathBuf },
    #[error(
        "no run database at {path}: `kiln validate` creates it (choose another with --db or $KILN_DB)"
    )]
    Missing { path: PathBuf },
    #[error(
        "{path} has schema version {found}, newer than this kiln knows ({SCHEMA_VERSION}); \
         upgrade kiln or use another --db"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("no run {id} in {path}; {}", newest_list(.newest))]
    UnknownRun {
        path: PathBuf,
        id: i64,
        newest: Vec<i64>,
    },
    #[error("cannot store the report in {path}: {source}")]
    Unstorable {
        path: PathBuf,
        #[source]
        source: GateError,
    },
    #[error("run {id} in {path}: {source}")]
    BadReport {
        path: PathBuf,
        id: i64,
        #[source]
        source: GateError,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

fn newest_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        "it holds no runs".into()
    } else {
        let s: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!("newest runs: {}", s.join(", "))
    }
}

/// What a run adds to its report when stored.
#[derive(Clone, Debug, Default)]
pub struct RunMeta {
    /// Firmware model hash, else a hash of the model file.
    pub model_hash: Option<String>,
    pub git_commit: Option<String>,
}

/// One stored run, as `kiln history` lists it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StoredRun {
    pub id: i64,
    pub created_at: String,
    pub model: String,
    pub model_name: String,
    pub model_hash: Option<String>,
    pub board: String,
    pub precision: String,
    pub samples: u64,
    pub data: Option<String>,
    pub accuracy: Option<AccuracyFigures>,
    pub instructions_per_inference: Option<InstructionFigures>,
    pub flash_bytes: Option<u64>,
    pub ram_bytes: Option<u64>,
    pub passed: bool,
    pub git_commit: Option<String>,
    pub kiln_version: String,
}

/// Filters of `kiln history`.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Model name or model path as given.
    pub model: Option<String>,
    pub board: Option<String>,
    pub limit: Option<usize>,
}

/// An open run database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens `path` for writing, creating and migrating it as needed.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        let mut s = Store {
            conn,
            path: path.to_path_buf(),
        };
        s.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| s.err(e))?;
        s.migrate()?;
        Ok(s)
    }

    /// Opens an existing `path` read-only (history, compare); never creates the file.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(path, e))?;
        let s = Store {
            conn,
            path: path.to_path_buf(),
        };
        let v = s.user_version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: s.path.clone(),
                found: v,
            });
        }
        if v < SCHEMA_VERSION && v != 0 {
            // An older schema: migrate through a writable connection, then reopen.
            drop(s);
            drop(Store::open(path)?);
            return Store::open_read_only(path);
        }
        Ok(s)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path, e)
    }

    fn user_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Applies the missing migrations, one immediate transaction each, re-reading the version
    /// inside it: two kiln processes opening a fresh file at once migrate it once.
    fn migrate(&mut self) -> Result<(), StoreError> {
        loop {
            let path = self.path.clone();
            let e = |e| classify(&path, e);
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(e)?;
            let v: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(e)?;
            if v > SCHEMA_VERSION {
                return Err(StoreError::TooNew { path, found: v });
            }
            let Some(sql) = MIGRATIONS.get(v as usize) else {
                return Ok(());
            };
            tx.execute_batch(sql)
                .and_then(|_| tx.pragma_update(None, "user_version", v + 1))
                .and_then(|_| tx.commit())
                .map_err(e)?;
        }
    }

    /// Stores a validate report (its JSON text); returns the new run id.
    pub fn insert(&mut self, report_json: &str, meta: &RunMeta) -> Result<i64, StoreError> {
        let r = RunSummary::from_json(report_json, "the report").map_err(|source| {
            StoreError::Unstorable {
                path: self.path.clone(),
                source,
            }
        })?;
        let data = serde_json::from_str::<serde_json::Value>(report_json)
            .ok()
            .and_then(|v| v.get("data").and_then(|d| d.as_str()).map(String::from));
        let model_hash = r
            .firmware
            .as_ref()
            .map(|f| f.hash.clone())
            .or_else(|| meta.model_hash.clone());
        let acc = r.accuracy.as_ref();
        let ins = r.instructions_per_inference.as_ref();
        let sizes = r.firmware.as_ref().map(|f| &f.sizes);
        self.conn
            .execute(
                "INSERT INTO runs (created_at, model, model_name, model_hash, board, precision,
                    samples, data, accuracy_device, accuracy_host, accuracy_float,
                    instructions_mean, instructions_min, instructions_max, flash_bytes, ram_bytes,
                    passed, git_commit, kiln_version, report_json)
                 VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                    ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    r.model,
                    r.model_name(),
                    model_hash,
                    r.board,
                    r.precision,
                    r.samples as i64,
                    data,
                    acc.map(|a| a.device),
                    acc.map(|a| a.host),
                    acc.map(|a| a.float),
                    ins.map(|s| s.mean),
                    ins.map(|s| s.min as i64),
                    ins.map(|s| s.max as i64),
                    sizes.map(|s| s.flash_bytes as i64),
                    sizes.map(|s| s.ram_bytes as i64),
                    r.passed,
                    meta.git_commit,
                    env!("CARGO_PKG_VERSION"),
                    report_json,
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Replaces the stored report JSON of run `id` (e.g. once the report carries its own id).
    pub fn set_report_json(&mut self, id: i64, report_json: &str) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET report_json = ?1 WHERE id = ?2",
                params![report_json, id],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(self.unknown(id));
        }
        Ok(())
    }

    fn has_schema(&self) -> Result<bool, StoreError> {
        Ok(self.user_version()? >= 1)
    }

    /// Runs matching `q`, newest first.
    pub fn history(&self, q: &Query) -> Result<Vec<StoredRun>, StoreError> {
        if !self.has_schema()? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, created_at, model, model_name, model_hash, board, precision, samples,
                    data, accuracy_device, accuracy_host, accuracy_float, instructions_mean,
                    instructions_min, instructions_max, flash_bytes, ram_bytes, passed,
                    git_commit, kiln_version
                 FROM runs
                 WHERE (?1 IS NULL OR model_name = ?1 OR model = ?1)
                   AND (?2 IS NULL OR board = ?2)
                 ORDER BY id DESC
                 LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let limit = q.limit.map(|n| n as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(params![q.model, q.board, limit], |row| {
                let acc: (Option<f64>, Option<f64>, Option<f64>) =
                    (row.get(9)?, row.get(10)?, row.get(11)?);
                let ins: (Option<f64>, Option<i64>, Option<i64>) =
                    (row.get(12)?, row.get(13)?, row.get(14)?);
                Ok(StoredRun {
                    id: row.get(0)?,
                    created_at: row.get(1)?,
                    model: row.get(2)?,
                    model_name: row.get(3)?,
                    model_hash: row.get(4)?,
                    board: row.get(5)?,
                    precision: row.get(6)?,
                    samples: row.get::<_, i64>(7)? as u64,
                    data: row.get(8)?,
                    accuracy: match acc {
                        (Some(device), Some(host), Some(float)) => Some(AccuracyFigures {
                            device,
                            host,
                            float,
                        }),
                        _ => None,
                    },
                    instructions_per_inference: match ins {
                        (Some(mean), Some(min), Some(max)) => Some(InstructionFigures {
                            mean,
                            min: min as u64,
                            max: max as u64,
                        }),
                        _ => None,
                    },
                    flash_bytes: row.get::<_, Option<i64>>(15)?.map(|v| v as u64),
                    ram_bytes: row.get::<_, Option<i64>>(16)?.map(|v| v as u64),
                    passed: row.get(17)?,
                    git_commit: row.get(18)?,
                    kiln_version: row.get(19)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The stored report JSON of run `id`.
    pub fn report_json(&self, id: i64) -> Result<String, StoreError> {
        let found = if self.has_schema()? {
            self.conn
                .query_row(
                    "SELECT report_json FROM runs WHERE id = ?1",
                    params![id],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(|e| self.err(e))?
        } else {
            None
        };
        found.ok_or_else(|| self.unknown(id))
    }

    /// The report of run `id`, parsed.
    pub fn summary(&self, id: i64) -> Result<RunSummary, StoreError> {
        let text = self.report_json(id)?;
        RunSummary::from_json(&text, &format!("run {id}")).map_err(|source| StoreError::BadReport {
            path: self.path.clone(),
            id,
            source,
        })
    }

    fn unknown(&self, id: i64) -> StoreError {
        let newest = self
            .history(&Query {
                limit: Some(5),
                ..Query::default()
            })
            .map(|v| v.into_iter().map(|r| r.id).collect())
            .unwrap_or_default();
        StoreError::UnknownRun {
            path: self.path.clone(),
            id,
            newest,
        }
    }
}

fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::NotADatabase {
            return StoreError::NotADatabase {
                path: path.to_path_buf(),
            };
        }
    }
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    }
}

/// `git rev-parse HEAD` in the current directory, if it answers.
pub fn git_commit() -> Option<String> {
    let o = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(o.stdout).ok()?.trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(model: &str, board: &str, acc: f64, instr: Option<f64>) -> String {
        let firmware = if board == "host" {
            serde_json::Value::Null
        } else {
            serde_json::json!({"hash": "ab".repeat(16), "sizes": {"flash_bytes": 12000, "ram_bytes": 5000}})
        };
        serde_json::json!({
            "schema": "kiln.validate/1",
            "model": model,
            "board": board,
            "precision": "f32",
            "samples": 10,
            "data": "test.npz",
            "accuracy": {"device": acc, "host": acc, "float": acc},
            "outputs": [],
            "instructions_per_inference": instr.map(|m| serde_json::json!({"mean": m, "min": 1, "max": 2})),
            "repeat_identical": true,
            "stack": null,
            "firmware": firmware,
            "notices": [],
            "checks": [],
            "passed": true
        })
        .to_string()
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.db");
        let text = report(
            "models/digits-mlp/model.onnx",
            "mps2-an386",
            0.9,
            Some(1234.5),
        );
        let id = {
            let mut s = Store::open(&path).unwrap();
            s.insert(
                &text,
                &RunMeta {
                    model_hash: Some("ignored-when-firmware".into()),
                    git_commit: Some("deadbeef".into()),
                },
            )
            .unwrap()
        };
        assert_eq!(id, 1);
        // Reopen: the data is in the file.
        let s = Store::open_read_only(&path).unwrap();
        assert_eq!(s.report_json(id).unwrap(), text);
        let runs = s.history(&Query::default()).unwrap();
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.model_name, "digits-mlp");
        assert_eq!(
            r.model_hash.as_deref(),
            Some("abababababababababababababababab")
        );
        assert_eq!(r.git_commit.as_deref(), Some("deadbeef"));
        assert_eq!(r.accuracy.as_ref().unwrap().device, 0.9);
        assert_eq!(r.instructions_per_inference.as_ref().unwrap().mean, 1234.5);
        assert_eq!((r.flash_bytes, r.ram_bytes), (Some(12000), Some(5000)));
        assert_eq!(r.data.as_deref(), Some("test.npz"));
        assert!(r.passed);
        assert!(
            r.created_at.ends_with('Z') && r.created_at.len() == 24,
            "{}",
            r.created_at
        );
        let version: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(s.summary(id).unwrap().board, "mps2-an386");
    }

    #[test]
    fn host_runs_keep_the_model_file_hash_and_no_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        let meta = RunMeta {
            model_hash: Some("cafe".into()),
            git_commit: None,
        };
        s.insert(&report("m.onnx", "host", 0.5, None), &meta)
            .unwrap();
        let r = &s.history(&Query::default()).unwrap()[0];
        assert_eq!(r.model_hash.as_deref(), Some("cafe"));
        assert_eq!(
            (r.flash_bytes, r.instructions_per_inference.clone()),
            (None, None)
        );
    }

    #[test]
    fn history_filters_and_orders_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        let meta = RunMeta::default();
        for (m, b) in [
            ("models/digits-mlp/model.onnx", "host"),
            ("models/digits-cnn/model.onnx", "host"),
            ("models/digits-mlp/model.onnx", "mps2-an386"),
            ("models/digits-mlp/model.onnx", "host"),
        ] {
            s.insert(&report(m, b, 0.9, None), &meta).unwrap();
        }
        let ids =
            |q: Query| -> Vec<i64> { s.history(&q).unwrap().into_iter().map(|r| r.id).collect() };
        assert_eq!(ids(Query::default()), [4, 3, 2, 1]);
        let mlp = || Some("digits-mlp".to_string());
        assert_eq!(
            ids(Query {
                model: mlp(),
                ..Query::default()
            }),
            [4, 3, 1]
        );
        assert_eq!(
            ids(Query {
                model: Some("models/digits-cnn/model.onnx".into()),
                ..Query::default()
            }),
            [2]
        );
        assert_eq!(
            ids(Query {
                model: mlp(),
                board: Some("host".into()),
                limit: None
            }),
            [4, 1]
        );
        assert_eq!(
            ids(Query {
                limit: Some(2),
                ..Query::default()
            }),
            [4, 3]
        );
        assert!(ids(Query {
            board: Some("nope".into()),
            ..Query::default()
        })
        .is_empty());
    }

    #[test]
    fn unknown_run_lists_the_newest_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        for _ in 0..7 {
            s.insert(&report("m.onnx", "host", 0.9, None), &RunMeta::default())
                .unwrap();
        }
        let e = s.report_json(42).unwrap_err().to_string();
        assert!(
            e.contains("no run 42") && e.contains("newest runs: 7, 6, 5, 4, 3"),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        std::fs::write(&path, "these are my notes, not a database\n".repeat(100)).unwrap();
        for e in [
            Store::open(&path).err().unwrap(),
            Store::open_read_only(&path).err().unwrap(),
        ] {
            assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
            assert!(e.to_string().contains("notes.db"), "{e}");
        }
    }

    #[test]
    fn missing_and_newer_databases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.db");
        let e = Store::open_read_only(&path).err().unwrap();
        assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
        assert!(!path.exists(), "read-only open must not create the file");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = Store::open(&path).err().unwrap();
        assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e:?}");
    }

    #[test]
    fn an_empty_file_is_migrated_on_write_and_empty_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.db");
        std::fs::write(&path, b"").unwrap();
        let r = Store::open_read_only(&path).unwrap();
        assert!(r.history(&Query::default()).unwrap().is_empty());
        drop(r);
        let mut w = Store::open(&path).unwrap();
        assert_eq!(
            w.insert(&report("m.onnx", "host", 0.9, None), &RunMeta::default())
                .unwrap(),
            1
        );
    }

    #[test]
    fn one_migration_per_schema_version() {
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    }

    #[test]
    fn processes_opening_a_fresh_file_at_once_all_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let n = 6;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let path = path.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut s = Store::open(&path).unwrap();
                    s.insert(&report("m.onnx", "host", 0.9, None), &RunMeta::default())
                        .unwrap()
                })
            })
            .collect();
        let mut ids: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        ids.sort();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_report_of_another_schema_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        let e = s
            .insert(r#"{"schema": "kiln.bench/1"}"#, &RunMeta::default())
            .unwrap_err();
        assert!(e.to_string().contains("kiln.bench/1"), "{e}");
        assert!(s.history(&Query::default()).unwrap().is_empty());
    }
}

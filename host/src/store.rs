//! Stored runs: validate and bench reports in a SQLite file (`./kiln.db`, `$KILN_DB` or `--db`).
//!
//! One row per `kiln validate` or `kiln bench` run in table `runs`: the figures `kiln history`
//! lists and gates use, plus the full report JSON. The schema version is SQLite's
//! `PRAGMA user_version` ([`SCHEMA_VERSION`]); opening an older file for writing migrates it,
//! opening it read-only reads it as it is (the columns it lacks read as NULL, its runs as
//! validate runs); a newer one is refused.
//!
//! Every write is one transaction: a migration step, and the insert of a run together with the
//! rewrite of its report JSON naming its own id ([`Store::insert_with`]).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use crate::gate::{
    AccuracyFigures, FirmwareFigures, GateError, InstructionFigures, RunSummary, REPORT_SCHEMA,
};

/// Version of the database schema (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// Version of the bench report format (`"schema"` field of `kiln bench --format json`).
pub const BENCH_SCHEMA: &str = "kiln.bench/1";

/// Migrations: entry `i` takes a database from user_version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // 2: bench runs, model provenance and quantization recipe. Existing rows are validate runs;
    // their new columns are filled from their report JSON where it has the fields.
    r#"
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'validate';  -- 'validate' | 'bench'
ALTER TABLE runs ADD COLUMN model_sha256 TEXT;   -- provenance.model_sha256
ALTER TABLE runs ADD COLUMN producer TEXT;       -- provenance.producer
ALTER TABLE runs ADD COLUMN opset INTEGER;       -- provenance.opset
ALTER TABLE runs ADD COLUMN quant_source TEXT;   -- quantization.source: 'ptq' | 'model'
ALTER TABLE runs ADD COLUMN quant_recipe TEXT;   -- quantization.recipe
ALTER TABLE runs ADD COLUMN calib_hash TEXT;     -- quantization.calib_hash
UPDATE runs SET
    model_sha256 = json_extract(report_json, '$.provenance.model_sha256'),
    producer     = json_extract(report_json, '$.provenance.producer'),
    opset        = json_extract(report_json, '$.provenance.opset'),
    quant_source = json_extract(report_json, '$.quantization.source'),
    quant_recipe = json_extract(report_json, '$.quantization.recipe'),
    calib_hash   = json_extract(report_json, '$.quantization.calib_hash')
WHERE json_valid(report_json);
"#,
];

/// The columns schema 2 added, as a version-1 table reads them (see [`Store::runs_source`]).
const V1_AS_V2: &str = "(SELECT *, 'validate' AS kind, NULL AS model_sha256, NULL AS producer,
    NULL AS opset, NULL AS quant_source, NULL AS quant_recipe, NULL AS calib_hash FROM runs)";

/// What stored a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `kiln validate` (report schema `kiln.validate/1`).
    Validate,
    /// `kiln bench` (report schema `kiln.bench/1`): no accuracy, no checks.
    Bench,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Validate => "validate",
            Kind::Bench => "bench",
        }
    }

    /// The kind stored in column `kind`.
    fn of_name(name: &str) -> Option<Kind> {
        match name {
            "validate" => Some(Kind::Validate),
            "bench" => Some(Kind::Bench),
            _ => None,
        }
    }

    /// The kind of a report of this `"schema"`.
    pub fn of_schema(schema: &str) -> Option<Kind> {
        match schema {
            REPORT_SCHEMA => Some(Kind::Validate),
            BENCH_SCHEMA => Some(Kind::Bench),
            _ => None,
        }
    }
}

/// A report kiln cannot read as a validate or bench report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Validate(#[from] GateError),
    #[error(
        "{source_name} is not a kiln validate or bench report: expected schema `{}` or `{}`, \
         found {}",
        REPORT_SCHEMA,
        BENCH_SCHEMA,
        found.as_deref().map(|s| format!("`{s}`")).unwrap_or_else(|| "no `schema` field".into())
    )]
    UnknownSchema {
        source_name: String,
        found: Option<String>,
    },
    #[error("{source_name}: malformed `{}` report: {source}", BENCH_SCHEMA)]
    MalformedBench {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The fields of a bench report that compare and the store read.
#[derive(Deserialize)]
struct BenchFigures {
    model: String,
    board: String,
    precision: String,
    samples: u64,
    instructions_per_inference: Option<InstructionFigures>,
    firmware: Option<FirmwareFigures>,
}

/// Reads a validate or bench report as the figures gates use. A bench report has no accuracy
/// and always `passed`; its `schema` stays `kiln.bench/1` ([`Kind::of_schema`] tells them apart).
pub fn parse_report(text: &str, source_name: &str) -> Result<RunSummary, ReportError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|source| GateError::NotJson {
        source_name: source_name.to_string(),
        source,
    })?;
    report_of_value(v, source_name)
}

fn report_of_value(v: serde_json::Value, source_name: &str) -> Result<RunSummary, ReportError> {
    let schema = v.get("schema").map(|s| match s.as_str() {
        Some(s) => s.to_string(),
        None => s.to_string(),
    });
    match schema.as_deref().and_then(Kind::of_schema) {
        Some(Kind::Validate) => Ok(RunSummary::from_value(v, source_name)?),
        Some(Kind::Bench) => {
            let b: BenchFigures =
                serde_json::from_value(v).map_err(|source| ReportError::MalformedBench {
                    source_name: source_name.to_string(),
                    source,
                })?;
            Ok(RunSummary {
                schema: BENCH_SCHEMA.into(),
                model: b.model,
                board: b.board,
                precision: b.precision,
                samples: b.samples,
                accuracy: None,
                instructions_per_inference: b.instructions_per_inference,
                firmware: b.firmware,
                passed: true,
            })
        }
        None => Err(ReportError::UnknownSchema {
            source_name: source_name.to_string(),
            found: schema,
        }),
    }
}

/// The kind of a parsed report (validate unless its schema is the bench one).
pub fn kind_of(r: &RunSummary) -> Kind {
    Kind::of_schema(&r.schema).unwrap_or(Kind::Validate)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a SQLite database (kiln stores runs there; pass another --db or move the file)")]
    NotADatabase { path: PathBuf },
    #[error(
        "no run database at {path}: `kiln validate` and `kiln bench` create it (choose another \
         with --db or $KILN_DB)"
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
        source: ReportError,
    },
    #[error("cannot store the report in {path}: {source}")]
    Unserializable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("run {id} in {path}: {source}")]
    BadReport {
        path: PathBuf,
        id: i64,
        #[source]
        source: ReportError,
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
    pub kind: Kind,
    pub created_at: String,
    pub model: String,
    pub model_name: String,
    pub model_hash: Option<String>,
    /// SHA-256 of the model file (`provenance.model_sha256`).
    pub model_sha256: Option<String>,
    pub producer: Option<String>,
    pub opset: Option<i64>,
    pub board: String,
    pub precision: String,
    /// `ptq` or `model` (int8 only).
    pub quant_source: Option<String>,
    /// The one-line quantization recipe (int8 only).
    pub quant_recipe: Option<String>,
    /// SHA-256 of the calibration file (`ptq` only).
    pub calib_hash: Option<String>,
    pub samples: u64,
    pub data: Option<String>,
    pub accuracy: Option<AccuracyFigures>,
    pub instructions_per_inference: Option<InstructionFigures>,
    pub flash_bytes: Option<u64>,
    pub ram_bytes: Option<u64>,
    /// Every check passed (always true for bench runs, which have none).
    pub passed: bool,
    pub git_commit: Option<String>,
    pub kiln_version: String,
}

impl StoredRun {
    /// Precision and the short form of the recipe: `f32`, `int8 ptq minmax`, `int8 model`.
    pub fn precision_recipe(&self) -> String {
        match (self.quant_source.as_deref(), self.quant_recipe.as_deref()) {
            (Some("model"), _) => format!("{} model", self.precision),
            // `ptq minmax, weights 8-bit symmetric per-channel, ...`: up to the first comma.
            (_, Some(recipe)) => {
                let short = recipe.split(',').next().unwrap_or(recipe).trim();
                format!("{} {short}", self.precision)
            }
            (Some(source), None) => format!("{} {source}", self.precision),
            (None, None) => self.precision.clone(),
        }
    }
}

/// Filters of `kiln history`.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Model name or model path as given.
    pub model: Option<String>,
    pub board: Option<String>,
    pub kind: Option<Kind>,
    pub limit: Option<usize>,
}

/// An open run database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Columns of a run the report JSON fills, beyond those of [`RunSummary`].
#[derive(Default)]
struct Extra {
    data: Option<String>,
    model_sha256: Option<String>,
    producer: Option<String>,
    opset: Option<i64>,
    git_commit: Option<String>,
    quant_source: Option<String>,
    quant_recipe: Option<String>,
    calib_hash: Option<String>,
}

impl Extra {
    /// Absent or mistyped fields are NULL: older reports without provenance still store.
    fn of(v: &serde_json::Value) -> Extra {
        let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(String::from);
        Extra {
            data: s("/data"),
            model_sha256: s("/provenance/model_sha256"),
            producer: s("/provenance/producer"),
            opset: v.pointer("/provenance/opset").and_then(|x| x.as_i64()),
            git_commit: s("/provenance/git_commit"),
            quant_source: s("/quantization/source"),
            quant_recipe: s("/quantization/recipe"),
            calib_hash: s("/quantization/calib_hash"),
        }
    }
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

    /// Opens an existing `path` read-only (history, compare); never creates nor migrates the
    /// file: an older schema is read as it is.
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
        s.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| s.err(e))?;
        let v = s.user_version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: s.path.clone(),
                found: v,
            });
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

    /// Stores a validate or bench report (its JSON text) in one transaction; returns the new
    /// run id.
    pub fn insert(&mut self, report_json: &str, meta: &RunMeta) -> Result<i64, StoreError> {
        self.insert_with(report_json, meta, |_| Ok(None))
    }

    /// Stores a validate or bench report, then replaces its stored JSON by `restamp(id)` when
    /// that returns one (the report naming its own run id): one transaction, so the run is
    /// stored with its final JSON or not at all. The figures are read from `report_json`.
    pub fn insert_with(
        &mut self,
        report_json: &str,
        meta: &RunMeta,
        restamp: impl FnOnce(i64) -> Result<Option<String>, serde_json::Error>,
    ) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let unstorable = |source| StoreError::Unstorable {
            path: path.clone(),
            source,
        };
        let v: serde_json::Value = serde_json::from_str(report_json).map_err(|source| {
            unstorable(
                GateError::NotJson {
                    source_name: "the report".into(),
                    source,
                }
                .into(),
            )
        })?;
        let x = Extra::of(&v);
        let r = report_of_value(v, "the report").map_err(unstorable)?;
        let e = |e| classify(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let id = insert_row(&tx, &r, &x, meta, report_json).map_err(e)?;
        let text = restamp(id).map_err(|source| StoreError::Unserializable {
            path: path.clone(),
            source,
        })?;
        if let Some(text) = text {
            tx.execute(
                "UPDATE runs SET report_json = ?1 WHERE id = ?2",
                params![text, id],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(id)
    }

    /// Replaces the stored report JSON of run `id` (one statement, hence one transaction).
    /// Prefer [`Store::insert_with`] for a report that names its own id.
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

    /// The `runs` table with every column of the current schema: a version-1 file (opened
    /// read-only, not migrated) lacks the columns of schema 2; they read as NULL, kind
    /// `validate`.
    fn runs_source(&self) -> Result<&'static str, StoreError> {
        Ok(if self.user_version()? >= 2 {
            "runs"
        } else {
            V1_AS_V2
        })
    }

    /// Runs matching `q`, newest first.
    pub fn history(&self, q: &Query) -> Result<Vec<StoredRun>, StoreError> {
        if !self.has_schema()? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, created_at, model, model_name, model_hash, board, precision, samples,
                data, accuracy_device, accuracy_host, accuracy_float, instructions_mean,
                instructions_min, instructions_max, flash_bytes, ram_bytes, passed,
                git_commit, kiln_version, kind, model_sha256, producer, opset, quant_source,
                quant_recipe, calib_hash
             FROM {}
             WHERE (?1 IS NULL OR model_name = ?1 OR model = ?1)
               AND (?2 IS NULL OR board = ?2)
               AND (?3 IS NULL OR kind = ?3)
             ORDER BY id DESC
             LIMIT ?4",
            self.runs_source()?
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let limit = q.limit.map(|n| n as i64).unwrap_or(-1);
        let kind = q.kind.map(Kind::as_str);
        let rows = stmt
            .query_map(params![q.model, q.board, kind, limit], |row| {
                let acc: (Option<f64>, Option<f64>, Option<f64>) =
                    (row.get(9)?, row.get(10)?, row.get(11)?);
                let ins: (Option<f64>, Option<i64>, Option<i64>) =
                    (row.get(12)?, row.get(13)?, row.get(14)?);
                let kind: String = row.get(20)?;
                let kind = Kind::of_name(&kind).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        20,
                        rusqlite::types::Type::Text,
                        format!("unknown run kind `{kind}`").into(),
                    )
                })?;
                Ok(StoredRun {
                    id: row.get(0)?,
                    kind,
                    created_at: row.get(1)?,
                    model: row.get(2)?,
                    model_name: row.get(3)?,
                    model_hash: row.get(4)?,
                    model_sha256: row.get(21)?,
                    producer: row.get(22)?,
                    opset: row.get(23)?,
                    board: row.get(5)?,
                    precision: row.get(6)?,
                    quant_source: row.get(24)?,
                    quant_recipe: row.get(25)?,
                    calib_hash: row.get(26)?,
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

    /// The report of run `id`, parsed (a validate or a bench report; see [`kind_of`]).
    pub fn summary(&self, id: i64) -> Result<RunSummary, StoreError> {
        let text = self.report_json(id)?;
        parse_report(&text, &format!("run {id}")).map_err(|source| StoreError::BadReport {
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

fn insert_row(
    tx: &Transaction<'_>,
    r: &RunSummary,
    x: &Extra,
    meta: &RunMeta,
    report_json: &str,
) -> rusqlite::Result<i64> {
    let model_hash = r
        .firmware
        .as_ref()
        .map(|f| f.hash.clone())
        .or_else(|| meta.model_hash.clone());
    let acc = r.accuracy.as_ref();
    let ins = r.instructions_per_inference.as_ref();
    let sizes = r.firmware.as_ref().map(|f| &f.sizes);
    tx.execute(
        "INSERT INTO runs (created_at, model, model_name, model_hash, board, precision,
            samples, data, accuracy_device, accuracy_host, accuracy_float,
            instructions_mean, instructions_min, instructions_max, flash_bytes, ram_bytes,
            passed, git_commit, kiln_version, report_json, kind, model_sha256, producer, opset,
            quant_source, quant_recipe, calib_hash)
         VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
            ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25,
            ?26)",
        params![
            r.model,
            r.model_name(),
            model_hash,
            r.board,
            r.precision,
            r.samples as i64,
            x.data,
            acc.map(|a| a.device),
            acc.map(|a| a.host),
            acc.map(|a| a.float),
            ins.map(|s| s.mean),
            ins.map(|s| s.min as i64),
            ins.map(|s| s.max as i64),
            sizes.map(|s| s.flash_bytes as i64),
            sizes.map(|s| s.ram_bytes as i64),
            r.passed,
            meta.git_commit.clone().or_else(|| x.git_commit.clone()),
            env!("CARGO_PKG_VERSION"),
            report_json,
            kind_of(r).as_str(),
            x.model_sha256,
            x.producer,
            x.opset,
            x.quant_source,
            x.quant_recipe,
            x.calib_hash,
        ],
    )?;
    Ok(tx.last_insert_rowid())
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
                kind: None,
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
            .insert(r#"{"schema": "kiln.other/1"}"#, &RunMeta::default())
            .unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("kiln.other/1") && e.contains("validate or bench"),
            "{e}"
        );
        // A bench report without its fields is malformed.
        let e = s
            .insert(r#"{"schema": "kiln.bench/1"}"#, &RunMeta::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed `kiln.bench/1`"), "{e}");
        assert!(s.history(&Query::default()).unwrap().is_empty());
    }

    /// Schema 1 exactly as kiln 1 created it.
    const V1_DDL: &str = "
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, model TEXT NOT NULL,
            model_name TEXT NOT NULL, model_hash TEXT, board TEXT NOT NULL,
            precision TEXT NOT NULL, samples INTEGER NOT NULL, data TEXT, accuracy_device REAL,
            accuracy_host REAL, accuracy_float REAL, instructions_mean REAL,
            instructions_min INTEGER, instructions_max INTEGER, flash_bytes INTEGER,
            ram_bytes INTEGER, passed INTEGER NOT NULL, git_commit TEXT,
            kiln_version TEXT NOT NULL, report_json TEXT NOT NULL);
        CREATE INDEX runs_model_board ON runs (model_name, board);
        PRAGMA user_version = 1;";

    fn v1_file(path: &Path, reports: &[String]) {
        let c = Connection::open(path).unwrap();
        c.execute_batch(V1_DDL).unwrap();
        for r in reports {
            c.execute(
                "INSERT INTO runs (created_at, model, model_name, model_hash, board, precision,
                    samples, data, accuracy_device, accuracy_host, accuracy_float, passed,
                    git_commit, kiln_version, report_json)
                 VALUES ('2025-01-31T12:34:56.789Z', 'm.onnx', 'm', 'cafe', 'host', 'f32', 10,
                    'test.npz', 0.9, 0.9, 0.9, 1, 'beef', '0.0.1', ?1)",
                params![r],
            )
            .unwrap();
        }
    }

    fn version(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_version_1_file_is_read_as_is_and_migrated_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let mut with_provenance: serde_json::Value =
            serde_json::from_str(&report("m.onnx", "host", 0.9, None)).unwrap();
        with_provenance["provenance"] = serde_json::json!({
            "producer": "pytorch", "opset": 17, "model_sha256": "5a".repeat(32),
            "kiln_version": "0.0.1", "git_commit": null
        });
        v1_file(
            &path,
            &[
                report("m.onnx", "host", 0.9, None),
                with_provenance.to_string(),
            ],
        );

        // Read-only: listed as validate runs with NULL new columns, the file untouched.
        let r = Store::open_read_only(&path).unwrap();
        let runs = r.history(&Query::default()).unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs
            .iter()
            .all(|x| x.kind == Kind::Validate && x.producer.is_none()));
        assert_eq!(runs[1].model_hash.as_deref(), Some("cafe"));
        let only_bench = Query {
            kind: Some(Kind::Bench),
            ..Query::default()
        };
        assert!(r.history(&only_bench).unwrap().is_empty());
        assert_eq!(r.summary(1).unwrap().board, "host");
        drop(r);
        assert_eq!(version(&path), 1, "reading does not migrate");

        // Write: migrated to 2, the rows kept as validate runs, provenance filled from the JSON.
        let mut w = Store::open(&path).unwrap();
        assert_eq!(version(&path), 2);
        let runs = w.history(&Query::default()).unwrap();
        let ids: Vec<i64> = runs.iter().map(|x| x.id).collect();
        assert_eq!(ids, [2, 1]);
        assert!(runs.iter().all(|x| x.kind == Kind::Validate));
        assert_eq!(runs[1].git_commit.as_deref(), Some("beef"));
        assert_eq!(runs[1].accuracy.as_ref().unwrap().device, 0.9);
        assert_eq!((runs[1].producer.as_ref(), runs[1].opset), (None, None));
        assert_eq!(runs[0].producer.as_deref(), Some("pytorch"));
        assert_eq!(runs[0].opset, Some(17));
        assert_eq!(
            runs[0].model_sha256.as_deref(),
            Some("5a".repeat(32).as_str())
        );
        // New runs continue the ids.
        assert_eq!(
            w.insert(&report("m.onnx", "host", 0.9, None), &RunMeta::default())
                .unwrap(),
            3
        );
        let kind: String = w
            .conn
            .query_row("SELECT kind FROM runs WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kind, "validate");
    }

    fn int8_report() -> String {
        let mut v: serde_json::Value =
            serde_json::from_str(&report("m.onnx", "mps2-an386", 0.8, Some(900.0))).unwrap();
        v["precision"] = "int8".into();
        v["provenance"] = serde_json::json!({
            "producer": "tf2onnx", "opset": 13, "model_sha256": "12".repeat(32),
            "kiln_version": "9.9.9", "git_commit": "abc123"
        });
        v["quantization"] = serde_json::json!({
            "source": "ptq",
            "recipe": "ptq minmax, weights 8-bit symmetric per-channel, activations int8 asymmetric per-tensor",
            "calib_method": "minmax", "calib_hash": "ca".repeat(32), "calib_samples": 100,
            "weight_bits": 8, "weight_granularity": "channel", "int8_layers": 3, "f32_layers": 0,
            "layers": []
        });
        v.to_string()
    }

    #[test]
    fn provenance_and_quantization_fill_their_columns() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        let id = s.insert(&int8_report(), &RunMeta::default()).unwrap();
        let r = &s.history(&Query::default()).unwrap()[0];
        assert_eq!(r.id, id);
        assert_eq!(r.kind, Kind::Validate);
        assert_eq!(r.producer.as_deref(), Some("tf2onnx"));
        assert_eq!(r.opset, Some(13));
        assert_eq!(r.model_sha256, Some("12".repeat(32)));
        assert_eq!(r.quant_source.as_deref(), Some("ptq"));
        assert!(r
            .quant_recipe
            .as_deref()
            .unwrap()
            .starts_with("ptq minmax,"));
        assert_eq!(r.calib_hash, Some("ca".repeat(32)));
        assert_eq!(
            r.git_commit.as_deref(),
            Some("abc123"),
            "from provenance without RunMeta"
        );
        assert_eq!(r.precision_recipe(), "int8 ptq minmax");
        // A report without provenance or quantization: NULLs.
        s.insert(&report("m.onnx", "host", 0.8, None), &RunMeta::default())
            .unwrap();
        let r = &s.history(&Query::default()).unwrap()[0];
        assert_eq!(
            (&r.model_sha256, &r.producer, r.opset, &r.quant_source),
            (&None, &None, None, &None)
        );
        assert_eq!(r.precision_recipe(), "f32");
    }

    #[test]
    fn precision_recipe_short_forms() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        s.insert(&int8_report(), &RunMeta::default()).unwrap();
        let mut r = s.history(&Query::default()).unwrap().remove(0);
        r.quant_source = Some("model".into());
        r.quant_recipe = Some("the model's own QDQ scales and zero points (...)".into());
        assert_eq!(r.precision_recipe(), "int8 model");
        r.quant_source = Some("ptq".into());
        r.quant_recipe = Some("ptq percentile:99.9, weights 4-bit".into());
        assert_eq!(r.precision_recipe(), "int8 ptq percentile:99.9");
    }

    fn bench_report(instr: Option<f64>, flash: u64) -> String {
        serde_json::json!({
            "schema": "kiln.bench/1",
            "model": "models/digits-mlp/model.onnx",
            "board": "mps2-an386",
            "precision": "f32",
            "samples": 2,
            "data": null,
            "macs": 2368,
            "params": 2410,
            "instructions_per_inference": instr.map(|m| serde_json::json!({"mean": m, "min": 1, "max": 2})),
            "arena_bytes": 512,
            "firmware": {"dir": "x", "hash": "cd".repeat(16), "sizes": {"flash_bytes": flash, "ram_bytes": 3000, "flash_code_bytes": 1}},
            "quantization": null,
            "provenance": {"producer": "pytorch", "opset": 17, "model_sha256": "77".repeat(32),
                           "kiln_version": "0.1.0", "git_commit": null},
            "stored": null
        })
        .to_string()
    }

    #[test]
    fn bench_runs_are_stored_with_their_kind_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        s.insert(&report("m.onnx", "host", 0.9, None), &RunMeta::default())
            .unwrap();
        let id = s
            .insert(&bench_report(Some(5000.0), 12345), &RunMeta::default())
            .unwrap();
        let runs = s.history(&Query::default()).unwrap();
        let b = &runs[0];
        assert_eq!((b.id, b.kind), (id, Kind::Bench));
        assert_eq!(b.accuracy, None);
        assert_eq!(b.instructions_per_inference.as_ref().unwrap().mean, 5000.0);
        assert_eq!((b.flash_bytes, b.ram_bytes), (Some(12345), Some(3000)));
        assert_eq!(b.model_hash.as_deref(), Some("cd".repeat(16).as_str()));
        assert_eq!(b.producer.as_deref(), Some("pytorch"));
        assert_eq!((b.samples, b.data.clone(), b.passed), (2, None, true));
        let kinds = |k: Kind| -> Vec<i64> {
            s.history(&Query {
                kind: Some(k),
                ..Query::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
        };
        assert_eq!(
            (kinds(Kind::Bench), kinds(Kind::Validate)),
            (vec![2], vec![1])
        );
        let sum = s.summary(id).unwrap();
        assert_eq!(kind_of(&sum), Kind::Bench);
        assert_eq!(sum.firmware.unwrap().sizes.flash_bytes, 12345);
        assert_eq!(kind_of(&s.summary(1).unwrap()), Kind::Validate);
    }

    #[test]
    fn insert_with_stores_the_restamped_json_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("k.db")).unwrap();
        let text = report("m.onnx", "host", 0.9, None);
        let id = s
            .insert_with(&text, &RunMeta::default(), |id| {
                Ok(Some(format!("{{\"stamped\": {id}}}")))
            })
            .unwrap();
        assert_eq!(s.report_json(id).unwrap(), format!("{{\"stamped\": {id}}}"));
        // The figures come from the original report.
        assert_eq!(s.history(&Query::default()).unwrap()[0].board, "host");
        // A failing restamp rolls the insert back.
        let e = s
            .insert_with(&text, &RunMeta::default(), |_| {
                Err(serde_json::from_str::<i32>("x").unwrap_err())
            })
            .unwrap_err();
        assert!(matches!(e, StoreError::Unserializable { .. }), "{e:?}");
        assert_eq!(s.history(&Query::default()).unwrap().len(), 1);
    }
}

//! `kiln history`: stored validate and bench runs, newest first.

use clap::Args;
use serde::Serialize;

use super::compare::DbArgs;
use super::{print_json, Format};
use crate::store::{Kind, Query, Store, StoredRun};

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Only runs of this model (its name, e.g. `digits-mlp`, or its path as given to validate).
    #[arg(long)]
    pub model: Option<String>,
    /// Only runs on this board.
    #[arg(long, short)]
    pub board: Option<String>,
    /// Only runs of this kind.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// At most N runs.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct History {
    db: String,
    runs: Vec<StoredRun>,
}

pub fn run(a: HistoryArgs) -> anyhow::Result<()> {
    let store = Store::open_read_only(&a.db.db)?;
    let runs = store.history(&Query {
        model: a.model.clone(),
        board: a.board.clone(),
        kind: a.kind,
        limit: a.limit,
    })?;
    let h = History {
        db: a.db.db.display().to_string(),
        runs,
    };
    if a.format == Format::Json {
        return print_json(&h);
    }
    if h.runs.is_empty() {
        println!("no runs in {} match", h.db);
        return Ok(());
    }
    let header = [
        "id",
        "time (UTC)",
        "kind",
        "model",
        "board",
        "precision",
        "accuracy",
        "instructions",
        "flash",
        "RAM",
        "passed",
    ];
    let dash = || "-".to_string();
    let rows: Vec<[String; 11]> = h
        .runs
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                r.created_at
                    .get(..19)
                    .unwrap_or(&r.created_at)
                    .replace('T', " "),
                r.kind.as_str().to_string(),
                r.model_name.clone(),
                r.board.clone(),
                r.precision_recipe(),
                r.accuracy
                    .as_ref()
                    .map(|a| format!("{:.2} %", a.device * 100.0))
                    .unwrap_or_else(dash),
                r.instructions_per_inference
                    .as_ref()
                    .map(|s| format!("{:.0}", s.mean))
                    .unwrap_or_else(dash),
                r.flash_bytes.map(|v| v.to_string()).unwrap_or_else(dash),
                r.ram_bytes.map(|v| v.to_string()).unwrap_or_else(dash),
                // Bench runs have no checks.
                match (r.kind, r.passed) {
                    (Kind::Bench, _) => "-",
                    (_, true) => "yes",
                    (_, false) => "FAIL",
                }
                .to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String]| {
        let s: Vec<String> = cells
            .iter()
            .zip(width)
            .enumerate()
            // Text columns left-aligned, figures right-aligned.
            .map(|(i, (c, w))| {
                if (1..=5).contains(&i) {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    Ok(())
}

//! `kiln compare A B`: deltas between two runs (validate or bench) and the regression gates of B
//! against A; also the run database and gate options `kiln validate` and `kiln bench` share.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::validate::{Check, Report};
use super::{print_json, CheckFailed, Format};
use crate::gate::{self, Deltas, Gate, Limits, RunSummary, Status};
use crate::store::{kind_of, Kind, RunMeta, Store};

/// Where runs are stored.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Run database (SQLite; created by `kiln validate` and `kiln bench`).
    #[arg(long, env = "KILN_DB", default_value = "kiln.db")]
    pub db: PathBuf,
}

fn limit(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number >= 0")),
    }
}

/// Gate limits; the defaults are [`Limits::default`].
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Largest allowed drop of device accuracy vs the baseline, in percentage points [default: 1].
    #[arg(long, value_name = "PP", value_parser = limit)]
    pub max_accuracy_drop: Option<f64>,
    /// Largest allowed increase of mean instructions per inference, in percent [default: 5].
    #[arg(long, value_name = "PCT", value_parser = limit)]
    pub max_latency_increase: Option<f64>,
    /// Largest allowed increase of flash and of RAM bytes, in percent [default: 5]
    /// (`--max-flash-increase` is the same option).
    #[arg(long, alias = "max-flash-increase", value_name = "PCT", value_parser = limit)]
    pub max_size_increase: Option<f64>,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_accuracy_drop_pp: self.max_accuracy_drop.unwrap_or(d.max_accuracy_drop_pp),
            max_latency_increase_pct: self
                .max_latency_increase
                .unwrap_or(d.max_latency_increase_pct),
            max_size_increase_pct: self.max_size_increase.unwrap_or(d.max_size_increase_pct),
        }
    }

    fn any(&self) -> bool {
        self.max_accuracy_drop.is_some()
            || self.max_latency_increase.is_some()
            || self.max_size_increase.is_some()
    }
}

/// Where `kiln validate` and `kiln bench` store their run.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Do not store the run.
    #[arg(long)]
    pub no_db: bool,
}

impl StoreArgs {
    /// The database to store the run in, opened (created, migrated) for writing; `None` with
    /// `--no-db`.
    pub fn open(&self) -> anyhow::Result<Option<Store>> {
        Ok(if self.no_db {
            None
        } else {
            Some(Store::open(&self.db.db)?)
        })
    }
}

/// What a stored run's model and checkout were, beyond its report.
pub fn run_meta(model: &Path) -> RunMeta {
    RunMeta {
        model_hash: std::fs::read(model)
            .ok()
            .map(|b| hex::encode(Sha256::digest(b))),
        git_commit: crate::store::git_commit(),
    }
}

/// `kiln validate` options for storing the run and gating it against a baseline.
#[derive(Args, Debug, Clone)]
pub struct ValidateStoreArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A previous validate report (JSON): fail (exit 1) when this run regresses against it.
    #[arg(long, value_name = "F.json")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The baseline of a gated validate run, as the report records it.
#[derive(Serialize)]
pub struct BaselineInfo {
    pub source: String,
    pub limits: Limits,
}

/// Where the run was stored.
#[derive(Serialize)]
pub struct StoredInfo {
    pub db: String,
    pub id: i64,
}

/// Baseline and database, opened before the (possibly long) validation so bad files fail fast.
pub struct Gating {
    baseline: Option<(PathBuf, RunSummary)>,
    limits: Limits,
    store: Option<Store>,
}

/// Reads a baseline report file.
pub fn read_report(path: &Path) -> anyhow::Result<RunSummary> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read report {}: {e}", path.display()))?;
    Ok(RunSummary::from_json(&text, &path.display().to_string())?)
}

impl Gating {
    /// Also refuses, before validating, a baseline of another model or board than `build`'s.
    pub fn open(a: &ValidateStoreArgs, build: &super::BuildArgs) -> anyhow::Result<Gating> {
        if a.baseline.is_none() && a.limits.any() {
            anyhow::bail!(
                "--max-accuracy-drop, --max-latency-increase and --max-size-increase need \
                 --baseline F.json (a previous `kiln validate --report` file)"
            );
        }
        let baseline = match &a.baseline {
            Some(p) => Some((p.clone(), read_report(p)?)),
            None => None,
        };
        if let Some((path, base)) = &baseline {
            let name = crate::deploy::model_name(&build.model);
            for (field, b, c) in [
                ("model", base.model_name(), name),
                ("board", base.board.clone(), build.board.clone()),
            ] {
                if b != c {
                    anyhow::bail!(
                        "--baseline {}: {}",
                        path.display(),
                        gate::GateError::Mismatch {
                            field,
                            baseline: b,
                            current: c
                        }
                    );
                }
            }
        }
        let store = a.store.open()?;
        Ok(Gating {
            baseline,
            limits: a.limits.limits(),
            store,
        })
    }

    /// Adds the gates to `report` (as checks too), then stores it. Mismatched runs are an error.
    pub fn finish(&mut self, report: &mut Report) -> anyhow::Result<()> {
        if let Some((path, base)) = &self.baseline {
            let current = RunSummary::from_value(serde_json::to_value(&*report)?, "this run")?;
            gate::check_comparable(base, &current)
                .map_err(|e| anyhow::anyhow!("--baseline {}: {e}", path.display()))?;
            report.gates = gate::evaluate(base, &current, &self.limits);
            report.baseline = Some(BaselineInfo {
                source: path.display().to_string(),
                limits: self.limits,
            });
            for g in report.gates.iter().filter(|g| g.status != Status::Skipped) {
                report.checks.push(Check {
                    name: g.name,
                    passed: g.passed(),
                    detail: g.detail.clone(),
                });
            }
            report.passed = report.checks.iter().all(|c| c.passed);
        }
        if let Some(store) = &mut self.store {
            let meta = run_meta(Path::new(&report.model));
            let db = store.path().display().to_string();
            let text = serde_json::to_string_pretty(&*report)?;
            // One transaction: the run is stored with the report naming its id, or not at all.
            store.insert_with(&text, &meta, |id| {
                report.stored = Some(StoredInfo { db, id });
                serde_json::to_string_pretty(&*report).map(Some)
            })?;
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The earlier run: a run id in the database, or a validate or bench report file.
    pub a: String,
    /// The later run, gated against A.
    pub b: String,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct Side {
    /// `run N` or the report file.
    source: String,
    run: Option<i64>,
    /// `validate` or `bench` (from the report's schema).
    kind: Kind,
    #[serde(flatten)]
    summary: RunSummary,
}

#[derive(Serialize)]
struct Comparison {
    a: Side,
    b: Side,
    deltas: Deltas,
    limits: Limits,
    gates: Vec<Gate>,
    passed: bool,
}

fn resolve(arg: &str, db: &Path, store: &mut Option<Store>) -> anyhow::Result<Side> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read report {}: {e}", path.display()))?;
        let summary = crate::store::parse_report(&text, arg)?;
        return Ok(Side {
            source: arg.to_string(),
            run: None,
            kind: kind_of(&summary),
            summary,
        });
    }
    let Ok(id) = arg.parse::<i64>() else {
        anyhow::bail!(
            "`{arg}` is neither a run id (`kiln history` lists them) nor a validate or bench \
             report file"
        );
    };
    if store.is_none() {
        *store = Some(Store::open_read_only(db)?);
    }
    let s = store.as_ref().expect("opened above");
    let summary = s.summary(id)?;
    Ok(Side {
        source: format!("run {id}"),
        run: Some(id),
        kind: kind_of(&summary),
        summary,
    })
}

/// The figures two runs are gated on. Bench runs measure no accuracy, so when either side is a
/// bench run the comparison is on latency, flash and RAM only: a bench run may be compared with
/// a validate run of the same model, board and precision (allowed rather than refused: both
/// measure the same firmware's emulated instructions per inference and sizes; note that the
/// latency means are over their own samples, bench's `--limit` first ones and validate's
/// `--data`). The validate side's accuracy is left out of the gates and deltas (otherwise the
/// accuracy gate would fail for "a run without accuracy") and the accuracy gate is `skipped`.
fn gated(side: &Side, any_bench: bool) -> RunSummary {
    let mut s = side.summary.clone();
    if any_bench {
        s.accuracy = None;
    }
    s
}

pub fn run(a: CompareArgs) -> anyhow::Result<()> {
    let mut store = None;
    let ra = resolve(&a.a, &a.db.db, &mut store)?;
    let rb = resolve(&a.b, &a.db.db, &mut store)?;
    gate::check_comparable(&ra.summary, &rb.summary)
        .map_err(|e| anyhow::anyhow!("{} vs {}: {e}", ra.source, rb.source))?;
    let limits = a.limits.limits();
    let any_bench = ra.kind == Kind::Bench || rb.kind == Kind::Bench;
    let (ga, gb) = (gated(&ra, any_bench), gated(&rb, any_bench));
    let mut gates = gate::evaluate(&ga, &gb, &limits);
    if any_bench {
        for g in gates.iter_mut().filter(|g| g.name == "gate_accuracy") {
            g.detail = "skipped: bench runs measure no accuracy".into();
        }
    }
    let c = Comparison {
        deltas: gate::deltas(&ga, &gb),
        passed: gates.iter().all(Gate::passed),
        a: ra,
        b: rb,
        limits,
        gates,
    };
    if a.format == Format::Json {
        print_json(&c)?;
    } else {
        render(&c);
    }
    if !c.passed {
        let failed: Vec<&str> = c
            .gates
            .iter()
            .filter(|g| !g.passed())
            .map(|g| g.name)
            .collect();
        return Err(CheckFailed(format!(
            "{} regresses against {}: {}",
            c.b.source,
            c.a.source,
            failed.join(", ")
        ))
        .into());
    }
    Ok(())
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

fn render(c: &Comparison) {
    let (a, b) = (&c.a.summary, &c.b.summary);
    println!(
        "compare   A = {} ({})   B = {} ({})   ({} on {}, {})",
        c.a.source,
        c.a.kind.as_str(),
        c.b.source,
        c.b.kind.as_str(),
        b.model_name(),
        b.board,
        b.precision
    );
    let pct = |v: f64| format!("{v:.2} %");
    if let (Some(x), Some(y)) = (&a.accuracy, &b.accuracy) {
        println!(
            "accuracy  device {} -> {} ({:+.2} pp)   host {:+.2} pp   float {:+.2} pp",
            pct(x.device * 100.0),
            pct(y.device * 100.0),
            c.deltas.accuracy_device_pp.unwrap_or(0.0),
            c.deltas.accuracy_host_pp.unwrap_or(0.0),
            c.deltas.accuracy_float_pp.unwrap_or(0.0)
        );
    }
    if let (Some(x), Some(y)) = (&a.instructions_per_inference, &b.instructions_per_inference) {
        println!(
            "latency   {:.0} -> {:.0} emulated instructions per inference ({})",
            x.mean,
            y.mean,
            opt(c.deltas.instructions_mean_pct, |v| format!("{v:+.2} %"))
        );
    }
    if let (Some(x), Some(y)) = (&a.firmware, &b.firmware) {
        println!(
            "flash     {} -> {} bytes ({})   RAM {} -> {} bytes ({})",
            x.sizes.flash_bytes,
            y.sizes.flash_bytes,
            opt(c.deltas.flash_pct, |v| format!("{v:+.2} %")),
            x.sizes.ram_bytes,
            y.sizes.ram_bytes,
            opt(c.deltas.ram_pct, |v| format!("{v:+.2} %"))
        );
    }
    for g in &c.gates {
        let s = match g.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skipped => "SKIP",
        };
        println!("{s}  {}: {}", g.name, g.detail);
    }
}

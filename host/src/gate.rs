//! Regression gates: a run compared with a baseline run, both read from validate reports
//! (`kiln.validate/1`, docs/CLI.md). Pure functions; the CLI turns gates into checks.
//!
//! Rules (each gate passes when the change is *at most* its limit):
//! - accuracy: drop = (baseline.accuracy.device − current.accuracy.device) × 100, in percentage
//!   points;
//! - latency: increase of `instructions_per_inference.mean`, in percent of the baseline;
//! - flash, RAM: increase of `firmware.sizes.flash_bytes` / `ram_bytes`, in percent of the baseline.
//!
//! A figure the baseline lacks skips its gate; a figure the baseline has and the run lacks fails it.

use serde::{Deserialize, Serialize};

/// Version of the validate report format (`"schema"` field) that gates read.
pub const REPORT_SCHEMA: &str = "kiln.validate/1";

/// Slack for floating-point rounding when comparing a change with its limit, so a change exactly
/// at the limit (e.g. 0.95 → 0.94 with a 1 pp limit) passes.
const EPS: f64 = 1e-9;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{source_name} is not JSON: {source}")]
    NotJson {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{source_name} is not a kiln validate report: expected schema `{}`, found {}",
        REPORT_SCHEMA,
        found.as_deref().map(|s| format!("`{s}`")).unwrap_or_else(|| "no `schema` field".into())
    )]
    WrongSchema {
        source_name: String,
        found: Option<String>,
    },
    #[error("{source_name}: malformed `{}` report: {source}", REPORT_SCHEMA)]
    Malformed {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "cannot compare runs of different {field}s: baseline `{baseline}`, current `{current}` \
         (compare runs of the same model, board and precision)"
    )]
    Mismatch {
        field: &'static str,
        baseline: String,
        current: String,
    },
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct AccuracyFigures {
    pub device: f64,
    pub host: f64,
    pub float: f64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InstructionFigures {
    pub mean: f64,
    pub min: u64,
    pub max: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct SizeFigures {
    pub flash_bytes: u64,
    pub ram_bytes: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct FirmwareFigures {
    /// Model hash the firmware reports (32 hex digits).
    pub hash: String,
    pub sizes: SizeFigures,
}

/// The figures of a validate report that gates, `compare` and the store use.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct RunSummary {
    pub schema: String,
    pub model: String,
    pub board: String,
    pub precision: String,
    pub samples: u64,
    pub accuracy: Option<AccuracyFigures>,
    pub instructions_per_inference: Option<InstructionFigures>,
    pub firmware: Option<FirmwareFigures>,
    pub passed: bool,
}

impl RunSummary {
    /// Parses a validate report's JSON text; `source_name` (a file, a run) names it in errors.
    pub fn from_json(text: &str, source_name: &str) -> Result<RunSummary, GateError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|source| GateError::NotJson {
                source_name: source_name.to_string(),
                source,
            })?;
        Self::from_value(v, source_name)
    }

    /// As [`RunSummary::from_json`], from parsed JSON.
    pub fn from_value(v: serde_json::Value, source_name: &str) -> Result<RunSummary, GateError> {
        let schema = v.get("schema").map(|s| match s.as_str() {
            Some(s) => s.to_string(),
            None => s.to_string(),
        });
        if schema.as_deref() != Some(REPORT_SCHEMA) {
            return Err(GateError::WrongSchema {
                source_name: source_name.to_string(),
                found: schema,
            });
        }
        serde_json::from_value(v).map_err(|source| GateError::Malformed {
            source_name: source_name.to_string(),
            source,
        })
    }

    /// The model's name: file stem, or folder name for `models/<name>/model.onnx`.
    pub fn model_name(&self) -> String {
        crate::deploy::model_name(std::path::Path::new(&self.model))
    }
}

/// Limits of the gates.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Limits {
    /// Largest allowed drop of device accuracy, in percentage points.
    pub max_accuracy_drop_pp: f64,
    /// Largest allowed increase of mean instructions per inference, in percent.
    pub max_latency_increase_pct: f64,
    /// Largest allowed increase of flash and of RAM bytes, in percent.
    pub max_size_increase_pct: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_accuracy_drop_pp: 1.0,
            max_latency_increase_pct: 5.0,
            max_size_increase_pct: 5.0,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The baseline lacks the figure (e.g. no labels, or the `host` board has no latency).
    Skipped,
}

/// One gate's outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Gate {
    /// `gate_accuracy`, `gate_latency`, `gate_flash`, `gate_ram`.
    pub name: &'static str,
    /// The report field compared.
    pub metric: &'static str,
    /// `"pp"` (percentage points) or `"%"`.
    pub unit: &'static str,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Regression in `unit`: accuracy drop in pp, or increase in percent; negative = improvement.
    pub regression: Option<f64>,
    pub limit: f64,
    pub status: Status,
    pub detail: String,
}

impl Gate {
    pub fn passed(&self) -> bool {
        self.status != Status::Fail
    }
}

/// Signed changes from `a` (before) to `b` (after); `None` where either lacks the figure.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Deltas {
    /// Device accuracy change in percentage points (positive = better).
    pub accuracy_device_pp: Option<f64>,
    pub accuracy_host_pp: Option<f64>,
    pub accuracy_float_pp: Option<f64>,
    /// Mean instructions per inference, change in percent (positive = slower).
    pub instructions_mean_pct: Option<f64>,
    pub flash_pct: Option<f64>,
    pub ram_pct: Option<f64>,
}

/// Percent change from `a` to `b`; +infinity from 0 to anything positive.
pub fn percent_change(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else if a == 0.0 {
        f64::INFINITY.copysign(b)
    } else {
        (b - a) / a * 100.0
    }
}

pub fn deltas(a: &RunSummary, b: &RunSummary) -> Deltas {
    let acc = |f: fn(&AccuracyFigures) -> f64| match (&a.accuracy, &b.accuracy) {
        (Some(x), Some(y)) => Some((f(y) - f(x)) * 100.0),
        _ => None,
    };
    let size = |f: fn(&SizeFigures) -> u64| match (&a.firmware, &b.firmware) {
        (Some(x), Some(y)) => Some(percent_change(f(&x.sizes) as f64, f(&y.sizes) as f64)),
        _ => None,
    };
    Deltas {
        accuracy_device_pp: acc(|x| x.device),
        accuracy_host_pp: acc(|x| x.host),
        accuracy_float_pp: acc(|x| x.float),
        instructions_mean_pct: match (&a.instructions_per_inference, &b.instructions_per_inference)
        {
            (Some(x), Some(y)) => Some(percent_change(x.mean, y.mean)),
            _ => None,
        },
        flash_pct: size(|s| s.flash_bytes),
        ram_pct: size(|s| s.ram_bytes),
    }
}

/// Refuses to compare runs of different models (by name), boards or precisions.
pub fn check_comparable(baseline: &RunSummary, current: &RunSummary) -> Result<(), GateError> {
    let pairs = [
        ("model", baseline.model_name(), current.model_name()),
        ("board", baseline.board.clone(), current.board.clone()),
        (
            "precision",
            baseline.precision.clone(),
            current.precision.clone(),
        ),
    ];
    for (field, b, c) in pairs {
        if b != c {
            return Err(GateError::Mismatch {
                field,
                baseline: b,
                current: c,
            });
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn gate(
    name: &'static str,
    metric: &'static str,
    unit: &'static str,
    baseline: Option<f64>,
    current: Option<f64>,
    regression: fn(f64, f64) -> f64,
    limit: f64,
    what: &str,
) -> Gate {
    let fmt = |v: f64| {
        if unit == "pp" {
            format!("{:.2} %", v * 100.0)
        } else {
            format!("{v:.0}")
        }
    };
    let (status, regression, detail) = match (baseline, current) {
        (None, _) => (
            Status::Skipped,
            None,
            format!("skipped: the baseline has no {what}"),
        ),
        (Some(b), None) => (
            Status::Fail,
            None,
            format!("the baseline has {what} {} but this run has none", fmt(b)),
        ),
        (Some(b), Some(c)) => {
            let r = regression(b, c);
            let ok = r <= limit + EPS;
            let change = if unit == "pp" {
                format!("drop {r:.2} pp")
            } else {
                format!("increase {r:+.2} %")
            };
            (
                if ok { Status::Pass } else { Status::Fail },
                Some(r),
                format!(
                    "{what} {} -> {}: {change} ({} limit {limit} {unit})",
                    fmt(b),
                    fmt(c),
                    if ok { "within" } else { "beyond" }
                ),
            )
        }
    };
    Gate {
        name,
        metric,
        unit,
        baseline,
        current,
        regression,
        limit,
        status,
        detail,
    }
}

/// Evaluates the four gates of `current` against `baseline`; call [`check_comparable`] first.
pub fn evaluate(baseline: &RunSummary, current: &RunSummary, limits: &Limits) -> Vec<Gate> {
    let acc = |r: &RunSummary| r.accuracy.as_ref().map(|a| a.device);
    let instr = |r: &RunSummary| r.instructions_per_inference.as_ref().map(|s| s.mean);
    let flash = |r: &RunSummary| r.firmware.as_ref().map(|f| f.sizes.flash_bytes as f64);
    let ram = |r: &RunSummary| r.firmware.as_ref().map(|f| f.sizes.ram_bytes as f64);
    vec![
        gate(
            "gate_accuracy",
            "accuracy.device",
            "pp",
            acc(baseline),
            acc(current),
            |b, c| (b - c) * 100.0,
            limits.max_accuracy_drop_pp,
            "device accuracy",
        ),
        gate(
            "gate_latency",
            "instructions_per_inference.mean",
            "%",
            instr(baseline),
            instr(current),
            percent_change,
            limits.max_latency_increase_pct,
            "mean instructions per inference",
        ),
        gate(
            "gate_flash",
            "firmware.sizes.flash_bytes",
            "%",
            flash(baseline),
            flash(current),
            percent_change,
            limits.max_size_increase_pct,
            "flash bytes",
        ),
        gate(
            "gate_ram",
            "firmware.sizes.ram_bytes",
            "%",
            ram(baseline),
            ram(current),
            percent_change,
            limits.max_size_increase_pct,
            "RAM bytes",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(acc: Option<f64>, instr: Option<f64>, flash: u64, ram: u64) -> RunSummary {
        RunSummary {
            schema: REPORT_SCHEMA.into(),
            model: "models/digits-mlp/model.onnx".into(),
            board: "mps2-an386".into(),
            precision: "f32".into(),
            samples: 100,
            accuracy: acc.map(|d| AccuracyFigures {
                device: d,
                host: d,
                float: d,
            }),
            instructions_per_inference: instr.map(|m| InstructionFigures {
                mean: m,
                min: m as u64,
                max: m as u64,
            }),
            firmware: Some(FirmwareFigures {
                hash: "00".repeat(16),
                sizes: SizeFigures {
                    flash_bytes: flash,
                    ram_bytes: ram,
                },
            }),
            passed: true,
        }
    }

    fn status(gates: &[Gate], name: &str) -> Status {
        gates.iter().find(|g| g.name == name).unwrap().status
    }

    #[test]
    fn identical_runs_pass_every_gate() {
        let a = run(Some(0.95), Some(1000.0), 10_000, 4_000);
        let g = evaluate(&a, &a, &Limits::default());
        assert_eq!(g.len(), 4);
        assert!(g.iter().all(|g| g.status == Status::Pass), "{g:#?}");
        assert!(g.iter().all(|g| g.regression == Some(0.0)));
    }

    #[test]
    fn exactly_at_the_limit_passes_just_beyond_fails() {
        let l = Limits::default();
        let base = run(Some(0.95), Some(1000.0), 10_000, 4_000);
        // 0.95 → 0.94 is a 1 pp drop, but (0.95 - 0.94) * 100 rounds to 1.0000000000000009.
        let at = run(Some(0.94), Some(1050.0), 10_500, 4_200);
        let g = evaluate(&base, &at, &l);
        assert!(g.iter().all(|g| g.status == Status::Pass), "{g:#?}");
        let beyond = run(Some(0.9399), Some(1050.1), 10_501, 4_201);
        let g = evaluate(&base, &beyond, &l);
        assert!(g.iter().all(|g| g.status == Status::Fail), "{g:#?}");
    }

    #[test]
    fn each_gate_fails_alone() {
        let l = Limits::default();
        let base = run(Some(0.95), Some(1000.0), 10_000, 4_000);
        let cases = [
            (
                "gate_accuracy",
                run(Some(0.90), Some(1000.0), 10_000, 4_000),
            ),
            ("gate_latency", run(Some(0.95), Some(1100.0), 10_000, 4_000)),
            ("gate_flash", run(Some(0.95), Some(1000.0), 11_000, 4_000)),
            ("gate_ram", run(Some(0.95), Some(1000.0), 10_000, 5_000)),
        ];
        for (name, cur) in cases {
            let g = evaluate(&base, &cur, &l);
            for x in &g {
                let want = if x.name == name {
                    Status::Fail
                } else {
                    Status::Pass
                };
                assert_eq!(x.status, want, "{name}: {x:#?}");
            }
        }
    }

    #[test]
    fn improvements_pass_with_negative_regression() {
        let base = run(Some(0.90), Some(1000.0), 10_000, 4_000);
        let cur = run(Some(0.95), Some(500.0), 5_000, 2_000);
        let g = evaluate(&base, &cur, &Limits::default());
        assert!(g.iter().all(|g| g.status == Status::Pass));
        assert!((g[0].regression.unwrap() + 5.0).abs() < 1e-9);
        assert!((g[1].regression.unwrap() + 50.0).abs() < 1e-9);
    }

    #[test]
    fn zero_limit_fails_any_regression() {
        let l = Limits {
            max_accuracy_drop_pp: 0.0,
            max_latency_increase_pct: 0.0,
            max_size_increase_pct: 0.0,
        };
        let base = run(Some(0.95), Some(1000.0), 10_000, 4_000);
        let cur = run(Some(0.94), Some(1001.0), 10_001, 4_001);
        assert!(evaluate(&base, &cur, &l)
            .iter()
            .all(|g| g.status == Status::Fail));
        assert!(evaluate(&base, &base, &l)
            .iter()
            .all(|g| g.status == Status::Pass));
    }

    #[test]
    fn missing_figures_skip_or_fail() {
        let l = Limits::default();
        // Baseline without accuracy/latency: skipped.
        let mut base = run(None, None, 10_000, 4_000);
        let cur = run(Some(0.5), Some(1e6), 10_000, 4_000);
        let g = evaluate(&base, &cur, &l);
        assert_eq!(status(&g, "gate_accuracy"), Status::Skipped);
        assert_eq!(status(&g, "gate_latency"), Status::Skipped);
        assert!(g.iter().all(Gate::passed));
        // Baseline has them, the run lacks them: fail.
        let g = evaluate(&cur, &base, &l);
        assert_eq!(status(&g, "gate_accuracy"), Status::Fail);
        assert_eq!(status(&g, "gate_latency"), Status::Fail);
        // No firmware on either side (host board): size gates skipped.
        base.firmware = None;
        let mut cur = cur;
        cur.firmware = None;
        let g = evaluate(&base, &cur, &l);
        assert_eq!(status(&g, "gate_flash"), Status::Skipped);
        assert_eq!(status(&g, "gate_ram"), Status::Skipped);
    }

    #[test]
    fn growth_from_zero_is_infinite_and_fails() {
        assert_eq!(percent_change(0.0, 0.0), 0.0);
        assert_eq!(percent_change(0.0, 5.0), f64::INFINITY);
        assert_eq!(percent_change(200.0, 210.0), 5.0);
        let base = run(Some(0.9), Some(1000.0), 10_000, 0);
        let cur = run(Some(0.9), Some(1000.0), 10_000, 1);
        assert_eq!(
            status(&evaluate(&base, &cur, &Limits::default()), "gate_ram"),
            Status::Fail
        );
    }

    #[test]
    fn deltas_are_signed_from_a_to_b() {
        let a = run(Some(0.90), Some(1000.0), 10_000, 4_000);
        let b = run(Some(0.92), Some(1100.0), 9_000, 4_000);
        let d = deltas(&a, &b);
        assert!((d.accuracy_device_pp.unwrap() - 2.0).abs() < 1e-9);
        assert!((d.instructions_mean_pct.unwrap() - 10.0).abs() < 1e-9);
        assert!((d.flash_pct.unwrap() + 10.0).abs() < 1e-9);
        assert_eq!(d.ram_pct, Some(0.0));
        let none = deltas(&run(None, None, 1, 1), &b);
        assert_eq!(none.accuracy_device_pp, None);
        assert_eq!(none.instructions_mean_pct, None);
    }

    #[test]
    fn mismatched_runs_are_refused() {
        let a = run(Some(0.9), None, 1, 1);
        let mut b = a.clone();
        b.model = "elsewhere/digits-mlp/model.onnx".into();
        assert!(check_comparable(&a, &b).is_ok(), "same model name");
        b.board = "mps2-an385".into();
        let e = check_comparable(&a, &b).unwrap_err().to_string();
        assert!(e.contains("board") && e.contains("mps2-an385"), "{e}");
        let mut c = a.clone();
        c.precision = "int8".into();
        assert!(check_comparable(&a, &c)
            .unwrap_err()
            .to_string()
            .contains("precision"));
    }

    #[test]
    fn reports_of_another_schema_are_refused_by_name() {
        let e = RunSummary::from_json(r#"{"schema": "kiln.bench/1"}"#, "old.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("old.json") && e.contains("kiln.bench/1"), "{e}");
        let e = RunSummary::from_json(r#"{"outputs": []}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `schema` field"), "{e}");
        let e = RunSummary::from_json("not json", "y.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("y.json is not JSON"), "{e}");
    }
}

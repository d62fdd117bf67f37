//! ONNX backend node conformance, as data: the official node tests of the ops kiln deploys, run
//! through import → optimize → plan → the `host` board simulation, checked against the expected
//! outputs, with the list of expected passes kept in `tests/conformance/manifest.toml`.
//!
//! `KILN_ONNX_NODE_TESTS` must name the `onnx/backend/test/data/node` folder (the README test
//! command sets it). `KILN_CONFORMANCE_UPDATE=1` rewrites the manifest from the current results;
//! `KILN_CONFORMANCE_ONLY=SUBSTRING` runs only the matching tests and prints each result. The
//! scope rule, the constant-input rule and the tolerances are documented in
//! `tests/conformance/README.md`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use kiln::import::{import_proto, spec, ImportError, ImportOptions};
use prost::Message;
use serde::Deserialize;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

/// The ops in scope: a test is in scope when every node of its model is an op kiln deploys
/// ([`spec::deployed_ops`], derived from the importer's op table) and its data passes
/// [`load_case`]'s checks.
fn ops() -> Vec<&'static str> {
    spec::deployed_ops()
}

/// The quantization ops, whose tests may have int8 / uint8 / int32 inputs and outputs.
fn quant_ops() -> Vec<&'static str> {
    spec::quant_ops().collect()
}

/// The DESIGN f32 contract: `|got − expected| ≤ atol + rtol·|expected|`.
const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-4;
/// The least fraction of in-scope tests that must pass.
const MIN_RATIO: f64 = 0.90;

const ENV_DATA: &str = "KILN_ONNX_NODE_TESTS";
const ENV_UPDATE: &str = "KILN_CONFORMANCE_UPDATE";
const ENV_ONLY: &str = "KILN_CONFORMANCE_ONLY";

fn manifest_path() -> PathBuf {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    host.parent()
        .unwrap_or(host)
        .join("tests/conformance/manifest.toml")
}

// ---------------------------------------------------------------------------------------------
// Manifest

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Pass,
    Excluded,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    status: Status,
    /// Why an excluded test cannot pass.
    reason: Option<String>,
    /// Looser tolerance for this test (with `tolerance_reason`).
    atol: Option<f32>,
    rtol: Option<f32>,
    tolerance_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    tests: BTreeMap<String, Entry>,
}

fn load_manifest(path: &Path) -> Result<Manifest, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let m: Manifest = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bad = vec![];
    for (name, e) in &m.tests {
        match e.status {
            Status::Pass if e.reason.is_some() => bad.push(format!(
                "{name}: a passing test has no `reason` (that is for exclusions)"
            )),
            Status::Excluded if e.reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {
                bad.push(format!("{name}: an excluded test needs a `reason`"))
            }
            _ => {}
        }
        let loose = e.atol.is_some() || e.rtol.is_some();
        if loose
            && e.tolerance_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            bad.push(format!(
                "{name}: a looser tolerance needs a `tolerance_reason`"
            ));
        }
        if !loose && e.tolerance_reason.is_some() {
            bad.push(format!("{name}: `tolerance_reason` without `atol`/`rtol`"));
        }
    }
    if bad.is_empty() {
        Ok(m)
    } else {
        Err(format!("{}:\n  {}", path.display(), bad.join("\n  ")))
    }
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const MANIFEST_HEADER: &str = "\
# ONNX backend node tests in kiln's scope (see README.md next to this file), one line each:
#   status = \"pass\"                         must pass (within atol = 1e-5, rtol = 1e-4 unless
#                                           the line sets `atol`/`rtol` and `tolerance_reason`)
#   status = \"excluded\", reason = \"...\"     cannot pass yet, and why
# The conformance test fails when a pass line fails, an in-scope test has no line, or an
# excluded test passes. `KILN_CONFORMANCE_UPDATE=1` rewrites this file from the current
# results, keeping hand-written reasons and tolerances; review new reasons by hand.

[tests]
";

fn render_manifest(entries: &BTreeMap<String, Entry>) -> String {
    let mut out = String::from(MANIFEST_HEADER);
    for (name, e) in entries {
        let mut fields = vec![match e.status {
            Status::Pass => "status = \"pass\"".to_string(),
            Status::Excluded => "status = \"excluded\"".to_string(),
        }];
        if let Some(r) = &e.reason {
            fields.push(format!("reason = {}", toml_str(r)));
        }
        if let Some(a) = e.atol {
            fields.push(format!("atol = {a:e}"));
        }
        if let Some(r) = e.rtol {
            fields.push(format!("rtol = {r:e}"));
        }
        if let Some(r) = &e.tolerance_reason {
            fields.push(format!("tolerance_reason = {}", toml_str(r)));
        }
        let _ = writeln!(out, "{name} = {{ {} }}", fields.join(", "));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Test data

fn decode<M: Message + Default>(path: &Path) -> Result<M, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    M::decode(bytes.as_slice()).map_err(|e| format!("cannot decode {}: {e}", path.display()))
}

fn dims(t: &pb::TensorProto) -> Vec<usize> {
    t.dims.iter().map(|&d| d.max(0) as usize).collect()
}

/// Element types of runtime inputs and outputs in scope: float32, and the int8 / uint8 / int32
/// values of the quantized ops (compared as numbers).
fn io_type(dt: Option<i32>) -> bool {
    [
        DataType::Float,
        DataType::Int8,
        DataType::Uint8,
        DataType::Int32,
    ]
    .iter()
    .any(|&d| dt == Some(d as i32))
}

/// The values of a float32, int8, uint8 or int32 `TensorProto`, as f32 (exact for these
/// integers).
fn f32_data(t: &pb::TensorProto) -> Result<Vec<f32>, String> {
    let raw = &t.raw_data;
    let data: Vec<f32> = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Ok(DataType::Float) => t.float_data.clone(),
        Ok(DataType::Int8) if !raw.is_empty() => raw.iter().map(|&b| b as i8 as f32).collect(),
        Ok(DataType::Uint8) if !raw.is_empty() => raw.iter().map(|&b| b as f32).collect(),
        Ok(DataType::Int32) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        Ok(DataType::Int8 | DataType::Uint8 | DataType::Int32) => {
            t.int32_data.iter().map(|&v| v as f32).collect()
        }
        _ => {
            return Err(format!(
                "tensor `{}` is {}, not float32 or an 8/32-bit integer",
                t.name,
                dtype_name(t.data_type)
            ))
        }
    };
    let n: usize = dims(t).iter().product();
    if data.len() != n {
        return Err(format!(
            "tensor `{}` has {} values for shape {:?}",
            t.name,
            data.len(),
            dims(t)
        ));
    }
    Ok(data)
}

/// Whether a (bool or numeric) constant is non-zero anywhere.
fn any_nonzero(t: &pb::TensorProto) -> bool {
    t.raw_data.iter().any(|&b| b != 0)
        || t.int32_data.iter().any(|&v| v != 0)
        || t.int64_data.iter().any(|&v| v != 0)
        || t.float_data.iter().any(|&v| v != 0.0)
}

fn dtype_name(dt: i32) -> String {
    DataType::try_from(dt)
        .map(|d| d.as_str_name().to_lowercase())
        .unwrap_or_else(|_| format!("dtype {dt}"))
}

fn elem_type(v: &pb::ValueInfoProto) -> Option<i32> {
    match v.r#type.as_ref()?.value.as_ref()? {
        pb::type_proto::Value::TensorType(t) => Some(t.elem_type),
    }
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

// ---------------------------------------------------------------------------------------------
// Scope

/// Does input slot `pos` of `op` stay a runtime (activation) input? Everything else becomes a
/// constant from `test_data_set_0`, as an MCU deployment sees weights, shapes, axes and bounds.
fn runtime_slot(op: &str, pos: usize) -> bool {
    match op {
        "Add" | "Sub" | "Mul" | "Div" | "Concat" => true,
        _ => pos == 0,
    }
}

/// An in-scope test, ready to run.
struct Case {
    dir: PathBuf,
    /// The model with its constant inputs moved to initializers.
    model: pb::ModelProto,
    /// Runtime inputs: (ONNX name, values).
    inputs: Vec<(String, Vec<f32>)>,
    /// Expected outputs: (ONNX name, shape, values, element type).
    outputs: Vec<(String, Vec<usize>, Vec<f32>, i32)>,
}

/// What a test folder holds, as far as this suite is concerned.
enum Loaded {
    /// Not a test of the ops in scope.
    NotOurs,
    /// Uses only ops in scope, but out of scope (why).
    OutOfScope(String),
    /// In scope, ready to run.
    Case(Box<Case>),
}

/// Reads a test folder. `Err`: its files cannot be read or decoded (an in-scope failure, so a
/// broken data set never silently drops a test).
fn load_case(dir: &Path) -> Result<Loaded, String> {
    let mut model: pb::ModelProto = decode(&dir.join("model.onnx"))?;
    let Some(graph) = model.graph.as_mut() else {
        return Err("the model has no graph".into());
    };
    let (ops, quant_ops) = (ops(), quant_ops());
    let ours = |n: &pb::NodeProto| {
        (n.domain.is_empty() || n.domain == "ai.onnx") && ops.contains(&n.op_type.as_str())
    };
    if graph.node.is_empty() || !graph.node.iter().all(ours) {
        return Ok(Loaded::NotOurs);
    }
    // Integer inputs and outputs are in scope for the quantization ops only (not, e.g., integer
    // Add: kiln computes float32 or quantized int8).
    let quantized = graph
        .node
        .iter()
        .any(|n| quant_ops.contains(&n.op_type.as_str()));
    let io_ok = |et: Option<i32>| et == Some(DataType::Float as i32) || (quantized && io_type(et));
    let data = dir.join("test_data_set_0");
    let inits: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let declared: Vec<pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(&i.name))
        .cloned()
        .collect();
    let mut runtime = vec![];
    let mut constants = vec![];
    for (i, input) in declared.iter().enumerate() {
        let tensor: pb::TensorProto = decode(&data.join(format!("input_{i}.pb")))?;
        let mut consumers = graph
            .node
            .iter()
            .flat_map(|n| n.input.iter().enumerate().map(move |(pos, v)| (n, pos, v)))
            .filter(|(_, _, v)| **v == input.name)
            .peekable();
        let is_runtime = consumers.peek().is_none()
            || consumers.any(|(n, pos, _)| runtime_slot(&n.op_type, pos));
        if is_runtime {
            let et = elem_type(input);
            if !io_ok(et) || et == Some(DataType::Int32 as i32) {
                let what = et.map(dtype_name).unwrap_or_else(|| "not a tensor".into());
                return Ok(Loaded::OutOfScope(format!(
                    "runtime input `{}` is {what}",
                    input.name
                )));
            }
            runtime.push((input.name.clone(), f32_data(&tensor)?));
        } else {
            constants.push((input.name.clone(), tensor));
        }
    }
    for out in &graph.output {
        let et = elem_type(out);
        if !io_ok(et) {
            let what = et.map(dtype_name).unwrap_or_else(|| "not a tensor".into());
            return Ok(Loaded::OutOfScope(format!(
                "output `{}` is {what}",
                out.name
            )));
        }
    }
    let constant = |v: &str| constants.iter().find(|(n, _)| n == v).map(|(_, t)| t);
    let initializer = |v: &str| {
        constant(v)
            .cloned()
            .or_else(|| graph.initializer.iter().find(|t| t.name == v).cloned())
    };
    for node in &graph.node {
        // Quantization scales other than float32 (float16, bfloat16) are out of scope.
        let scale_slots: &[usize] = match node.op_type.as_str() {
            "QuantizeLinear" | "DequantizeLinear" => &[1],
            "QLinearConv" => &[1, 4, 6],
            "QLinearMatMul" => &[1, 4, 6],
            _ => &[],
        };
        for &slot in scale_slots {
            let scale = node.input.get(slot).and_then(|v| initializer(v));
            if let Some(s) = scale.filter(|s| s.data_type != DataType::Float as i32) {
                return Ok(Loaded::OutOfScope(format!(
                    "{} scale is {}",
                    node.op_type,
                    dtype_name(s.data_type)
                )));
            }
        }
        match node.op_type.as_str() {
            "BatchNormalization" => {
                let training = attr(node, "training_mode").is_some_and(|a| a.i != 0)
                    || node.output.iter().filter(|o| !o.is_empty()).count() > 1;
                if training {
                    return Ok(Loaded::OutOfScope(
                        "training-mode BatchNormalization".into(),
                    ));
                }
            }
            "Dropout" => {
                let training = node
                    .input
                    .get(2)
                    .and_then(|v| constant(v))
                    .is_some_and(any_nonzero);
                if training {
                    return Ok(Loaded::OutOfScope("training-mode Dropout".into()));
                }
            }
            "Resize" => {
                let mode = attr(node, "mode").map(|a| String::from_utf8_lossy(&a.s).into_owned());
                if let Some(mode) = mode.filter(|m| m != "nearest") {
                    return Ok(Loaded::OutOfScope(format!(
                        "Resize mode `{mode}` (only nearest is in scope)"
                    )));
                }
            }
            _ => {}
        }
    }
    let mut outputs = vec![];
    for (i, out) in graph.output.iter().enumerate() {
        let t: pb::TensorProto = decode(&data.join(format!("output_{i}.pb")))?;
        outputs.push((out.name.clone(), dims(&t), f32_data(&t)?, t.data_type));
    }
    let moved: HashSet<String> = constants.iter().map(|(n, _)| n.clone()).collect();
    graph.input.retain(|i| !moved.contains(&i.name));
    for (name, mut t) in constants {
        t.name = name;
        graph.initializer.push(t);
    }
    Ok(Loaded::Case(Box::new(Case {
        dir: dir.to_path_buf(),
        model,
        inputs: runtime,
        outputs,
    })))
}

// ---------------------------------------------------------------------------------------------
// Running one test

fn import_error(e: &ImportError) -> String {
    match e {
        ImportError::Unsupported { problems, .. } => {
            let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            format!("import: {}", list.join("; "))
        }
        other => format!("import: {other}"),
    }
}

fn run_case(case: &Case, atol: f32, rtol: f32) -> Result<(), String> {
    let path = case.dir.join("model.onnx");
    let imported = import_proto(
        &path,
        case.dir.to_str(),
        &case.model,
        &ImportOptions::default(),
    )
    .map_err(|e| import_error(&e))?;
    let mut graph = imported.graph.clone();
    kiln::optimize::optimize(&mut graph);
    let plan = kiln::plan::plan(&graph);
    kiln::plan::verify(&graph, &plan).map_err(|e| format!("plan: {e}"))?;

    let mut inputs: Vec<&[f32]> = vec![];
    for &id in &graph.inputs {
        let t = &graph.tensors[id];
        let Some((_, data)) = case.inputs.iter().find(|(n, _)| *n == t.name) else {
            return Err(format!(
                "kiln graph input `{}` is not a runtime input of the test",
                t.name
            ));
        };
        if data.len() != t.len() {
            return Err(format!(
                "input `{}`: kiln expects shape {:?}, the test gives {} values",
                t.name,
                t.shape,
                data.len()
            ));
        }
        inputs.push(data);
    }
    if graph.outputs.len() != case.outputs.len() {
        return Err(format!(
            "kiln graph has {} outputs, the model {}",
            graph.outputs.len(),
            case.outputs.len()
        ));
    }
    let got = kiln::sim::Simulator::new(&graph, &plan).run(&inputs);
    check_outputs(case, &graph, &got, atol, rtol)?;
    // A quantized model also runs int8 with its own parameters: the int8 kernels must meet the
    // same expectations.
    if graph.meta.quantized {
        let (q, _) = kiln::quantize::lower::lower(&graph, None, &Default::default())
            .map_err(|e| format!("int8 lowering: {e}"))?;
        let qplan = kiln::plan::plan(&q);
        kiln::plan::verify(&q, &qplan).map_err(|e| format!("int8 plan: {e}"))?;
        let got = kiln::sim::Simulator::new(&q, &qplan).run(&inputs);
        check_outputs(case, &q, &got, atol, rtol).map_err(|e| format!("int8: {e}"))?;
    }
    Ok(())
}

/// Compares a run's outputs with the expected ones: float32 within the tolerance, int8 / uint8
/// within one step (the ONNX reference rounds a float result; kiln requantizes in fixed point),
/// int32 exactly.
fn check_outputs(
    case: &Case,
    graph: &kiln::ir::Graph,
    got: &[Vec<f32>],
    atol: f32,
    rtol: f32,
) -> Result<(), String> {
    for (i, (name, shape, want, dt)) in case.outputs.iter().enumerate() {
        let t = &graph.tensors[graph.outputs[i]];
        if &t.shape != shape {
            return Err(format!(
                "output `{name}`: shape {:?}, expected {shape:?}",
                t.shape
            ));
        }
        let (atol, rtol) = match DataType::try_from(*dt) {
            Ok(DataType::Int8 | DataType::Uint8) => (1.0, 0.0),
            Ok(DataType::Int32) => (0.0, 0.0),
            _ => (atol, rtol),
        };
        compare(name, &got[i], want, atol, rtol)?;
    }
    Ok(())
}

fn compare(name: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "output `{name}`: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    let mut bad = 0;
    let mut first = None;
    let mut worst = 0f32;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        if !ok {
            bad += 1;
            first.get_or_insert((i, g, w));
            let d = (g - w).abs();
            worst = if d.is_nan() { f32::NAN } else { worst.max(d) };
        }
    }
    match first {
        None => Ok(()),
        Some((i, g, w)) => Err(format!(
            "output `{name}`: {bad} of {} values out of tolerance (atol {atol:e}, rtol {rtol:e}); \
             first at flat index {i}: got {g}, expected {w}; largest |diff| {worst}",
            got.len()
        )),
    }
}

thread_local! {
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs one test, turning a panic into a failure with its message (and its location, when the
/// suite's panic hook is installed).
fn caught(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string payload)".into());
            let at = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            Err(format!("panicked: {msg}{at}"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The suite

/// A test of the ops in scope: `Err(why)` when it is out of scope, else the result of its run.
type Outcome = Result<Result<(), String>, String>;

/// One line: failure messages can list several problems.
fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

#[test]
fn onnx_node_conformance() {
    let Some(root) = std::env::var_os(ENV_DATA).map(PathBuf::from) else {
        panic!(
            "{ENV_DATA} is not set. It must name the ONNX backend node tests folder, e.g.\n  \
             {ENV_DATA}=\"$(.venv/bin/python -c 'import onnx, os; print(os.path.join(\
             os.path.dirname(onnx.__file__), \"backend\", \"test\", \"data\", \"node\"))')\"\n\
             (./scripts/test.sh sets it; ./scripts/setup.sh installs onnx into .venv)"
        );
    };
    let update = std::env::var_os(ENV_UPDATE).is_some_and(|v| !v.is_empty() && v != "0");
    let only = std::env::var(ENV_ONLY).ok().filter(|s| !s.is_empty());
    assert!(
        !(update && only.is_some()),
        "{ENV_UPDATE} rewrites the whole manifest: do not combine it with {ENV_ONLY}"
    );
    let started = Instant::now();

    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{ENV_DATA}={}: cannot list it: {e}", root.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("model.onnx").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("test_") && !n.contains("_expanded"))
        .filter(|n| only.as_ref().is_none_or(|o| n.contains(o.as_str())))
        .collect();
    names.sort();
    assert!(
        only.is_some() || names.len() > 100,
        "{ENV_DATA}={} holds {} node tests; is it the onnx backend/test/data/node folder?",
        root.display(),
        names.len()
    );

    let manifest = load_manifest(&manifest_path()).unwrap_or_else(|e| panic!("{e}"));

    // Scope, then run, on a few threads (each test is small; tract's analysis dominates).
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Outcome)>> = Mutex::new(vec![]);
    panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()));
        PANIC.with(|p| *p.borrow_mut() = at);
    }));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                let outcome = match load_case(&root.join(name)) {
                    Ok(Loaded::NotOurs) => continue,
                    Ok(Loaded::OutOfScope(why)) => Err(why),
                    Err(e) => Ok(Err(format!("cannot load the test: {e}"))),
                    Ok(Loaded::Case(case)) => {
                        let e = manifest.tests.get(name);
                        let atol = e.and_then(|e| e.atol).unwrap_or(ATOL);
                        let rtol = e.and_then(|e| e.rtol).unwrap_or(RTOL);
                        Ok(caught(|| run_case(&case, atol, rtol)))
                    }
                };
                results.lock().unwrap().push((name.clone(), outcome));
            });
        }
    });
    drop(panic::take_hook());
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let in_scope: BTreeMap<&str, &Result<(), String>> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().ok().map(|r| (n.as_str(), r)))
        .collect();
    let passed = in_scope.values().filter(|r| r.is_ok()).count();
    let total = in_scope.len();
    let ratio = if total == 0 {
        0.0
    } else {
        passed as f64 / total as f64
    };

    if only.is_some() {
        for (name, r) in &results {
            match r {
                Err(why) => println!("{name}: out of scope ({why})"),
                Ok(Ok(())) => println!("{name}: pass"),
                Ok(Err(e)) => println!("{name}: FAIL {e}"),
            }
        }
    }

    if update {
        let mut entries = BTreeMap::new();
        for (&name, r) in &in_scope {
            let old = manifest.tests.get(name);
            let entry = match r {
                Ok(()) => Entry {
                    status: Status::Pass,
                    reason: None,
                    atol: old.and_then(|e| e.atol),
                    rtol: old.and_then(|e| e.rtol),
                    tolerance_reason: old.and_then(|e| e.tolerance_reason.clone()),
                },
                Err(e) => Entry {
                    status: Status::Excluded,
                    reason: Some(
                        old.filter(|o| o.status == Status::Excluded)
                            .and_then(|o| o.reason.clone())
                            .unwrap_or_else(|| one_line(e)),
                    ),
                    atol: None,
                    rtol: None,
                    tolerance_reason: None,
                },
            };
            entries.insert(name.to_string(), entry);
        }
        let path = manifest_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, render_manifest(&entries))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!(
            "conformance: wrote {} ({total} tests); review new reasons",
            path.display()
        );
    }

    let mut problems = vec![];
    let mut failing = vec![];
    let mut missing = vec![];
    let mut now_passing = vec![];
    let mut excluded = 0;
    for (&name, r) in &in_scope {
        match (manifest.tests.get(name).map(|e| e.status), r) {
            _ if update => {}
            (None, Ok(())) => missing.push(format!("{name} (passes)")),
            (None, Err(e)) => missing.push(format!("{name} (fails: {})", one_line(e))),
            (Some(Status::Pass), Err(e)) => failing.push(format!("{name}: {e}")),
            (Some(Status::Excluded), Ok(())) => now_passing.push(name.to_string()),
            (Some(Status::Excluded), Err(_)) => excluded += 1,
            (Some(Status::Pass), Ok(())) => {}
        }
    }
    if update {
        excluded = total - passed;
    }
    let stale: Vec<String> = if update || only.is_some() {
        vec![]
    } else {
        let scoped: BTreeSet<&str> = in_scope.keys().copied().collect();
        manifest
            .tests
            .keys()
            .filter(|n| !scoped.contains(n.as_str()))
            .map(|n| {
                let why = results
                    .iter()
                    .find(|(r, _)| r == n)
                    .and_then(|(_, r)| r.as_ref().err());
                match why {
                    Some(why) => format!("{n} (out of scope: {why})"),
                    None => format!("{n} (no such test of the in-scope ops)"),
                }
            })
            .collect()
    };

    println!(
        "conformance{}: {passed} passed, {excluded} excluded, ratio {ratio:.3} \
         ({total} in scope, {:.1} s)",
        if only.is_some() { " (filtered)" } else { "" },
        started.elapsed().as_secs_f64()
    );
    if !failing.is_empty() {
        problems.push(format!(
            "{} test(s) the manifest lists as passing do not pass:\n  {}",
            failing.len(),
            failing.join("\n  ")
        ));
    }
    if !missing.is_empty() {
        problems.push(format!(
            "{} in-scope test(s) are missing from {} (add them, or rerun with {ENV_UPDATE}=1 \
             and review):\n  {}",
            missing.len(),
            manifest_path().display(),
            missing.join("\n  ")
        ));
    }
    if !now_passing.is_empty() {
        problems.push(format!(
            "{} excluded test(s) now pass: flip them to status = \"pass\" in the manifest:\n  {}",
            now_passing.len(),
            now_passing.join("\n  ")
        ));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "{} manifest entr(y/ies) name no in-scope test (remove them):\n  {}",
            stale.len(),
            stale.join("\n  ")
        ));
    }
    if ratio < MIN_RATIO && only.is_none() {
        problems.push(format!(
            "pass ratio {ratio:.3} ({passed} of {total} in-scope tests) is below {MIN_RATIO}"
        ));
    }
    assert!(
        problems.is_empty(),
        "ONNX node conformance:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_panicking_test_is_a_failure_with_its_message() {
    let r = caught(|| {
        let v: Vec<f32> = vec![];
        assert!(v.len() == 1, "kernel exploded");
        Ok(())
    });
    assert!(r.is_err_and(|e| e.starts_with("panicked: kernel exploded")));
    assert_eq!(caught(|| Err("no".into())), Err("no".into()));
}

#[test]
fn tolerance_is_the_f32_contract() {
    assert!(compare("y", &[1.0 + 1e-4], &[1.0], ATOL, RTOL).is_ok());
    assert!(compare("y", &[1.0 + 2e-4], &[1.0], ATOL, RTOL).is_err());
    assert!(compare("y", &[1e-5], &[0.0], ATOL, RTOL).is_ok());
    assert!(compare("y", &[f32::NAN], &[0.0], ATOL, RTOL).is_err());
    assert!(compare(
        "y",
        &[f32::NAN, f32::INFINITY],
        &[f32::NAN, f32::INFINITY],
        ATOL,
        RTOL
    )
    .is_ok());
    assert!(compare("y", &[1.0, 2.0], &[1.0], ATOL, RTOL).is_err());
}

#[test]
fn manifest_round_trips() {
    let mut entries = BTreeMap::new();
    entries.insert(
        "test_a".to_string(),
        Entry {
            status: Status::Pass,
            reason: None,
            atol: Some(1e-4),
            rtol: None,
            tolerance_reason: Some("rounded \"reference\"".into()),
        },
    );
    entries.insert(
        "test_b".to_string(),
        Entry {
            status: Status::Excluded,
            reason: Some("a\\b\nc".into()),
            atol: None,
            rtol: None,
            tolerance_reason: None,
        },
    );
    let text = render_manifest(&entries);
    let back: Manifest = toml::from_str(&text).unwrap();
    assert_eq!(back.tests.len(), 2);
    assert_eq!(back.tests["test_a"].atol, Some(1e-4));
    assert_eq!(
        back.tests["test_a"].tolerance_reason.as_deref(),
        Some("rounded \"reference\"")
    );
    assert_eq!(back.tests["test_b"].status, Status::Excluded);
    assert_eq!(back.tests["test_b"].reason.as_deref(), Some("a\\b\nc"));
}

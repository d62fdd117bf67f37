//! Stored runs and regression gates through the `kiln` binary on the `host` board (no QEMU):
//! `validate --db/--baseline`, `history`, `compare` (docs/CLI.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const MODEL: &str = "models/digits-mlp/model.onnx";
const DATA: &str = "models/digits-mlp/test.npz";

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(root())
        .env_remove("KILN_DB")
        .args(args)
        .output()
        .expect("kiln runs")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(o)))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn validate(db: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "validate",
        MODEL,
        "--board",
        "host",
        "--data",
        DATA,
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    kiln(&args)
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn check<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

#[test]
fn validate_stores_runs_history_lists_them_compare_and_gates_judge_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let dbs = db.to_str().unwrap();
    let r1_path = dir.path().join("r1.json");

    // Two runs into a fresh database.
    let o = validate(&db, &["--report", r1_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r1 = json_of(&o);
    assert_eq!(r1["stored"]["id"], 1, "{r1:#}");
    assert_eq!(r1["stored"]["db"], dbs);
    assert_eq!(r1["gates"], json!([]));
    assert_eq!(r1["baseline"], Value::Null);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&r1_path).unwrap()).unwrap();
    assert_eq!(file, r1, "the report file is what was printed");
    let o = validate(&db, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(json_of(&o)["stored"]["id"], 2);

    // history: both, newest first, with the figures of the report.
    let o = kiln(&["history", "--db", dbs, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let h = json_of(&o);
    let runs = h["runs"].as_array().unwrap();
    let ids: Vec<i64> = runs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [2, 1]);
    for r in runs {
        assert_eq!(r["model_name"], "digits-mlp");
        assert_eq!(r["model"], MODEL);
        assert_eq!(r["board"], "host");
        assert_eq!(r["precision"], "f32");
        assert_eq!(r["samples"], r1["samples"]);
        assert_eq!(r["accuracy"], r1["accuracy"]);
        assert_eq!(r["passed"], true);
        assert_eq!(
            r["model_hash"].as_str().unwrap().len(),
            64,
            "SHA-256 of the model"
        );
        assert!(r["created_at"].as_str().unwrap().ends_with('Z'));
    }
    // Filters.
    let count = |args: &[&str]| {
        let mut a = vec!["history", "--db", dbs, "--format", "json"];
        a.extend_from_slice(args);
        let o = kiln(&a);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        json_of(&o)["runs"].as_array().unwrap().len()
    };
    assert_eq!(count(&["--limit", "1"]), 1);
    assert_eq!(count(&["--model", "digits-mlp", "--board", "host"]), 2);
    assert_eq!(count(&["--model", "digits-cnn"]), 0);
    assert_eq!(count(&["--board", "mps2-an386"]), 0);
    // Human table.
    let o = kiln(&["history", "--db", dbs]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.lines().count() == 3 && table.contains("digits-mlp") && table.contains("accuracy"),
        "{table}"
    );

    // compare two identical runs: no regression.
    let o = kiln(&["compare", "1", "2", "--db", dbs, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let c = json_of(&o);
    assert_eq!(c["a"]["run"], 1);
    assert_eq!(c["b"]["run"], 2);
    assert_eq!(c["deltas"]["accuracy_device_pp"], 0.0);
    assert_eq!(c["passed"], true);
    let gate = c["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "gate_accuracy")
        .unwrap();
    assert_eq!(gate["status"], "pass");
    // The host board has no latency or sizes: those gates are skipped.
    assert_eq!(c["gates"][1]["status"], "skipped");

    // The baseline claims the model used to be 5 points better: the accuracy gate fails.
    let mut better = r1.clone();
    let acc = r1["accuracy"]["device"].as_f64().unwrap();
    better["accuracy"]["device"] = json!(acc + 0.05);
    let base = dir.path().join("baseline.json");
    write_json(&base, &better);
    let junit = dir.path().join("j.xml");
    let o = validate(
        &db,
        &[
            "--baseline",
            base.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("gate_accuracy"), "{}", show(&o));
    let r3 = json_of(&o);
    let g = check(&r3, "gate_accuracy").expect("gate_accuracy in checks");
    assert_eq!(g["passed"], false, "{g}");
    assert!(g["detail"].as_str().unwrap().contains("5.00 pp"), "{g}");
    assert_eq!(r3["passed"], false);
    assert_eq!(r3["baseline"]["limits"]["max_accuracy_drop_pp"], 1.0);
    assert!(
        check(&r3, "gate_latency").is_none(),
        "skipped gates are not checks"
    );
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("name=\"gate_accuracy\"><failure"));
    // The failed run is stored too.
    let o = kiln(&["history", "--db", dbs, "--format", "json", "--limit", "1"]);
    let newest = &json_of(&o)["runs"][0];
    assert_eq!(
        (newest["id"].as_i64(), &newest["passed"]),
        (Some(3), &json!(false))
    );

    // A looser limit lets the same run pass; the default limit applies only with a baseline.
    let o = validate(
        &db,
        &[
            "--baseline",
            base.to_str().unwrap(),
            "--max-accuracy-drop",
            "5.5",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(
        check(&json_of(&o), "gate_accuracy").unwrap()["passed"],
        true
    );

    // compare a report file with a run: B regresses against A, exit 1.
    let o = kiln(&["compare", base.to_str().unwrap(), "1", "--db", dbs]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("FAIL  gate_accuracy")
            && stderr(&o).contains("gate_accuracy"),
        "{}",
        show(&o)
    );
    // Improvement the other way round passes.
    let o = kiln(&["compare", "1", base.to_str().unwrap(), "--db", dbs]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

/// Report files with device figures: latency and size gates and deltas in `compare`.
#[test]
fn compare_gates_latency_and_sizes_of_report_files() {
    let dir = tempfile::tempdir().unwrap();
    let report = |instr: f64, flash: u64, ram: u64| {
        json!({
            "schema": "kiln.validate/1",
            "model": MODEL, "board": "mps2-an386", "precision": "f32", "samples": 4,
            "data": DATA,
            "accuracy": {"device": 0.75, "host": 0.75, "float": 0.75},
            "outputs": [],
            "instructions_per_inference": {"mean": instr, "min": instr as u64, "max": instr as u64},
            "repeat_identical": true, "stack": null,
            "firmware": {"hash": "ab".repeat(16), "sizes": {"flash_bytes": flash, "ram_bytes": ram}},
            "notices": [], "checks": [], "passed": true
        })
    };
    let a = dir.path().join("a.json");
    write_json(&a, &report(10_000.0, 20_000, 8_000));
    let compare = |b: &Value, extra: &[&str]| {
        let p = dir.path().join("b.json");
        write_json(&p, b);
        let mut args = vec![
            "compare",
            a.to_str().unwrap(),
            p.to_str().unwrap(),
            "--db",
            "/nonexistent/never-opened.db",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let o = kiln(&args);
        (o.status.code(), json_of(&o))
    };
    let failed = |c: &Value| -> Vec<String> {
        c["gates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["status"] == "fail")
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Exactly +5 % everywhere: at the default limits, passes.
    let (code, c) = compare(&report(10_500.0, 21_000, 8_400), &[]);
    assert_eq!(code, Some(0), "{c:#}");
    assert_eq!(c["deltas"]["instructions_mean_pct"], 5.0);
    assert_eq!(c["deltas"]["flash_pct"], 5.0);
    assert!(failed(&c).is_empty());
    // Latency +10 %: only the latency gate fails.
    let (code, c) = compare(&report(11_000.0, 20_000, 8_000), &[]);
    assert_eq!(
        (code, failed(&c)),
        (Some(1), vec!["gate_latency".to_string()])
    );
    // Flash and RAM beyond 5 %.
    let (code, c) = compare(&report(10_000.0, 21_001, 8_401), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(failed(&c), ["gate_flash", "gate_ram"]);
    // ... within a looser limit.
    let (code, c) = compare(
        &report(10_000.0, 21_001, 8_401),
        &["--max-size-increase", "10"],
    );
    assert_eq!((code, failed(&c).len()), (Some(0), 0));
}

#[test]
fn bad_inputs_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);

    // A database file that is not SQLite.
    std::fs::write(p("notes.db"), "not a database\n".repeat(200)).unwrap();
    let o = kiln(&["history", "--db", p("notes.db").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("notes.db") && stderr(&o).contains("not a SQLite database"),
        "{}",
        show(&o)
    );
    let o = validate(&p("notes.db"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("notes.db"), "{}", show(&o));

    // An unknown run id lists the newest ids.
    let db = p("k.db");
    for _ in 0..2 {
        let o = validate(&db, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }
    let o = kiln(&["compare", "1", "99", "--db", db.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("no run 99") && stderr(&o).contains("newest runs: 2, 1"),
        "{}",
        show(&o)
    );

    // A baseline that is not a validate report.
    write_json(
        &p("bench.json"),
        &json!({"schema": "kiln.bench/1", "samples": 3}),
    );
    let o = validate(&db, &["--baseline", p("bench.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("bench.json") && stderr(&o).contains("kiln.bench/1"),
        "{}",
        show(&o)
    );

    // Runs of different boards are not compared.
    let o = kiln(&["history", "--db", db.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        json_of(&o)["runs"].as_array().unwrap().len(),
        2,
        "nothing stored by errors"
    );
    let o = validate(&db, &["--no-db", "--report", p("r.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(p("r.json")).unwrap()).unwrap();
    other["board"] = json!("mps2-an385");
    write_json(&p("other.json"), &other);
    let o = kiln(&[
        "compare",
        "1",
        p("other.json").to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("different boards") && stderr(&o).contains("mps2-an385"),
        "{}",
        show(&o)
    );
    let o = validate(&db, &["--baseline", p("other.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("different boards"), "{}", show(&o));

    // Gate limits without a baseline are bad usage.
    let o = validate(&db, &["--max-accuracy-drop", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("--baseline"), "{}", show(&o));
}

#[test]
fn kiln_db_selects_the_database_and_no_db_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db");
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(dir.path())
        .env("KILN_DB", &db)
        .args(["validate", "--board", "host", "--format", "json", "--data"])
        .arg(root().join(DATA))
        .arg(root().join(MODEL))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(json_of(&o)["stored"]["db"], db.to_str().unwrap());
    assert!(db.is_file());
    assert!(!dir.path().join("kiln.db").exists());

    // --no-db: nothing written, `stored` is null; default ./kiln.db untouched.
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(dir.path())
        .env_remove("KILN_DB")
        .args([
            "validate", "--board", "host", "--format", "json", "--no-db", "--data",
        ])
        .arg(root().join(DATA))
        .arg(root().join(MODEL))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(json_of(&o)["stored"], Value::Null);
    assert!(!dir.path().join("kiln.db").exists());
}

fn bench(db: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "bench",
        MODEL,
        "--board",
        "host",
        "--limit",
        "2",
        "--db",
        db.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    kiln(&args)
}

/// `kiln bench` stores its run (kind `bench`); history lists both kinds; compare takes them.
#[test]
fn bench_runs_are_stored_listed_and_compared() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let dbs = db.to_str().unwrap();

    // JSON: schema, provenance, quantization and where it was stored.
    let o = bench(&db, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let b1 = json_of(&o);
    assert_eq!(b1["schema"], "kiln.bench/1");
    assert_eq!(b1["stored"], json!({"db": dbs, "id": 1}));
    assert_eq!(b1["quantization"], Value::Null);
    assert_eq!(b1["data"], DATA);
    let prov = &b1["provenance"];
    assert_eq!(prov["model_sha256"].as_str().unwrap().len(), 64, "{prov}");
    assert_eq!(prov["opset"], 13);
    assert!(prov["producer"].is_string() && prov["kiln_version"].is_string());
    // Human output names the run.
    let o = bench(&db, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("stored    run 2 in {dbs}")),
        "{}",
        show(&o)
    );
    // An int8 bench records its recipe and calibration hash.
    let o = bench(
        &db,
        &[
            "--precision",
            "int8",
            "--calib",
            "models/digits-mlp/calib.npz",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let b3 = json_of(&o);
    assert_eq!(b3["quantization"]["source"], "ptq");
    assert_eq!(b3["quantization"]["calib_hash"].as_str().unwrap().len(), 64);
    // --no-db: not stored.
    let o = bench(&db, &["--no-db", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(json_of(&o)["stored"], Value::Null);
    let o = validate(&db, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v4 = json_of(&o);
    assert_eq!(v4["stored"]["id"], 4);

    // history: both kinds with provenance and quantization columns.
    let runs = |extra: &[&str]| -> Vec<Value> {
        let mut a = vec!["history", "--db", dbs, "--format", "json"];
        a.extend_from_slice(extra);
        let o = kiln(&a);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        json_of(&o)["runs"].as_array().unwrap().clone()
    };
    let all = runs(&[]);
    let kinds: Vec<&str> = all.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["validate", "bench", "bench", "bench"]);
    for r in &all {
        assert_eq!(r["model_sha256"], prov["model_sha256"], "{r:#}");
        assert_eq!(r["producer"], prov["producer"]);
        assert_eq!(r["opset"], 13);
        assert_eq!(r["board"], "host");
    }
    let (v, i8b, b) = (&all[0], &all[1], &all[3]);
    assert_eq!(v["accuracy"], v4["accuracy"]);
    assert_eq!((&b["accuracy"], &b["samples"]), (&Value::Null, &json!(2)));
    assert_eq!(b["passed"], true);
    assert_eq!(b["quant_source"], Value::Null);
    assert_eq!(i8b["precision"], "int8");
    assert_eq!(i8b["quant_source"], "ptq");
    assert_eq!(i8b["quant_recipe"], b3["quantization"]["recipe"]);
    assert_eq!(i8b["calib_hash"], b3["quantization"]["calib_hash"]);
    let ids =
        |rs: Vec<Value>| -> Vec<i64> { rs.iter().map(|r| r["id"].as_i64().unwrap()).collect() };
    assert_eq!(ids(runs(&["--kind", "bench"])), [3, 2, 1]);
    assert_eq!(ids(runs(&["--kind", "validate"])), [4]);
    let o = kiln(&["history", "--db", dbs, "--kind", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // Human table: kind and the short recipe.
    let o = kiln(&["history", "--db", dbs]);
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no run {id}: {table}"))
            .to_string()
    };
    assert!(table.lines().next().unwrap().contains("kind"), "{table}");
    assert!(
        line("3").contains("bench") && line("3").contains("int8 ptq minmax"),
        "{table}"
    );
    assert!(
        line("4").contains("validate") && line("4").contains(" f32 "),
        "{table}"
    );

    // The stored report is the printed one, `stored` included.
    let stored = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT report_json FROM runs WHERE id = 1", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), b1);

    // compare two bench runs: no accuracy gate; the host has no latency or sizes.
    let o = kiln(&["compare", "1", "2", "--db", dbs, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let c = json_of(&o);
    assert_eq!(
        (&c["a"]["kind"], &c["b"]["kind"]),
        (&json!("bench"), &json!("bench"))
    );
    assert_eq!(c["gates"][0]["status"], "skipped");
    assert!(
        c["gates"][0]["detail"].as_str().unwrap().contains("bench"),
        "{c:#}"
    );
    // A bench run against a validate run: allowed, accuracy skipped either way round.
    for (a, b) in [("2", "4"), ("4", "2")] {
        let o = kiln(&["compare", a, b, "--db", dbs, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let c = json_of(&o);
        assert_eq!(c["gates"][0]["status"], "skipped", "{c:#}");
        assert_eq!(c["deltas"]["accuracy_device_pp"], Value::Null);
        assert_eq!(c["passed"], true);
    }
    // Different precisions are still refused.
    let o = kiln(&["compare", "2", "3", "--db", dbs]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("different precisions"), "{}", show(&o));
}

/// Bench report files: latency and size gates, and a validate baseline's accuracy ignored.
#[test]
fn compare_gates_bench_reports_on_latency_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let bench = |instr: f64, flash: u64, ram: u64| {
        json!({
            "schema": "kiln.bench/1",
            "model": MODEL, "board": "mps2-an386", "precision": "f32", "samples": 2,
            "data": DATA, "macs": 2368, "params": 2410,
            "instructions_per_inference": {"mean": instr, "min": instr as u64, "max": instr as u64},
            "instructions_per_mac": instr / 2368.0, "arena_bytes": 384,
            "firmware": {"hash": "ab".repeat(16), "sizes": {"flash_bytes": flash, "ram_bytes": ram}},
            "quantization": null, "provenance": null, "stored": null
        })
    };
    let mut validate_a = bench(10_000.0, 20_000, 8_000);
    validate_a["schema"] = json!("kiln.validate/1");
    validate_a["accuracy"] = json!({"device": 0.75, "host": 0.75, "float": 0.75});
    validate_a["passed"] = json!(true);
    let compare = |a: &Value, b: &Value| {
        let (pa, pb) = (dir.path().join("a.json"), dir.path().join("b.json"));
        write_json(&pa, a);
        write_json(&pb, b);
        let o = kiln(&[
            "compare",
            pa.to_str().unwrap(),
            pb.to_str().unwrap(),
            "--db",
            "/nonexistent/never-opened.db",
            "--format",
            "json",
        ]);
        (o.status.code(), json_of(&o))
    };
    let status = |c: &Value| -> Vec<String> {
        c["gates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["status"].as_str().unwrap().to_string())
            .collect()
    };
    let base = bench(10_000.0, 20_000, 8_000);
    let (code, c) = compare(&base, &bench(10_500.0, 21_000, 8_400));
    assert_eq!(code, Some(0), "{c:#}");
    assert_eq!(status(&c), ["skipped", "pass", "pass", "pass"]);
    assert_eq!(c["deltas"]["instructions_mean_pct"], 5.0);
    let (code, c) = compare(&base, &bench(11_000.0, 20_000, 8_000));
    assert_eq!(code, Some(1), "{c:#}");
    assert_eq!(status(&c), ["skipped", "fail", "pass", "pass"]);
    // Validate baseline, bench run: latency and sizes only.
    let (code, c) = compare(&validate_a, &bench(10_000.0, 22_000, 8_000));
    assert_eq!(code, Some(1), "{c:#}");
    assert_eq!(status(&c), ["skipped", "pass", "fail", "pass"]);
    assert_eq!(
        (&c["a"]["kind"], &c["b"]["kind"]),
        (&json!("validate"), &json!("bench"))
    );
    let (code, c) = compare(&validate_a, &bench(10_000.0, 20_000, 8_000));
    assert_eq!((code, status(&c)[0].as_str()), (Some(0), "skipped"));
    // A file of neither schema.
    let mut other = base.clone();
    other["schema"] = json!("kiln.other/7");
    let p = dir.path().join("other.json");
    write_json(&p, &other);
    let o = kiln(&["compare", p.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("kiln.other/7") && stderr(&o).contains("validate or bench"),
        "{}",
        show(&o)
    );
}

/// A database of schema 1 (kiln before bench runs were stored): `history` reads it as it is,
/// the next stored run migrates it to schema 2 and keeps its runs.
#[test]
fn a_schema_1_database_is_read_then_migrated_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let dbs = db.to_str().unwrap();
    let report = json!({
        "schema": "kiln.validate/1", "model": MODEL, "board": "host", "precision": "f32",
        "samples": 10, "data": DATA, "accuracy": {"device": 0.5, "host": 0.5, "float": 0.5},
        "instructions_per_inference": null, "firmware": null, "passed": true
    });
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,
                model TEXT NOT NULL, model_name TEXT NOT NULL, model_hash TEXT,
                board TEXT NOT NULL, precision TEXT NOT NULL, samples INTEGER NOT NULL,
                data TEXT, accuracy_device REAL, accuracy_host REAL, accuracy_float REAL,
                instructions_mean REAL, instructions_min INTEGER, instructions_max INTEGER,
                flash_bytes INTEGER, ram_bytes INTEGER, passed INTEGER NOT NULL,
                git_commit TEXT, kiln_version TEXT NOT NULL, report_json TEXT NOT NULL);
             CREATE INDEX runs_model_board ON runs (model_name, board);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        c.execute(
            "INSERT INTO runs (created_at, model, model_name, board, precision, samples, data,
                accuracy_device, accuracy_host, accuracy_float, passed, kiln_version,
                report_json)
             VALUES ('2025-01-31T12:34:56.789Z', ?1, 'digits-mlp', 'host', 'f32', 10, ?2,
                0.5, 0.5, 0.5, 1, '0.1.0', ?3)",
            rusqlite::params![MODEL, DATA, report.to_string()],
        )
        .unwrap();
    }
    let version = || -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    let history = || {
        let o = kiln(&["history", "--db", dbs, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        json_of(&o)["runs"].as_array().unwrap().clone()
    };
    let old = history();
    assert_eq!(old.len(), 1);
    assert_eq!(
        (&old[0]["kind"], &old[0]["producer"]),
        (&json!("validate"), &Value::Null)
    );
    assert_eq!(version(), 1, "history does not migrate");
    let o = bench(&db, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(json_of(&o)["stored"]["id"], 2);
    assert_eq!(version(), 2);
    let runs = history();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1], old[0], "the old run is kept as it was");
    assert_eq!(runs[0]["kind"], "bench");
    // The old run still compares (with the new bench run: latency and sizes only).
    let o = kiln(&["compare", "1", "2", "--db", dbs]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

//! The sample models under `models/`: import, optimize, and match tract on their test data.

mod import_support;

use std::path::PathBuf;

use import_support::*;
use kiln::data::{load_samples, InputSpec, Labels, LoadOptions};
use kiln::import::ImportOptions;
use kiln::optimize::{optimize, Rewrite};
use kiln::reference::Reference;

fn model_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
}

/// Imports `name`, checks MACs, runs the first samples of `test.npz` through the imported and the
/// optimized graph and through tract. Returns the optimize report.
fn check_sample_model(name: &str, macs: u64, samples: usize) -> kiln::optimize::OptimizeReport {
    let dir = model_dir(name);
    let imported = import_ok(&dir.join("model.onnx"), &ImportOptions::default());
    let reference = Reference::new(&imported.model).unwrap();
    let mut opt = imported.graph.clone();
    let report = optimize(&mut opt);
    assert_eq!(opt.total_macs(), macs, "{name}: MACs after optimize");
    let specs = InputSpec::of_graph(&imported.graph);
    let data = load_samples(
        &dir.join("test.npz"),
        &specs,
        &LoadOptions {
            labels: Labels::Default,
            limit: Some(samples),
        },
    )
    .unwrap();
    assert_eq!(data.n, samples.min(data.n));
    for i in 0..data.n {
        let inputs: Vec<Vec<f32>> = data.sample_all(i).iter().map(|s| s.to_vec()).collect();
        let refs: Vec<&[f32]> = data.sample_all(i);
        let expected = reference.run_flat(&refs).unwrap();
        for (what, g) in [("imported", &imported.graph), ("optimized", &opt)] {
            let got = run_ir(g, &inputs);
            for (a, b) in got.iter().zip(&expected) {
                assert_close(&format!("{name} sample {i} ({what})"), a, b);
            }
        }
    }
    report
}

#[test]
fn digits_mlp() {
    if !model_dir("digits-mlp").join("model.onnx").exists() {
        eprintln!("skipped: models/digits-mlp not present");
        return;
    }
    let report = check_sample_model("digits-mlp", 2368, 40);
    assert!(
        report
            .rewrites
            .iter()
            .any(|r| matches!(r, Rewrite::FusedActivation { .. })),
        "{report:?}"
    );
    let imported = import_ok(
        &model_dir("digits-mlp").join("model.onnx"),
        &ImportOptions::default(),
    );
    let g = &imported.graph;
    assert_eq!(g.tensors[g.inputs[0]].shape, [1, 64]);
    assert!(!g.meta.notices.is_empty(), "symbolic batch notice expected");
    assert_eq!(g.param_count(), 2410);
}

#[test]
fn digits_cnn() {
    if !model_dir("digits-cnn").join("model.onnx").exists() {
        eprintln!("skipped: models/digits-cnn not present");
        return;
    }
    let report = check_sample_model("digits-cnn", 23680, 40);
    assert_eq!(
        report.count(|r| matches!(r, Rewrite::FoldedBatchNorm { .. })),
        1,
        "{report}"
    );
    assert!(
        report.count(|r| matches!(r, Rewrite::FusedActivation { .. })) >= 2,
        "{report}"
    );
}

#[test]
fn ds_cnn_kws() {
    if !model_dir("ds-cnn-kws").join("model.onnx").exists() {
        eprintln!("skipped: models/ds-cnn-kws not present");
        return;
    }
    let report = check_sample_model("ds-cnn-kws", 2_656_768, 5);
    assert!(
        report.count(|r| matches!(r, Rewrite::FoldedBatchNorm { .. })) >= 5,
        "{report}"
    );
}

/// keras2onnx-style files list nodes out of order: kiln sorts them and computes the same
/// outputs as from the ordered file.
#[test]
fn nodes_out_of_topological_order() {
    use prost::Message;
    let dir = model_dir("digits-cnn");
    let mut proto = kiln::import::load_proto(&dir.join("model.onnx")).unwrap();
    proto.graph.as_mut().unwrap().node.reverse();
    let tmp = tempfile::tempdir().unwrap();
    let shuffled = tmp.path().join("reversed.onnx");
    std::fs::write(&shuffled, proto.encode_to_vec()).unwrap();
    let a = import_ok(&dir.join("model.onnx"), &ImportOptions::default());
    let b = import_ok(&shuffled, &ImportOptions::default());
    assert_eq!(a.graph.nodes.len(), b.graph.nodes.len());
    let specs = InputSpec::of_graph(&a.graph);
    let opts = LoadOptions {
        labels: Labels::Default,
        limit: Some(3),
    };
    let data = load_samples(&dir.join("test.npz"), &specs, &opts).unwrap();
    for i in 0..data.n {
        let inputs: Vec<Vec<f32>> = data.sample_all(i).iter().map(|s| s.to_vec()).collect();
        assert_eq!(
            run_ir(&a.graph, &inputs),
            run_ir(&b.graph, &inputs),
            "sample {i}"
        );
    }
    // A real cycle is an error naming a node on it.
    let mut cyc = proto.clone();
    let g = cyc.graph.as_mut().unwrap();
    // The first node (last in the reversed file) reads the last node's output.
    let n0 = g.node.len() - 1;
    g.node[n0].input[0] = g.node[0].output[0].clone();
    let path = tmp.path().join("cycle.onnx");
    std::fs::write(&path, cyc.encode_to_vec()).unwrap();
    let err = kiln::import::import(&path, &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}

//! Import failures: files that are not ONNX, unsupported ops (all listed at once), shapes that need
//! `--input-shape`, outputs with nothing to compute.

mod import_support;

use std::collections::HashMap;

use import_support::*;
use kiln::import::{import, ImportError, ImportOptions, Reason};

fn relu_model() -> M {
    M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .output("y")
        .node("Relu", &["x"], &["y"], vec![])
}

#[test]
fn missing_file_names_the_file() {
    let err = import(
        std::path::Path::new("/nonexistent/model.onnx"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/model.onnx"), "{err}");
}

#[test]
fn non_onnx_file_is_a_typed_error_naming_the_file() {
    let dir = tmp();
    for (name, bytes) in [
        (
            "text.onnx",
            b"this is certainly not a protobuf model\n".to_vec(),
        ),
        ("zeros.onnx", vec![0u8; 64]),
        ("empty.onnx", vec![]),
        ("png.onnx", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = import(&path, &ImportOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::Decode { .. } | ImportError::NotOnnx { .. }
            ),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{name}: {err}");
        assert!(
            err.to_string().contains("not an ONNX model"),
            "{name}: {err}"
        );
    }
}

#[test]
fn truncated_file_is_a_typed_error() {
    let dir = tmp();
    let full = relu_model().save(dir.path(), "full");
    let bytes = std::fs::read(&full).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 7] {
        let path = dir.path().join(format!("cut{cut}.onnx"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = import(&path, &ImportOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                ImportError::Decode { .. } | ImportError::NotOnnx { .. }
            ),
            "cut at {cut}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("cut{cut}.onnx")), "{err}");
    }
}

#[test]
fn three_unsupported_ops_are_all_listed() {
    let dir = tmp();
    let path = M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .output("y")
        .node("Relu", &["x"], &["a"], vec![])
        .node("Erf", &["a"], &["b"], vec![])
        .node("Relu", &["b"], &["c"], vec![])
        .node("Floor", &["c"], &["d"], vec![])
        .node("Relu", &["d"], &["e"], vec![])
        .node("FancyCustomOp", &["e"], &["y"], vec![])
        .save(dir.path(), "three");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let ImportError::Unsupported { problems, .. } = &err else {
        panic!("{err:?}")
    };
    let ops: Vec<&str> = problems.iter().map(|p| p.op_type.as_str()).collect();
    assert_eq!(ops, ["Erf", "Floor", "FancyCustomOp"], "{err}");
    assert!(problems
        .iter()
        .all(|p| p.reason == Reason::UnknownOp && p.opset == 13));
    let text = err.to_string();
    for needle in [
        "three.onnx",
        "3 problem",
        "erf_1",
        "Erf",
        "opset 13",
        "floor_3",
        "fancycustomop_5",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn unsupported_attribute_non_constant_weight_and_dtype_are_collected() {
    let dir = tmp();
    let path = M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .input("w", &[D::N(4), D::N(3)])
        .output("y")
        .output("z")
        .output("r")
        // Non-constant weights.
        .node("MatMul", &["x", "w"], &["y"], vec![])
        // Unsupported attribute value.
        .node("Pad", &["x", "pads"], &["p"], vec![as_("mode", "reflect")])
        .init_i64("pads", &[4], vec![0, 1, 0, 1])
        .node("Relu", &["p"], &["z"], vec![])
        // Cast of an activation to an integer type.
        .node("Cast", &["x"], &["c"], vec![ai("to", 7)])
        .node("Relu", &["x"], &["r"], vec![])
        .save(dir.path(), "mixed");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let ImportError::Unsupported { problems, .. } = &err else {
        panic!("{err:?}")
    };
    let text = err.to_string();
    assert!(
        problems.iter().any(|p| p.op_type == "MatMul"
            && matches!(&p.reason, Reason::NotConstant { input, .. } if input == "w")),
        "{text}"
    );
    assert!(
        problems.iter().any(|p| p.op_type == "Pad"
            && matches!(&p.reason, Reason::AttributeValue { name, .. } if name == "mode")),
        "{text}"
    );
    assert!(problems.iter().any(|p| p.op_type == "Cast"), "{text}");
    // Pad's consumer is not reported on its own (root causes only).
    assert_eq!(problems.len(), 3, "{text}");
}

#[test]
fn opset_and_arity_problems() {
    let dir = tmp();
    let path = M::new(11)
        .input("x", &[D::N(1), D::N(4)])
        .output("y")
        .node("HardSwish", &["x"], &["h"], vec![])
        .node("Relu", &["h"], &["y"], vec![ai("bogus_attribute", 1)])
        .save(dir.path(), "opset");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let ImportError::Unsupported { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            problems[0].reason,
            Reason::Opset {
                opset: 11,
                min: 14,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        problems.iter().any(
            |p| matches!(&p.reason, Reason::UnknownAttribute { name } if name == "bogus_attribute")
        ),
        "{err}"
    );
}

#[test]
fn symbolic_batch_is_fixed_with_a_notice() {
    let dir = tmp();
    let path = M::new(13)
        .input("x", &[D::S("batch"), D::N(4)])
        .output("y")
        .node("Relu", &["x"], &["y"], vec![])
        .save(dir.path(), "batch");
    let imported = import(&path, &ImportOptions::default()).unwrap();
    let g = &imported.graph;
    assert_eq!(g.tensors[g.inputs[0]].shape, [1, 4]);
    assert_eq!(g.tensors[g.outputs[0]].shape, [1, 4]);
    assert!(
        g.meta
            .notices
            .iter()
            .any(|n| n.contains("batch") && n.contains('x')),
        "{:?}",
        g.meta.notices
    );
}

#[test]
fn other_symbolic_dims_need_input_shape() {
    let dir = tmp();
    let path = M::new(13)
        .input("audio", &[D::N(1), D::S("time"), D::N(10)])
        .output("y")
        .node("Relu", &["audio"], &["y"], vec![])
        .save(dir.path(), "time");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let ImportError::UnresolvedInputDims { dims, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (dims[0].input.as_str(), dims[0].dim, dims[0].param.as_str()),
        ("audio", 1, "time")
    );
    let text = err.to_string();
    assert!(
        text.contains("--input-shape") && text.contains("audio") && text.contains("time"),
        "{text}"
    );

    let opts = ImportOptions {
        input_shapes: HashMap::from([("audio".to_string(), vec![1, 49, 10])]),
    };
    let imported = import(&path, &opts).unwrap();
    assert_eq!(
        imported.graph.tensors[imported.graph.outputs[0]].shape,
        [1, 49, 10]
    );

    // A shape that contradicts a fixed dim, and an unknown input name.
    let bad = ImportOptions {
        input_shapes: HashMap::from([("audio".to_string(), vec![1, 49, 11])]),
    };
    assert!(matches!(
        import(&path, &bad).unwrap_err(),
        ImportError::InputShapeMismatch { .. }
    ));
    let unknown = ImportOptions {
        input_shapes: HashMap::from([("nope".to_string(), vec![1])]),
    };
    let err = import(&path, &unknown).unwrap_err();
    assert!(matches!(err, ImportError::UnknownInput { .. }));
    assert!(err.to_string().contains("audio"), "{err}");
}

#[test]
fn outputs_that_are_constants_or_inputs_are_refused() {
    // An Identity of an input is a copy (deployable); the input itself as an output is not.
    let dir = tmp();
    let path = M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .output("k")
        .output("x")
        .output("y")
        .init("c", &[4], vec![1.0; 4])
        .node("Relu", &["c"], &["k"], vec![])
        .node("Relu", &["x"], &["y"], vec![])
        .save(dir.path(), "outs");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let ImportError::Unsupported { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        problems
            .iter()
            .any(|p| matches!(&p.reason, Reason::OutputIsConstant { output } if output == "k")),
        "{err}"
    );
    assert!(
        problems
            .iter()
            .any(|p| matches!(&p.reason, Reason::OutputIsInput { output } if output == "x")),
        "{err}"
    );
}

#[test]
fn negative_pads_and_bad_gather_indices_are_problems() {
    let dir = tmp();
    let path = M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .output("p")
        .output("g")
        .init_i64("pads", &[4], vec![0, -1, 0, 0])
        .init_i64("idx", &[1], vec![9])
        .node("Pad", &["x", "pads"], &["p"], vec![])
        .node("Gather", &["x", "idx"], &["g"], vec![ai("axis", 1)])
        .save(dir.path(), "neg");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let text = err.to_string();
    // tract itself may reject the out-of-range index during analysis; either way both nodes are named.
    assert!(
        text.contains("pad_0") && text.contains("negative"),
        "{text}"
    );
    assert!(text.contains("gather_1"), "{text}");
}

#[test]
fn non_float_input_is_a_problem() {
    let dir = tmp();
    let path = M::new(13)
        .input_typed("tokens", INT64, Some(&[D::N(1), D::N(4)]))
        .output("y")
        .node("Cast", &["tokens"], &["f"], vec![ai("to", 1)])
        .node("Relu", &["f"], &["y"], vec![])
        .save(dir.path(), "ints");
    let err = import(&path, &ImportOptions::default()).unwrap_err();
    let ImportError::Unsupported { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        problems.iter().any(|p| p.node == "tokens"
            && matches!(&p.reason, Reason::DType { dtype, .. } if dtype == "int64")),
        "{err}"
    );
}

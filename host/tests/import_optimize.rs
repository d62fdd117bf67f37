//! `optimize`: BN folding, activation fusion, copy removal — what is rewritten, what must not be,
//! and that results stay within the f32 contract against tract.

mod import_support;

use import_support::*;
use kiln::import::ImportOptions;
use kiln::optimize::Rewrite;
use kiln_kernels::f32::{KOp, ACT_CLIP, ACT_RELU};

fn bn_inits(m: M, c: usize) -> M {
    m.init(
        "s",
        &[c as i64],
        rand_vec(c, 11).iter().map(|v| 1.0 + 0.5 * v).collect(),
    )
    .init("b", &[c as i64], rand_vec(c, 12))
    .init("mean", &[c as i64], rand_vec(c, 13))
    .init(
        "var",
        &[c as i64],
        rand_vec(c, 14).iter().map(|v| 1.0 + 0.9 * v).collect(),
    )
}

#[test]
fn conv_bn_relu_folds_and_fuses() {
    let m = bn_inits(M::new(13), 4)
        .input("x", &[D::N(1), D::N(3), D::N(6), D::N(6)])
        .output("y")
        .init("w", &[4, 3, 3, 3], rand_vec(108, 1))
        .node(
            "Conv",
            &["x", "w"],
            &["c"],
            vec![ais("pads", &[1, 1, 1, 1])],
        )
        .node(
            "BatchNormalization",
            &["c", "s", "b", "mean", "var"],
            &["n"],
            vec![],
        )
        .node("Relu", &["n"], &["y"], vec![]);
    let dir = tmp();
    let (_, opt) = check_model(&m.save(dir.path(), "cbr"), &ImportOptions::default(), 5);
    assert_eq!(opt.nodes.len(), 1);
    let kiln::ir::Op::F32(KOp::Conv2d(p)) = opt.nodes[0].op else {
        panic!()
    };
    assert_eq!(p.act.kind, ACT_RELU);
    assert_eq!(opt.nodes[0].inputs.len(), 3, "folded bias");
    // No orphan tensors are left behind.
    assert_eq!(opt.tensors.len(), 4);
}

#[test]
fn bn_stays_when_conv_output_has_another_reader() {
    let m = bn_inits(M::new(13), 4)
        .input("x", &[D::N(1), D::N(3), D::N(5), D::N(5)])
        .output("y")
        .output("c")
        .init("w", &[4, 3, 1, 1], rand_vec(12, 2))
        .node("Conv", &["x", "w"], &["c"], vec![])
        .node(
            "BatchNormalization",
            &["c", "s", "b", "mean", "var"],
            &["y"],
            vec![],
        );
    let dir = tmp();
    let (_, opt) = check_model(&m.save(dir.path(), "shared"), &ImportOptions::default(), 5);
    assert!(opt
        .nodes
        .iter()
        .any(|n| matches!(n.op, kiln::ir::Op::F32(KOp::ChannelAffine(_)))));
}

#[test]
fn dense_bn_folds_and_clip_fuses_into_binary() {
    let m = bn_inits(M::new(13), 5)
        .input("x", &[D::N(2), D::N(4)])
        .input("z", &[D::N(2), D::N(5)])
        .output("y")
        .init("w", &[5, 4], rand_vec(20, 3))
        .init("c", &[5], rand_vec(5, 4))
        .init("lo", &[], vec![0.0])
        .init("hi", &[], vec![6.0])
        .node("Gemm", &["x", "w", "c"], &["g"], vec![ai("transB", 1)])
        .node(
            "BatchNormalization",
            &["g", "s", "b", "mean", "var"],
            &["n"],
            vec![],
        )
        .node("Add", &["n", "z"], &["a"], vec![])
        .node("Clip", &["a", "lo", "hi"], &["y"], vec![]);
    let dir = tmp();
    let (_, opt) = check_model(
        &m.save(dir.path(), "dense_bn"),
        &ImportOptions::default(),
        5,
    );
    let ops: Vec<&str> = opt.nodes.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Gemm", "Add"]);
    let kiln::ir::Op::F32(KOp::Binary(p)) = opt.nodes[1].op else {
        panic!()
    };
    assert_eq!((p.act.kind, p.act.a, p.act.b), (ACT_CLIP, 0.0, 6.0));
}

#[test]
fn no_fusion_across_graph_outputs_and_copies_of_inputs_stay() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(3)])
        .output("a")
        .output("r")
        .output("f")
        .init("k", &[3], vec![1.0, 2.0, 3.0])
        .node("Add", &["x", "k"], &["a"], vec![])
        .node("Relu", &["a"], &["r"], vec![])
        .node("Flatten", &["x"], &["f"], vec![]);
    let dir = tmp();
    let imported = import_ok(&m.save(dir.path(), "outs"), &ImportOptions::default());
    let mut g = imported.graph.clone();
    let report = kiln::optimize::optimize(&mut g);
    assert!(report.rewrites.is_empty(), "{report:?}");
    assert_eq!(g.nodes.len(), 3);
}

#[test]
fn copies_are_removed_and_graph_output_names_survive() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(3)])
        .output("out")
        .init("k", &[3], vec![1.0, 2.0, 3.0])
        .node("Mul", &["x", "k"], &["m"], vec![])
        .node("Flatten", &["m"], &["f"], vec![])
        .node("Identity", &["f"], &["out"], vec![]);
    let dir = tmp();
    let (imported, opt) = check_model(&m.save(dir.path(), "copies"), &ImportOptions::default(), 5);
    assert_eq!(imported.graph.nodes.len(), 3);
    assert_eq!(opt.nodes.len(), 1);
    assert_eq!(opt.tensors[opt.outputs[0]].name, "out");
    assert_eq!(opt.tensors[opt.outputs[0]].shape, [1, 6]);
    let mut g = imported.graph.clone();
    let report = kiln::optimize::optimize(&mut g);
    assert_eq!(
        report.count(|r| matches!(r, Rewrite::RemovedCopy { .. })),
        2,
        "{report}"
    );
}

/// HardSwish and HardSigmoid as exporters write them out (Paddle's `x * Clip(x + 3, 0, 6) / 6`,
/// PyTorch's `x * HardSigmoid(x)`, a Clip-free SE gate `Clip(x + 3, 0, 6) * (1/6)`): each becomes
/// one element-wise node, within the f32 contract of tract on the original graph.
#[test]
fn written_out_hard_swish_and_hard_sigmoid_become_one_op() {
    use kiln_kernels::f32::{UN_HARD_SIGMOID, UN_HARD_SWISH};
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(4), D::N(4)])
        .output("y")
        .init("three", &[], vec![3.0])
        .init("zero", &[], vec![0.0])
        .init("six", &[], vec![6.0])
        .init("sixth", &[], vec![1.0 / 6.0])
        // Paddle: x * Clip(x + 3, 0, 6) / 6
        .node("Add", &["x", "three"], &["a"], vec![])
        .node("Clip", &["a", "zero", "six"], &["c"], vec![])
        .node("Mul", &["x", "c"], &["m"], vec![])
        .node("Div", &["m", "six"], &["h1"], vec![])
        // PyTorch (opset < 14): HardSigmoid(x) * x
        .node(
            "HardSigmoid",
            &["h1"],
            &["s"],
            vec![af("alpha", 1.0 / 6.0), af("beta", 0.5)],
        )
        .node("Mul", &["s", "h1"], &["h2"], vec![])
        // A gate: Clip(x + 3, 0, 6) * (1/6)
        .node("Add", &["h2", "three"], &["a2"], vec![])
        .node("Clip", &["a2", "zero", "six"], &["c2"], vec![])
        .node("Mul", &["c2", "sixth"], &["y"], vec![]);
    let dir = tmp();
    let (_, opt) = check_model(&m.save(dir.path(), "hswish"), &ImportOptions::default(), 9);
    let kinds: Vec<u8> = opt
        .nodes
        .iter()
        .map(|n| match n.op {
            kiln::ir::Op::F32(KOp::Unary(u)) => u.kind,
            _ => panic!("{} is not element-wise", n.name),
        })
        .collect();
    assert_eq!(kinds, [UN_HARD_SWISH, UN_HARD_SWISH, UN_HARD_SIGMOID]);
}

/// tf2onnx-style Transpose pairs cancel; a Transpose then a Slice become one strided copy.
#[test]
fn transpose_pairs_cancel_and_copies_compose() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(3), D::N(4), D::N(5)])
        .output("y")
        .output("z")
        .init_i64("starts", &[1], vec![1])
        .init_i64("ends", &[1], vec![3])
        .init_i64("axes", &[1], vec![3])
        .node("Relu", &["x"], &["r"], vec![])
        .node(
            "Transpose",
            &["r"],
            &["t"],
            vec![ais("perm", &[0, 2, 3, 1])],
        )
        .node(
            "Transpose",
            &["t"],
            &["u"],
            vec![ais("perm", &[0, 3, 1, 2])],
        )
        .node("Relu", &["u"], &["y"], vec![])
        .node(
            "Transpose",
            &["y"],
            &["v"],
            vec![ais("perm", &[0, 3, 2, 1])],
        )
        .node("Slice", &["v", "starts", "ends", "axes"], &["z"], vec![]);
    let dir = tmp();
    let (_, opt) = check_model(&m.save(dir.path(), "tpairs"), &ImportOptions::default(), 3);
    let ops: Vec<String> = opt.nodes.iter().map(|n| n.op.variant()).collect();
    // Relu, Relu (the pair is gone), one strided copy for Transpose + Slice.
    assert_eq!(ops, ["Unary", "Unary", "Strided"], "{:?}", opt.nodes);
}

/// A zero Pad of the spatial dims before a Conv (as TF exporters write explicit padding)
/// becomes the conv's own padding.
#[test]
fn zero_pad_merges_into_conv() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(5), D::N(6)])
        .output("y")
        .init("w", &[3, 2, 3, 3], rand_vec(54, 3))
        .init_i64("pads", &[8], vec![0, 0, 1, 2, 0, 0, 2, 1])
        .node("Relu", &["x"], &["r"], vec![])
        .node("Pad", &["r", "pads"], &["p"], vec![])
        .node("Conv", &["p", "w"], &["y"], vec![ais("strides", &[2, 2])]);
    let dir = tmp();
    let (_, opt) = check_model(&m.save(dir.path(), "padconv"), &ImportOptions::default(), 4);
    let ops: Vec<String> = opt.nodes.iter().map(|n| n.op.variant()).collect();
    assert_eq!(ops, ["Unary", "Conv2d"]);
    let kiln::ir::Op::F32(KOp::Conv2d(p)) = opt.nodes[1].op else {
        panic!()
    };
    assert_eq!((p.in_h, p.in_w, p.pad_t, p.pad_l), (5, 6, 1, 2));
}

/// A per-channel constant Mul after a Conv folds into its weights and bias.
#[test]
fn per_channel_mul_folds_into_conv() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(4), D::N(4)])
        .output("y")
        .init("w", &[3, 2, 3, 3], rand_vec(54, 5))
        .init("b", &[3], rand_vec(3, 6))
        .init("s", &[3, 1, 1], vec![0.5, -2.0, 1.25])
        .node(
            "Conv",
            &["x", "w", "b"],
            &["c"],
            vec![ais("pads", &[1, 1, 1, 1])],
        )
        .node("Mul", &["c", "s"], &["y"], vec![]);
    let dir = tmp();
    let (_, opt) = check_model(&m.save(dir.path(), "convmul"), &ImportOptions::default(), 6);
    let ops: Vec<String> = opt.nodes.iter().map(|n| n.op.variant()).collect();
    assert_eq!(ops, ["Conv2d"]);
}

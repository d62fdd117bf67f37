//! Per-op imports checked numerically against the tract float reference (as imported and after
//! `optimize`), on small prost-built models.

mod import_support;

use std::collections::HashMap;

use import_support::*;
use kiln::import::ImportOptions;
use kiln_kernels::f32::KOp;

fn w(n: usize, seed: u64) -> Vec<f32> {
    rand_vec(n, seed)
}

fn check(m: M, name: &str) -> (kiln::import::Imported, kiln::ir::Graph) {
    let dir = tmp();
    let path = m.save(dir.path(), name);
    check_model(&path, &ImportOptions::default(), 7)
}

#[test]
fn conv_variants() {
    let cases: Vec<(&str, Vec<tract_onnx::pb::AttributeProto>, i64, i64)> = vec![
        ("plain", vec![], 1, 4),
        ("pads", vec![ais("pads", &[1, 2, 0, 1])], 1, 4),
        (
            "strides",
            vec![ais("strides", &[2, 3]), ais("pads", &[1, 1, 1, 1])],
            1,
            4,
        ),
        ("dilations", vec![ais("dilations", &[2, 1])], 1, 4),
        (
            "same_upper",
            vec![as_("auto_pad", "SAME_UPPER"), ais("strides", &[2, 2])],
            1,
            4,
        ),
        (
            "same_lower",
            vec![as_("auto_pad", "SAME_LOWER"), ais("strides", &[2, 1])],
            1,
            4,
        ),
        ("valid", vec![as_("auto_pad", "VALID")], 1, 4),
        ("groups", vec![ai("group", 2)], 2, 4),
        (
            "depthwise",
            vec![ai("group", 4), ais("pads", &[1, 1, 1, 1])],
            4,
            4,
        ),
    ];
    for (name, attrs, groups, oc) in cases {
        let ic_per_group = 4 / groups;
        let m = M::new(13)
            .input("x", &[D::N(1), D::N(4), D::N(7), D::N(9)])
            .output("y")
            .init(
                "w",
                &[oc, ic_per_group, 3, 3],
                w((oc * ic_per_group * 9) as usize, 1),
            )
            .init("b", &[oc], w(oc as usize, 2))
            .node("Conv", &["x", "w", "b"], &["y"], attrs);
        let (imported, _) = check(m, name);
        assert!(
            matches!(
                imported.graph.nodes[0].op,
                kiln::ir::Op::F32(KOp::Conv2d(_))
            ),
            "{name}"
        );
        assert!(imported.graph.nodes[0].macs > 0);
    }
}

#[test]
fn conv1d_without_bias() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(3), D::N(20)])
        .output("y")
        .init("w", &[5, 3, 4], w(60, 3))
        .node(
            "Conv",
            &["x", "w"],
            &["y"],
            vec![ais("strides", &[2]), ais("pads", &[1, 2])],
        );
    check(m, "conv1d");
}

#[test]
fn gemm_variants() {
    // (transA, transB, alpha, beta, C shape)
    let cases: Vec<(i64, i64, f32, f32, Vec<i64>)> = vec![
        (0, 0, 1.0, 1.0, vec![5]),
        (0, 1, 1.0, 1.0, vec![5]),
        (1, 0, 0.5, 2.0, vec![1, 5]),
        (1, 1, 1.5, 0.25, vec![3, 5]),
        (0, 1, 1.0, 1.0, vec![3, 1]),
        (0, 0, 1.0, 1.0, vec![]),
    ];
    for (i, (ta, tb, alpha, beta, cshape)) in cases.into_iter().enumerate() {
        let a_shape = if ta == 1 {
            [D::N(4), D::N(3)]
        } else {
            [D::N(3), D::N(4)]
        };
        let b_dims: [i64; 2] = if tb == 1 { [5, 4] } else { [4, 5] };
        let clen: i64 = cshape.iter().product();
        let m = M::new(13)
            .input("a", &a_shape)
            .output("y")
            .init("b", &b_dims, w(20, 4))
            .init("c", &cshape, w(clen as usize, 5))
            .node(
                "Gemm",
                &["a", "b", "c"],
                &["y"],
                vec![
                    ai("transA", ta),
                    ai("transB", tb),
                    af("alpha", alpha),
                    af("beta", beta),
                ],
            );
        check(m, &format!("gemm{i}"));
    }
}

#[test]
fn gemm_with_computed_c() {
    let m = M::new(13)
        .input("a", &[D::N(2), D::N(4)])
        .input("c", &[D::N(2), D::N(3)])
        .output("y")
        .init("b", &[3, 4], w(12, 6))
        .node("Gemm", &["a", "b", "c"], &["y"], vec![ai("transB", 1)]);
    check(m, "gemm_c");
}

#[test]
fn matmul_batched_and_bias_add_folds() {
    let m = M::new(13)
        .input("x", &[D::N(2), D::N(3), D::N(4)])
        .output("y")
        .init("w", &[4, 6], w(24, 7))
        .init("bias", &[6], w(6, 8))
        .node("MatMul", &["x", "w"], &["h"], vec![])
        .node("Add", &["h", "bias"], &["y"], vec![]);
    let (_, opt) = check(m, "matmul3d");
    assert_eq!(opt.nodes.len(), 1, "{:?}", opt.nodes);
    let kiln::ir::Op::F32(KOp::Dense(p)) = opt.nodes[0].op else {
        panic!()
    };
    assert_eq!((p.batch, p.m, p.k, p.n), (2, 3, 4, 6));
    assert_eq!(opt.nodes[0].inputs.len(), 3);
}

#[test]
fn matmul_with_batched_constant_b() {
    // (A shape, B shape)
    let cases: Vec<(Vec<i64>, Vec<i64>)> = vec![
        (vec![2, 3, 4], vec![2, 4, 5]),
        (vec![3, 4], vec![2, 4, 5]),
        (vec![4], vec![3, 4, 2]),
        (vec![2, 1, 3, 4], vec![3, 4, 2]),
        (vec![1, 3, 4], vec![1, 4, 2]),
        (vec![17, 1, 2], vec![17, 2, 2]),
        (vec![3, 4], vec![4]),
    ];
    for (i, (sa, sb)) in cases.into_iter().enumerate() {
        let dims: Vec<D> = sa.iter().map(|&d| D::N(d)).collect();
        let len: i64 = sb.iter().product();
        let m = M::new(13)
            .input("a", &dims)
            .output("y")
            .init("b", &sb, w(len as usize, 20 + i as u64))
            .node("MatMul", &["a", "b"], &["y"], vec![]);
        check(m, &format!("bmm{i}"));
    }
}

#[test]
fn binary_broadcasting_either_side_constant() {
    for (i, op) in ["Add", "Sub", "Mul", "Div"].into_iter().enumerate() {
        let m = M::new(13)
            .input("x", &[D::N(2), D::N(3), D::N(4)])
            .input("z", &[D::N(3), D::N(1)])
            .output("y")
            .init("k", &[1, 3, 1], vec![1.5, -2.0, 0.75])
            .node(op, &["k", "x"], &["a"], vec![])
            .node(op, &["a", "z"], &["b"], vec![])
            .node(op, &["b", "k"], &["y"], vec![]);
        check(m, &format!("bin{i}"));
    }
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(3), D::N(2), D::N(2)])
        .output("y")
        .init("slope", &[3, 1, 1], vec![0.1, 0.2, 0.3])
        .node("PRelu", &["x", "slope"], &["y"], vec![]);
    check(m, "prelu");
}

#[test]
fn activations() {
    let m = M::new(14)
        .input("x", &[D::N(2), D::N(8)])
        .output("y")
        .init("lo", &[], vec![-0.25])
        .init("hi", &[], vec![0.5])
        .node("Relu", &["x"], &["a"], vec![])
        .node("LeakyRelu", &["x"], &["b"], vec![af("alpha", 0.2)])
        .node("Sigmoid", &["x"], &["c"], vec![])
        .node("Tanh", &["x"], &["d"], vec![])
        .node("HardSigmoid", &["x"], &["e"], vec![af("alpha", 0.3)])
        .node("HardSwish", &["x"], &["f"], vec![])
        .node("Clip", &["x", "lo", "hi"], &["g"], vec![])
        .node("Clip", &["x", "", "hi"], &["h"], vec![])
        .node(
            "Concat",
            &["a", "b", "c", "d", "e", "f", "g", "h"],
            &["y"],
            vec![ai("axis", 1)],
        );
    check(m, "acts");
    let m = M::new(9).input("x", &[D::N(2), D::N(8)]).output("y").node(
        "Clip",
        &["x"],
        &["y"],
        vec![af("min", -0.1), af("max", 0.2)],
    );
    check(m, "clip6");
}

#[test]
fn pools() {
    let cases: Vec<(&str, &str, Vec<tract_onnx::pb::AttributeProto>)> = vec![
        (
            "max",
            "MaxPool",
            vec![ais("kernel_shape", &[2, 2]), ais("strides", &[2, 2])],
        ),
        (
            "max_pad_ceil",
            "MaxPool",
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("strides", &[2, 2]),
                ais("pads", &[1, 1, 1, 1]),
                ai("ceil_mode", 1),
            ],
        ),
        (
            "max_dil",
            "MaxPool",
            vec![ais("kernel_shape", &[2, 2]), ais("dilations", &[2, 2])],
        ),
        (
            "avg",
            "AveragePool",
            vec![ais("kernel_shape", &[3, 3]), ais("strides", &[2, 2])],
        ),
        (
            "avg_pad",
            "AveragePool",
            vec![ais("kernel_shape", &[3, 3]), ais("pads", &[1, 1, 1, 1])],
        ),
        (
            "avg_pad_incl",
            "AveragePool",
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("pads", &[1, 0, 1, 2]),
                ai("count_include_pad", 1),
            ],
        ),
        (
            "avg_ceil_incl",
            "AveragePool",
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("strides", &[2, 2]),
                ais("pads", &[1, 1, 1, 1]),
                ai("ceil_mode", 1),
                ai("count_include_pad", 1),
            ],
        ),
        (
            "avg_ceil_nopad_incl",
            "AveragePool",
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("strides", &[2, 2]),
                ai("ceil_mode", 1),
                ai("count_include_pad", 1),
            ],
        ),
        (
            "avg_same",
            "AveragePool",
            vec![
                ais("kernel_shape", &[3, 2]),
                as_("auto_pad", "SAME_UPPER"),
                ais("strides", &[2, 2]),
            ],
        ),
    ];
    for (name, op, attrs) in cases {
        let m = M::new(13)
            .input("x", &[D::N(1), D::N(2), D::N(7), D::N(8)])
            .output("y")
            .node(op, &["x"], &["y"], attrs);
        check(m, name);
    }
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(3), D::N(10)])
        .output("y")
        .node(
            "MaxPool",
            &["x"],
            &["y"],
            vec![ais("kernel_shape", &[3]), ais("strides", &[2])],
        );
    check(m, "maxpool1d");
    let m = M::new(13)
        .input("x", &[D::N(2), D::N(3), D::N(4), D::N(5)])
        .output("y")
        .node("GlobalAveragePool", &["x"], &["a"], vec![])
        .node("GlobalMaxPool", &["x"], &["b"], vec![])
        .node("Add", &["a", "b"], &["y"], vec![]);
    check(m, "global");
}

#[test]
fn shape_ops_and_pytorch_shape_subgraph() {
    // x [1, 2, 3, 4] → Shape → Gather(0) → Unsqueeze → Concat with [2, -1] → Reshape: [1, 2, 12].
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(3), D::N(4)])
        .output("y")
        .init_i64("zero", &[], vec![0])
        .init_i64("axes0", &[1], vec![0])
        .init_i64("rest", &[2], vec![2, -1])
        .node("Relu", &["x"], &["r"], vec![])
        .node("Shape", &["r"], &["s"], vec![])
        .node("Gather", &["s", "zero"], &["n"], vec![ai("axis", 0)])
        .node("Unsqueeze", &["n", "axes0"], &["n1"], vec![])
        .node("Concat", &["n1", "rest"], &["shape"], vec![ai("axis", 0)])
        .node("Reshape", &["r", "shape"], &["flat"], vec![])
        .node(
            "Transpose",
            &["flat"],
            &["t"],
            vec![ais("perm", &[0, 2, 1])],
        )
        .node("Unsqueeze", &["t", "axes0"], &["u"], vec![])
        .node("Squeeze", &["u", "axes0"], &["s2"], vec![])
        .node("Flatten", &["s2"], &["y"], vec![ai("axis", 0)]);
    let (imported, opt) = check(m, "torch_shape");
    // Only Relu, Reshape, Transpose, Unsqueeze, Squeeze, Flatten are computed.
    let ops: Vec<&str> = imported
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert_eq!(
        ops,
        [
            "Relu",
            "Reshape",
            "Transpose",
            "Unsqueeze",
            "Squeeze",
            "Flatten"
        ]
    );
    // The Reshape after Relu aliases away; the Transpose stays.
    assert!(opt.nodes.len() < imported.graph.nodes.len());
    assert!(opt.nodes.iter().any(|n| n.op_type == "Transpose"));
}

#[test]
fn split_slice_gather_concat() {
    let m = M::new(13)
        .input("x", &[D::N(2), D::N(6), D::N(5)])
        .output("a")
        .output("b")
        .output("s")
        .output("g")
        .init_i64("split", &[2], vec![2, 4])
        .init_i64("starts", &[2], vec![-1, 4])
        .init_i64("ends", &[2], vec![i64::MIN, 0])
        .init_i64("axes", &[2], vec![2, 1])
        .init_i64("steps", &[2], vec![-2, -3])
        .init_i64("idx", &[2, 2], vec![0, -1, 2, 2])
        .node("Split", &["x", "split"], &["a", "b"], vec![ai("axis", 1)])
        .node(
            "Slice",
            &["x", "starts", "ends", "axes", "steps"],
            &["s"],
            vec![],
        )
        .node("Gather", &["x", "idx"], &["g"], vec![ai("axis", -1)]);
    let (imported, _) = check(m, "split_slice");
    let g = &imported.graph;
    assert_eq!(g.tensors[g.outputs[2]].shape, [2, 2, 3]);
    assert_eq!(g.tensors[g.outputs[3]].shape, [2, 6, 2, 2]);

    // Split-18 with num_outputs, scalar-index Gather, Concat of 20 inputs (chained).
    let mut m = M::new(18)
        .input("x", &[D::N(1), D::N(6), D::N(4)])
        .output("g")
        .output("c")
        .init_i64("one", &[], vec![1])
        .node(
            "Split",
            &["x"],
            &["p", "q", "r"],
            vec![ai("axis", 1), ai("num_outputs", 3)],
        )
        .node("Gather", &["q", "one"], &["g"], vec![ai("axis", 1)]);
    let names: Vec<String> = (0..20)
        .map(|i| ["p", "q", "r"][i % 3].to_string())
        .collect();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    m = m.node("Concat", &refs, &["c"], vec![ai("axis", 2)]);
    let (imported, _) = check(m, "split18");
    let g = &imported.graph;
    assert_eq!(g.tensors[g.outputs[0]].shape, [1, 4]);
    assert_eq!(g.nodes.iter().filter(|n| n.op_type == "Concat").count(), 2);
}

#[test]
fn slice_opset9_and_pad_variants() {
    let m = M::new(9).input("x", &[D::N(3), D::N(8)]).output("y").node(
        "Slice",
        &["x"],
        &["y"],
        vec![
            ais("starts", &[1, -5]),
            ais("ends", &[100, -1]),
            ais("axes", &[0, 1]),
        ],
    );
    check(m, "slice9");
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::N(3)])
        .output("y")
        .init_i64("pads", &[6], vec![0, 1, 2, 0, 3, 0])
        .init("v", &[], vec![0.5])
        .node("Pad", &["x", "pads", "v"], &["y"], vec![]);
    check(m, "pad11");
    let m = M::new(18)
        .input("x", &[D::N(1), D::N(2), D::N(3)])
        .output("y")
        .init_i64("pads", &[2], vec![2, 1])
        .init_i64("axes", &[1], vec![-1])
        .node("Pad", &["x", "pads", "", "axes"], &["y"], vec![]);
    check(m, "pad18");
    let m = M::new(10).input("x", &[D::N(2), D::N(3)]).output("y").node(
        "Pad",
        &["x"],
        &["y"],
        vec![ais("pads", &[1, 0, 0, 2]), af("value", -1.0)],
    );
    check(m, "pad2");
}

#[test]
fn resize_nearest_modes() {
    let modes = [
        ("half_pixel", "round_prefer_floor"),
        ("asymmetric", "floor"),
        ("align_corners", "round_prefer_ceil"),
        ("pytorch_half_pixel", "ceil"),
        ("tf_half_pixel_for_nn", "round_prefer_floor"),
        ("half_pixel_symmetric", "round_prefer_floor"),
    ];
    for (i, (coord, nearest)) in modes.into_iter().enumerate() {
        let m = M::new(19)
            .input("x", &[D::N(1), D::N(2), D::N(3), D::N(5)])
            .output("up")
            .output("down")
            .init("scales", &[4], vec![1.0, 1.0, 2.0, 1.5])
            .init_i64("sizes", &[4], vec![1, 2, 2, 3])
            .node(
                "Resize",
                &["x", "", "scales"],
                &["up"],
                vec![
                    as_("coordinate_transformation_mode", coord),
                    as_("nearest_mode", nearest),
                ],
            )
            .node(
                "Resize",
                &["x", "", "", "sizes"],
                &["down"],
                vec![
                    as_("coordinate_transformation_mode", coord),
                    as_("nearest_mode", nearest),
                ],
            );
        check(m, &format!("resize{i}"));
    }
    let m = M::new(10)
        .input("x", &[D::N(1), D::N(1), D::N(2), D::N(3)])
        .output("y")
        .init("scales", &[4], vec![1.0, 1.0, 3.0, 2.0])
        .node(
            "Resize",
            &["x", "scales"],
            &["y"],
            vec![as_("mode", "nearest")],
        );
    check(m, "resize10");
}

#[test]
fn softmax_reduce_batchnorm_identity_dropout_cast() {
    let m = M::new(11)
        .input("x", &[D::N(2), D::N(3), D::N(4)])
        .output("y")
        .node("Softmax", &["x"], &["y"], vec![ai("axis", 1)]);
    check(m, "softmax11");
    let m = M::new(13)
        .input("x", &[D::N(2), D::N(3), D::N(4)])
        .output("y")
        .output("z")
        .node("Softmax", &["x"], &["y"], vec![ai("axis", 1)])
        .node(
            "ReduceMean",
            &["x"],
            &["z"],
            vec![ais("axes", &[0, -1]), ai("keepdims", 0)],
        );
    check(m, "softmax13");
    let m = M::new(18)
        .input("x", &[D::N(2), D::N(3), D::N(4)])
        .output("y")
        .init_i64("axes", &[1], vec![1])
        .node("ReduceMean", &["x", "axes"], &["y"], vec![]);
    check(m, "reducemean18");
    let m = M::new(15)
        .input("x", &[D::N(2), D::N(3), D::N(2), D::N(2)])
        .output("y")
        .init("s", &[3], vec![1.0, 0.5, 2.0])
        .init("b", &[3], vec![0.1, -0.2, 0.3])
        .init("mean", &[3], vec![0.05, 0.1, -0.1])
        .init("var", &[3], vec![0.9, 1.2, 0.4])
        .node("Identity", &["x"], &["i"], vec![])
        .node("Dropout", &["i"], &["d"], vec![])
        .node("Cast", &["d"], &["c"], vec![ai("to", 1)])
        .node(
            "BatchNormalization",
            &["c", "s", "b", "mean", "var"],
            &["y"],
            vec![af("epsilon", 1e-3)],
        );
    let (imported, _) = check(m, "bn");
    let ops: Vec<&str> = imported
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert_eq!(ops, ["Cast", "BatchNormalization"]);
}

#[test]
fn dequantize_linear_of_constant_weights_is_folded() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .output("y")
        .init_i8(
            "wq",
            &[4, 3],
            vec![-128, -5, 0, 1, 2, 3, 4, 5, 6, 7, 100, 127],
        )
        .init("scale", &[], vec![0.02])
        .init_i8("zp", &[], vec![3])
        .node("DequantizeLinear", &["wq", "scale", "zp"], &["w"], vec![])
        .node("MatMul", &["x", "w"], &["y"], vec![]);
    let (imported, _) = check(m, "dq");
    let g = &imported.graph;
    assert_eq!(g.nodes.len(), 1);
    let wt = &g.tensors[g.nodes[0].inputs[1]];
    let data = wt.data.as_ref().unwrap();
    assert!((data[0] - (-131.0 * 0.02)).abs() < 1e-6, "{data:?}");
}

#[test]
fn input_shape_option_fixes_symbolic_dims() {
    let dir = tmp();
    let path = M::new(13)
        .input("x", &[D::S("n"), D::N(2), D::S("t")])
        .output("y")
        .init("w", &[4, 2, 3], w(24, 9))
        .node("Conv", &["x", "w"], &["y"], vec![])
        .save(dir.path(), "sym");
    let opts = ImportOptions {
        input_shapes: HashMap::from([("x".to_string(), vec![1, 2, 11])]),
    };
    let (imported, _) = check_model(&path, &opts, 3);
    assert_eq!(
        imported.graph.tensors[imported.graph.outputs[0]].shape,
        [1, 4, 9]
    );
}

#[test]
fn constants_beyond_tracts_folding_budget_are_folded_too() {
    // int8 weights whose float32 form (6 MiB) exceeds what tract's analysis folds (4 MiB).
    let (k, n) = (1024usize, 1536usize);
    let wq: Vec<i8> = (0..k * n).map(|i| ((i * 7919) % 255) as i8).collect();
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(k as i64)])
        .output("y")
        .init_i8("wq", &[k as i64, n as i64], wq)
        .init("scale", &[], vec![0.001])
        .node("DequantizeLinear", &["wq", "scale"], &["w"], vec![])
        .node("MatMul", &["x", "w"], &["y"], vec![]);
    let (imported, _) = check(m, "big_dq");
    let g = &imported.graph;
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].op_type, "MatMul");
    assert!(g.tensors[g.nodes[0].inputs[1]].is_const());
}

//! A model with int8 inputs and outputs (a QLinearConv between int8 tensors) through the CLI on
//! the `host` board and on mps2-an386: int8 data in, int8 data out, the conv on the int8 kernel,
//! every output within one step of the float evaluation of the ONNX definition.

mod import_support;

mod e2e_support;

use e2e_support::kiln;
use std::path::{Path, PathBuf};

use import_support::*;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzReader, NpzWriter};
use tract_onnx::pb::tensor_proto::DataType;

const I32: i32 = DataType::Int32 as i32;

/// The model's parameters, shared by the model and the expected-output computation.
struct Q {
    xs: f32,
    xz: i8,
    ws: [f32; 3],
    ys: f32,
    yz: i8,
    w: Vec<i8>,
    b: [i32; 3],
}

fn params() -> Q {
    let w: Vec<i8> = (0..3 * 2 * 3 * 3)
        .map(|i: i32| (i * 37 + 11) % 255 - 127)
        .map(|v| v as i8)
        .collect();
    Q {
        xs: 0.05,
        xz: 3,
        ws: [0.01, 0.02, 0.015],
        ys: 0.25,
        yz: -5,
        w,
        b: [100, -250, 40],
    }
}

fn model(dir: &Path) -> PathBuf {
    let q = params();
    M::new(13)
        .input_typed("x", INT8, Some(&[D::N(1), D::N(2), D::N(5), D::N(5)]))
        .init("x_scale", &[], vec![q.xs])
        .init_i8("x_zero_point", &[], vec![q.xz])
        .init_i8("w", &[3, 2, 3, 3], q.w.clone())
        .init("w_scale", &[3], q.ws.to_vec())
        .init_i8("w_zero_point", &[3], vec![0; 3])
        .init("y_scale", &[], vec![q.ys])
        .init_i8("y_zero_point", &[], vec![q.yz])
        .init_raw(
            "b",
            I32,
            &[3],
            q.b.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
        .node(
            "QLinearConv",
            &[
                "x",
                "x_scale",
                "x_zero_point",
                "w",
                "w_scale",
                "w_zero_point",
                "y_scale",
                "y_zero_point",
                "b",
            ],
            &["y"],
            vec![ais("pads", &[1, 1, 1, 1]), ais("kernel_shape", &[3, 3])],
        )
        .output_typed("y", INT8)
        .save(dir, "qlinearconv")
}

/// ONNX's definition evaluated in f64: `(x - xz)·xs ⊛ w·ws + b·xs·ws`, divided by `ys`, rounded
/// half to even, plus `yz`, saturated.
fn expected(x: &[i8]) -> Vec<i8> {
    let q = params();
    let mut out = vec![0i8; 3 * 25];
    for c in 0..3 {
        for oy in 0..5i32 {
            for ox in 0..5i32 {
                let mut acc = q.b[c] as f64 * q.xs as f64 * q.ws[c] as f64;
                for ic in 0..2 {
                    for ky in 0..3i32 {
                        for kx in 0..3i32 {
                            let (iy, ix) = (oy + ky - 1, ox + kx - 1);
                            if !(0..5).contains(&iy) || !(0..5).contains(&ix) {
                                continue;
                            }
                            let xv = x[ic * 25 + (iy * 5 + ix) as usize] as f64 - q.xz as f64;
                            let wv = q.w[((c * 2 + ic) * 3 + ky as usize) * 3 + kx as usize];
                            acc += xv * q.xs as f64 * wv as f64 * q.ws[c] as f64;
                        }
                    }
                }
                let y = (acc / q.ys as f64).round_ties_even() + q.yz as f64;
                out[c * 25 + (oy * 5 + ox) as usize] = y.clamp(-128.0, 127.0) as i8;
            }
        }
    }
    out
}

fn samples() -> Vec<Vec<i8>> {
    (0..3)
        .map(|s| {
            (0..50)
                .map(|i: i32| ((i * 53 + s * 101 + 7) % 256 - 128) as i8)
                .collect()
        })
        .collect()
}

fn run_on(board: &str, dir: &Path, model: &Path) {
    let xs = samples();
    let input = dir.join("x.npz");
    write_x(&input, &xs, &[3, 1, 2, 5, 5]);
    let output = dir.join(format!("y-{board}.npz"));
    let o = kiln("e2e-kiln.db")
        .arg("run")
        .arg(model)
        .args(["--board", board, "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .arg("--out")
        .arg(dir.join(format!("fw-{board}")))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kiln run on {board}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut r = NpzReader::new(std::fs::File::open(&output).unwrap()).unwrap();
    let y: ArrayD<i8> = r.by_name("y").expect("an int8 output `y`");
    assert_eq!(y.shape(), [3, 1, 3, 5, 5]);
    let got: Vec<i8> = y.iter().copied().collect();
    let want: Vec<i8> = xs.iter().flat_map(|x| expected(x)).collect();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(&a, &b)| (a as i32 - b as i32).abs())
        .max()
        .unwrap();
    assert!(worst <= 1, "{board}: an output is {worst} steps off");
}

#[test]
fn int8_model_io_on_host_and_device() {
    let dir = tmp();
    let model = model(dir.path());
    // The conv runs on the int8 kernel with the model's own parameters.
    let o = kiln("e2e-kiln.db")
        .arg("build")
        .arg(&model)
        .args(["--board", "host", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["precision"], "int8", "{r:#}");
    let input = dir.path().join("x.npz");
    run_on("host", dir.path(), &model);
    validate_all_int8(&model, &input, 1);
    run_on("mps2-an386", dir.path(), &model);
}

/// `kiln validate` on the host board passes, with at least `layers` layers and all of them int8.
fn validate_all_int8(model: &Path, input: &Path, layers: u64) {
    let o = kiln("e2e-kiln.db")
        .arg("validate")
        .arg(model)
        .args(["--board", "host", "--format", "json", "--no-db", "--data"])
        .arg(input)
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["passed"], true, "{r:#}");
    let q = &r["quantization"];
    assert_eq!(q["f32_layers"], 0, "{q:#}");
    assert!(q["int8_layers"].as_u64().unwrap() >= layers, "{q:#}");
}

/// Writes int8 samples `xs` as input `x` of `shape` (batch first).
fn write_x(path: &Path, xs: &[Vec<i8>], shape: &[usize]) {
    let mut w = NpzWriter::new(std::fs::File::create(path).unwrap());
    let flat: Vec<i8> = xs.iter().flatten().copied().collect();
    let a = ArrayD::from_shape_vec(IxDyn(shape), flat).unwrap();
    w.add_array("x", &a).unwrap();
    w.finish().unwrap();
}

/// tf2onnx's data movement on int8 tensors: Slice, Pad (with the zero point and with another
/// value) and Concat of two int8 branches with equal parameters, then one DequantizeLinear.
fn movement_model(dir: &Path) -> PathBuf {
    M::new(13)
        .input_typed("x", INT8, Some(&[D::N(1), D::N(2), D::N(4), D::N(4)]))
        .init("s", &[], vec![0.1])
        .init_i8("zp", &[], vec![3])
        .init_i8("minus7", &[], vec![-7])
        .init_i64("h_start", &[1], vec![1])
        .init_i64("h_end", &[1], vec![4])
        .init_i64("h_axis", &[1], vec![2])
        .init_i64("w_start", &[1], vec![0])
        .init_i64("w_end", &[1], vec![3])
        .init_i64("w_axis", &[1], vec![3])
        .init_i64("pad_top", &[8], vec![0, 0, 1, 0, 0, 0, 0, 0])
        .init_i64("pad_left", &[8], vec![0, 0, 0, 1, 0, 0, 0, 0])
        .node(
            "Slice",
            &["x", "h_start", "h_end", "h_axis"],
            &["a"],
            vec![],
        )
        .node("Pad", &["a", "pad_top", "zp"], &["b"], vec![])
        .node(
            "Slice",
            &["x", "w_start", "w_end", "w_axis"],
            &["c0"],
            vec![],
        )
        .node("Pad", &["c0", "pad_left", "minus7"], &["c"], vec![])
        .node("Concat", &["b", "c"], &["y"], vec![ai("axis", 1)])
        .node("DequantizeLinear", &["y", "s", "zp"], &["out"], vec![])
        .output("out")
        .save(dir, "movement")
}

/// The same computation on the int8 values: `out[n, c, h, w]`, dequantized.
fn movement_expected(x: &[i8]) -> Vec<f32> {
    let at = |c: usize, h: usize, w: usize| x[(c * 4 + h) * 4 + w] as i32;
    let mut q = vec![];
    for c in 0..2 {
        for h in 0..4 {
            for w in 0..4 {
                q.push(if h == 0 { 3 } else { at(c, h, w) });
            }
        }
    }
    for c in 0..2 {
        for h in 0..4 {
            for w in 0..4 {
                q.push(if w == 0 { -7 } else { at(c, h, w - 1) });
            }
        }
    }
    q.iter().map(|&v| (v - 3) as f32 * 0.1).collect()
}

#[test]
fn int8_slice_pad_and_concat_stay_in_int8() {
    let dir = tmp();
    let model = movement_model(dir.path());
    let xs: Vec<Vec<i8>> = (0..3)
        .map(|s| {
            (0..32)
                .map(|i: i32| ((i * 71 + s * 29 + 5) % 256 - 128) as i8)
                .collect()
        })
        .collect();
    let input = dir.path().join("x.npz");
    write_x(&input, &xs, &[3, 1, 2, 4, 4]);
    let output = dir.path().join("out.npz");
    let o = kiln("e2e-kiln.db")
        .arg("run")
        .arg(&model)
        .args(["--board", "host", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut r = NpzReader::new(std::fs::File::open(&output).unwrap()).unwrap();
    let y: ArrayD<f32> = r.by_name("out").expect("a float output `out`");
    assert_eq!(y.shape(), [3, 1, 4, 4, 4]);
    let got: Vec<f32> = y.iter().copied().collect();
    let want: Vec<f32> = xs.iter().flat_map(|x| movement_expected(x)).collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-6, "element {i}: {g} vs {w}");
    }
    // Every layer runs on int8 values, and the device agrees with tract on the original graph.
    validate_all_int8(&model, &input, 5);
}

//! Sample data files (DESIGN.md "Data"): reading inputs and labels, writing outputs.

mod import_support;

use std::fs::File;

use import_support::{rand_vec, tmp, D, M};
use kiln::data::{
    load_samples, write_outputs, DataError, InputSpec, Labels, LoadOptions, OutElem, OutputData,
};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzReader, NpzWriter, WriteNpyExt};

fn spec(name: &str, shape: &[usize]) -> InputSpec {
    InputSpec {
        name: name.into(),
        shape: shape.to_vec(),
    }
}

fn arr<T: Clone>(shape: &[usize], v: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

#[test]
fn npz_inputs_labels_and_the_convenience_rule() {
    let dir = tmp();
    let path = dir.path().join("d.npz");
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    // [N, 1, 4] for a [1, 4] input.
    w.add_array("a", &arr(&[3, 1, 4], (0..12).map(|v| v as f32).collect()))
        .unwrap();
    // [N, 2] for a [1, 2] input (convenience), float64.
    w.add_array("b", &arr(&[3, 2], vec![0.5f64, 1.5, 2.5, 3.5, 4.5, 5.5]))
        .unwrap();
    w.add_array("labels", &arr(&[3], vec![1i64, 0, 2])).unwrap();
    w.finish().unwrap();
    let inputs = [spec("a", &[1, 4]), spec("b", &[1, 2])];
    let s = load_samples(&path, &inputs, &LoadOptions::default()).unwrap();
    assert_eq!(s.n, 3);
    assert_eq!(s.sample(0, 1), &[4.0, 5.0, 6.0, 7.0]);
    assert_eq!(s.sample(1, 2), &[4.5, 5.5]);
    assert_eq!(s.labels, Some(vec![1, 0, 2]));
    let s = load_samples(
        &path,
        &inputs,
        &LoadOptions {
            labels: Labels::None,
            limit: Some(2),
        },
    )
    .unwrap();
    assert_eq!((s.n, s.inputs[0].len(), s.labels.clone()), (2, 8, None));
}

#[test]
fn missing_key_lists_present_keys() {
    let dir = tmp();
    let path = dir.path().join("d.npz");
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    w.add_array("something_else", &arr(&[2, 4], vec![0f32; 8]))
        .unwrap();
    w.add_array("labels", &arr(&[2], vec![0i64, 1])).unwrap();
    w.finish().unwrap();
    let err = load_samples(&path, &[spec("input", &[1, 4])], &LoadOptions::default()).unwrap_err();
    let DataError::MissingKey { key, present, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(key, "input");
    assert!(present.contains(&"something_else".to_string()));
    assert!(
        err.to_string().contains("something_else") && err.to_string().contains("labels"),
        "{err}"
    );
    // A --labels key that is missing is an error too.
    let err = load_samples(
        &path,
        &[spec("something_else", &[1, 4])],
        &LoadOptions {
            labels: Labels::Key("y".into()),
            limit: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::MissingKey { ref key, .. } if key == "y"),
        "{err:?}"
    );
}

#[test]
fn integer_inputs_only_when_lossless() {
    let dir = tmp();
    let ok = dir.path().join("ok.npz");
    let mut w = NpzWriter::new(File::create(&ok).unwrap());
    w.add_array("x", &arr(&[2, 2], vec![1i32, -2, 16_777_216, 7]))
        .unwrap();
    w.finish().unwrap();
    let s = load_samples(&ok, &[spec("x", &[1, 2])], &LoadOptions::default()).unwrap();
    assert_eq!(s.inputs[0], [1.0, -2.0, 16_777_216.0, 7.0]);

    let lossy = dir.path().join("lossy.npz");
    let mut w = NpzWriter::new(File::create(&lossy).unwrap());
    w.add_array("x", &arr(&[1, 2], vec![1i64, 16_777_217]))
        .unwrap();
    w.finish().unwrap();
    let err = load_samples(&lossy, &[spec("x", &[1, 2])], &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Lossy { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("int64") && text.contains("16777217") && text.contains('x'),
        "{text}"
    );
}

#[test]
fn shape_and_count_errors() {
    let dir = tmp();
    let path = dir.path().join("d.npz");
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    w.add_array("a", &arr(&[3, 5], vec![0f32; 15])).unwrap();
    w.add_array("b", &arr(&[2, 4], vec![0f32; 8])).unwrap();
    w.finish().unwrap();
    let err = load_samples(&path, &[spec("a", &[1, 4])], &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Shape { .. }), "{err:?}");
    assert!(err.to_string().contains("[N, 1, 4] or [N, 4]"), "{err}");
    let err = load_samples(
        &path,
        &[spec("a", &[1, 5]), spec("b", &[1, 4])],
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::SampleCount { .. }), "{err:?}");
}

#[test]
fn npy_for_single_input_models_only() {
    let dir = tmp();
    let path = dir.path().join("x.npy");
    arr(&[2, 1, 3], vec![1f32, 2., 3., 4., 5., 6.])
        .write_npy(File::create(&path).unwrap())
        .unwrap();
    let s = load_samples(&path, &[spec("input", &[1, 3])], &LoadOptions::default()).unwrap();
    assert_eq!((s.n, s.sample(0, 1)), (2, &[4.0, 5.0, 6.0][..]));
    let err = load_samples(
        &path,
        &[spec("a", &[1, 3]), spec("b", &[1, 3])],
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::NpyForManyInputs { .. }), "{err:?}");
    // Not a data file at all.
    let bad = dir.path().join("bad.npz");
    std::fs::write(&bad, b"nope").unwrap();
    let err = load_samples(&bad, &[spec("a", &[1, 3])], &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("bad.npz"), "{err}");
}

#[test]
fn outputs_round_trip() {
    let dir = tmp();
    let path = dir.path().join("out.npz");
    let values: Vec<f32> = (0..6).map(|v| v as f32 * 0.5).collect();
    write_outputs(
        &path,
        2,
        &[
            OutputData {
                name: "logits",
                shape: &[1, 3],
                values: &values,
                elem: OutElem::F32,
            },
            OutputData {
                name: "q",
                shape: &[3],
                values: &[-128.0, 0.0, 127.0, 5.0, -5.0, 1.0],
                elem: OutElem::I8,
            },
            OutputData {
                name: "u",
                shape: &[3],
                values: &[0.0, 128.0, 255.0, 1.0, 2.0, 3.0],
                elem: OutElem::U8,
            },
        ],
    )
    .unwrap();
    let mut r = NpzReader::new(File::open(&path).unwrap()).unwrap();
    assert_eq!(r.names().unwrap(), ["logits", "q", "u"]);
    let a: ArrayD<f32> = r.by_name("logits").unwrap();
    assert_eq!(a.shape(), [2, 1, 3]);
    assert_eq!(a.iter().copied().collect::<Vec<_>>(), values);
    let q: ArrayD<i8> = r.by_name("q").unwrap();
    assert_eq!(
        q.iter().copied().collect::<Vec<_>>(),
        [-128, 0, 127, 5, -5, 1]
    );
    let u: ArrayD<u8> = r.by_name("u").unwrap();
    assert_eq!(u.shape(), [2, 3]);
    assert_eq!(
        u.iter().copied().collect::<Vec<_>>(),
        [0, 128, 255, 1, 2, 3]
    );
}

/// A symbolic input dimension the data fixes unambiguously is taken from it (and said so);
/// without data, the error still names `--input-shape`.
#[test]
fn symbolic_dims_taken_from_the_data() {
    let m = M::new(13)
        .input("x", &[D::N(1), D::N(2), D::S("H"), D::S("W")])
        .output("y")
        .node("Relu", &["x"], &["r"], vec![])
        .node("GlobalAveragePool", &["r"], &["y"], vec![]);
    let dir = tmp();
    let model = m.save(dir.path(), "sym");
    let data = dir.path().join("x.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    w.add_array("x", &arr(&[3, 1, 2, 5, 7], rand_vec(210, 4)))
        .unwrap();
    w.finish().unwrap();
    let kiln = env!("CARGO_BIN_EXE_kiln");
    let out = dir.path().join("y.npz");
    let o = std::process::Command::new(kiln)
        .args(["run", "--board", "host"])
        .arg(&model)
        .arg("--input")
        .arg(&data)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(text.contains("dimension 2 (`H`) = 5"), "{text}");
    assert!(text.contains("dimension 3 (`W`) = 7"), "{text}");
    let o = std::process::Command::new(kiln)
        .arg("inspect")
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--input-shape"));
}

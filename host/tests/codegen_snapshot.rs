//! The generated `model.rs` of a sample model is pinned by a snapshot, and the very crate it
//! belongs to is built for a Thumb target, so a snapshot can never hold code that does not
//! compile. The ELF must have no allocator.

use std::path::{Path, PathBuf};

use kiln::boards::Catalog;
use kiln::deploy::{build_firmware, prepare};
use kiln::import::ImportOptions;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn digits_cnn_model_rs_snapshot_builds_without_allocator() {
    let model = root().join("models/digits-cnn/model.onnx");
    let p = prepare(&model, &ImportOptions::default(), None, &Default::default()).unwrap();
    let model_rs = kiln::codegen::model_rs(&p.graph, &p.plan).unwrap();
    insta::assert_snapshot!("digits_cnn_model_rs", model_rs);

    let board = Catalog::builtin()
        .unwrap()
        .get("mps2-an386")
        .unwrap()
        .clone();
    let out = root().join("target/snapshot-crate/digits-cnn");
    let target_dir = std::env::var_os("KILN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/firmware"));
    let fw = build_firmware(&p, &board, &out, Some(&target_dir), None).unwrap();
    // The snapshot is exactly what was built.
    assert_eq!(
        std::fs::read_to_string(out.join("src/model.rs")).unwrap(),
        model_rs
    );

    use object::{Object, ObjectSymbol};
    let data = std::fs::read(&fw.elf).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    let names: Vec<String> = elf
        .symbols()
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect();
    assert!(
        names.iter().any(|n| n == "main" || n.contains("invoke")),
        "symbols were read"
    );
    let alloc: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.contains("__rust_alloc")
                || n.contains("__rg_alloc")
                || n.contains("__rust_no_alloc_shim")
                || n.contains("GlobalAlloc")
        })
        .collect();
    assert!(
        alloc.is_empty(),
        "allocator symbols in the firmware: {alloc:?}"
    );
    // The ELF's own symbols attribute the bytes, and agree with the plan that placed them.
    let s = &fw.sizes;
    assert_eq!(s.flash_weights_bytes, p.plan.stats.blob_bytes as u64);
    assert_eq!(s.ram_arena_bytes, p.plan.stats.arena_bytes as u64);
    assert_eq!(s.ram_stack_reserve_bytes, board.stack_reserve);
    assert!(s.flash_code_bytes > 0 && s.ram_other_bytes > 0);
    assert_eq!(s.flash_bytes, s.flash_weights_bytes + s.flash_code_bytes);
    assert_eq!(
        s.ram_bytes,
        s.ram_arena_bytes + s.ram_stack_reserve_bytes + s.ram_other_bytes
    );
    let bad = out.join("src/model.rs");
    let e = kiln::build::sizes(&bad).unwrap_err().to_string();
    assert!(e.contains("model.rs"), "{e}");
}

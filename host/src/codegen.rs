//! Writes the standalone firmware crate for a planned model and a board.
//!
//! The crate is a normal Rust-embedded crate with its own empty `[workspace]`: `Cargo.toml`,
//! `.cargo/config.toml` (target, runner, build-std only when the toolchain needs it), `memory.x`,
//! `build.rs`, `src/main.rs`, the generated `src/model.rs` (kernel parameters as `const`s and a
//! straight-line `invoke`) and `src/weights.bin` (the constant blob, placed in flash through
//! `include_bytes!`). The firmware crates it depends on are vendored beside it under `vendor/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use sha2::{Digest, Sha256};

use crate::boards::Board;
use crate::ir::{DType, Graph, Op};
use crate::plan::{Loc, Plan};

static FIRMWARE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../firmware");
const VENDORED: &[&str] = &["kiln-proto", "kiln-kernels", "kiln-rt"];

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generated code for node `{node}` does not parse: {message}")]
    Syntax { node: String, message: String },
}

/// What the generated crate needs beyond the graph and the plan.
#[derive(Clone, Debug)]
pub struct CodegenOptions {
    /// Crate-friendly model name (used in the package name).
    pub model_name: String,
    /// Use `-Zbuild-std=core` (the toolchain has no prebuilt `core` for the target).
    pub build_std: bool,
    /// Samples baked in for `--selftest` (concatenated f32 inputs of each sample), and their count.
    pub selftest: Option<(Vec<f32>, u32)>,
    /// What the firmware speaks on its UART (not used with `selftest`).
    pub protocol: Protocol,
    /// defmt logging over the link: the `DEFMT_LOG` filter the firmware is built with (e.g.
    /// `info`), set in `.cargo/config.toml` `[env]`, with kiln-rt's `defmt` feature and
    /// `-Tdefmt.x`. `None`: no logger. Only with [`Protocol::Kiln`] and no `selftest` (the
    /// other modes write text on the UART); ignored otherwise.
    pub log: Option<String>,
}

/// The serial protocol of the generated firmware.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// kiln's framed binary link (`kiln run`, `validate`, `bench`).
    #[default]
    Kiln,
    /// The MLPerf Tiny / EEMBC benchmark runner's ASCII protocol (docs/MLPERF_TINY.md);
    /// `model` is the id `profile` reports as `m-model-[...]`.
    MlperfTiny { model: String },
    /// No model run: the firmware runs the int8 kernels' on-target check
    /// (`kiln_kernels::i8::check`, `cases` per kernel from `seed`), prints its lines on the UART
    /// and exits with success when nothing differed. The tests build it for every core.
    KernelCheck { seed: u64, cases: u32 },
}

/// The result of generation.
#[derive(Clone, Debug)]
pub struct Generated {
    pub dir: PathBuf,
    /// 16-byte model hash the firmware reports in its hello.
    pub hash: [u8; 16],
    /// Cargo package (and binary) name.
    pub package: String,
    /// The `DEFMT_LOG` filter of a firmware that logs ([`CodegenOptions::log`], when it
    /// applies).
    pub log: Option<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CodegenError + '_ {
    move |source| CodegenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), CodegenError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    // Leave unchanged files alone so cargo's freshness checks keep rebuilds incremental.
    if std::fs::read(path).ok().as_deref() == Some(contents.as_ref()) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(io(path))
}

/// Sanitizes a model name into a cargo package name component.
pub fn crate_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "model".into()
    } else {
        s
    }
}

/// Rust literal text of a kernel op: its `Debug` form with non-finite floats spelled as paths.
fn op_literal(dbg: &str) -> String {
    let re = regex::Regex::new(r"(-?)\b(inf|NaN)\b").expect("static regex");
    re.replace_all(dbg, |c: &regex::Captures| match (&c[1], &c[2]) {
        ("-", "inf") => "f32::NEG_INFINITY".to_string(),
        (_, "inf") => "f32::INFINITY".to_string(),
        _ => "f32::NAN".to_string(),
    })
    .into_owned()
}

/// An integer literal without a type suffix (the generated code reads like hand-written code).
fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// `src/model.rs`: constants, I/O table and `invoke`.
pub fn model_rs(g: &Graph, p: &Plan) -> Result<String, CodegenError> {
    let arena_bytes = lit(p.stats.arena_bytes);
    let blob_bytes = lit(p.blob.len());
    let io_desc = |ts: &[usize]| -> Vec<TokenStream> {
        ts.iter()
            .map(|&t| {
                let r = p.arena(t);
                let (off, bytes) = (lit(r.offset), lit(g.tensors[t].bytes()));
                quote! { IoDesc { offset: #off, bytes: #bytes } }
            })
            .collect()
    };
    let inputs = io_desc(&g.inputs);
    let outputs = io_desc(&g.outputs);
    let (n_in, n_out) = (lit(inputs.len()), lit(outputs.len()));

    let mut steps = Vec::new();
    let mut int8 = false;
    // The int8 parameter types the steps name, imported by name (none unused).
    let mut q_types = std::collections::BTreeSet::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let syntax = |e: syn::Error| CodegenError::Syntax {
            node: node.name.clone(),
            message: e.to_string(),
        };
        // A view of tensor `t` typed by its dtype.
        let view = |t: usize| -> TokenStream {
            let tensor = &g.tensors[t];
            let len = lit(tensor.len());
            match (p.locs[t].expect("planned"), tensor.dtype) {
                (Loc::Arena(r), DType::F32) => {
                    let off = lit(r.offset);
                    quote! { act(arena, #off, #len) }
                }
                (Loc::Arena(r), DType::I8) => {
                    let off = lit(r.offset);
                    quote! { act_q(arena, #off, #len) }
                }
                (Loc::Blob(r), DType::F32) => {
                    let off = lit(r.offset);
                    quote! { weights(#off, #len) }
                }
                (Loc::Blob(r), DType::I8) => {
                    let off = lit(r.offset);
                    quote! { weights_q(#off, #len) }
                }
            }
        };
        let view_mut = |t: usize| -> TokenStream {
            let tensor = &g.tensors[t];
            let (off, len) = (lit(p.arena(t).offset), lit(tensor.len()));
            match tensor.dtype {
                DType::F32 => quote! { act_mut(arena, #off, #len) },
                DType::I8 => quote! { act_q_mut(arena, #off, #len) },
            }
        };
        let ins: Vec<TokenStream> = node.inputs.iter().map(|&t| view(t)).collect();
        let outs: Vec<TokenStream> = node.outputs.iter().map(|&t| view_mut(t)).collect();
        let idx = match p.idx[i] {
            Some(r) => {
                let (off, len) = (lit(r.offset), lit(node.idx.len()));
                quote! { index(#off, #len) }
            }
            None => quote! { &[] },
        };
        let doc = format!(" {} ({})", node.name, node.op_type);
        let name = format_ident!("OP_{}", i);
        let step = match &node.op {
            Op::F32(op) => {
                let op_expr: syn::Expr =
                    syn::parse_str(&op_literal(&format!("KOp::{op:?}"))).map_err(syntax)?;
                quote! {
                    #[doc = #doc]
                    const #name: KOp = #op_expr;
                    run(&#name, &[#(#ins),*], #idx, &mut [#(#outs),*]);
                }
            }
            Op::Q(op) => {
                int8 = true;
                q_types.insert(op.param_type());
                let op_expr: syn::Expr =
                    syn::parse_str(&op_literal(&format!("QOp::{op:?}"))).map_err(syntax)?;
                let tr = &p.tables[i];
                let nt = &node.tables;
                let mut fields = Vec::new();
                for (field, region, len, reader) in [
                    ("bias", tr.bias, nt.bias.len(), "table_i32"),
                    ("mult", tr.mult, nt.mult.len(), "table_i32"),
                    ("shift", tr.shift, nt.shift.len(), "table_i32"),
                    ("lut", tr.lut, nt.lut.len(), "weights_q"),
                    ("exp", tr.exp, nt.exp.len(), "table_i32"),
                ] {
                    if let Some(r) = region {
                        let (f, rd) = (format_ident!("{}", field), format_ident!("{}", reader));
                        let (off, len) = (lit(r.offset), lit(len));
                        fields.push(quote! { #f: #rd(#off, #len) });
                    }
                }
                if p.idx[i].is_some() {
                    fields.push(quote! { idx: #idx });
                }
                quote! {
                    #[doc = #doc]
                    const #name: QOp = #op_expr;
                    q::run(&#name, &[#(#ins),*], &Tables { #(#fields,)* ..Tables::NONE }, &mut [#(#outs),*]);
                }
            }
            Op::Quantize(qp) => {
                int8 = true;
                q_types.insert("QuantizeP");
                let op_expr: syn::Expr =
                    syn::parse_str(&op_literal(&format!("{qp:?}"))).map_err(syntax)?;
                let (x, o) = (&ins[0], &outs[0]);
                quote! {
                    #[doc = #doc]
                    const #name: QuantizeP = #op_expr;
                    q::quantize(&#name, #x, #o);
                }
            }
            Op::Dequantize(dp) => {
                int8 = true;
                q_types.insert("DequantizeP");
                let op_expr: syn::Expr =
                    syn::parse_str(&op_literal(&format!("{dp:?}"))).map_err(syntax)?;
                let (x, o) = (&ins[0], &outs[0]);
                quote! {
                    #[doc = #doc]
                    const #name: DequantizeP = #op_expr;
                    q::dequantize(&#name, #x, #o);
                }
            }
        };
        let layer = Literal::u32_unsuffixed(i as u32);
        steps.push(quote! {
            #step
            if until == #layer {
                return;
            }
        });
    }
    let uses_qop = g.nodes.iter().any(|n| matches!(n.op, Op::Q(_)));
    let q_types: Vec<proc_macro2::Ident> = uses_qop
        .then_some(["QOp", "Tables"])
        .into_iter()
        .flatten()
        .chain(q_types)
        .map(|t| format_ident!("{}", t))
        .collect();
    let int8_items = if int8 {
        quote! {
            use kiln_kernels::i8::{self as q #(, #q_types)*};

            #[allow(dead_code)]
            fn weights_q(offset: usize, len: usize) -> &'static [i8] {
                let b = &WEIGHTS.0[offset..offset + len];
                // SAFETY: any byte is a valid i8.
                unsafe { core::slice::from_raw_parts(b.as_ptr() as *const i8, len) }
            }

            #[allow(dead_code)]
            fn table_i32(offset: usize, len: usize) -> &'static [i32] {
                let b = &WEIGHTS.0[offset..offset + len * 4];
                // SAFETY: as in `weights`.
                unsafe { core::slice::from_raw_parts(b.as_ptr() as *const i32, len) }
            }

            /// SAFETY: as `act`.
            #[allow(dead_code)]
            unsafe fn act_q<'a>(arena: *mut u8, offset: usize, len: usize) -> &'a [i8] {
                core::slice::from_raw_parts(arena.add(offset) as *const i8, len)
            }

            /// SAFETY: as `act_mut`.
            #[allow(dead_code)]
            unsafe fn act_q_mut<'a>(arena: *mut u8, offset: usize, len: usize) -> &'a mut [i8] {
                core::slice::from_raw_parts_mut(arena.add(offset) as *mut i8, len)
            }
        }
    } else {
        quote! {}
    };

    let file = quote! {
        //! Generated by kiln: do not edit. Kernel parameters, the memory plan and the call sequence.
        #![allow(clippy::all)]
        use kiln_kernels::f32::*;
        use kiln_rt::IoDesc;

        /// Bytes of the activation arena.
        pub const ARENA_BYTES: usize = #arena_bytes;
        /// Bytes of the constant blob (weights and index tables) in flash.
        pub const WEIGHTS_BYTES: usize = #blob_bytes;

        #[repr(C, align(16))]
        pub struct Aligned<T: ?Sized>(pub T);

        /// Exported under a fixed name: kiln reads the weights' flash bytes from the ELF symbol.
        #[export_name = "KILN_WEIGHTS"]
        static WEIGHTS: Aligned<[u8; WEIGHTS_BYTES]> = Aligned(*include_bytes!("weights.bin"));
        /// Exported under a fixed name: kiln reads the arena's RAM bytes from the ELF symbol.
        #[export_name = "KILN_ARENA"]
        static mut ARENA: Aligned<[u8; ARENA_BYTES]> = Aligned([0; ARENA_BYTES]);

        /// Model inputs: arena offset and byte length of each, in ONNX input order.
        pub static INPUTS: [IoDesc; #n_in] = [#(#inputs),*];
        /// Model outputs, in ONNX output order.
        pub static OUTPUTS: [IoDesc; #n_out] = [#(#outputs),*];

        /// The arena. Call once.
        pub fn arena() -> &'static mut [u8] {
            // SAFETY: called once at start-up; nothing else refers to ARENA.
            unsafe { &mut *core::ptr::addr_of_mut!(ARENA.0) }
        }

        fn weights(offset: usize, len: usize) -> &'static [f32] {
            let b = &WEIGHTS.0[offset..offset + len * 4];
            // SAFETY: the blob is 16-byte aligned and every region in it starts on 16 bytes.
            unsafe { core::slice::from_raw_parts(b.as_ptr() as *const f32, len) }
        }

        fn index(offset: usize, len: usize) -> &'static [u32] {
            let b = &WEIGHTS.0[offset..offset + len * 4];
            // SAFETY: as in `weights`.
            unsafe { core::slice::from_raw_parts(b.as_ptr() as *const u32, len) }
        }

        /// SAFETY: `offset..offset + 4 * len` lies in the arena and is 16-byte aligned (checked by
        /// the plan), and no mutable view of the same bytes is alive (outputs never overlap inputs).
        unsafe fn act<'a>(arena: *mut u8, offset: usize, len: usize) -> &'a [f32] {
            core::slice::from_raw_parts(arena.add(offset) as *const f32, len)
        }

        /// SAFETY: as `act`, and no other view of the same bytes is alive.
        unsafe fn act_mut<'a>(arena: *mut u8, offset: usize, len: usize) -> &'a mut [f32] {
            core::slice::from_raw_parts_mut(arena.add(offset) as *mut f32, len)
        }

        #int8_items

        /// Runs the model once on the inputs placed in the arena; outputs are left in the arena.
        /// Returns after layer (step) `until`; `kiln_rt::ALL_LAYERS` runs them all.
        pub fn invoke(arena: &mut [u8], until: u32) {
            assert!(arena.len() >= ARENA_BYTES);
            let arena = arena.as_mut_ptr();
            // SAFETY: the plan places every view inside the arena, aligned, with outputs disjoint
            // from the inputs of the same step.
            unsafe {
                #(#steps)*
            }
        }
    };
    let parsed: syn::File = syn::parse2(file).map_err(|e| CodegenError::Syntax {
        node: "<model.rs>".into(),
        message: e.to_string(),
    })?;
    Ok(prettyplease::unparse(&parsed))
}

fn hash_bytes(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// The MLPerf Tiny protocol's items of `main.rs`: the [`kiln_rt::MlperfDesc`] static and the
/// entry call with its `db` input buffer.
fn mlperf_items(g: &Graph, p: &Plan, board: &Board, model: &str) -> (TokenStream, TokenStream) {
    let outputs = g.outputs.iter().map(|&t| {
        let tensor = &g.tensors[t];
        let (scale, zp) = tensor.quant.as_ref().map_or((1.0, 0), |q| q.one());
        let scale = Literal::f32_unsuffixed(scale);
        match (tensor.dtype, tensor.io) {
            (DType::F32, _) => quote! { OutputKind::F32 },
            // The tensor's params are its int8 ones; its bytes are `int8 + 128`.
            (DType::I8, Some(crate::ir::IoType::Uint8)) => {
                let zp = Literal::i32_unsuffixed(zp + 128);
                quote! { OutputKind::U8 { scale: #scale, zero_point: #zp } }
            }
            (DType::I8, _) => {
                let zp = Literal::i32_unsuffixed(zp);
                quote! { OutputKind::I8 { scale: #scale, zero_point: #zp } }
            }
        }
    });
    // Inputs must be copied in again before each inference when later layers reuse their bytes.
    let input_regions: Vec<_> = g.inputs.iter().map(|&t| p.arena(t)).collect();
    let reload = p.locs.iter().enumerate().any(|(t, loc)| match loc {
        Some(Loc::Arena(r)) if !g.inputs.contains(&t) => input_regions
            .iter()
            .any(|i| r.offset < i.end() && i.offset < r.end()),
        _ => false,
    });
    let db_bytes = lit(g.inputs.iter().map(|&t| g.tensors[t].bytes()).sum());
    let tick_hz = Literal::u32_unsuffixed(u32::try_from(board.timer.hz).unwrap_or(u32::MAX));
    let desc = quote! {
        /// What the MLPerf Tiny runner's protocol reports: model id, timer rate, output types.
        /// `main`'s `DB` is the buffer its `db` commands fill: all inputs' bytes, concatenated
        /// (aligned like the arena, so copying it into the inputs takes whole words).
        static MLPERF: MlperfDesc = MlperfDesc {
            model: #model,
            tick_hz: #tick_hz,
            outputs: &[#(#outputs),*],
            reload_inputs: #reload,
        };
    };
    let entry = quote! {
        static mut DB: model::Aligned<[u8; #db_bytes]> = model::Aligned([0; #db_bytes]);
        kiln_rt::mlperf_tiny(&DESC, model::arena(), model::invoke, &MLPERF, &mut DB.0)
    };
    (desc, entry)
}

fn main_rs(
    board: &Board,
    hash: &[u8; 16],
    selftest: bool,
    n_selftest: u32,
    mlperf: Option<(TokenStream, TokenStream)>,
    kernel_check: Option<(u64, u32)>,
) -> String {
    let board_name = &board.name;
    let stack = board.stack_reserve as u32;
    let hash = hash.iter();
    let (uses, mlperf_desc, entry) = match mlperf {
        Some((desc, entry)) => (
            quote! { entry, MlperfDesc, ModelDesc, OutputKind },
            desc,
            entry,
        ),
        None if kernel_check.is_some() => {
            let (seed, cases) = kernel_check.unwrap_or_default();
            let (seed, cases) = (Literal::u64_unsuffixed(seed), lit(cases as usize));
            (
                quote! { entry, ModelDesc },
                quote! {},
                quote! {
                    kiln_rt::kernel_check(&DESC, model::arena(), model::invoke, |w| {
                        kiln_kernels::i8::check::run(#seed, #cases, w).mismatches == 0
                    })
                },
            )
        }
        None if selftest => (
            quote! { entry, ModelDesc },
            quote! {},
            quote! {
                static SAMPLES: &model::Aligned<[u8]> = &model::Aligned(*include_bytes!("selftest.bin"));
                kiln_rt::selftest(&DESC, model::arena(), model::invoke, &SAMPLES.0, #n_selftest)
            },
        ),
        None => (
            quote! { entry, ModelDesc },
            quote! {},
            quote! { kiln_rt::serve(&DESC, model::arena(), model::invoke) },
        ),
    };
    let file = quote! {
        //! Generated by kiln: the firmware entry point.
        #![no_std]
        #![no_main]

        mod model;

        use kiln_rt::{#uses};

        static DESC: ModelDesc = ModelDesc {
            hash: [#(#hash),*],
            board: #board_name,
            arena_bytes: model::ARENA_BYTES as u32,
            stack_reserve: #stack,
            inputs: &model::INPUTS,
            outputs: &model::OUTPUTS,
        };

        #mlperf_desc

        #[entry]
        fn main() -> ! {
            #entry
        }
    };
    prettyplease::unparse(&syn::parse2(file).expect("static main.rs parses"))
}

/// Boot-ROM requirements of a real chip's image, by `kiln-rt` family: the sections `kiln-rt`
/// emits for them are placed here.
fn boot_layout(runtime: &str) -> Option<(&'static str, u64)> {
    match runtime {
        // RP2040: the boot ROM runs the 256-byte second-stage bootloader (`.boot2`) from the
        // start of flash; the vector table follows it.
        "rp2040" => Some((
            "/* RP2040: the boot ROM loads the 256-byte second-stage bootloader from the start of flash. */\n\
             SECTIONS {\n  .boot2 ORIGIN(BOOT2) : { KEEP(*(.boot2)); } > BOOT2\n} INSERT BEFORE .text;\n",
            0x100,
        )),
        // RP2350: the boot ROM looks for an IMAGE_DEF block in the first 4 KiB of flash.
        "rp2350" => Some((
            "/* RP2350: the IMAGE_DEF block (.start_block) the boot ROM looks for in the first 4 KiB of flash, after the vector table. */\n\
             SECTIONS {\n  .start_block : ALIGN(4) { KEEP(*(.start_block)); } > FLASH\n} INSERT AFTER .vector_table;\n\
             _stext = ADDR(.start_block) + SIZEOF(.start_block);\n",
            0,
        )),
        _ => None,
    }
}

fn memory_x(board: &Board) -> String {
    let m = &board.memory;
    let (sections, boot2) = boot_layout(&board.runtime).unwrap_or(("", 0));
    let boot2_region = if boot2 > 0 {
        format!(
            "  BOOT2 : ORIGIN = {:#010x}, LENGTH = {boot2:#x}\n",
            m.flash_origin
        )
    } else {
        String::new()
    };
    format!(
        "/* Generated by kiln for board `{name}`. */\n\
         MEMORY\n{{\n{boot2_region}  FLASH : ORIGIN = {fo:#010x}, LENGTH = {fs}\n  RAM : ORIGIN = {ro:#010x}, LENGTH = {rs}\n}}\n\n\
         /* Bytes reserved for the stack at the top of RAM; kiln-rt paints it to measure the high-water mark. */\n\
         _kiln_stack_reserve = {stack};\n\
         _kiln_stack_bottom = ORIGIN(RAM) + LENGTH(RAM) - _kiln_stack_reserve;\n{sep}{sections}",
        name = board.name,
        fo = m.flash_origin + boot2,
        fs = m.flash_size - boot2,
        ro = m.ram_origin,
        rs = m.ram_size,
        stack = board.stack_reserve,
        sep = if sections.is_empty() { "" } else { "\n" },
    )
}

/// Linker checks appended after cortex-m-rt's sections are known (a separate script, `kiln.x`).
fn kiln_x() -> &'static str {
    "/* Generated by kiln. */\n\
     ASSERT(__sheap <= _kiln_stack_bottom, \"ERROR(kiln): the model's arena and statics leave less RAM than the board's stack reserve; the model does not fit this board (use a board with more RAM)\");\n"
}

fn config_toml(board: &Board, build_std: bool, log: Option<&str>) -> String {
    let mut s = format!("[build]\ntarget = \"{}\"\n\n", board.target);
    s += "[target.'cfg(all(target_arch = \"arm\", target_os = \"none\"))']\n";
    let cpu = board
        .target_cpu()
        .map(|c| format!(", \"-C\", \"target-cpu={c}\""))
        .unwrap_or_default();
    let defmt = if log.is_some() {
        ", \"-C\", \"link-arg=-Tdefmt.x\""
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "rustflags = [\"-C\", \"link-arg=-Tlink.x\", \"-C\", \"link-arg=-Tkiln.x\"{defmt}{cpu}]"
    );
    if let Some(q) = &board.qemu {
        let _ = writeln!(
            s,
            "# `cargo run --release` boots the firmware in QEMU; serial on stdio.\n\
             runner = \"qemu-system-arm -M {} -cpu {} -display none -monitor none -serial stdio -icount shift=0 -semihosting-config enable=on,target=native -kernel\"",
            q.machine, q.cpu
        );
    }
    if let Some(p) = &board.probe {
        let _ = writeln!(
            s,
            "# `cargo run --release` flashes the board through its debug probe and runs it (probe-rs\n\
             # shows semihosting output and exit); the link's UART is the board's serial port.\n\
             runner = \"probe-rs run --chip {}\"",
            p.chip
        );
    }
    if build_std {
        s += "\n# The toolchain has no prebuilt `core` for this target: build it (needs RUSTC_BOOTSTRAP=1 on stable).\n[unstable]\nbuild-std = [\"core\"]\n";
    }
    if let Some(filter) = log {
        let _ = writeln!(
            s,
            "\n# defmt log levels compiled in (`--log`: logs go to the host over the link). kiln\n\
             # writes this value on each build ($DEFMT_LOG, else `info`) and hashes it into the model hash.\n\
             [env]\nDEFMT_LOG = {{ value = {}, force = true }}",
            toml::Value::String(filter.to_string())
        );
    }
    s
}

fn cargo_toml(package: &str, bin: &str, runtime: &str, log: bool) -> String {
    let features = if log {
        format!("\"{runtime}\", \"defmt\"")
    } else {
        format!("\"{runtime}\"")
    };
    format!(
        r#"# Generated by kiln.
[package]
name = "{package}"
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "{bin}"
path = "src/main.rs"
test = false
bench = false

[dependencies]
kiln-rt = {{ path = "vendor/kiln-rt", features = [{features}] }}
kiln-kernels = {{ path = "vendor/kiln-kernels" }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
debug = true
panic = "abort"

[profile.dev]
opt-level = 1
panic = "abort"

# A standalone crate, not part of any enclosing workspace.
[workspace]
"#
    )
}

const BUILD_RS: &str = r#"//! Generated by kiln: puts memory.x and kiln.x on the linker search path.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    for f in ["memory.x", "kiln.x"] {
        std::fs::copy(f, out.join(f)).unwrap();
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rustc-link-search={}", out.display());
}
"#;

/// Rewrites `key.workspace = true` lines of a vendored manifest to concrete values.
fn standalone_manifest(text: &str) -> String {
    text.lines()
        .map(|l| match l.trim() {
            "version.workspace = true" => format!("version = \"{}\"", env!("CARGO_PKG_VERSION")),
            "edition.workspace = true" => "edition = \"2021\"".to_string(),
            "license.workspace = true" => "license = \"MIT OR Apache-2.0\"".to_string(),
            t if t.ends_with(".workspace = true") => String::new(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn vendor(dir: &Path) -> Result<(), CodegenError> {
    fn walk(d: &Dir<'_>, root: &Path) -> Result<(), CodegenError> {
        for f in d.files() {
            let rel = f.path();
            let top = rel
                .components()
                .nth(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            // Only what a build needs: manifests, sources and build scripts.
            if !matches!(
                top.as_deref(),
                Some("Cargo.toml" | "src" | "build.rs" | "README.md")
            ) {
                continue;
            }
            let dest = root.join(rel);
            if rel.file_name().and_then(|n| n.to_str()) == Some("Cargo.toml") {
                write(
                    &dest,
                    standalone_manifest(f.contents_utf8().unwrap_or_default()),
                )?;
            } else {
                write(&dest, f.contents())?;
            }
        }
        for sub in d.dirs() {
            walk(sub, root)?;
        }
        Ok(())
    }
    // `vendor/` is kiln's: stale files from an earlier kiln (a module that became a folder)
    // must not survive a regeneration.
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    for name in VENDORED {
        if let Some(d) = FIRMWARE.get_dir(name) {
            walk(d, dir)?;
        }
    }
    Ok(())
}

fn readme(package: &str, board: &Board, build_std: bool) -> String {
    let env = if build_std { "RUSTC_BOOTSTRAP=1 " } else { "" };
    let run = if board.is_emulated() {
        "boots the firmware in QEMU, serial on stdio"
    } else {
        "flashes the board through probe-rs (`cargo install probe-rs-tools`) and runs it"
    };
    format!(
        "# {package}\n\nFirmware generated by kiln for board `{board}` ({core}, `{target}`).\n\n\
         - `src/model.rs`: kernel parameters, memory plan and the `invoke` sequence (generated).\n\
         - `src/weights.bin`: weights and index tables, linked into flash as `KILN_WEIGHTS`; the \
         activation arena is `KILN_ARENA` in RAM.\n\
         - `vendor/`: the kiln firmware crates this depends on.\n\n\
         ## Build and run\n\n    {env}cargo run --release\n\n\
         {run}; a `--selftest` build prints its results on its own.\n\n\
         ## Inspect sizes and code\n\n\
         With [cargo-binutils](https://github.com/rust-embedded/cargo-binutils) \
         (`cargo install cargo-binutils` and `rustup component add llvm-tools`):\n\n\
         \x20   {env}cargo size --release -- -A                 # every section's bytes\n\
         \x20   {env}cargo nm --release -- --size-sort -S | tail   # the largest symbols (KILN_WEIGHTS, KILN_ARENA, ...)\n\
         \x20   {env}cargo objdump --release -- -d --no-show-raw-insn | less   # the generated code\n\n\
         kiln reads the same ELF for the sizes it reports: flash = weights + code, RAM = arena + \
         stack reserve + other.\n",
        board = board.name,
        core = board.core,
        target = board.target,
    )
}

/// Writes the crate into `dir`.
pub fn generate(
    dir: &Path,
    g: &Graph,
    p: &Plan,
    board: &Board,
    opts: &CodegenOptions,
) -> Result<Generated, CodegenError> {
    let model = model_rs(g, p)?;
    let selftest_bytes: Option<Vec<u8>> = opts
        .selftest
        .as_ref()
        .map(|(v, _)| v.iter().flat_map(|x| x.to_le_bytes()).collect());
    let mut parts: Vec<&[u8]> = vec![
        env!("CARGO_PKG_VERSION").as_bytes(),
        board.name.as_bytes(),
        model.as_bytes(),
        &p.blob,
        selftest_bytes.as_deref().unwrap_or(&[]),
    ];
    // Only a non-default protocol adds parts (kiln-protocol hashes stay as they were).
    if let Protocol::MlperfTiny { model } = &opts.protocol {
        parts.extend([b"protocol=mlperf-tiny".as_slice(), model.as_bytes()]);
    }
    // So does logging: the host decodes logs with the ELF it built, and the hash check makes
    // sure the board runs that ELF (its defmt table depends on the filter).
    let log = match (&opts.protocol, &selftest_bytes) {
        (Protocol::Kiln, None) => opts.log.as_deref(),
        _ => None,
    };
    if let Some(filter) = log {
        parts.extend([b"log=defmt".as_slice(), filter.as_bytes()]);
    }
    let hash = hash_bytes(&parts);
    let base = format!("kiln-fw-{}", crate_name(&opts.model_name));
    let package = base.clone();
    let bin = format!("{base}-{}", hex::encode(&hash[..4]));
    let n_selftest = opts.selftest.as_ref().map(|(_, n)| *n).unwrap_or(0);

    write(
        &dir.join("Cargo.toml"),
        cargo_toml(&package, &bin, &board.runtime, log.is_some()),
    )?;
    write(
        &dir.join(".cargo/config.toml"),
        config_toml(board, opts.build_std, log),
    )?;
    write(&dir.join("memory.x"), memory_x(board))?;
    write(&dir.join("kiln.x"), kiln_x())?;
    write(&dir.join("build.rs"), BUILD_RS)?;
    write(
        &dir.join("README.md"),
        readme(&package, board, opts.build_std),
    )?;
    write(&dir.join("src/model.rs"), model)?;
    write(&dir.join("src/weights.bin"), &p.blob)?;
    write(
        &dir.join("src/main.rs"),
        main_rs(
            board,
            &hash,
            selftest_bytes.is_some(),
            n_selftest,
            match &opts.protocol {
                Protocol::MlperfTiny { model } if selftest_bytes.is_none() => {
                    Some(mlperf_items(g, p, board, model))
                }
                _ => None,
            },
            match opts.protocol {
                Protocol::KernelCheck { seed, cases } => Some((seed, cases)),
                _ => None,
            },
        ),
    )?;
    if let Some(b) = &selftest_bytes {
        write(&dir.join("src/selftest.bin"), b)?;
    }
    vendor(&dir.join("vendor"))?;
    Ok(Generated {
        dir: dir.to_path_buf(),
        hash,
        package: bin,
        log: log.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_kernels::f32::*;

    #[test]
    fn op_literals_parse_including_infinities() {
        let op = KOp::Unary(UnaryP {
            kind: UN_CLIP,
            len: 3,
            alpha: f32::NEG_INFINITY,
            beta: f32::INFINITY,
        });
        let s = op_literal(&format!("KOp::{op:?}"));
        assert!(
            s.contains("f32::NEG_INFINITY") && s.contains("f32::INFINITY"),
            "{s}"
        );
        syn::parse_str::<syn::Expr>(&s).unwrap();
    }

    #[test]
    fn manifests_become_standalone() {
        let m = standalone_manifest(
            "[package]\nname = \"x\"\nversion.workspace = true\nedition.workspace = true\n",
        );
        assert!(
            m.contains("version = \"")
                && m.contains("edition = \"2021\"")
                && !m.contains("workspace"),
            "{m}"
        );
    }

    #[test]
    fn readme_shows_the_size_and_objdump_commands() {
        let c = crate::boards::Catalog::builtin().unwrap();
        let emulated = c.get("mps2-an386").unwrap().clone();
        let r = readme("kiln-fw-x", &emulated, true);
        for cmd in [
            "RUSTC_BOOTSTRAP=1 cargo size --release -- -A",
            "cargo objdump --release -- -d",
            "cargo install cargo-binutils",
            "QEMU",
        ] {
            assert!(r.contains(cmd), "{cmd} missing:\n{r}");
        }
        let mut real = emulated;
        real.qemu = None;
        real.probe = Some(crate::boards::Probe {
            chip: "STM32L4R5ZITx".into(),
            vid: None,
            pid: None,
        });
        let r = readme("kiln-fw-x", &real, false);
        assert!(
            r.contains("probe-rs") && r.contains("    cargo size --release -- -A"),
            "{r}"
        );
    }

    #[test]
    fn vendoring_again_drops_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join("kiln-rt/src/uart.rs");
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, "// from an older kiln").unwrap();
        vendor(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(dir.path().join("kiln-rt/src/lib.rs").exists());
    }

    #[test]
    fn crate_names_are_sanitized() {
        assert_eq!(crate_name("Digits MLP.v2"), "digits-mlp-v2");
        assert_eq!(crate_name("__"), "model");
    }
}

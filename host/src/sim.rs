//! Host simulation: the planned model executed in-process through `kiln-kernels`, with the same
//! arena offsets, constant blob and kernel parameters as the generated firmware. This is the
//! `host` board and the reference the device must match bit for bit.

use crate::ir::{DType, Graph, Op, TensorId};
use crate::plan::{Loc, Plan, Region};
use kiln_kernels::f32 as k;
use kiln_kernels::i8 as q;

/// A 16-byte aligned byte buffer (the arena and the blob are read as f32 / u32 slices).
struct Aligned {
    words: Vec<u128>,
    bytes: usize,
}

impl Aligned {
    fn zeroed(bytes: usize) -> Aligned {
        Aligned {
            words: vec![0; bytes.div_ceil(16).max(1)],
            bytes,
        }
    }
    fn from_bytes(b: &[u8]) -> Aligned {
        let mut a = Aligned::zeroed(b.len());
        a.as_mut_bytes()[..b.len()].copy_from_slice(b);
        a
    }
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: as `as_mut_bytes`.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.bytes) }
    }
    fn as_mut_bytes(&mut self) -> &mut [u8] {
        // SAFETY: u128 storage is at least `bytes` long and any byte pattern is valid for u8.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr() as *mut u8, self.bytes) }
    }
    fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr() as *mut u8
    }
}

/// What [`Simulator::run_observed`] calls with every tensor it computes.
pub type Observer<'a> = dyn FnMut(TensorId, &[f32]) + 'a;

pub struct Simulator<'g> {
    graph: &'g Graph,
    plan: &'g Plan,
    arena: Aligned,
    blob: Aligned,
}

impl<'g> Simulator<'g> {
    pub fn new(graph: &'g Graph, plan: &'g Plan) -> Simulator<'g> {
        Simulator {
            graph,
            plan,
            arena: Aligned::zeroed(plan.stats.arena_bytes),
            blob: Aligned::from_bytes(&plan.blob),
        }
    }

    /// Runs one sample. `inputs[i]` is graph input `i` (row-major f32); returns each graph output.
    /// Panics if an input has the wrong length (callers validate data first).
    pub fn run(&mut self, inputs: &[&[f32]]) -> Vec<Vec<f32>> {
        self.execute(inputs, None)
    }

    /// [`Simulator::run`], calling `observe(tensor, values)` once for every graph input (before
    /// the first node, in input order) and for every node output right after the node computed it
    /// (in execution order), while its arena region still holds it. int8 tensors are observed
    /// dequantized with their own params. Returns what `run` returns.
    ///
    /// `inputs` are f32 values; an int8 graph input takes them as integers, `-128..=127`, or
    /// `0..=255` for a uint8 one (its bytes). Outputs are f32 values; an int8 graph output
    /// gives its integers (uint8 ones `0..=255`), not dequantized.
    pub fn run_observed(
        &mut self,
        inputs: &[&[f32]],
        observe: &mut dyn FnMut(TensorId, &[f32]),
    ) -> Vec<Vec<f32>> {
        self.execute(inputs, Some(observe))
    }

    /// [`Simulator::run_observed`]; without an observer no node output is read back.
    fn execute(&mut self, inputs: &[&[f32]], mut observe: Option<&mut Observer>) -> Vec<Vec<f32>> {
        let g = self.graph;
        assert_eq!(inputs.len(), g.inputs.len(), "input count");
        for (&t, data) in g.inputs.iter().zip(inputs) {
            assert_eq!(
                data.len(),
                g.tensors[t].len(),
                "input `{}` length",
                g.tensors[t].name
            );
            if let Some(Loc::Arena(r)) = self.plan.locs[t] {
                let bytes = raw_bytes_of(&g.tensors[t], data);
                self.arena.as_mut_bytes()[r.offset..r.offset + bytes.len()].copy_from_slice(&bytes);
            }
            if let Some(observe) = observe.as_mut() {
                observe(t, data);
            }
        }
        let arena = self.arena.ptr();
        let blob = self.blob.ptr();
        let p = self.plan;
        for (i, node) in g.nodes.iter().enumerate() {
            // SAFETY: every region lies inside its buffer and is 16-byte aligned (plan::verify),
            // and holds at least `len` elements of the tensor's dtype; outputs never overlap
            // inputs that are live at this step, so the shared and mutable views are disjoint.
            unsafe {
                let input = |t: TensorId| -> *const u8 {
                    match p.locs[t].expect("planned input") {
                        Loc::Arena(r) => arena.add(r.offset),
                        Loc::Blob(r) => blob.add(r.offset),
                    }
                };
                let ins_f32 = || -> Vec<&[f32]> {
                    node.inputs
                        .iter()
                        .map(|&t| slice::<f32>(input(t), g.tensors[t].len()))
                        .collect()
                };
                let ins_i8 = || -> Vec<&[i8]> {
                    node.inputs
                        .iter()
                        .map(|&t| slice::<i8>(input(t), g.tensors[t].len()))
                        .collect()
                };
                let out = |t: TensorId| arena.add(p.arena(t).offset);
                let table = |r: Option<Region>| -> *const u8 {
                    r.map_or(
                        std::ptr::NonNull::<u32>::dangling().as_ptr() as *const u8,
                        |r| blob.add(r.offset),
                    )
                };
                let idx: &[u32] = slice(table(p.idx[i]), node.idx.len());
                match &node.op {
                    Op::F32(op) => {
                        let mut outs: Vec<&mut [f32]> = node
                            .outputs
                            .iter()
                            .map(|&t| slice_mut::<f32>(out(t), g.tensors[t].len()))
                            .collect();
                        k::run(op, &ins_f32(), idx, &mut outs);
                    }
                    Op::Q(op) => {
                        let tr = &p.tables[i];
                        let nt = &node.tables;
                        let t = q::Tables {
                            bias: slice(table(tr.bias), nt.bias.len()),
                            mult: slice(table(tr.mult), nt.mult.len()),
                            shift: slice(table(tr.shift), nt.shift.len()),
                            lut: slice(table(tr.lut), nt.lut.len()),
                            exp: slice(table(tr.exp), nt.exp.len()),
                            idx,
                        };
                        let mut outs: Vec<&mut [i8]> = node
                            .outputs
                            .iter()
                            .map(|&t| slice_mut::<i8>(out(t), g.tensors[t].len()))
                            .collect();
                        q::run(op, &ins_i8(), &t, &mut outs);
                    }
                    Op::Quantize(qp) => {
                        let o = node.outputs[0];
                        q::quantize(
                            qp,
                            ins_f32()[0],
                            slice_mut::<i8>(out(o), g.tensors[o].len()),
                        );
                    }
                    Op::Dequantize(dp) => {
                        let o = node.outputs[0];
                        q::dequantize(
                            dp,
                            ins_i8()[0],
                            slice_mut::<f32>(out(o), g.tensors[o].len()),
                        );
                    }
                }
                if let Some(observe) = observe.as_mut() {
                    for &t in &node.outputs {
                        observe(t, &self.read(t));
                    }
                }
            }
        }
        g.outputs.iter().map(|&t| self.read_raw(t)).collect()
    }

    /// Tensor `t`'s current arena contents as f32, int8 as its integers ([`raw_values_of`]).
    fn read_raw(&self, t: TensorId) -> Vec<f32> {
        let tensor = &self.graph.tensors[t];
        let r = self.plan.arena(t);
        raw_values_of(
            tensor,
            &self.arena.as_bytes()[r.offset..r.offset + tensor.bytes()],
        )
    }

    /// Tensor `t`'s current arena contents as f32 (int8 dequantized with its params).
    fn read(&self, t: TensorId) -> Vec<f32> {
        let tensor = &self.graph.tensors[t];
        let r = self.plan.arena(t);
        values_of(
            tensor,
            &self.arena.as_bytes()[r.offset..r.offset + tensor.bytes()],
        )
    }

    /// Tensor `t`'s raw int8 arena contents (for int8 tensors).
    pub fn read_i8(&self, t: TensorId) -> Vec<i8> {
        let r = self.plan.arena(t);
        let n = self.graph.tensors[t].len();
        self.arena.as_bytes()[r.offset..r.offset + n]
            .iter()
            .map(|&b| b as i8)
            .collect()
    }
}

/// The values of `tensor` from its little-endian bytes: f32 as is, int8 dequantized with its
/// params.
pub fn values_of(tensor: &crate::ir::Tensor, bytes: &[u8]) -> Vec<f32> {
    match tensor.dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::I8 => {
            let (scale, zp) = tensor.quant.as_ref().map_or((1.0, 0), |qp| qp.one());
            bytes
                .iter()
                .map(|&b| q::dequantize_f32(b as i8, scale, zp))
                .collect()
        }
    }
}

/// The values of a graph input or output as the user's data has them: f32 as is, int8 as its
/// integers (`0..=255` for a uint8 one, [`crate::ir::IoType::Uint8`]).
pub fn raw_values_of(tensor: &crate::ir::Tensor, bytes: &[u8]) -> Vec<f32> {
    match (tensor.dtype, tensor.io) {
        (DType::F32, _) => values_of(tensor, bytes),
        (DType::I8, Some(crate::ir::IoType::Uint8)) => bytes.iter().map(|&b| b as f32).collect(),
        (DType::I8, _) => bytes.iter().map(|&b| b as i8 as f32).collect(),
    }
}

/// The bytes of a graph input from its values as [`raw_values_of`] gives them.
pub fn raw_bytes_of(tensor: &crate::ir::Tensor, values: &[f32]) -> Vec<u8> {
    match tensor.dtype {
        DType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::I8 => values.iter().map(|&v| v as i32 as u8).collect(),
    }
}

/// # Safety
/// `p` is aligned for `T` and valid for `len` reads for the chosen lifetime.
unsafe fn slice<'a, T>(p: *const u8, len: usize) -> &'a [T] {
    std::slice::from_raw_parts(p as *const T, len)
}

/// # Safety
/// As [`slice`], and no other view of the bytes is alive.
unsafe fn slice_mut<'a, T>(p: *mut u8, len: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p as *mut T, len)
}

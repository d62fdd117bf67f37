//! Host simulation: the planned model executed in-process through `kiln-kernels`, with the same
//! arena offsets, constant blob and kernel parameters as the generated firmware. This is the
//! `host` board and the reference the device must match bit for bit.

use crate::ir::{Graph, TensorId};
use crate::plan::{Loc, Plan};
use kiln_kernels::f32 as k;

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
    fn as_mut_bytes(&mut self) -> &mut [u8] {
        // SAFETY: u128 storage is at least `bytes` long and any byte pattern is valid for u8.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr() as *mut u8, self.bytes) }
    }
    fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr() as *mut u8
    }
}

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
        self.run_observed(inputs, &mut |_, _| {})
    }

    /// [`Simulator::run`], calling `observe(tensor, values)` once for every graph input (before
    /// the first node, in input order) and for every node output right after the node computed it
    /// (in execution order), while its arena region still holds it. Returns what `run` returns.
    pub fn run_observed(
        &mut self,
        inputs: &[&[f32]],
        observe: &mut dyn FnMut(TensorId, &[f32]),
    ) -> Vec<Vec<f32>> {
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
                let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
                self.arena.as_mut_bytes()[r.offset..r.offset + bytes.len()].copy_from_slice(&bytes);
            }
            observe(t, data);
        }
        let arena = self.arena.ptr();
        let blob = self.blob.ptr();
        for (i, node) in g.nodes.iter().enumerate() {
            // SAFETY: every region lies inside its buffer and is 16-byte aligned (plan::verify);
            // outputs never overlap inputs that are live at this step, so the shared and mutable
            // views below are disjoint.
            unsafe {
                let ins: Vec<&[f32]> = node
                    .inputs
                    .iter()
                    .map(|&t| {
                        let len = g.tensors[t].len();
                        match self.plan.locs[t].expect("planned input") {
                            Loc::Arena(r) => {
                                std::slice::from_raw_parts(arena.add(r.offset) as *const f32, len)
                            }
                            Loc::Blob(r) => {
                                std::slice::from_raw_parts(blob.add(r.offset) as *const f32, len)
                            }
                        }
                    })
                    .collect();
                let idx: &[u32] = match self.plan.idx[i] {
                    Some(r) => {
                        std::slice::from_raw_parts(blob.add(r.offset) as *const u32, node.idx.len())
                    }
                    None => &[],
                };
                let mut outs: Vec<&mut [f32]> = node
                    .outputs
                    .iter()
                    .map(|&t| {
                        let r = self.plan.arena(t);
                        std::slice::from_raw_parts_mut(
                            arena.add(r.offset) as *mut f32,
                            g.tensors[t].len(),
                        )
                    })
                    .collect();
                k::run(&node.op, &ins, idx, &mut outs);
                for (&t, out) in node.outputs.iter().zip(&outs) {
                    observe(t, out);
                }
            }
        }
        g.outputs
            .iter()
            .map(|&t| {
                let r = self.plan.arena(t);
                let bytes = &self.arena.as_mut_bytes()[r.offset..r.offset + g.tensors[t].len() * 4];
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            })
            .collect()
    }
}

//! Static memory plan: one arena for all activations (offsets from tensor liveness, greedy by
//! size) and one constant blob for weights and index tables.
//!
//! Invariants the simulation and the generated firmware rely on:
//! - every region is 16-byte aligned;
//! - two activations whose lifetimes overlap never share bytes; a node's outputs are live at the
//!   node's step and its inputs too, so outputs never alias inputs;
//! - graph inputs are live from before the first node, graph outputs until after the last.

use serde::Serialize;

use crate::ir::{Graph, TensorId};

pub const ALIGN: usize = 16;

fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Appends `values` little-endian to the blob at an aligned offset; returns their region.
fn push_le<T: Copy, const N: usize>(
    blob: &mut Vec<u8>,
    values: &[T],
    le: fn(T) -> [u8; N],
) -> Region {
    let offset = blob.len();
    for &v in values {
        blob.extend_from_slice(&le(v));
    }
    let bytes = blob.len() - offset;
    blob.resize(align_up(blob.len()), 0);
    Region { offset, bytes }
}

/// A byte range inside the arena or the constant blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Region {
    pub offset: usize,
    pub bytes: usize,
}

impl Region {
    pub fn end(&self) -> usize {
        self.offset + self.bytes
    }
    fn overlaps(&self, o: &Region) -> bool {
        self.offset < o.end() && o.offset < self.end()
    }
}

/// Where a node input or output lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    Arena(Region),
    Blob(Region),
}

/// Blob regions of one node's int8 tables (`None` for an empty table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableRegions {
    pub bias: Option<Region>,
    pub mult: Option<Region>,
    pub shift: Option<Region>,
    pub lut: Option<Region>,
    pub exp: Option<Region>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PlanStats {
    /// Bytes of the arena.
    pub arena_bytes: usize,
    /// Sum of all activation sizes (what a plan without reuse would need).
    pub activations_total_bytes: usize,
    /// Largest sum of simultaneously live activations (a lower bound for any plan).
    pub largest_live_set_bytes: usize,
    /// Bytes of constants (weights and index tables).
    pub blob_bytes: usize,
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// Per tensor: its location (`None` for tensors no node uses).
    pub locs: Vec<Option<Loc>>,
    /// Per node: its index table's region in the blob (`None` when it has none).
    pub idx: Vec<Option<Region>>,
    /// Per node: its int8 tables' regions in the blob.
    pub tables: Vec<TableRegions>,
    /// The constant blob, little-endian.
    pub blob: Vec<u8>,
    pub stats: PlanStats,
}

impl Plan {
    pub fn arena(&self, t: TensorId) -> Region {
        match self.locs[t] {
            Some(Loc::Arena(r)) => r,
            other => panic!("tensor {t} is not an activation: {other:?}"),
        }
    }
}

/// Lifetime of an activation in node steps; graph inputs start at -1, graph outputs end at `n`.
fn lifetimes(g: &Graph) -> Vec<Option<(i64, i64)>> {
    let n = g.nodes.len() as i64;
    let mut life: Vec<Option<(i64, i64)>> = vec![None; g.tensors.len()];
    for &t in &g.inputs {
        life[t] = Some((-1, -1));
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let i = i as i64;
        for &t in &node.outputs {
            life[t] = Some((i, i));
        }
        for &t in &node.inputs {
            if !g.tensors[t].is_const() {
                if let Some((_, last)) = life[t].as_mut() {
                    *last = (*last).max(i);
                }
            }
        }
    }
    for &t in &g.outputs {
        if let Some((_, last)) = life[t].as_mut() {
            *last = n;
        }
    }
    life
}

pub fn plan(g: &Graph) -> Plan {
    let life = lifetimes(g);
    let mut locs: Vec<Option<Loc>> = vec![None; g.tensors.len()];

    // Constants, in first-use order, then index tables, then int8 tables.
    let mut blob: Vec<u8> = Vec::new();
    for node in &g.nodes {
        for &t in &node.inputs {
            if locs[t].is_some() {
                continue;
            }
            let tensor = &g.tensors[t];
            if let Some(data) = &tensor.data {
                locs[t] = Some(Loc::Blob(push_le(&mut blob, data, f32::to_le_bytes)));
            } else if let Some(q) = &tensor.qdata {
                locs[t] = Some(Loc::Blob(push_le(&mut blob, q, i8::to_le_bytes)));
            }
        }
    }
    let idx: Vec<Option<Region>> = g
        .nodes
        .iter()
        .map(|node| (!node.idx.is_empty()).then(|| push_le(&mut blob, &node.idx, u32::to_le_bytes)))
        .collect();
    let tables: Vec<TableRegions> = g
        .nodes
        .iter()
        .map(|node| {
            let t = &node.tables;
            let mut i32s =
                |v: &[i32]| (!v.is_empty()).then(|| push_le(&mut blob, v, i32::to_le_bytes));
            let (bias, mult, shift, exp) =
                (i32s(&t.bias), i32s(&t.mult), i32s(&t.shift), i32s(&t.exp));
            let lut = (!t.lut.is_empty()).then(|| push_le(&mut blob, &t.lut, i8::to_le_bytes));
            TableRegions {
                bias,
                mult,
                shift,
                lut,
                exp,
            }
        })
        .collect();

    // Activations: greedy by size, largest first, lowest offset that does not collide with a
    // placed tensor of overlapping lifetime.
    let mut acts: Vec<TensorId> = (0..g.tensors.len())
        .filter(|&t| life[t].is_some())
        .collect();
    acts.sort_by_key(|&t| (std::cmp::Reverse(g.tensors[t].bytes()), t));
    let mut placed: Vec<(TensorId, Region)> = Vec::new();
    let mut arena_bytes = 0;
    for &t in &acts {
        let (s, e) = life[t].unwrap();
        let bytes = align_up(g.tensors[t].bytes()).max(ALIGN);
        let mut conflicts: Vec<Region> = placed
            .iter()
            .filter(|(u, _)| {
                let (us, ue) = life[*u].unwrap();
                us <= e && s <= ue
            })
            .map(|(_, r)| *r)
            .collect();
        conflicts.sort_by_key(|r| r.offset);
        let mut offset = 0;
        for r in &conflicts {
            if offset + bytes <= r.offset {
                break;
            }
            offset = offset.max(r.end());
        }
        let region = Region { offset, bytes };
        arena_bytes = arena_bytes.max(region.end());
        placed.push((t, region));
        locs[t] = Some(Loc::Arena(region));
    }

    let activations_total_bytes = acts.iter().map(|&t| align_up(g.tensors[t].bytes())).sum();
    let mut largest_live_set_bytes = 0;
    for step in -1..=g.nodes.len() as i64 {
        let live: usize = acts
            .iter()
            .filter(|&&t| {
                let (s, e) = life[t].unwrap();
                s <= step && step <= e
            })
            .map(|&t| align_up(g.tensors[t].bytes()))
            .sum();
        largest_live_set_bytes = largest_live_set_bytes.max(live);
    }

    let stats = PlanStats {
        arena_bytes,
        activations_total_bytes,
        largest_live_set_bytes,
        blob_bytes: blob.len(),
    };
    Plan {
        locs,
        idx,
        tables,
        blob,
        stats,
    }
}

/// Checks the plan's invariants against the graph; `Err` names the first violation.
pub fn verify(g: &Graph, p: &Plan) -> Result<(), String> {
    let life = lifetimes(g);
    let acts: Vec<(TensorId, Region)> = (0..g.tensors.len())
        .filter_map(|t| match p.locs[t] {
            Some(Loc::Arena(r)) => Some((t, r)),
            _ => None,
        })
        .collect();
    for (i, &(a, ra)) in acts.iter().enumerate() {
        if ra.offset % ALIGN != 0
            || ra.end() > p.stats.arena_bytes
            || ra.bytes < g.tensors[a].bytes()
        {
            return Err(format!(
                "tensor `{}` has a bad region {ra:?}",
                g.tensors[a].name
            ));
        }
        for &(b, rb) in &acts[i + 1..] {
            let (la, lb) = (life[a].unwrap(), life[b].unwrap());
            if la.0 <= lb.1 && lb.0 <= la.1 && ra.overlaps(&rb) {
                return Err(format!(
                    "tensors `{}` and `{}` are live together but share arena bytes",
                    g.tensors[a].name, g.tensors[b].name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Node, Tensor};
    use kiln_kernels::f32::{KOp, UnaryP, UN_RELU};
    use proptest::prelude::*;

    fn act(name: &str, len: usize) -> Tensor {
        Tensor::act(name, vec![len])
    }

    /// A random DAG: each node reads one or two earlier tensors and writes one new tensor.
    fn dag(sizes: &[usize], picks: &[(usize, usize)]) -> Graph {
        let mut g = Graph::default();
        let x = g.add_tensor(act("x", sizes[0]));
        g.inputs.push(x);
        for (i, &(a, b)) in picks.iter().enumerate() {
            let n = g.tensors.len();
            let ins = vec![a % n, b % n];
            let out = g.add_tensor(act(&format!("t{i}"), sizes[(i + 1) % sizes.len()]));
            g.nodes.push(Node {
                name: format!("n{i}"),
                op_type: "Relu".into(),
                op: KOp::Unary(UnaryP {
                    kind: UN_RELU,
                    len: 1,
                    alpha: 0.0,
                    beta: 0.0,
                })
                .into(),
                inputs: ins,
                outputs: vec![out],
                idx: vec![],
                tables: Default::default(),
                macs: 0,
            });
        }
        let last = g.tensors.len() - 1;
        g.outputs.push(last);
        g
    }

    #[test]
    fn chain_reuses_memory() {
        // x -> t0 -> t1 -> t2: two buffers suffice.
        let g = dag(&[100, 100, 100, 100], &[(0, 0), (1, 1), (2, 2)]);
        let p = plan(&g);
        verify(&g, &p).unwrap();
        assert_eq!(p.stats.activations_total_bytes, 4 * 400);
        assert_eq!(p.stats.largest_live_set_bytes, 2 * 400);
        assert_eq!(p.stats.arena_bytes, 2 * 400);
    }

    proptest! {
        #[test]
        fn random_dags_plan_validly(sizes in prop::collection::vec(1usize..300, 1..8),
                                    picks in prop::collection::vec((0usize..50, 0usize..50), 1..20)) {
            let g = dag(&sizes, &picks);
            let p = plan(&g);
            prop_assert!(verify(&g, &p).is_ok(), "{:?}", verify(&g, &p));
            prop_assert!(p.stats.arena_bytes >= p.stats.largest_live_set_bytes);
            prop_assert!(p.stats.arena_bytes <= p.stats.activations_total_bytes);
        }
    }
}

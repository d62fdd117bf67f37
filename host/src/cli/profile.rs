//! Per-layer latency measured on the device (`kiln bench`, `kiln validate --profile`): each
//! layer timed as the difference of consecutive partial runs (layers `0..=L`, `InvokeUntil`)
//! on one sample, next to its MACs and the core's limit in instructions per MAC, and the sum
//! checked against a separately timed whole inference (DESIGN.md, measurement).

use serde::Serialize;

/// Per-layer latency of one sample.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    /// What the `instructions` figures count: `"instructions"` (emulated instructions, QEMU)
    /// or `"cycles"` (core clock cycles, real boards).
    pub unit: &'static str,
    pub layers: Vec<ProfileLayer>,
    /// Sum of the layers (= the run up to the last layer).
    pub total_instructions: u64,
    /// The whole inference of the same sample, timed separately.
    pub whole_instructions: u64,
    /// `|total - whole| / whole`, in percent.
    pub difference_pct: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProfileLayer {
    pub node: String,
    pub op_type: String,
    pub kernel: String,
    pub macs: u64,
    pub instructions: u64,
    pub instructions_per_mac: Option<f64>,
    /// The fewest instructions per MAC the core allows for this layer's kernel
    /// ([`crate::boards::Board::mac_limit`]); `None` without MACs or a known limit.
    pub limit_per_mac: Option<f64>,
}

/// Models of at least this many instructions must have per-layer sums within
/// [`SUM_TOLERANCE_PCT`] of the whole inference (smaller ones are dominated by the per-layer
/// early-exit tests and the timer's resolution).
pub const CHECK_MIN_INSTRUCTIONS: u64 = 1_000_000;
pub const SUM_TOLERANCE_PCT: f64 = 2.0;

/// Times every layer of `p`'s graph on `sample`, given the whole inference of the same sample
/// in emulated instructions (`instructions`) or, on a real board, cycles (`cycles`); `None`
/// where nothing is timed (the host board).
pub fn measure(
    p: &crate::deploy::Prepared,
    target: &super::Target,
    runner: &mut dyn crate::deploy::Runner,
    sample: &[&[f32]],
    instructions: Option<u64>,
    cycles: Option<u64>,
) -> anyhow::Result<Option<Profile>> {
    let (whole, unit) = match (instructions, cycles) {
        (Some(i), _) => (i, "instructions"),
        (None, Some(c)) => (c, "cycles"),
        (None, None) => return Ok(None),
    };
    let g = &p.graph;
    let all: Vec<usize> = (0..g.nodes.len()).collect();
    let outs = runner.run_layers(sample, &all)?;
    let mut prev = 0;
    let mut layers = Vec::new();
    for (node, out) in g.nodes.iter().zip(&outs) {
        let until = out.instructions_until.or(out.cycles_until).unwrap_or(prev);
        let instructions = until.saturating_sub(prev);
        prev = until;
        layers.push(ProfileLayer {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            kernel: node.op.describe(),
            macs: node.macs,
            instructions,
            instructions_per_mac: (node.macs > 0).then(|| instructions as f64 / node.macs as f64),
            limit_per_mac: match target {
                super::Target::Board(b) if node.macs > 0 => {
                    b.mac_limit(matches!(node.op, crate::ir::Op::Q(_)))
                }
                _ => None,
            },
        });
    }
    Ok(Some(Profile {
        unit,
        layers,
        total_instructions: prev,
        whole_instructions: whole,
        difference_pct: (prev as f64 - whole as f64).abs() / (whole.max(1) as f64) * 100.0,
    }))
}

impl Profile {
    /// Whether the sum check applies (the model is big enough).
    pub fn checked(&self) -> bool {
        self.whole_instructions >= CHECK_MIN_INSTRUCTIONS
    }

    /// Why the per-layer sum fails the check, or `None` when it holds or does not apply.
    pub fn failure(&self) -> Option<String> {
        (self.checked() && self.difference_pct > SUM_TOLERANCE_PCT).then(|| {
            format!(
                "per-layer {} add up to {} but the whole inference took {} \
                 ({:.2} % apart, more than {SUM_TOLERANCE_PCT} %)",
                self.unit, self.total_instructions, self.whole_instructions, self.difference_pct
            )
        })
    }

    /// The human table (`kiln bench`, `kiln validate --profile`).
    pub fn print(&self) {
        println!(
            "layers    {:<28} {:<16} {:>10} {:>12} {:>9} {:>7} {:>7}",
            "node", "kernel", "MACs", self.unit, "per MAC", "limit", "share"
        );
        for x in &self.layers {
            println!(
                "          {:<28} {:<16} {:>10} {:>12} {:>9} {:>7} {:>6.1}%",
                x.node,
                x.kernel,
                x.macs,
                x.instructions,
                x.instructions_per_mac
                    .map_or("-".to_string(), |v| format!("{v:.2}")),
                x.limit_per_mac
                    .map_or("-".to_string(), |v| format!("{v:.2}")),
                x.instructions as f64 / self.total_instructions.max(1) as f64 * 100.0
            );
        }
        println!(
            "          sum {} vs whole inference {} ({:.2} % apart{})",
            self.total_instructions,
            self.whole_instructions,
            self.difference_pct,
            if self.checked() {
                ""
            } else {
                "; below 1 M, not checked"
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(total: u64, whole: u64) -> Profile {
        Profile {
            unit: "instructions",
            layers: vec![],
            total_instructions: total,
            whole_instructions: whole,
            difference_pct: (total as f64 - whole as f64).abs() / whole as f64 * 100.0,
        }
    }

    #[test]
    fn the_sum_check_applies_from_one_million_instructions() {
        assert!(profile(1_030_000, 1_000_000)
            .failure()
            .unwrap()
            .contains("3.00 % apart"));
        assert!(profile(1_010_000, 1_000_000).failure().is_none());
        // Small models are dominated by the timer's resolution: not checked.
        assert!(profile(1_300, 1_000).failure().is_none());
        assert!(!profile(1_300, 999_999).checked());
    }
}

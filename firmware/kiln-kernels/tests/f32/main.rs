//! f32 kernel tests: hand-computed edge cases, randomized comparisons with naive reference
//! kernels, and `run` dispatch.

mod dispatch;
mod edge;
mod props;
mod reference;

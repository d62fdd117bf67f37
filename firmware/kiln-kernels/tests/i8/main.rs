//! int8 kernel tests: hand-computed edge cases, randomized comparisons with wide-integer
//! reference kernels, and `run` dispatch.

mod dispatch;
mod edge;
mod qprops;
mod reference;

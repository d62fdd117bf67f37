//! Shape arithmetic and kernel-parameter helpers both front ends use.

use kiln_kernels::f32::MAX_RANK;

use super::Reason;

/// Row-major strides of `shape`.
pub(crate) fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Normalizes a possibly negative axis against `rank`.
pub(crate) fn norm_axis(axis: i64, rank: usize, input: &str) -> Result<usize, Reason> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(Reason::InvalidValue {
            input: input.to_string(),
            why: format!("axis {axis} is out of range for rank {rank}"),
        })
    }
}

/// Fixed-size `u32` array for kernel params (`rank <= MAX_RANK` checked by the caller).
pub(crate) fn arr_u32(v: &[usize]) -> [u32; MAX_RANK] {
    let mut a = [0u32; MAX_RANK];
    for (d, &x) in v.iter().enumerate().take(MAX_RANK) {
        a[d] = x as u32;
    }
    a
}

/// Checks that every number fits the `u32` kernel params.
pub(crate) fn fits_u32(what: &str, v: usize) -> Result<u32, Reason> {
    u32::try_from(v).map_err(|_| Reason::Limitation {
        what: format!("{what} = {v} does not fit in 32 bits"),
    })
}

//! Index arithmetic shared by the f32 and int8 kernels: clipped tap ranges, row-major strides and
//! the N-d row walker. Pure integer code; both element types walk tensors the same way.

use crate::f32::MAX_RANK;

/// The `t` in `[0, count)` with `0 <= base + t * step < n`, as a range `lo..hi` (`lo <= hi`).
/// Divides (unsigned) only when the range is clipped.
#[inline]
pub(crate) fn valid_range(base: isize, step: usize, count: usize, n: usize) -> (usize, usize) {
    let step = step.max(1);
    if count == 0 {
        return (0, 0);
    }
    if base >= 0 && base as usize + (count - 1) * step < n {
        return (0, count);
    }
    let lo = if base >= 0 {
        0
    } else {
        base.unsigned_abs().div_ceil(step)
    };
    let hi = if base >= n as isize {
        0
    } else {
        (n as isize - base) as usize
    }
    .div_ceil(step);
    let hi = hi.min(count);
    (lo.min(hi), hi)
}

/// Row-major strides of `shape[..rank]`.
pub(crate) fn contiguous_strides(rank: usize, shape: &[u32; MAX_RANK]) -> [isize; MAX_RANK] {
    let mut s = [0isize; MAX_RANK];
    let mut acc = 1isize;
    for d in (0..rank).rev() {
        s[d] = acc;
        acc *= shape[d] as isize;
    }
    s
}

/// Walks a dense row-major array of `shape` one innermost row at a time, tracking the matching
/// offsets into two other arrays addressed through their own strides. Dims of size 1 are dropped
/// and adjacent dims that are contiguous in all three arrays are merged, so the rows are as long
/// as possible. Index 0 is the innermost (merged) dim.
pub(crate) struct Walk {
    n: usize,
    len: [usize; MAX_RANK],
    st: [[isize; MAX_RANK]; 2],
}

impl Walk {
    pub(crate) fn new(
        rank: u32,
        shape: &[u32; MAX_RANK],
        s0: &[isize; MAX_RANK],
        s1: &[isize; MAX_RANK],
    ) -> Walk {
        let rank = (rank as usize).min(MAX_RANK);
        let mut w = Walk {
            n: 0,
            len: [1; MAX_RANK],
            st: [[0; MAX_RANK]; 2],
        };
        for d in (0..rank).rev() {
            let l = shape[d] as usize;
            if l == 1 {
                continue;
            }
            if w.n > 0 {
                let i = w.n - 1;
                let il = w.len[i] as isize;
                if s0[d] == w.st[0][i] * il && s1[d] == w.st[1][i] * il {
                    w.len[i] *= l;
                    continue;
                }
            }
            w.len[w.n] = l;
            w.st[0][w.n] = s0[d];
            w.st[1][w.n] = s1[d];
            w.n += 1;
        }
        // A single element (rank 0 or all dims 1) is one row of length 1.
        w.n = w.n.max(1);
        w
    }

    /// Length of a row and the two arrays' strides along it.
    pub(crate) fn row(&self) -> (usize, isize, isize) {
        (self.len[0], self.st[0][0], self.st[1][0])
    }

    /// Calls `f(off0, off1)` for each row, in row-major order; nothing for an empty array.
    pub(crate) fn rows(&self, mut f: impl FnMut(isize, isize)) {
        if self.len[..self.n].contains(&0) {
            return;
        }
        let mut idx = [0usize; MAX_RANK];
        let (mut o0, mut o1) = (0isize, 0isize);
        loop {
            f(o0, o1);
            let mut d = 1;
            loop {
                if d >= self.n {
                    return;
                }
                idx[d] += 1;
                o0 += self.st[0][d];
                o1 += self.st[1][d];
                if idx[d] < self.len[d] {
                    break;
                }
                let l = self.len[d] as isize;
                o0 -= self.st[0][d] * l;
                o1 -= self.st[1][d] * l;
                idx[d] = 0;
                d += 1;
            }
        }
    }
}

pub(crate) fn strides_u32(s: &[u32; MAX_RANK]) -> [isize; MAX_RANK] {
    s.map(|v| v as isize)
}

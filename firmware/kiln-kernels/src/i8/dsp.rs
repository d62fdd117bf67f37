//! The Armv7E-M / Armv8-M DSP-extension instructions the int8 kernels use, with their portable
//! equivalents. On a core with the DSP extension (`target_feature = "dsp"`: Cortex-M4, M7, M33,
//! M55) each is one instruction through `asm!` (the `__smlad`-style intrinsics are
//! nightly-only); elsewhere (the host simulation, Cortex-M0 / M3) the portable form computes the
//! same bits. Both wrap exactly as the instruction does: `SMLAD` only sets the sticky Q flag on
//! overflow, its result is the sum modulo 2^32.

/// The sign-extended low 16-bit lane.
#[inline(always)]
pub fn lane_lo(v: u32) -> i32 {
    (v as i32) << 16 >> 16
}

/// The sign-extended high 16-bit lane.
#[inline(always)]
pub fn lane_hi(v: u32) -> i32 {
    (v as i32) >> 16
}

/// `acc + lo(a) * lo(b) + hi(a) * hi(b)` over the signed 16-bit lanes, wrapping (`SMLAD`).
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    {
        let mut acc = acc;
        // SAFETY: a pure register operation; it touches no memory and only the Q flag. The
        // accumulator is read and written in one register (no copies in the MAC loops).
        unsafe {
            core::arch::asm!(
                "smlad {acc}, {a}, {b}, {acc}",
                acc = inout(reg) acc,
                a = in(reg) a,
                b = in(reg) b,
                options(pure, nomem, nostack),
            );
        }
        acc
    }
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        acc.wrapping_add(lane_lo(a) * lane_lo(b))
            .wrapping_add(lane_hi(a) * lane_hi(b))
    }
}

/// `(a * b + 2^31) >> 32`: the rounded high word of the 64-bit product (`SMMULR`).
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    {
        let r: i32;
        // SAFETY: a pure register operation.
        unsafe {
            core::arch::asm!(
                "smmulr {r}, {a}, {b}",
                r = lateout(reg) r,
                a = in(reg) a,
                b = in(reg) b,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        ((a as i64 * b as i64 + (1 << 31)) >> 32) as i32
    }
}

/// Bytes 0 and 2 of `v`, sign-extended into the low and high 16-bit lanes (`SXTB16`).
#[inline(always)]
pub fn sxtb16(v: u32) -> u32 {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    {
        let r: u32;
        // SAFETY: a pure register operation.
        unsafe {
            core::arch::asm!(
                "sxtb16 {r}, {v}",
                r = lateout(reg) r,
                v = in(reg) v,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        (v as u8 as i8 as i16 as u16 as u32) | ((v >> 16) as u8 as i8 as i16 as u16 as u32) << 16
    }
}

/// Bytes 1 and 3 of `v`, sign-extended into the low and high 16-bit lanes (`SXTB16` with `ROR #8`).
#[inline(always)]
pub fn sxtb16_ror8(v: u32) -> u32 {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    {
        let r: u32;
        // SAFETY: a pure register operation.
        unsafe {
            core::arch::asm!(
                "sxtb16 {r}, {v}, ror #8",
                r = lateout(reg) r,
                v = in(reg) v,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        sxtb16(v >> 8)
    }
}

/// `acc` plus bytes 0 and 2 of `v` sign-extended, lane by lane, wrapping in 16 bits (`SXTAB16`).
#[inline(always)]
pub fn sxtab16(acc: u32, v: u32) -> u32 {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    {
        let r: u32;
        // SAFETY: a pure register operation.
        unsafe {
            core::arch::asm!(
                "sxtab16 {r}, {acc}, {v}",
                r = lateout(reg) r,
                acc = in(reg) acc,
                v = in(reg) v,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        let e = sxtb16(v);
        let lo = (acc as u16).wrapping_add(e as u16) as u32;
        let hi = ((acc >> 16) as u16).wrapping_add((e >> 16) as u16) as u32;
        lo | hi << 16
    }
}

/// [`sxtab16`] of bytes 1 and 3 (`SXTAB16` with `ROR #8`).
#[inline(always)]
pub fn sxtab16_ror8(acc: u32, v: u32) -> u32 {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    {
        let r: u32;
        // SAFETY: a pure register operation.
        unsafe {
            core::arch::asm!(
                "sxtab16 {r}, {acc}, {v}, ror #8",
                r = lateout(reg) r,
                acc = in(reg) acc,
                v = in(reg) v,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        sxtab16(acc, v >> 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_forms_follow_the_instructions() {
        // SMLAD wraps: two products of -32768 * -32768 overflow i32.
        let m = 0x8000_8000u32;
        assert_eq!(smlad(m, m, 0), i32::MIN);
        assert_eq!(smlad(0x0003_fffe, 0x0005_0007, 10), 10 - 14 + 15);
        assert_eq!(sxtb16(0x007f_ff01), 0x007f_0001);
        assert_eq!(sxtb16(0x1280_3481), 0xff80_ff81);
        assert_eq!(sxtb16_ror8(0x1280_3481), 0x0012_0034);
        assert_eq!(sxtab16(0x0080_ff80, 0x1280_3481), 0x0000_ff01);
        assert_eq!(sxtab16_ror8(0x0001_0002, 0x1280_3481), 0x0013_0036);
        assert_eq!(smmulr(i32::MIN, i32::MIN), 1 << 30);
        assert_eq!(smmulr(-3, 1 << 30), -1);
        assert_eq!(smmulr(3, 1 << 30), 1);
    }
}

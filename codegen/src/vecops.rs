//! Elementwise and data-movement kernels for the Cranelift JIT: `+ − × ÷`, negation,
//! squares, selects, fills, broadcasts and transposes of whole `f64` tensors, with the
//! widest vectors the CPU has.
//!
//! Cranelift's x86-64 back end has no vectors wider than 128 bits (`F64X2`), so a tile of a
//! network's activations (a few hundred elements) runs at two lanes per instruction in code
//! it generates; these kernels, compiled by rustc with AVX-512 or AVX2 chosen at run time,
//! run eight or four. Every element is the same IEEE operation as the element loop (no
//! fused multiply-add, no reassociation), so results are the same bits. The LLVM back end
//! vectorises its own loops and does not call them; object files link without sci.

/// The operations of [`sci_ew`], by code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Ew {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    /// `-a` (`b` unused).
    Neg = 4,
    /// `a * a` (`b` unused).
    Square = 5,
}

impl Ew {
    fn of(code: u64) -> Option<Ew> {
        [Ew::Add, Ew::Sub, Ew::Mul, Ew::Div, Ew::Neg, Ew::Square]
            .into_iter()
            .find(|e| *e as u64 == code)
    }
}

/// Tensors of at least this many elements go to the kernels (below, the call costs more
/// than the wider vectors save).
pub(crate) const EW_KERNEL_MIN: usize = 32;

#[inline(always)]
fn ew_generic(op: Ew, a: &[f64], b: &[f64], out: &mut [f64]) {
    match op {
        Ew::Add => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x + y),
        Ew::Sub => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x - y),
        Ew::Mul => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x * y),
        Ew::Div => out
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (x, y))| *o = x / y),
        Ew::Neg => out.iter_mut().zip(a).for_each(|(o, x)| *o = -x),
        Ew::Square => out.iter_mut().zip(a).for_each(|(o, x)| *o = x * x),
    }
}

#[inline(always)]
fn fill_generic(x: f64, out: &mut [f64]) {
    out.fill(x);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn ew_avx512(op: Ew, a: &[f64], b: &[f64], out: &mut [f64]) {
    ew_generic(op, a, b, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ew_avx2(op: Ew, a: &[f64], b: &[f64], out: &mut [f64]) {
    ew_generic(op, a, b, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fill_avx512(x: f64, out: &mut [f64]) {
    fill_generic(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(x: f64, out: &mut [f64]) {
    fill_generic(x, out)
}

/// `out = a OP b` elementwise with the widest vectors this CPU has.
fn ew(op: Ew, a: &[f64], b: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { ew_avx512(op, a, b, out) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { ew_avx2(op, a, b, out) };
        }
    }
    ew_generic(op, a, b, out)
}

/// `out[i] = x` with the widest vectors this CPU has.
fn fill(x: f64, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { fill_avx512(x, out) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { fill_avx2(x, out) };
        }
    }
    fill_generic(x, out)
}

#[inline(always)]
fn select_generic(c: &[f64], a: &[f64], b: &[f64], out: &mut [f64]) {
    for (o, ((c, a), b)) in out.iter_mut().zip(c.iter().zip(a).zip(b)) {
        // `c != 0` is true for NaN, as in the interpreter.
        *o = if *c != 0.0 { *a } else { *b };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn select_avx512(c: &[f64], a: &[f64], b: &[f64], out: &mut [f64]) {
    select_generic(c, a, b, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn select_avx2(c: &[f64], a: &[f64], b: &[f64], out: &mut [f64]) {
    select_generic(c, a, b, out)
}

/// `out = c != 0 ? a : b` elementwise with the widest vectors this CPU has.
fn select(c: &[f64], a: &[f64], b: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { select_avx512(c, a, b, out) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { select_avx2(c, a, b, out) };
        }
    }
    select_generic(c, a, b, out)
}

/// `out[i] = c[i] != 0 ? a[i] : b[i]` for `i < n`.
///
/// # Safety
/// `c`, `a`, `b`, `out` point to `n` valid `f64`s each; `out` overlaps none of the others.
pub(crate) unsafe extern "C" fn sci_select(
    c: *const f64,
    a: *const f64,
    b: *const f64,
    out: *mut f64,
    n: u64,
) {
    let Ok(n) = usize::try_from(n) else {
        return;
    };
    if n == 0 {
        return;
    }
    // SAFETY: the caller's contract.
    let (c, a, b, out) = unsafe {
        (
            std::slice::from_raw_parts(c, n),
            std::slice::from_raw_parts(a, n),
            std::slice::from_raw_parts(b, n),
            std::slice::from_raw_parts_mut(out, n),
        )
    };
    select(c, a, b, out);
}

/// The most axes [`sci_broadcast`] takes.
pub(crate) const BROADCAST_MAX_RANK: usize = 8;

/// A broadcast: `dst` (row-major, `extents`) from `src` read with `strides` (0 along
/// repeated axes). `shape` holds the extents then the strides (as `f64`, exact integers:
/// generated code keeps it in read-only data), `rank` of each.
///
/// # Safety
/// `shape` points to `2 × rank` values; `src` holds every element the strides reach;
/// `dst` holds the product of the extents; they do not overlap.
pub(crate) unsafe extern "C" fn sci_broadcast(
    src: *const f64,
    dst: *mut f64,
    shape: *const f64,
    rank: u64,
) {
    let rank = rank as usize;
    if rank == 0 || rank > BROADCAST_MAX_RANK {
        return;
    }
    // SAFETY: the caller's contract.
    let shape = unsafe { std::slice::from_raw_parts(shape, 2 * rank) };
    let mut extents = [0usize; BROADCAST_MAX_RANK];
    let mut strides = [0usize; BROADCAST_MAX_RANK];
    for k in 0..rank {
        extents[k] = shape[k] as usize;
        strides[k] = shape[rank + k] as usize;
    }
    let (inner, step) = (extents[rank - 1], strides[rank - 1]);
    let rows: usize = extents[..rank - 1].iter().product();
    let mut idx = [0usize; BROADCAST_MAX_RANK];
    for row in 0..rows {
        let from: usize = idx[..rank - 1]
            .iter()
            .zip(&strides)
            .map(|(i, s)| i * s)
            .sum();
        // SAFETY: row `row` of `dst` and the elements of `src` it reads are in bounds (the
        // caller's contract).
        unsafe {
            let to = std::slice::from_raw_parts_mut(dst.add(row * inner), inner);
            match step {
                0 => fill(*src.add(from), to),
                1 => to.copy_from_slice(std::slice::from_raw_parts(src.add(from), inner)),
                s => {
                    for (k, y) in to.iter_mut().enumerate() {
                        *y = *src.add(from + k * s);
                    }
                }
            }
        }
        // The next row's index (the last axis is the row itself).
        for axis in (0..rank - 1).rev() {
            idx[axis] += 1;
            if idx[axis] < extents[axis] {
                break;
            }
            idx[axis] = 0;
        }
    }
}

/// `dst = srcᵀ` for each of `batch` consecutive `m × n` row-major matrices of `src` (a
/// batch transposes its last two axes), in cache-sized blocks.
///
/// # Safety
/// `src` and `dst` point to `batch × m × n` valid `f64`s each and do not overlap.
pub(crate) unsafe extern "C" fn sci_transpose(
    src: *const f64,
    dst: *mut f64,
    batch: u64,
    m: u64,
    n: u64,
) {
    const BLOCK: usize = 16;
    let (batch, m, n) = (batch as usize, m as usize, n as usize);
    for p in 0..batch {
        // SAFETY: matrix `p` lies within the caller's buffers.
        let (src, dst) = unsafe { (src.add(p * m * n), dst.add(p * m * n)) };
        for i0 in (0..m).step_by(BLOCK) {
            for j0 in (0..n).step_by(BLOCK) {
                for i in i0..(i0 + BLOCK).min(m) {
                    for j in j0..(j0 + BLOCK).min(n) {
                        // SAFETY: `i < m`, `j < n` (the caller's contract).
                        unsafe { *dst.add(j * m + i) = *src.add(i * n + j) };
                    }
                }
            }
        }
    }
}

/// `out[i] = a[i] OP b[i]` for `i < n`, `OP` by code ([`Ew`]); an unknown code writes
/// nothing (generated code passes only the codes above).
///
/// # Safety
/// `a`, `out` (and `b` for binary codes) point to `n` valid `f64`s each; `out` overlaps
/// neither operand (the frame plan places a result apart from what it reads).
pub(crate) unsafe extern "C" fn sci_ew(
    op: u64,
    a: *const f64,
    b: *const f64,
    out: *mut f64,
    n: u64,
) {
    let (Some(op), Ok(n)) = (Ew::of(op), usize::try_from(n)) else {
        return;
    };
    if n == 0 {
        return;
    }
    let unary = matches!(op, Ew::Neg | Ew::Square);
    // SAFETY: the caller's contract (`b` is not read for unary codes).
    let (a, b, out) = unsafe {
        (
            std::slice::from_raw_parts(a, n),
            if unary {
                &[][..]
            } else {
                std::slice::from_raw_parts(b, n)
            },
            std::slice::from_raw_parts_mut(out, n),
        )
    };
    ew(op, a, b, out);
}

/// `out[i] = x` for `i < n`: a broadcast of a scalar.
///
/// # Safety
/// `out` points to `n` valid `f64`s.
pub(crate) unsafe extern "C" fn sci_fill(x: f64, out: *mut f64, n: u64) {
    let Ok(n) = usize::try_from(n) else {
        return;
    };
    if n == 0 {
        return;
    }
    // SAFETY: the caller's contract.
    fill(x, unsafe { std::slice::from_raw_parts_mut(out, n) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_the_element_loop_bit_for_bit() {
        let a: Vec<f64> = (0..103).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
        let b: Vec<f64> = (0..103).map(|i| (i as f64 * 0.11).cos() + 0.5).collect();
        for op in [Ew::Add, Ew::Sub, Ew::Mul, Ew::Div, Ew::Neg, Ew::Square] {
            let mut out = vec![0.0; a.len()];
            // SAFETY: three buffers of `a.len()` elements, `out` apart from both.
            unsafe {
                sci_ew(
                    op as u64,
                    a.as_ptr(),
                    b.as_ptr(),
                    out.as_mut_ptr(),
                    a.len() as u64,
                )
            };
            for (k, o) in out.iter().enumerate() {
                let want = match op {
                    Ew::Add => a[k] + b[k],
                    Ew::Sub => a[k] - b[k],
                    Ew::Mul => a[k] * b[k],
                    Ew::Div => a[k] / b[k],
                    Ew::Neg => -a[k],
                    Ew::Square => a[k] * a[k],
                };
                assert_eq!(o.to_bits(), want.to_bits(), "{op:?} at {k}");
            }
        }
        let mut out = vec![0.0; 37];
        // SAFETY: `out` holds 37 elements.
        unsafe { sci_fill(-2.5, out.as_mut_ptr(), 37) };
        assert!(out.iter().all(|x| *x == -2.5));
        let c: Vec<f64> = (0..103)
            .map(|i| [0.0, 1.0, f64::NAN, -0.0][i % 4])
            .collect();
        // SAFETY: four buffers of 103 elements, `out` apart from the others.
        let mut out = vec![0.0; 103];
        unsafe { sci_select(c.as_ptr(), a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), 103) };
        for k in 0..103 {
            let want = if c[k] != 0.0 { a[k] } else { b[k] };
            assert_eq!(out[k].to_bits(), want.to_bits());
        }
    }

    #[test]
    fn broadcasts_and_transposes_move_the_right_elements() {
        // [3] → [2, 3, 4] along the middle axis (strides 0, 1, 0).
        let src = [1.0, 2.0, 3.0];
        let shape = [2.0, 3.0, 4.0, 0.0, 1.0, 0.0];
        let mut dst = vec![0.0; 24];
        // SAFETY: `shape` has 6 values, `src` 3 reachable elements, `dst` 24.
        unsafe { sci_broadcast(src.as_ptr(), dst.as_mut_ptr(), shape.as_ptr(), 3) };
        for (k, y) in dst.iter().enumerate() {
            assert_eq!(*y, src[(k / 4) % 3], "element {k}");
        }
        // [2, 1] → [2, 5] (rows repeated) and [5] → [2, 5] (the row copied).
        let mut dst = vec![0.0; 10];
        let shape = [2.0, 5.0, 1.0, 0.0];
        unsafe { sci_broadcast(src.as_ptr(), dst.as_mut_ptr(), shape.as_ptr(), 2) };
        assert_eq!(dst, [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
        let row = [1.0, 2.0, 3.0, 4.0, 5.0];
        let shape = [2.0, 5.0, 0.0, 1.0];
        unsafe { sci_broadcast(row.as_ptr(), dst.as_mut_ptr(), shape.as_ptr(), 2) };
        assert_eq!(dst, [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let m: Vec<f64> = (0..35).map(f64::from).collect();
        let mut t = vec![0.0; 35];
        // SAFETY: two 35-element buffers.
        unsafe { sci_transpose(m.as_ptr(), t.as_mut_ptr(), 1, 5, 7) };
        for i in 0..5 {
            for j in 0..7 {
                assert_eq!(t[j * 5 + i], m[i * 7 + j]);
            }
        }
        // A batch of three 2 × 3 matrices, each transposed in place of its own.
        let m: Vec<f64> = (0..18).map(f64::from).collect();
        let mut t = vec![0.0; 18];
        // SAFETY: two 18-element buffers.
        unsafe { sci_transpose(m.as_ptr(), t.as_mut_ptr(), 3, 2, 3) };
        for p in 0..3 {
            for i in 0..2 {
                for j in 0..3 {
                    assert_eq!(t[p * 6 + j * 2 + i], m[p * 6 + i * 3 + j]);
                }
            }
        }
    }
}

//! `expand-spectral`: every [`Op::Rfft`] and [`Op::Irfft`] becomes two matrix products with
//! the transform's matrices (`sci_ir::spectral::rfft_matrices`, `irfft_matrices`), so the
//! back ends compile them with the matrix-product code they already have — tiled across
//! points on the CPU, one thread per point on the GPU — and need no FFT of their own.
//!
//! Why matrices for now: it gives every back end — the GPU's included — correct transforms
//! with no code of their own, the derivative rules come for free (they are the same ops),
//! and the interpreter keeps the defining sums as the reference. It is not the fastest CPU
//! form: `cargo bench --bench spectral` measures one `rfft` + `irfft` per signal at
//! 1.4–2.5× realfft's time for the truncated spectra of neural operators (64 points/8
//! modes to 1024/16) and 8.8× for a full spectrum (docs/neural-operators.md). A CPU runtime
//! call into realfft for the back ends that can call sci is the planned next step.
//!
//! ```text
//! rfft  x[..., n] → concat(reshape(x₂·C), reshape(x₂·S))        x₂ = reshape(x)[R, n]
//! irfft X[2, ..., m] → reshape(Re₂·A + Im₂·B)                    Re₂ = reshape(slice(X, 0))
//! ```
//!
//! One signal (`R = 1`) is a matrix–vector product with the transposed matrix instead,
//! which the batch-major tiling turns into one matrix product over a tile of points.
//!
//! The 2-D transforms are separable: [`Op::Rfft2`] is the last axis's `rfft`, then the
//! first axis's complex transform of the kept rows as products of the signals' columns
//! (each matrix transposed, the columns stacked) with its cosine and sine matrices
//! (`sci_ir::spectral::row_matrices`); [`Op::Irfft2`] the same in reverse order, ending in
//! an `irfft`. They expand first, and the 1-D ops they leave expand next.

use std::collections::HashMap;

use sci_ir::spectral::{irfft_matrices, rfft_matrices};
use sci_ir::{BinaryOp, Function, Module, Op, Type, Value, ValueId};

/// Expands every spectral op of every function of `m`; returns how many it expanded.
pub fn expand_spectral(m: &mut Module) -> usize {
    let mut count = 0;
    let ids: Vec<_> = m.functions.iter().map(|(id, _)| id).collect();
    for id in ids {
        if let Some(f) = m.functions.get_mut(id) {
            count += expand_function(f);
        }
    }
    count
}

/// The 2-D transforms first (into 1-D transforms and products), then the 1-D ones.
fn expand_function(f: &mut Function) -> usize {
    expand_ops(f, true) + expand_ops(f, false)
}

fn expand_ops(f: &mut Function, two_dimensional: bool) -> usize {
    let targets: Vec<ValueId> = (f.values.iter())
        .filter(|(_, v)| {
            if two_dimensional {
                matches!(v.op, Op::Rfft2 { .. } | Op::Irfft2 { .. })
            } else {
                matches!(v.op, Op::Rfft { .. } | Op::Irfft { .. })
            }
        })
        .map(|(id, _)| id)
        .collect();
    // The values each expanded op needs first, to insert before it in its block.
    let mut before: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    for &id in &targets {
        let Some(value) = f.values.get(id).cloned() else {
            continue;
        };
        let mut new = Vec::new();
        let op = match value.op {
            Op::Rfft { signal, modes } => rfft(f, &mut new, signal, modes),
            Op::Irfft { spectrum, n } => irfft(f, &mut new, spectrum, n),
            Op::Rfft2 { signal, modes } => rfft2(f, &mut new, signal, modes),
            Op::Irfft2 { spectrum, n } => irfft2(f, &mut new, spectrum, n),
            _ => None,
        };
        if let (Some(op), Some(v)) = (op, f.values.get_mut(id)) {
            v.op = op;
            before.insert(id, new);
        }
    }
    if before.is_empty() {
        return 0;
    }
    insert(&mut f.body.body, &before);
    let ids: Vec<ValueId> = f.values.iter().map(|(id, _)| id).collect();
    for id in ids {
        if let Some(block) = f.values.get_mut(id).and_then(|v| v.op.block_mut()) {
            insert(&mut block.body, &before);
        }
    }
    before.len()
}

/// `body` with `before[v]` inserted ahead of each `v` that has an entry.
fn insert(body: &mut Vec<ValueId>, before: &HashMap<ValueId, Vec<ValueId>>) {
    if !body.iter().any(|v| before.contains_key(v)) {
        return;
    }
    let mut out = Vec::with_capacity(body.len());
    for &v in body.iter() {
        if let Some(new) = before.get(&v) {
            out.extend_from_slice(new);
        }
        out.push(v);
    }
    *body = out;
}

/// Appends a value of type `f64`-like `dtype` and `shape` to `f`, recording it in `new`.
fn push(
    f: &mut Function,
    new: &mut Vec<ValueId>,
    op: Op,
    like: &Type,
    shape: Vec<usize>,
) -> ValueId {
    let ty = Type {
        shape,
        batched: false,
        unit: None,
        ..like.clone()
    };
    let id = f.values.push(Value { op, ty, name: None });
    new.push(id);
    id
}

/// The op that replaces `rfft signal, modes`, after the values it needs.
fn rfft(f: &mut Function, new: &mut Vec<ValueId>, signal: ValueId, modes: usize) -> Option<Op> {
    let ty = f.values.get(signal)?.ty.clone();
    let (&n, lead) = ty.shape.split_last()?;
    let rows: usize = lead.iter().product();
    let (c, s) = rfft_matrices(n, modes);
    let mut part_shape = vec![1];
    part_shape.extend_from_slice(lead);
    part_shape.push(modes);
    let mut parts = Vec::with_capacity(2);
    if rows == 1 {
        // One signal: a matrix–vector product with the transposed matrix, the form the
        // batch-major tiling turns into one matrix product over a tile of points.
        for matrix in [c, s] {
            let m = push(
                f,
                new,
                Op::Literal(transpose(&matrix, n, modes)),
                &ty,
                vec![modes, n],
            );
            let p = push(f, new, Op::MatVec(m, signal), &ty, vec![modes]);
            parts.push(push(f, new, Op::Reshape(p), &ty, part_shape.clone()));
        }
        return Some(Op::Concat(parts));
    }
    let x = push(f, new, Op::Reshape(signal), &ty, vec![rows, n]);
    for matrix in [c, s] {
        let m = push(f, new, Op::Literal(matrix), &ty, vec![n, modes]);
        let p = push(f, new, Op::MatMul(x, m), &ty, vec![rows, modes]);
        parts.push(push(f, new, Op::Reshape(p), &ty, part_shape.clone()));
    }
    Some(Op::Concat(parts))
}

/// The op that replaces `irfft spectrum, n`, after the values it needs.
fn irfft(f: &mut Function, new: &mut Vec<ValueId>, spectrum: ValueId, n: usize) -> Option<Op> {
    let ty = f.values.get(spectrum)?.ty.clone();
    let m = *ty.shape.last()?;
    let middle = ty.shape.get(1..ty.shape.len().checked_sub(1)?)?;
    let rows: usize = middle.iter().product();
    let mut part_shape = vec![1];
    part_shape.extend_from_slice(middle);
    part_shape.push(m);
    let (a, b) = irfft_matrices(m, n);
    let mut products = Vec::with_capacity(2);
    for (start, matrix) in [(0, a), (1, b)] {
        let slice = Op::Slice {
            array: spectrum,
            start,
            len: 1,
        };
        let part = push(f, new, slice, &ty, part_shape.clone());
        if rows == 1 {
            // One spectrum: a matrix–vector product (see `rfft`).
            let part = push(f, new, Op::Reshape(part), &ty, vec![m]);
            let w = push(
                f,
                new,
                Op::Literal(transpose(&matrix, m, n)),
                &ty,
                vec![n, m],
            );
            products.push(push(f, new, Op::MatVec(w, part), &ty, vec![n]));
            continue;
        }
        let part = push(f, new, Op::Reshape(part), &ty, vec![rows, m]);
        let w = push(f, new, Op::Literal(matrix), &ty, vec![m, n]);
        products.push(push(f, new, Op::MatMul(part, w), &ty, vec![rows, n]));
    }
    let shape = if rows == 1 { vec![n] } else { vec![rows, n] };
    let sum = Op::Binary(BinaryOp::Add, products[0], products[1]);
    let sum = push(f, new, sum, &ty, shape);
    Some(Op::Reshape(sum))
}

/// The op that replaces `rfft2 signal, m1, m2`: the last axis's `rfft` (kept `m2`), then
/// the first axis's complex transform of the `2·m1` kept rows as two products with its
/// matrices (`sci_ir::spectral::row_matrices`), over the signals' columns side by side.
fn rfft2(
    f: &mut Function,
    new: &mut Vec<ValueId>,
    signal: ValueId,
    [m1, m2]: [usize; 2],
) -> Option<Op> {
    let ty = f.values.get(signal)?.ty.clone();
    let [lead @ .., n1, _] = &ty.shape[..] else {
        return None;
    };
    let (n1, rows) = (*n1, 2 * m1);
    let signals: usize = lead.iter().product();
    let mut by_row = vec![2];
    by_row.extend_from_slice(lead);
    by_row.extend([n1, m2]);
    let y = push(f, new, Op::Rfft { signal, modes: m2 }, &ty, by_row);
    let columns = columns_of(f, new, y, &ty, [2 * signals, n1, m2]);
    let (c, s) = sci_ir::spectral::row_matrices(n1, m1);
    let [cr, ci, sr, si] = products(f, new, columns, &ty, [c, s], [rows, n1], signals * m2);
    // Re Z = Σ cos·Re Y + sin·Im Y, Im Z = Σ cos·Im Y − sin·Re Y.
    let half = vec![1, signals * m2 * rows];
    let re = push(f, new, Op::Binary(BinaryOp::Add, cr, si), &ty, half.clone());
    let im = push(f, new, Op::Binary(BinaryOp::Sub, ci, sr), &ty, half);
    // Back to `[2, ..., rows, m2]`: the reshape to the value's own type.
    let by_row = rows_of(f, new, [re, im], &ty, [2 * signals, m2, rows]);
    Some(Op::Reshape(by_row))
}

/// The op that replaces `irfft2 spectrum, n1, n2`: the first axis's inverse complex
/// transform onto `n1` points (two products, `1/n1` included), then the last axis's `irfft`.
fn irfft2(
    f: &mut Function,
    new: &mut Vec<ValueId>,
    spectrum: ValueId,
    [n1, n2]: [usize; 2],
) -> Option<Op> {
    let ty = f.values.get(spectrum)?.ty.clone();
    let [2, middle @ .., rows, m2] = &ty.shape[..] else {
        return None;
    };
    let (rows, m2) = (*rows, *m2);
    let signals: usize = middle.iter().product();
    let columns = columns_of(f, new, spectrum, &ty, [2 * signals, rows, m2]);
    let (c, s) = sci_ir::spectral::row_matrices(n1, rows / 2);
    let scale = |m: Vec<f64>| m.into_iter().map(|x| x / n1 as f64).collect::<Vec<f64>>();
    let [cr, ci, sr, si] = products(
        f,
        new,
        columns,
        &ty,
        [
            transpose(&scale(c), rows, n1),
            transpose(&scale(s), rows, n1),
        ],
        [n1, rows],
        signals * m2,
    );
    // Re W = Σ cos·Re X − sin·Im X, Im W = Σ cos·Im X + sin·Re X.
    let half = vec![1, signals * m2 * n1];
    let re = push(f, new, Op::Binary(BinaryOp::Sub, cr, si), &ty, half.clone());
    let im = push(f, new, Op::Binary(BinaryOp::Add, ci, sr), &ty, half);
    let by_row = rows_of(f, new, [re, im], &ty, [2 * signals, m2, n1]);
    let mut shape = vec![2];
    shape.extend_from_slice(middle);
    shape.extend([n1, m2]);
    let w = push(f, new, Op::Reshape(by_row), &ty, shape);
    Some(Op::Irfft { spectrum: w, n: n2 })
}

/// `x` (`[batch, rows, cols]` elements) with each matrix transposed and the columns
/// stacked: `[batch·cols, rows]`, so that one product transforms every column.
fn columns_of(
    f: &mut Function,
    new: &mut Vec<ValueId>,
    x: ValueId,
    like: &Type,
    [batch, rows, cols]: [usize; 3],
) -> ValueId {
    let x3 = push(f, new, Op::Reshape(x), like, vec![batch, rows, cols]);
    let t = push(f, new, Op::Transpose(x3), like, vec![batch, cols, rows]);
    push(f, new, Op::Reshape(t), like, vec![batch * cols, rows])
}

/// `columns` (`[2·per, k]`: the real parts' columns, then the imaginary parts') times each
/// of two matrices given row-major `[out, k]` (so transposed into the product), each
/// product split into its real and imaginary halves (`[1, per·out]`):
/// `[first·re, first·im, second·re, second·im]`.
fn products(
    f: &mut Function,
    new: &mut Vec<ValueId>,
    columns: ValueId,
    like: &Type,
    matrices: [Vec<f64>; 2],
    [out, k]: [usize; 2],
    columns_per_part: usize,
) -> [ValueId; 4] {
    let mut halves = Vec::with_capacity(4);
    for matrix in matrices {
        // Stored `[out, k]`; the product needs `[k, out]`.
        let m = push(
            f,
            new,
            Op::Literal(transpose(&matrix, out, k)),
            like,
            vec![k, out],
        );
        let p = push(
            f,
            new,
            Op::MatMul(columns, m),
            like,
            vec![2 * columns_per_part, out],
        );
        let p = push(
            f,
            new,
            Op::Reshape(p),
            like,
            vec![2, columns_per_part * out],
        );
        for start in 0..2 {
            let half = Op::Slice {
                array: p,
                start,
                len: 1,
            };
            halves.push(push(f, new, half, like, vec![1, columns_per_part * out]));
        }
    }
    [halves[0], halves[1], halves[2], halves[3]]
}

/// The inverse of [`columns_of`] for the two halves `parts`: `[batch, cols, rows]` per
/// column stack, transposed back to `[batch, rows, cols]`.
fn rows_of(
    f: &mut Function,
    new: &mut Vec<ValueId>,
    parts: [ValueId; 2],
    like: &Type,
    [batch, cols, rows]: [usize; 3],
) -> ValueId {
    let both = push(
        f,
        new,
        Op::Concat(parts.to_vec()),
        like,
        vec![2, batch / 2 * cols * rows],
    );
    let x3 = push(f, new, Op::Reshape(both), like, vec![batch, cols, rows]);
    push(f, new, Op::Transpose(x3), like, vec![batch, rows, cols])
}

/// The `cols × rows` transpose of a row-major `rows × cols` matrix.
fn transpose(matrix: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols)
        .flat_map(|j| (0..rows).map(move |i| matrix[i * cols + j]))
        .collect()
}

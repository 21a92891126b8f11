//! The one average-rank kernel: a least-significant-digit radix sort on the values'
//! order-preserving 64-bit keys. Zeros (most entries of expression data) are counted, not
//! sorted, and digit passes in which every key has the same byte are skipped, which is why
//! ranking a matrix of counts column by column is fast ([`crate::probes::spearman`]).
//! [`super::average_ranks`] is the plain interface to it.

/// Reusable buffers of the ranking kernel (one per thread).
#[derive(Default)]
pub(crate) struct RankScratch {
    keys: Vec<u64>,
    idx: Vec<u32>,
    keys2: Vec<u64>,
    idx2: Vec<u32>,
}

/// Order-preserving map of a finite `f64` onto `u64` (negative values reversed).
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Sorts `keys` (with `idx` alongside) by LSD radix, on only the bits that vary between keys,
/// in at most 11-bit digits. Expression values stored as `f32` and widened leave the low 29
/// bits equal and few exponents in use, so a column typically needs 3 passes, not 8. When the
/// varying bits and the row index fit in 64 bits together, they are packed into one word and
/// only that array is moved (half the memory traffic), then unpacked: `keys` then hold the
/// varying bits only, which keep the order and the ties.
fn radix_sort(s: &mut RankScratch) {
    let n = s.keys.len();
    if n < 2 {
        return;
    }
    let first = s.keys[0];
    let diff = s.keys.iter().fold(0u64, |d, &k| d | (k ^ first));
    if diff == 0 {
        return; // all equal
    }
    let lo = diff.trailing_zeros();
    let bits = 64 - diff.leading_zeros() - lo;
    let max_idx = s.idx.iter().copied().max().unwrap_or(0);
    let idx_bits = 32 - max_idx.leading_zeros();
    s.keys2.resize(n, 0);
    if bits + idx_bits <= 64 {
        let key_mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        for (k, &i) in s.keys.iter_mut().zip(&s.idx) {
            *k = (((*k >> lo) & key_mask) << idx_bits) | u64::from(i);
        }
        lsd_passes(&mut s.keys, &mut s.keys2, None, idx_bits, bits);
        let idx_mask = (1u64 << idx_bits) - 1;
        for (k, i) in s.keys.iter_mut().zip(s.idx.iter_mut()) {
            *i = (*k & idx_mask) as u32;
            *k >>= idx_bits;
        }
    } else {
        s.idx2.resize(n, 0);
        lsd_passes(
            &mut s.keys,
            &mut s.keys2,
            Some((&mut s.idx, &mut s.idx2)),
            lo,
            bits,
        );
    }
}

/// LSD radix passes over bits `lo .. lo + bits` of `keys` (and `idx` alongside, if given),
/// using the second buffers as scratch; passes whose digit is the same in every key are
/// skipped.
fn lsd_passes(
    keys: &mut Vec<u64>,
    keys2: &mut Vec<u64>,
    mut idx: Option<(&mut Vec<u32>, &mut Vec<u32>)>,
    lo: u32,
    bits: u32,
) {
    const MAX_DIGIT: u32 = 11;
    // Fixed-size tables (digits are masked to 11 bits), so indexing needs no bounds checks.
    const SIZE: usize = 1 << MAX_DIGIT;
    let n = keys.len();
    let passes = bits.div_ceil(MAX_DIGIT);
    let width = bits.div_ceil(passes);
    let mask = (1u64 << width) - 1;
    let mut hist = vec![[0u32; SIZE]; passes as usize];
    for &k in keys.iter() {
        for (p, h) in hist.iter_mut().enumerate() {
            let d = ((k >> (lo + p as u32 * width)) & mask) as usize & (SIZE - 1);
            h[d] += 1;
        }
    }
    for (p, h) in hist.iter_mut().enumerate() {
        if h.iter().any(|&c| c as usize == n) {
            continue; // every key has the same digit here
        }
        let mut acc = 0u32;
        for c in h.iter_mut() {
            let count = *c;
            *c = acc;
            acc += count;
        }
        let shift = lo + p as u32 * width;
        match idx.as_mut() {
            None => {
                for &k in keys.iter() {
                    let d = ((k >> shift) & mask) as usize & (SIZE - 1);
                    if let Some(slot) = keys2.get_mut(h[d] as usize) {
                        *slot = k;
                    }
                    h[d] += 1;
                }
            }
            Some((ix, ix2)) => {
                for (&k, &i) in keys.iter().zip(ix.iter()) {
                    let d = ((k >> shift) & mask) as usize & (SIZE - 1);
                    let at = h[d] as usize;
                    if let (Some(kk), Some(ii)) = (keys2.get_mut(at), ix2.get_mut(at)) {
                        *kk = k;
                        *ii = i;
                    }
                    h[d] += 1;
                }
                std::mem::swap(*ix, *ix2);
            }
        }
        std::mem::swap(keys, keys2);
    }
}

/// Writes the centred, unit-norm average ranks of `x` into `out`; `false` (and zeros) for a
/// constant column.
pub(crate) fn unit_ranks(x: &[f64], out: &mut [f64], s: &mut RankScratch) -> bool {
    match centred_ranks(x, out, s) {
        Some(inv) => {
            out.iter_mut().for_each(|o| *o *= inv);
            true
        }
        None => {
            out.iter_mut().for_each(|o| *o = 0.0);
            false
        }
    }
}

/// Writes the centred average ranks of `x` into `out` and returns `1 / ‖out‖`, or `None` for
/// a constant column. The norm comes from the tie sizes, not a pass over `out`:
/// `Σ (rᵢ − r̄)² = (n³ − n − Σ_ties (t³ − t)) / 12`.
pub(crate) fn centred_ranks(x: &[f64], out: &mut [f64], s: &mut RankScratch) -> Option<f64> {
    let n = x.len();
    s.keys.clear();
    s.idx.clear();
    // Zeros are ties of one another: count them, sort only the rest.
    let mut n_neg = 0usize;
    let mut n_zero = 0usize;
    for (i, &v) in x.iter().enumerate() {
        if v == 0.0 {
            n_zero += 1;
        } else {
            n_neg += usize::from(v < 0.0);
            s.keys.push(key(v));
            s.idx.push(i as u32);
        }
    }
    radix_sort(s);
    let mean = (n + 1) as f64 / 2.0;
    // Ranks are 1-based; entries at sorted positions i..j (0-based) share mean(i+1 ..= j).
    let mut assign = |lo: usize, hi: usize, members: &[u32]| {
        let r = (lo + hi + 1) as f64 / 2.0 - mean;
        for &m in members {
            out[m as usize] = r;
        }
    };
    let mut i = 0;
    let mut run = |i0: usize, j0: usize, shift: usize| {
        // Sorted non-zero positions i0..j0 hold equal keys; their overall positions are
        // shifted by `shift` (the zeros before them).
        assign(i0 + shift, j0 + shift, &s.idx[i0..j0]);
    };
    let m = s.keys.len();
    let cube = |t: usize| {
        let t = t as f64;
        t * t * t - t
    };
    let mut ties = cube(n_zero);
    while i < m {
        let mut j = i + 1;
        while j < m && s.keys[j] == s.keys[i] {
            j += 1;
        }
        if j - i > 1 {
            ties += cube(j - i);
        }
        let shift = if i >= n_neg { n_zero } else { 0 };
        run(i, j, shift);
        i = j;
    }
    if n_zero > 0 {
        let r = (n_neg + n_neg + n_zero + 1) as f64 / 2.0 - mean;
        for (o, &v) in out.iter_mut().zip(x.iter()) {
            if v == 0.0 {
                *o = r;
            }
        }
    }
    let norm = ((cube(n) - ties) / 12.0).max(0.0).sqrt();
    if norm <= 1e-12 * n as f64 {
        return None;
    }
    Some(1.0 / norm)
}

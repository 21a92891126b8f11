//! Seeded random streams shared by every random component of the crate.
//!
//! Every draw comes from a ChaCha8 stream keyed by the user's seed and a *domain* (cells, gene
//! parameters, masks, batches, ...) and numbered by a stream id (a cell index, a step). ChaCha's
//! 64-bit stream ids make two ids' streams disjoint by construction, so a result depends only on
//! `(seed, domain, id)`: the same for any number of threads, any chunking, and after a resume.
//! `rand_chacha` is named explicitly (rather than `StdRng`) because its output is stable across
//! `rand` releases.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG type used throughout the crate.
pub(crate) type Stream = ChaCha8Rng;

/// SplitMix64 finaliser: a bijective 64-bit mixer (Steele et al. 2014).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream `id` of `domain` under `seed`.
pub(crate) fn stream(seed: u64, domain: u64, id: u64) -> Stream {
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(splitmix64(seed) ^ domain));
    rng.set_stream(id);
    rng
}

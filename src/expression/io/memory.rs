//! Large result buffers ask Linux for transparent huge pages, as numpy does for its arrays.
//!
//! Reading a 10^8-entry matrix is mostly the kernel handing out fresh memory: 200,000 page
//! faults of 4 KiB each. With `transparent_hugepage` in its common `madvise` mode, only memory
//! that asks gets 2 MiB pages (one fault per 512 small ones). numpy asks for every large
//! array, so `anndata.read_h5ad` gets them; this is the same request for ours. The advice
//! changes neither contents nor validity of the memory, only how the kernel backs it, and a
//! kernel that declines it changes nothing.

/// Buffers smaller than this are not worth advising.
const MIN_BYTES: usize = 8 << 20;
/// Huge-page size on x86-64 and most aarch64 kernels.
const HUGE: usize = 2 << 20;

/// Advises the kernel to back the 2 MiB-aligned part of `v` with huge pages. Call it on a
/// freshly allocated, not yet touched buffer (e.g. straight after `vec![0; n]`, which maps
/// zero pages lazily) so the first touch faults huge pages in.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn advise_huge_pages<T>(v: &mut [T]) {
    let bytes = std::mem::size_of_val(v);
    if bytes < MIN_BYTES {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let aligned = start.div_ceil(HUGE) * HUGE;
    let end = (start + bytes) / HUGE * HUGE;
    if end > aligned {
        // SAFETY: the range lies inside `v`, which this function borrows mutably, and
        // MADV_HUGEPAGE only changes how the kernel backs the pages (never their contents or
        // whether they are mapped). The result is ignored: declining is harmless.
        unsafe {
            libc::madvise(
                aligned as *mut libc::c_void,
                end - aligned,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

/// No-op off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn advise_huge_pages<T>(_v: &mut [T]) {}

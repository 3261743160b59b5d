//! The memory allocator of `openledgerd` (and of the benches that measure what it runs).
//!
//! mimalloc rather than glibc's malloc: the node allocates and frees many small and mid-sized
//! buffers per tx (protobuf decoding, state deltas, sled's copy-on-write tree nodes), and under
//! load glibc's free-list searches were about a third of the ABCI threads' time.
//!
//! mimalloc returns freed pages to the OS a second after they empty by default. sled copies tree
//! nodes on every write, so a Commit frees and re-allocates the same amount of memory block after
//! block, and the kernel zeroing those pages again was about a fifth of the node's CPU samples at
//! saturation. [`keep_freed_pages`] turns that purge off: the process keeps its working set
//! (its peak resident size grows by about a tenth) and Commit runs about a fifth faster
//! (BENCHMARKS.md). The allocator changes no result.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (`mimalloc.h`, v2 and v3): the
/// milliseconds before freed pages go back to the OS, -1 for never. libmimalloc-sys 0.1.49 has no
/// constant for it; the test below checks this index reads the option's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The environment variable with which an operator chooses the purge delay instead.
pub const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Keeps freed pages for reuse instead of returning them to the OS, unless the operator set
/// [`PURGE_DELAY_ENV`] (mimalloc reads it at start-up). Call first thing in `main`.
pub fn keep_freed_pages() {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` stores one integer in mimalloc's option table (an atomic write);
    // it takes no pointers, and -1 is a documented value of this option.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

/// The purge delay mimalloc uses now, in milliseconds (-1: never).
pub fn purge_delay() -> std::ffi::c_long {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_get` reads one integer from mimalloc's option table; no pointers.
    let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_index_is_the_purge_delay_and_keeping_pages_sets_it() {
        if std::env::var_os(PURGE_DELAY_ENV).is_some() {
            return;
        }
        // mimalloc v3's options table sets the purge delay's default to 1000 ms (options.c; the
        // header's "=10" is v2's): a wrong index reads another option's value.
        assert_eq!(purge_delay(), 1000);
        keep_freed_pages();
        assert_eq!(purge_delay(), -1);
    }
}

//! `openledgerd` binary entry point.

/// mimalloc rather than glibc's malloc: the node allocates and frees many small and mid-sized
/// buffers per tx (protobuf decoding, state deltas, sled's tree nodes), and under load glibc's
/// free-list searches showed up as about a third of the ABCI threads' time. The allocator does
/// not change any result.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = openledger_app::cli::main_entry() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

//! `openledgerd` binary entry point.

/// mimalloc, keeping freed pages for reuse (see `openledger-alloc`).
#[global_allocator]
static GLOBAL: openledger_alloc::MiMalloc = openledger_alloc::MiMalloc;

fn main() {
    openledger_alloc::keep_freed_pages();
    if let Err(e) = openledger_app::cli::main_entry() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

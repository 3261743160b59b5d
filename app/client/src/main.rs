//! `openledgerd` binary entry point.

fn main() {
    if let Err(e) = openledger_app::cli::main_entry() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

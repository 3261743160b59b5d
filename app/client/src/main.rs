//! `openledgerd` binary entry point.

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPEN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    if let Err(e) = openledger_app::cli::main_entry() {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

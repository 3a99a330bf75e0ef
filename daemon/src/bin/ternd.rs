//! `ternd`: tern's BGP daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "ternd", version, about = "tern BGP daemon")]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the configuration file, explain every error with its line, and exit.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (path, check_only) = match (cli.check_config, cli.config) {
        (Some(p), _) => (p, true),
        (None, Some(p)) => (p, false),
        (None, None) => {
            eprintln!("ternd: give --config FILE (or --check-config FILE)");
            return ExitCode::from(2);
        }
    };
    let cfg = match daemon::config::load(&path) {
        Ok(c) => c,
        Err(errs) => {
            for e in &errs {
                eprintln!("ternd: {e}");
            }
            eprintln!("ternd: {} error(s) in {}; not starting", errs.len(), path.display());
            return ExitCode::from(1);
        }
    };
    if check_only {
        println!("{}: configuration OK ({} peers)", path.display(), cfg.peers.len());
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ternd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(daemon::run::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ternd: {e}");
            ExitCode::FAILURE
        }
    }
}

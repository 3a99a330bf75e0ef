//! `ternd`: tern's BGP daemon, and `ternd lab`.

// ternc's side of the control socket; `ternd lab` asks its nodes with it
// and needs only part of it.
mod calico;
#[allow(dead_code)]
#[path = "../ternc/client.rs"]
mod client;
mod lab;
mod lab_netns;
mod malloc;
mod pow;

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
    /// Started after a restart (as calico-node starts BIRD with -R): tell
    /// peers our forwarding state was kept (RFC 4724), and keep the routes
    /// of the last run in the kernel until every peer's End-of-RIB or
    /// `graceful_restart_wait`.
    #[arg(short = 'R', long = "graceful-restart")]
    restarted: bool,
    /// Also serve DIR/bird.ctl (IPv4) and DIR/bird6.ctl (IPv6), where
    /// calico-node's tools look for BIRD and BIRD6 (/var/run/calico).
    #[arg(long, value_name = "DIR")]
    ctl_dir: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (over the file's
    /// metrics_listen; with --calico, the only way to turn them on).
    #[arg(long, value_name = "ADDR:PORT", env = "TERN_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Run from Calico's datastore (etcd v3: ETCD_ENDPOINTS, ETCD_*_FILE)
    /// as node NODENAME, in place of confd and BIRD; sockets in --ctl-dir
    /// (/var/run/calico by default).
    #[arg(long)]
    calico: bool,
    /// With --calico: this node's name (else NODENAME, else
    /// /var/lib/calico/nodename).
    #[arg(long, requires = "calico")]
    node: Option<String>,
    /// With --calico: etcd's endpoints (else ETCD_ENDPOINTS).
    #[arg(long, value_delimiter = ',', requires = "calico")]
    etcd_endpoints: Vec<String>,
    /// With --calico: Felix's endpoint status files, naming local
    /// workload BGP peers (/var/run/calico/endpoint-status).
    #[arg(long, value_name = "DIR", requires = "calico")]
    endpoint_status: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Calico: what a node's ternd configuration is, from Calico's resources.
    Calico {
        #[command(subcommand)]
        command: Calico,
    },
    /// Start N ternd nodes on loopback, wait until each has every node's
    /// pod block, print one node's tables and the time it took.
    Lab {
        /// Number of nodes.
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        #[arg(long, value_enum, default_value = "mesh")]
        topology: lab::Topology,
        /// BGP port every node listens on (above 1024: no root needed).
        #[arg(long, default_value_t = 11179)]
        port: u16,
        /// Addresses 127.X.Y.1, .2, ...: give "X.Y".
        #[arg(long, default_value = "100.0")]
        net: String,
        /// Stop after this many seconds instead of waiting for Ctrl-C.
        #[arg(long)]
        duration: Option<u64>,
        /// Give up if not converged after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Real kernels (root): each node in a network namespace with a
        /// pod; routes go into the kernel and pods ping each other.
        #[arg(long)]
        netns: bool,
        /// With --netns: kill node K's ternd with -9 and start it again
        /// with -R while every pod pings every other.
        #[arg(long, value_name = "K", requires = "netns")]
        restart_node: Option<usize>,
        /// Each node serves Prometheus metrics on its address at this port.
        #[arg(long, value_name = "PORT", conflicts_with = "netns")]
        metrics_port: Option<u16>,
    },
}

#[derive(clap::Subcommand)]
enum Calico {
    /// Print the ternd configuration node NAME would run (the schema
    /// `ternd --config` reads), from calicoctl-style resources (YAML or
    /// JSON, documents or Lists; BGP passwords from v1 Secrets).
    Render {
        #[arg(long)]
        node: String,
        /// Files of resources.
        #[arg(long, num_args = 1.., required_unless_present = "etcd_endpoints")]
        resources: Vec<PathBuf>,
        /// Or read them from etcd (as `ternd --calico` would).
        #[arg(long, value_delimiter = ',', conflicts_with = "resources")]
        etcd_endpoints: Vec<String>,
        /// Felix's endpoint status files (local workload BGP peers).
        #[arg(long, value_name = "DIR")]
        endpoint_status: Option<PathBuf>,
    },
}

/// Two malloc arenas: one for the session thread, one for the engine.
///
/// With tcache off (see `malloc`), every malloc and free takes its arena's
/// lock. glibc's default, an arena per thread, keeps each arena's freed
/// memory apart and left ternd 1 MB bigger at 100k routes; one arena for
/// all made the engine and the session threads queue for one lock. On two
/// cores the engine then slept on it about 15,000 times in the diverse 1M
/// benchmark (`perf record -e sched:sched_switch`: `__lll_lock_wait_private`),
/// and ternd took 3.6 CPU seconds for that benchmark against 2.1 pinned to
/// one core.
///
/// glibc hands the first thread that allocates after main a new arena and
/// later threads the existing ones in turn, starting with main's. The
/// runtime's one worker (see [`runtime`]) starts first and so has an arena
/// of its own; the engine's thread shares main's, where the main thread
/// only waits. (Were it otherwise, only speed would differ.) The engine
/// still frees what the worker decoded into the worker's arena, so the
/// UPDATEs on their way are kept few (`rde::IN_FLIGHT`): what they hold is
/// what the second arena costs. Before any thread starts.
fn two_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    two_malloc_arenas();
    // Under BIRD's names, as calico-node's runit services start it.
    if let Some(code) = calico::as_bird() {
        return code;
    }
    let cli = Cli::parse();
    if let Some(Sub::Calico {
        command:
            Calico::Render {
                node,
                resources,
                etcd_endpoints,
                endpoint_status,
            },
    }) = &cli.command
    {
        let status = endpoint_status.as_deref();
        return if etcd_endpoints.is_empty() {
            calico::render_files(node, resources, status)
        } else {
            calico::render_etcd(node, etcd_endpoints, status)
        };
    }
    if cli.calico {
        return calico::run(calico::Args {
            node: cli.node,
            etcd_endpoints: cli.etcd_endpoints,
            ctl_dir: cli.ctl_dir,
            endpoint_status: cli.endpoint_status,
            restarted: cli.restarted,
            metrics_listen: cli.metrics_listen,
        });
    }
    if let Some(Sub::Lab {
        nodes,
        topology,
        port,
        net,
        duration,
        timeout,
        netns,
        restart_node,
        metrics_port,
    }) = cli.command
    {
        if netns {
            if !(2..=50).contains(&nodes) {
                eprintln!("ternd lab --netns: --nodes 2..50");
                return ExitCode::from(2);
            }
            let o = lab_netns::Options {
                nodes,
                timeout: std::time::Duration::from_secs(timeout),
                duration: duration.map(std::time::Duration::from_secs),
                restart_node,
            };
            return if lab_netns::run(&o) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        let parts: Vec<u8> = net.split('.').filter_map(|x| x.parse().ok()).collect();
        if !(2..=250).contains(&nodes) || parts.len() != 2 {
            eprintln!("ternd lab: --nodes 2..250 and --net X.Y (addresses 127.X.Y.n)");
            return ExitCode::from(2);
        }
        let opts = lab::Options {
            nodes,
            topology,
            port,
            net: [127, parts[0], parts[1]],
            duration: duration.map(std::time::Duration::from_secs),
            timeout: std::time::Duration::from_secs(timeout),
            metrics_port,
        };
        return if lab::run(&opts) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
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
    malloc::settle();
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(daemon::supervisor::run(
        path,
        cfg,
        daemon::supervisor::Options {
            restarted: cli.restarted,
            ctl_dir: cli.ctl_dir,
            metrics_listen: cli.metrics_listen,
        },
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ternd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logging to stderr, and the daemon's runtime.
fn runtime() -> Option<tokio::runtime::Runtime> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // One worker: sessions, sockets and decoding run on it, the engine on
    // its own thread (`rde`), so two cores carry one each. A second worker
    // only stole tasks from the first and shared its arena (see
    // `two_malloc_arenas`).
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("ternd: cannot start the runtime: {e}");
            None
        }
    }
}

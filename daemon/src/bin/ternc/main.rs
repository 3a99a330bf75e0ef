//! `ternc`: tern's command-line client.

mod client;
mod decode;
mod health;

use std::io::{Read, Write};
use std::process::ExitCode;

use bgp_wire::{Family, SessionCtx};
use bytes::Bytes;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ternc", version, about = "tern's command-line client")]
struct Cli {
    /// ternd's control socket.
    #[arg(
        long,
        short = 's',
        global = true,
        env = "TERN_CTL",
        default_value = "/run/tern/tern.ctl"
    )]
    socket: std::path::PathBuf,
    /// Print the daemon's answer as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ask the daemon: `show status`, `show protocols [all] [NAME]`, `show memory`.
    Show {
        /// What to show, as in birdc.
        #[arg(required = true, num_args = 1..)]
        what: Vec<String>,
    },
    /// Start a protocol that was disabled.
    Enable { name: String },
    /// Stop a protocol: Cease / Administrative Shutdown with MESSAGE (RFC 9003).
    Disable { name: String, message: Option<String> },
    /// Stop and start a protocol again.
    Restart { name: String },
    /// Stop the daemon: every peer gets Cease / Administrative Shutdown.
    Shutdown,
    /// Calico's liveness check (`calico-node -bird-live`): the control
    /// socket answers as BIRD does. Exit 0 when live.
    Live,
    /// Calico's readiness check (`calico-node -bird-ready`), naming each
    /// peer that is not up and why. Exit 0 when ready.
    Ready {
        /// Seconds after the daemon's start during which every peer must
        /// be up (Calico's -threshold-time).
        #[arg(long, default_value_t = 30)]
        threshold: u64,
    },
    /// Decode raw BGP messages (as on the wire) into one JSON object per message.
    Decode {
        /// File to read; standard input when absent or `-`.
        file: Option<String>,
        /// The input is hex text rather than binary.
        #[arg(long)]
        hex: bool,
        /// The session did not negotiate 4-octet AS (AS_PATH holds 2-octet ASNs).
        #[arg(long)]
        no_as4: bool,
        /// Families whose NLRI carry ADD-PATH identifiers: ipv4, ipv6 (comma separated).
        #[arg(long, value_delimiter = ',')]
        add_path: Vec<String>,
        /// The session negotiated Extended Message (up to 65535 bytes).
        #[arg(long)]
        extended_message: bool,
        /// Pretty-print each object.
        #[arg(long)]
        pretty: bool,
        /// OPEN checks: our AS.
        #[arg(long, default_value_t = 64512)]
        local_as: u32,
        /// OPEN checks: the AS configured for the peer (default: the one its OPEN names).
        #[arg(long)]
        peer_as: Option<u32>,
        /// OPEN checks: our router ID (an iBGP peer may not share it).
        #[arg(long, default_value = "0.0.0.0")]
        router_id: std::net::Ipv4Addr,
    },
}

/// Sends one command to ternd and prints the answer.
fn ask(cli: &Cli, command: &str) -> ExitCode {
    let command = if cli.json {
        format!("json {command}")
    } else {
        command.to_string()
    };
    let reply = match client::query(&cli.socket, &command) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ternc: cannot talk to ternd on {}: {e}", cli.socket.display());
            return ExitCode::from(2);
        }
    };
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&client::json(&reply)).unwrap_or_default()
        );
    } else {
        print!("{}", client::text(&reply));
    }
    if client::is_error(&reply) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match &cli.command {
        Command::Show { what } => Some(format!("show {}", what.join(" "))),
        Command::Enable { name } => Some(format!("enable {name}")),
        Command::Disable { name, message: Some(m) } => Some(format!("disable {name} {}", quote(m))),
        Command::Disable { name, message: None } => Some(format!("disable {name}")),
        Command::Restart { name } => Some(format!("restart {name}")),
        Command::Shutdown => Some("down".to_string()),
        Command::Decode { .. } | Command::Live | Command::Ready { .. } => None,
    };
    if let Some(c) = command {
        return ask(&cli, &c);
    }
    match cli.command {
        Command::Show { .. }
        | Command::Enable { .. }
        | Command::Disable { .. }
        | Command::Restart { .. }
        | Command::Shutdown => ExitCode::from(2),
        Command::Live | Command::Ready { .. } => {
            let v = match cli.command {
                Command::Ready { threshold } => health::ready(&cli.socket, threshold),
                _ => health::live(&cli.socket),
            };
            println!("{}", v.text);
            if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Decode {
            file,
            hex,
            no_as4,
            add_path,
            extended_message,
            pretty,
            local_as,
            peer_as,
            router_id,
        } => {
            let mut raw = Vec::new();
            let read = match file.as_deref() {
                None | Some("-") => std::io::stdin().read_to_end(&mut raw).map(|_| ()),
                Some(f) => std::fs::read(f).map(|b| raw = b),
            };
            if let Err(e) = read {
                eprintln!(
                    "ternc decode: cannot read {}: {e}",
                    file.as_deref().unwrap_or("standard input")
                );
                return ExitCode::from(2);
            }
            if hex {
                match decode::parse_hex(&String::from_utf8_lossy(&raw)) {
                    Ok(b) => raw = b,
                    Err(e) => {
                        eprintln!("ternc decode: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            let mut families = Vec::new();
            for f in &add_path {
                match f.as_str() {
                    "ipv4" | "ipv4-unicast" => families.push(Family::IPV4_UNICAST),
                    "ipv6" | "ipv6-unicast" => families.push(Family::IPV6_UNICAST),
                    other => {
                        eprintln!("ternc decode: unknown family {other:?} for --add-path (ipv4, ipv6)");
                        return ExitCode::from(2);
                    }
                }
            }
            let ctx = SessionCtx {
                four_octet_as: !no_as4,
                add_path: families,
                extended_message,
            };
            let check = decode::OpenCheck {
                local_as: bgp_wire::Asn(local_as),
                peer_as: peer_as.map(bgp_wire::Asn),
                router_id: bgp_wire::RouterId(router_id),
            };
            let out = decode::decode_stream(&Bytes::from(raw), &ctx, &check);
            let mut stdout = std::io::stdout().lock();
            for o in &out.objects {
                let line = if pretty {
                    serde_json::to_string_pretty(o)
                } else {
                    serde_json::to_string(o)
                };
                if writeln!(stdout, "{}", line.unwrap_or_default()).is_err() {
                    return ExitCode::from(2);
                }
            }
            if out.clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

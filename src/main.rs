//! The `skiff` command: `server`, `kubectl`, `check`, `bench`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skiff::config::ServerConfig;

/// mimalloc instead of glibc's allocator: the server allocates and frees many small JSON nodes
/// from several threads, where glibc's arenas cost both CPU and resident memory (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A lightweight Kubernetes distribution in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start; the size of the flags struct does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run a single-node cluster: API server, storage and the rest.
    Server(ServerConfig),
    /// Run kubectl with this cluster's kubeconfig.
    Kubectl {
        /// Folder that holds state (as for `server`).
        #[arg(long, env = "SKIFF_DATA_DIR")]
        data_dir: Option<std::path::PathBuf>,
        /// Arguments passed to kubectl.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Report whether this machine has what skiff needs (Docker, iptables, cgroups, ports).
    Check {
        /// The API server port that must be free.
        #[arg(long, default_value_t = 6443)]
        https_listen_port: u16,
    },
    /// Measure start time, memory, throughput and latency against real servers.
    Bench(skiff::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Server(cfg) => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(skiff::server::run(cfg, skiff::server::shutdown_signal())) {
                Ok(()) => {
                    rt.shutdown_timeout(std::time::Duration::from_secs(2));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Kubectl { data_dir, args } => {
            let cfg = ServerConfig::parse_from_data_dir(data_dir);
            let status = std::process::Command::new("kubectl")
                .args(&args)
                .env("KUBECONFIG", cfg.kubeconfig_path())
                .status();
            match status {
                Ok(s) => ExitCode::from(s.code().unwrap_or(1) as u8),
                Err(e) => {
                    eprintln!("error: cannot run kubectl: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { https_listen_port } => skiff::check::main(https_listen_port),
        Command::Bench(args) => skiff::bench::main(args),
    }
}

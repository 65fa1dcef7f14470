//! The `influxgate` command: `serve` (the default), `token create`, `check-config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use influxgate::config::Config;
use influxgate::server;

#[derive(Parser, Debug)]
#[command(
    name = "influxgate",
    version,
    about = "InfluxDB 1.x HTTP API (/write, /query) in front of other time-series stores",
    long_about = "influxgate speaks the InfluxDB 1.x HTTP API (/write line protocol, /query InfluxQL, \
/ping, /health, /metrics) and stores the data in a backend: an embedded SQLite store by default.\n\n\
With no subcommand, `serve` runs."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Validate a configuration file: prints OK, or the error and exits with status 1.
    CheckConfig {
        /// The file to check (default: ./config.toml).
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a new random token: prints the token once, and the [[tokens]] entry for
    /// config.toml, which holds only the token's SHA-256 hash.
    Create {
        /// A name for the token (shown in logs, never the token itself).
        #[arg(long)]
        name: String,
        /// Databases it may read (comma-separated; `*` for all).
        #[arg(long, value_delimiter = ',')]
        read: Vec<String>,
        /// Databases it may write (comma-separated; `*` for all).
        #[arg(long, value_delimiter = ',')]
        write: Vec<String>,
        /// Full rights: every database, management statements.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Args, Debug, Clone, Default)]
struct ServeArgs {
    /// Configuration file. Default: ./config.toml when present, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8086 (port 0 picks a free port; the real address is printed).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Backend: embedded, victoriametrics or clickhouse.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// URL of the backend server (victoriametrics, clickhouse).
    #[arg(long, value_name = "URL")]
    backend_url: Option<String>,
    /// Directory for the embedded store and the generated admin token's hash.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// An admin token to accept (in addition to configured tokens). Prefer the environment
    /// variable: command lines are visible to other users.
    #[arg(long, value_name = "TOKEN", env = "INFLUXGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

fn load_config(args: &ServeArgs) -> Result<Config, String> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => {
            let default = Path::new("config.toml");
            if default.exists() {
                Config::load(default).map_err(|e| e.to_string())?
            } else {
                Config::default()
            }
        }
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(b) = &args.backend {
        cfg.backend.kind = b.parse()?;
    }
    if let Some(u) = &args.backend_url {
        cfg.backend.url = Some(u.clone());
    }
    if let Some(d) = &args.data_dir {
        cfg.data_dir = d.clone();
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn serve(args: ServeArgs) -> ExitCode {
    let cfg = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("influxgate: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&cfg.log.level);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("influxgate: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(server::run(cfg, args.admin_token.clone())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("influxgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| toml::Value::String(s.to_string()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn token_create(name: &str, read: &[String], write: &[String], admin: bool) -> ExitCode {
    if name.trim().is_empty() {
        eprintln!("influxgate: --name must not be empty");
        return ExitCode::FAILURE;
    }
    let token = server::auth::generate_token();
    let hash = server::auth::hash_string(&token);
    println!("Token (shown only now; keep it secret):\n\n    {token}\n");
    println!("Add this to config.toml:\n");
    println!("[[tokens]]");
    println!("name = {}", toml::Value::String(name.to_string()));
    println!("hash = \"{hash}\"");
    if admin {
        println!("admin = true");
    }
    if !read.is_empty() {
        println!("read = {}", toml_list(read));
    }
    if !write.is_empty() {
        println!("write = {}", toml_list(write));
    }
    ExitCode::SUCCESS
}

fn check_config(file: Option<PathBuf>) -> ExitCode {
    let path = file.unwrap_or_else(|| PathBuf::from("config.toml"));
    match Config::load(&path) {
        Ok(_) => {
            println!("OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => {
            // Flags given before the subcommand count too; those after it win.
            let base = cli.serve;
            serve(ServeArgs {
                config: args.config.or(base.config),
                listen: args.listen.or(base.listen),
                backend: args.backend.or(base.backend),
                backend_url: args.backend_url.or(base.backend_url),
                data_dir: args.data_dir.or(base.data_dir),
                admin_token: args.admin_token.or(base.admin_token),
            })
        }
        Some(Command::Token(TokenCommand::Create { name, read, write, admin })) => {
            token_create(&name, &read, &write, admin)
        }
        Some(Command::CheckConfig { file }) => check_config(file),
    }
}

//! The `influxgate` command: `serve` (the default), `token create|list|revoke`, `check-config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use influxgate::config::{Config, Overrides};
use influxgate::server;
use influxgate::server::reload::Source;

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
        /// Append the entry to the configuration file (keeping its comments) instead of printing
        /// it; a running server picks it up on SIGHUP or within two server.config_check_intervals.
        #[arg(long)]
        add_to_config: bool,
        /// The file for --add-to-config (default: ./config.toml).
        #[arg(long, value_name = "FILE", requires = "add_to_config")]
        config: Option<PathBuf>,
    },
    /// List the configured tokens: name, rights, the first digits of the hash (never a token).
    List {
        /// The configuration file (default: ./config.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Remove a token from the configuration file, keeping the file's comments. A running server
    /// stops accepting it once it rereads the file (SIGHUP, or within two server.config_check_intervals).
    Revoke {
        /// The token's name.
        name: String,
        /// The configuration file (default: ./config.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
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
    /// Backend: embedded, victoriametrics, clickhouse or influxdb.
    #[arg(long, value_name = "NAME")]
    backend: Option<influxgate::backend::BackendKind>,
    /// URL of the backend server (victoriametrics, clickhouse, influxdb).
    #[arg(long, value_name = "URL")]
    backend_url: Option<String>,
    /// Directory for the embedded store and the generated admin token's hash.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; or tls.cert).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (or tls.key).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// An admin token to accept (in addition to configured tokens). Prefer the environment
    /// variable: command lines are visible to other users.
    #[arg(long, value_name = "TOKEN", env = "INFLUXGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

impl ServeArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen,
            backend: self.backend,
            backend_url: self.backend_url.clone(),
            data_dir: self.data_dir.clone(),
            tls: self.tls_cert.clone().zip(self.tls_key.clone()),
        }
    }

    /// The config file in use: `--config`, else ./config.toml when present.
    fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| Some(PathBuf::from("config.toml")).filter(|p| p.exists()))
    }
}

fn load_config(args: &ServeArgs) -> Result<Config, String> {
    let mut cfg = match args.config_path() {
        Some(p) => Config::load(&p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    args.overrides().apply(&mut cfg);
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn serve(args: ServeArgs) -> ExitCode {
    let cfg = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("influxgate: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    influxgate::logging::init(&cfg.log);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("influxgate: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = Source { path: args.config_path(), overrides: args.overrides(), admin_token: args.admin_token.clone() };
    let result = rt.block_on(server::run(cfg, source));
    // Requests cut at the shutdown deadline are dropped with the runtime; blocking work still
    // running (a store call) is not waited for long.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("influxgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config_or_default(config: Option<PathBuf>) -> PathBuf {
    config.unwrap_or_else(|| PathBuf::from("config.toml"))
}

fn token_list(config: Option<PathBuf>) -> ExitCode {
    let path = config_or_default(config);
    match influxgate::token_file::list(&path) {
        Ok(lines) => {
            println!("NAME\tRIGHTS\tHASH");
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("influxgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn token_revoke(name: &str, config: Option<PathBuf>) -> ExitCode {
    let path = config_or_default(config);
    match influxgate::token_file::revoke(&path, name) {
        Ok(()) => {
            println!("token {name:?} removed from {}; a running influxgate rereads it on SIGHUP or when it sees the file change", path.display());
            ExitCode::SUCCESS
        }
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

fn token_create(name: &str, read: &[String], write: &[String], admin: bool, add_to: Option<&std::path::Path>) -> ExitCode {
    if name.trim().is_empty() {
        eprintln!("influxgate: --name must not be empty");
        return ExitCode::FAILURE;
    }
    let token = server::auth::generate_token();
    let hash = server::auth::hash_string(&token);
    if let Some(path) = add_to {
        let entry = influxgate::token_file::NewToken {
            name: name.to_string(),
            hash,
            admin,
            read: read.to_vec(),
            write: write.to_vec(),
        };
        if let Err(e) = influxgate::token_file::add(path, &entry) {
            eprintln!("influxgate: {e}");
            return ExitCode::FAILURE;
        }
        println!("Token (shown only now; keep it secret):\n\n    {token}\n");
        println!("Added as {name:?} to {}; a running influxgate accepts it after SIGHUP or once it sees the file change.", path.display());
        return ExitCode::SUCCESS;
    }
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
                tls_cert: args.tls_cert.or(base.tls_cert),
                tls_key: args.tls_key.or(base.tls_key),
                admin_token: args.admin_token.or(base.admin_token),
            })
        }
        Some(Command::Token(TokenCommand::Create { name, read, write, admin, add_to_config, config })) => {
            let add_to = add_to_config.then(|| config_or_default(config));
            token_create(&name, &read, &write, admin, add_to.as_deref())
        }
        Some(Command::Token(TokenCommand::List { config })) => token_list(config),
        Some(Command::Token(TokenCommand::Revoke { name, config })) => token_revoke(&name, config),
        Some(Command::CheckConfig { file }) => check_config(file),
    }
}

//! The command line: one file per command group. `main.rs` only parses and hands over here.
//!
//! Exit codes: 0 success; 1 other failure; 2 usage error; 3 invalid configuration; 4 account
//! not found or already exists; 5 password refused; 6 store unavailable, read-only or
//! corrupt; 7 audit chain broken.

mod audit;
mod breach;
mod config;
mod device;
mod emergency;
mod factors;
mod healthcheck;
mod keys;
mod output;
mod policy;
mod policy_access;
mod report;
mod serve;
mod session;
mod store;
mod user;
mod vendor;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::AppState;
use crate::clock::SystemClock;
use crate::config::{Config, Sources};
use crate::error::Error;
use crate::store::StoreError;
use crate::store::sql::OpenMode;
pub use output::Lang;

#[derive(Debug, Parser)]
#[command(
    name = "sekimori",
    version,
    about = "関守 Sekimori: authentication gateway for MHLW guideline 7.0"
)]
pub struct Cli {
    /// Configuration file (TOML), layered over the embedded defaults.
    #[arg(long, global = true, env = "SEKIMORI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Language of tables and messages (default: from LANG).
    #[arg(long, global = true, value_enum, env = "SEKIMORI_LANG")]
    pub lang: Option<Lang>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve,
    /// Check configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// List and end sessions.
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// The device register (機器台帳): terminals, servers, network devices.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Vendors' maintenance windows (保守作業枠).
    #[command(subcommand)]
    Vendor(vendor::VendorCommand),
    /// Emergency (break-glass) accounts: codes, uses, acknowledgements.
    #[command(subcommand)]
    Emergency(emergency::EmergencyCommand),
    /// Read, verify and export the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Reports for auditors: the guideline 7.0 checklist from live data.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Check policies and explain decisions.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Assertion signing keys and factor-sealing keys: list and rotate.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The durable store: migrations, and copying one store into another.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Build the offline breach filter.
    #[command(subcommand)]
    Breach(breach::BreachCommand),
    /// Print the OpenAPI 3.1 description of the JSON API (config/openapi.json is this).
    Openapi,
    /// Exit 0 if a running gateway answers /healthz (for container health checks).
    Healthcheck {
        /// Address to ask (default: server.listen from the configuration).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
}

/// A CLI failure: a message and an exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::ReasonRequired => 2,
            Error::Config(_) => 3,
            Error::AccountNotFound(_) | Error::AccountExists(_) => 4,
            Error::PasswordRejected(_) => 5,
            Error::Store(
                StoreError::ReadOnly(_) | StoreError::Corrupt(_) | StoreError::Unavailable(_),
            )
            | Error::State(_) => 6,
            _ => 1,
        };
        let message = match &e {
            Error::PasswordRejected(reasons) => {
                let mut m = String::from("password refused / パスワードは使用できません:");
                for r in reasons {
                    m.push_str(&format!(
                        "\n  - [{}] {}\n    {}",
                        r.code(),
                        r.message_ja(),
                        r.message_en()
                    ));
                }
                m
            }
            other => format!("[{}] {other}", other.code()),
        };
        Failure::new(code, message)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::from(Error::Store(e))
    }
}

pub(crate) fn load_config(cli_config: &Option<PathBuf>) -> Result<Config, Failure> {
    let sources = Sources {
        file: cli_config.clone(),
        env: true,
    };
    Config::load(&sources).map_err(|e| Failure::new(3, e.to_string()))
}

/// Open the existing store for an administrative command.
pub(crate) async fn open_state(cli_config: &Option<PathBuf>) -> Result<AppState, Failure> {
    let config = load_config(cli_config)?;
    Ok(AppState::build(config, Arc::new(SystemClock), OpenMode::MustExist).await?)
}

/// With in-process state and no gateway running, there is no live state to act on: say so.
pub(crate) fn warn_if_detached(state: &AppState, lang: Lang) {
    if state.state_source == crate::app::StateSource::Detached {
        eprintln!(
            "{} {}",
            lang.pick(
                "note: no running gateway answers on",
                "注意: 稼働中のゲートウェイが応答しません:"
            ),
            state.config.server.control_socket.display()
        );
        eprintln!(
            "{}",
            lang.pick(
                "      with in-process state, locks and sessions exist only while it runs.",
                "      プロセス内状態では、ロックとセッションは稼働中のみ存在します。"
            )
        );
    }
}

/// The operator, for the audit log: `cli:<os user>`.
pub(crate) fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    let lang = cli.lang.unwrap_or_else(Lang::from_env);
    let result = match cli.command {
        Command::Serve => serve::run(&cli.config).await,
        Command::Config(c) => config::run(c, &cli.config, lang),
        Command::User(c) => user::run(c, &cli.config, lang).await,
        Command::Session(c) => session::run(c, &cli.config, lang).await,
        Command::Device(c) => device::run(c, &cli.config, lang).await,
        Command::Vendor(c) => vendor::run(c, &cli.config, lang).await,
        Command::Emergency(c) => emergency::run(c, &cli.config, lang).await,
        Command::Audit(c) => audit::run(c, &cli.config, lang).await,
        Command::Report(c) => report::run(c, &cli.config, lang).await,
        Command::Store(c) => store::run(c, &cli.config, lang).await,
        Command::Openapi => {
            print!("{}", crate::http::openapi::json());
            Ok(())
        }
        Command::Keys(c) => keys::run(c, &cli.config, lang).await,
        Command::Breach(c) => breach::run(c),
        Command::Policy(c) => policy::run(c, &cli.config, lang).await,
        Command::Healthcheck { addr } => healthcheck::run(&cli.config, addr),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

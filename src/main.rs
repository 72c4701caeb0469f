//! The `sekimori` binary: parse the command line and hand over. No logic here.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = sekimori::cli::Cli::parse();
    sekimori::cli::run(cli).await
}

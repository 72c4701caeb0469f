//! `sekimori serve`: start the gateway, create the bootstrap admin on an empty store, and
//! shut down gracefully on SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Failure, load_config};
use crate::app::AppState;
use crate::clock::SystemClock;
use crate::config::LogFormat;
use crate::store::sql::OpenMode;

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

/// The bootstrap administrator's one-time password goes to a 0600 file beside the database
/// (removed at the account's first password change), and to the terminal only when standard
/// output is one: never to a log stream or a captured output.
fn announce_bootstrap(
    state: &AppState,
    username: &str,
    password: &crate::crypto::SecretString,
) -> Result<(), Failure> {
    use std::io::IsTerminal as _;
    let file = crate::admin::bootstrap::secret_path(&state.config);
    crate::admin::bootstrap::write_secret(&file, username, password).map_err(|e| {
        Failure::new(
            1,
            format!(
                "cannot write the bootstrap password file {}: {e}",
                file.display()
            ),
        )
    })?;
    let line = "==========================================================================";
    println!("{line}");
    println!(" 初期管理者を作成しました / Bootstrap administrator created");
    println!("   username: {username}");
    if std::io::stdout().is_terminal() {
        println!("   one-time password: {}", password.expose());
    }
    println!("   password file (0600): {}", file.display());
    println!(" 初回ログイン時に変更が必要です。変更するとファイルは削除されます。");
    println!(" It must be changed at first login; the file is removed then.");
    println!("{line}");
    tracing::warn!(
        username,
        file = %file.display(),
        "bootstrap administrator created; its one-time password is in the file"
    );
    Ok(())
}

pub async fn run(config: &Option<PathBuf>) -> Result<(), Failure> {
    let config = load_config(config)?;
    init_logging(config.log.format, &config.log.level);
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let listen = config.server.listen;
    let state = AppState::build(config, Arc::new(SystemClock), OpenMode::CreateAndMigrate)
        .await?
        .with_signing_keys()?;
    // The auditor console shows the chain's state; a large log is verified in the background.
    state.chain.spawn_catch_up(state.stores.audit.clone());
    // Fixed-term and dormant accounts, maintenance windows opening and closing.
    crate::app::housekeeping::spawn(state.clone());
    // Signed checkpoints of the audit chain and its off-box copy.
    if let Some(problem) = &state.audit_key_problem {
        tracing::error!(%problem, "audit checkpoints will not be signed");
    }
    let audit_tasks = state.spawn_audit_tasks();
    // The gauges of /metrics that nothing else updates.
    crate::metrics::handle();
    crate::app::probe::spawn(state.clone());
    if let Some((account, password)) = state.admin.bootstrap_if_empty().await? {
        announce_bootstrap(&state, account.username.as_str(), &password)?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::new(1, format!("cannot listen on {listen}: {e}")))?;
    tracing::info!(%listen, version = env!("CARGO_PKG_VERSION"), "sekimori listening");
    // The control socket serves in-process state to admin commands (unlock, sessions).
    let control = match state.config.state {
        crate::config::StateBackend::Memory => {
            let path = state.config.server.control_socket.clone();
            let listener = crate::http::control::bind(&path).await?;
            let router = crate::http::control::router(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "control socket stopped");
                }
            });
            Some(path)
        }
        crate::config::StateBackend::Redis { .. } => None,
    };
    let app = crate::http::build_router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    // Once shutdown starts, in-flight requests get `grace` to finish.
    let outcome = tokio::select! {
        r = server => r.map_err(|e| Failure::new(1, e.to_string()))?.map_err(|e| Failure::new(1, e.to_string())),
        () = async { let _ = rx.await; tokio::time::sleep(grace).await; } => {
            tracing::warn!("grace period over; closing remaining connections");
            Ok(())
        }
    };
    audit_tasks.stop(Duration::from_secs(5)).await;
    state.close().await;
    if let Some(path) = control {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("stopped");
    outcome
}

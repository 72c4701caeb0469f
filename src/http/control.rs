//! The control socket: a Unix socket (mode 0600, beside the database) on which the running
//! gateway serves its state store to administrative commands of the same installation.
//! Reaching it needs the same file-system rights as the database itself.

use std::path::Path;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

use crate::app::AppState;
use crate::error::Error;
use crate::http::extract::AppJson;
use crate::state::remote::{Op, RemoteState, Reply, apply};

async fn post_state(
    State(state): State<AppState>,
    AppJson(op): AppJson<Op>,
) -> (StatusCode, Json<Reply>) {
    let reply = apply(state.state.as_ref(), op).await;
    let status = if matches!(reply, Reply::Error { .. }) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(reply))
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/state", post(post_state))
        .with_state(state)
}

/// Bind the socket: refuse when another gateway answers on it, replace a stale file.
pub async fn bind(path: &Path) -> Result<tokio::net::UnixListener, Error> {
    if path.exists() {
        if RemoteState::connect(path).await.is_some() {
            return Err(Error::Config(format!(
                "another gateway is already running with control socket {}",
                path.display()
            )));
        }
        std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("removing stale socket {}", path.display()), e))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| Error::io(format!("binding control socket {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(format!("chmod 600 {}", path.display()), e))?;
    }
    Ok(listener)
}

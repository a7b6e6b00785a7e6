//! How a user stops sandbox: Ctrl-C or SIGTERM, which every attempt (of either track) obeys
//! by removing what it created before it exits.

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

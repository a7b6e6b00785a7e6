//! An interactive shell in a target: the user's terminal bridged to a `bash -l` exec, raw
//! mode and window size passed through, as `docker exec -it` does. This is the one place
//! that writes to stdout outside the reporter: the bytes are the target's terminal, not ours.

use std::io::{IsTerminal, Read, Write};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::docker::{Engine, EngineError};

/// Restores the terminal however the session ends.
struct RawMode;

impl RawMode {
    fn enable() -> Option<RawMode> {
        crossterm::terminal::enable_raw_mode().ok().map(|_| RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Runs a login shell in `container` until it exits; returns its exit code. Long because the
/// terminal's raw mode, the resize watcher and both stream pumps share one lifetime.
pub async fn session(engine: &Engine, container: &str, what: &str) -> Result<i64, EngineError> {
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
    let env = [format!("TERM={term}"), "HOME=/root".to_string()];
    let cmd = ["/bin/sh", "-c", "cd /root; if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi"];
    let exec = engine.exec_interactive(container, what, &cmd, &env, tty).await?;
    let exec_id = exec.exec_id.clone();
    let _raw = if tty { RawMode::enable() } else { None };
    if tty {
        if let Ok((columns, rows)) = crossterm::terminal::size() {
            engine.resize_exec(&exec_id, rows, columns).await;
        }
    }

    // stdin is read on a plain thread: a blocking read would keep tokio's runtime from
    // shutting down, and the process exits as soon as the shell does.
    let (keys, mut typed) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buffer = [0u8; 4096];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if keys.blocking_send(buffer[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut input = exec.input;
    let forward_input = async move {
        while let Some(bytes) = typed.recv().await {
            if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
                return;
            }
        }
        // stdin ended (a pipe, not a person): the shell reads end of input and exits.
        let _ = input.shutdown().await;
    };
    let resize = async {
        let Ok(mut window) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else {
            return std::future::pending().await;
        };
        while window.recv().await.is_some() {
            if let Ok((columns, rows)) = crossterm::terminal::size() {
                engine.resize_exec(&exec_id, rows, columns).await;
            }
        }
    };
    let mut output = exec.output;
    let copy_output = async move {
        let mut stdout = std::io::stdout();
        while let Some(Ok(chunk)) = output.next().await {
            let _ = stdout.write_all(&chunk.into_bytes());
            let _ = stdout.flush();
        }
    };
    tokio::select! {
        _ = copy_output => {}
        _ = async { tokio::join!(forward_input, resize) } => {}
    }
    drop(_raw);
    engine.exec_exit_code(&exec_id, what).await
}

//! Commands run in a running container: to their end with their output, or interactive.

use std::time::Duration;

use bollard::models::ExecConfig;
use bollard::query_parameters::WaitContainerOptionsBuilder;
use futures_util::{StreamExt, TryStreamExt};
use miette::Diagnostic;

use super::{BollardError, Engine, EngineError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ExecError {
    #[error("failed to run `{command}` in {what}")]
    #[diagnostic(code(sandbox::engine::exec))]
    Exec {
        what: String,
        command: String,
        #[source]
        source: BollardError,
    },

    /// The container stopped (killed, out of memory) while an exec ran in it. Said apart
    /// from `Exec`: under gVisor the exec's output stream stays open after the sandbox dies.
    #[error("{what} stopped while `{command}` ran in it")]
    #[diagnostic(code(sandbox::engine::stopped))]
    StoppedDuringExec { what: String, command: String },
}

/// Output of a finished exec.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub output: String,
}

/// The streams of an interactive exec.
pub struct InteractiveExec {
    pub exec_id: String,
    pub output:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<bollard::container::LogOutput, BollardError>> + Send>>,
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// How often an exec the runtime failed to start is tried.
const EXEC_ATTEMPTS: u32 = 3;

impl Engine {
    /// Runs a command and hands each output line (stdout and stderr interleaved as they
    /// arrive) to `on_line`; returns the exit code and the whole output. When the runtime
    /// fails to start the exec at all (the command never ran), it is tried again, up to
    /// `EXEC_ATTEMPTS` times.
    pub async fn exec(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
        workdir: Option<&str>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ExecOutput, EngineError> {
        let mut attempt = 1;
        loop {
            let result = self.exec_once(id, what, cmd, env, workdir, on_line).await?;
            if attempt == EXEC_ATTEMPTS || !runtime_refused_exec(&result) {
                return Ok(result);
            }
            tokio::time::sleep(Duration::from_millis(250 * attempt as u64)).await;
            attempt += 1;
        }
    }

    /// One exec to its end. Long because its three endings belong together: the output
    /// drained, the stream broken (a dead sandbox or a dead daemon), the container stopped.
    async fn exec_once(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
        workdir: Option<&str>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ExecOutput, EngineError> {
        let error =
            |source| EngineError::from(ExecError::Exec { what: what.to_string(), command: cmd.join(" "), source });
        let config = ExecConfig {
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            env: Some(env.to_vec()),
            working_dir: workdir.map(str::to_string),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let stopped =
            || EngineError::from(ExecError::StoppedDuringExec { what: what.to_string(), command: cmd.join(" ") });
        let exec_id = match self.docker.create_exec(id, config).await {
            Ok(created) => created.id,
            // 409: the container is not running (it died before this exec could start).
            Err(BollardError::DockerResponseServerError { status_code: 409, .. }) => return Err(stopped()),
            Err(source) => return Err(error(source)),
        };
        let mut collected = String::new();
        if let bollard::exec::StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&exec_id, None).await.map_err(error)?
        {
            let mut pending = String::new();
            let drain = async {
                // A stream error is a real failure (daemon gone); never treat it as end of output.
                while let Some(chunk) = output.try_next().await.map_err(error)? {
                    pending.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                    while let Some(newline) = pending.find('\n') {
                        let line: String = pending.drain(..=newline).collect();
                        let line = line.trim_end_matches(['\n', '\r']);
                        on_line(line);
                        collected.push_str(line);
                        collected.push('\n');
                    }
                }
                Ok::<(), EngineError>(())
            };
            tokio::select! {
                drained = drain => {
                    // The stream may also break when the sandbox dies under it.
                    if let Err(err) = drained {
                        let state = self.docker.inspect_container(id, None).await;
                        let dead = state.is_ok_and(|c| c.state.and_then(|s| s.running) == Some(false));
                        return Err(if dead { stopped() } else { err });
                    }
                }
                () = self.stopped(id) => return Err(stopped()),
            }
            if !pending.is_empty() {
                on_line(&pending);
                collected.push_str(&pending);
            }
        }
        let inspect = self.docker.inspect_exec(&exec_id).await.map_err(error)?;
        Ok(ExecOutput { exit_code: inspect.exit_code.unwrap_or(-1), output: collected })
    }

    /// Resolves once the container is no longer running or no longer exists; never while the
    /// daemon fails to answer (the exec's own stream reports that). Output still in flight
    /// when it stopped is not waited for: under gVisor it never ends.
    async fn stopped(&self, id: &str) {
        let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
        let mut wait = self.docker.wait_container(id, Some(options));
        match wait.next().await {
            // bollard reports a non-zero exit status as an error: stopped all the same.
            // A container removed meanwhile (404) has stopped too.
            Some(Ok(_) | Err(BollardError::DockerContainerWaitError { .. })) | None => {}
            Some(Err(BollardError::DockerResponseServerError { status_code: 404, .. })) => {}
            // The daemon itself failed (gone, unreachable): the exec's own stream says so.
            Some(Err(_)) => std::future::pending().await,
        }
    }

    /// Starts an exec with stdin attached (and a TTY when `tty`), for an interactive shell.
    /// The caller pumps the streams and asks `exec_exit_code` once the output ends.
    pub async fn exec_interactive(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
        tty: bool,
    ) -> Result<InteractiveExec, EngineError> {
        let error =
            |source| EngineError::from(ExecError::Exec { what: what.to_string(), command: cmd.join(" "), source });
        let config = ExecConfig {
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            env: Some(env.to_vec()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            ..Default::default()
        };
        let exec_id = self.docker.create_exec(id, config).await.map_err(error)?.id;
        match self.docker.start_exec(&exec_id, None).await.map_err(error)? {
            bollard::exec::StartExecResults::Attached { output, input } => {
                Ok(InteractiveExec { exec_id, output, input })
            }
            bollard::exec::StartExecResults::Detached => unreachable!("start_exec attaches unless asked to detach"),
        }
    }

    /// Tells an exec's TTY the size of the user's terminal.
    pub async fn resize_exec(&self, exec_id: &str, rows: u16, columns: u16) {
        let options = bollard::query_parameters::ResizeExecOptions { h: rows.into(), w: columns.into() };
        let _ = self.docker.resize_exec(exec_id, options).await;
    }

    /// The exit code of an exec whose output has ended. The process may outlive its stream
    /// (a proxy that closes the connection once stdin is shut, as socat does): it is waited
    /// for, bounded, rather than read as "no exit code".
    pub async fn exec_exit_code(&self, exec_id: &str, what: &str) -> Result<i64, EngineError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let inspect = self.docker.inspect_exec(exec_id).await.map_err(|source| ExecError::Exec {
                what: what.to_string(),
                command: "inspect exec".into(),
                source,
            })?;
            if inspect.running != Some(true) || tokio::time::Instant::now() > deadline {
                return Ok(inspect.exit_code.unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `exec` without a line sink.
    pub async fn exec_quiet(
        &self,
        id: &str,
        what: &str,
        cmd: &[&str],
        env: &[String],
    ) -> Result<ExecOutput, EngineError> {
        self.exec(id, what, cmd, env, None, &mut |_| {}).await
    }
}

/// The runtime could not start an exec, so its command never ran and trying again is safe.
/// Seen under load with runsc: "OCI runtime exec failed: … runsc did not terminate
/// successfully: exit status 128: unknown". A missing or non-executable command is the
/// caller's error, not the runtime's: those are not retried.
fn runtime_refused_exec(result: &ExecOutput) -> bool {
    result.exit_code != 0
        && result.output.contains("OCI runtime exec failed")
        && !["executable file not found", "no such file or directory", "permission denied"]
            .iter()
            .any(|cause| result.output.contains(cause))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_execs_the_runtime_failed_to_start_are_retried() {
        let result = |exit_code, output: &str| ExecOutput { exit_code, output: output.into() };
        let refused = "OCI runtime exec failed: /var/lib/docker/runtimes/runsc did not terminate successfully: exit status 128: unknown";
        assert!(runtime_refused_exec(&result(-1, refused)));
        assert!(runtime_refused_exec(&result(126, refused)));
        assert!(!runtime_refused_exec(&result(0, "OCI runtime exec failed (printed by the command)")));
        assert!(!runtime_refused_exec(&result(
            127,
            "OCI runtime exec failed: exec: \"nope\": executable file not found in $PATH: unknown"
        )));
        assert!(!runtime_refused_exec(&result(1, "check failed")));
    }
}

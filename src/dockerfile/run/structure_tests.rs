//! A container-structure-test file's tests against an attempt's image, run as that tool runs them:
//! its files read from a container created and never started, its commands each in a container of
//! their own.

use std::time::Duration;

use crate::challenge::structure::{CommandTest, EnvVar, StructureTests};
use crate::docker::{ContainerError, EngineError, ImageFacts, PathEntry, PathKind};
use crate::dockerfile::checks::Outcome;
use crate::dockerfile::structure::{self, CommandRun};
use crate::dockerfile::BuildError;
use crate::labels::Role;

use super::ImageRun;

/// The most of a file a structure test's `fileContentTests` reads.
const CONTENT_LIMIT: usize = 8 * 1024 * 1024;

/// How long one of a structure test's commands may run.
const COMMAND_BOUND: Duration = Duration::from_secs(60);

impl ImageRun<'_> {
    /// A container-structure-test file's tests, run as that tool runs them.
    pub(super) async fn structure_tests(
        &self,
        build: u8,
        tag: &str,
        tests: &StructureTests,
        facts: &ImageFacts,
    ) -> Result<(), BuildError> {
        if let Some(metadata) = &tests.metadata {
            self.record(build, structure::metadata(metadata, facts));
        }
        if !tests.files.is_empty() || !tests.contents.is_empty() {
            self.file_tests(build, tag, tests, &facts.env).await?;
        }
        for test in &tests.commands {
            let outcome = self.command_test(build, tag, test, &tests.global_env, &facts.env).await?;
            self.record(build, outcome);
        }
        Ok(())
    }

    pub(super) async fn file_tests(
        &self,
        build: u8,
        tag: &str,
        tests: &StructureTests,
        env: &[String],
    ) -> Result<(), BuildError> {
        let engine = self.builder.engine();
        let mut spec = self.container(build, Role::Files, tag, "none".into());
        // Never started: the command only has to exist for the container to be created.
        (spec.entrypoint, spec.cmd) = (Some(Vec::new()), vec!["true".into()]);
        let id = engine.create_container(&spec).await?;
        self.containers.add(&id, "the image's files");
        for test in &tests.files {
            let path = structure::expand(&test.path, env);
            let entry = engine.read_path(&id, "the image", &path, None).await?;
            self.record(build, structure::file_existence(test, &path, entry.as_ref()));
        }
        for test in &tests.contents {
            let contents = self.file_contents(&id, structure::expand(&test.path, env)).await?;
            self.record(build, structure::file_content(test, contents.as_deref().map_err(String::clone)));
        }
        engine.remove_container(&id).await?;
        Ok(())
    }

    /// A file's bytes through up to 8 symlinks, or why there are none.
    pub(super) async fn file_contents(
        &self,
        id: &str,
        mut path: String,
    ) -> Result<Result<Vec<u8>, String>, BuildError> {
        let engine = self.builder.engine();
        for _ in 0..8 {
            match engine.read_path(id, "the image", &path, Some(CONTENT_LIMIT)).await? {
                None => return Ok(Err(format!("{path} does not exist"))),
                Some(PathEntry { contents: Some(bytes), .. }) => return Ok(Ok(bytes)),
                Some(PathEntry { kind: PathKind::Symlink, link: Some(link), .. }) => path = link_target(&path, &link),
                Some(PathEntry { kind: PathKind::Directory, .. }) => return Ok(Err(format!("{path} is a directory"))),
                Some(_) => return Ok(Err(format!("{path} is not a regular file of at most {CONTENT_LIMIT} bytes"))),
            }
        }
        Ok(Err(format!("{path}: too many levels of symbolic links")))
    }

    /// Setup commands each committed to an image, then the test's command run in the last one.
    pub(super) async fn command_test(
        &self,
        build: u8,
        tag: &str,
        test: &CommandTest,
        global_env: &[EnvVar],
        image_env: &[String],
    ) -> Result<Outcome, BuildError> {
        let engine = self.builder.engine();
        let env: Vec<String> = global_env
            .iter()
            .chain(&test.env)
            .map(|v| format!("{}={}", v.key, structure::expand(&v.value, image_env)))
            .collect();
        let mut image = tag.to_string();
        for setup in &test.setup {
            let (_, id) = self.run_command(build, &image, setup.clone(), &env).await?;
            // The image carries the run's label (from its container): cleanup removes it.
            image = engine.commit(&id, "a setup command's container").await?;
            engine.remove_container(&id).await?;
        }
        let command =
            std::iter::once(&test.command).chain(&test.args).map(|word| structure::expand(word, image_env)).collect();
        let (run, id) = self.run_command(build, &image, command, &env).await?;
        engine.remove_container(&id).await?;
        Ok(structure::command(test, &run))
    }

    /// Runs `command` in a fresh container of `image` until it exits (or COMMAND_BOUND ends
    /// it); what it printed and its exit code, and the container, still there.
    pub(super) async fn run_command(
        &self,
        build: u8,
        image: &str,
        command: Vec<String>,
        env: &[String],
    ) -> Result<(CommandRun, String), BuildError> {
        let engine = self.builder.engine();
        let mut spec = self.container(build, Role::Command, image, "none".into());
        spec.name = format!("{}-{}", spec.name, self.containers.len());
        (spec.entrypoint, spec.cmd, spec.env) = (Some(Vec::new()), command, env.to_vec());
        let what = "a structure test's command";
        let id = engine.create_container(&spec).await?;
        self.containers.add(&id, what);
        if let Err(EngineError::Container(ContainerError::StartContainer { source, .. })) =
            engine.start_container(&id, what).await
        {
            // The runtime could not exec it (no such file, not executable): a shell says 127.
            let run = CommandRun { stdout: String::new(), stderr: source.to_string(), exit_code: 127 };
            return Ok((run, id));
        }
        let exit_code = match tokio::time::timeout(COMMAND_BOUND, engine.wait_exit(&id, what)).await {
            Ok(code) => code?,
            Err(_) => {
                engine.kill_container(&id).await;
                let stderr = format!("still running after {}s; killed", COMMAND_BOUND.as_secs());
                return Ok((CommandRun { stdout: String::new(), stderr, exit_code: 137 }, id));
            }
        };
        let (stdout, stderr) = engine.output(&id, what).await?;
        Ok((CommandRun { stdout, stderr, exit_code }, id))
    }
}

/// Where a symlink at `path` pointing to `link` leads.
fn link_target(path: &str, link: &str) -> String {
    if link.starts_with('/') {
        return link.to_string();
    }
    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    format!("{parent}/{link}")
}

//! The Docker track's build, for real: learner Dockerfiles built by sandbox's own builder
//! daemon, whose `RUN` steps run under gVisor with no route out.

// The diagnostics carry their source text (see lib.rs).
#![allow(clippy::result_large_err)]

use sandbox::docker::BuildLimits;
use sandbox::dockerfile::{BuildError, Builder, DockerfileError, DEFAULT_SOCKET};

fn allowed() -> Vec<&'static str> {
    sandbox::distro::Catalog::builtin().all().map(|d| d.base_image).collect()
}

/// The steps of a build and its image's layers (instruction, size).
type Built = (Vec<sandbox::dockerfile::Step>, Vec<(String, i64)>);

/// Builds `dockerfile` over a context holding `files`, as a tag of its own; removes the image.
fn build(dockerfile: &str, files: &[(&str, &str)]) -> Result<Built, BuildError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let context = dir.path().join("app");
    std::fs::create_dir(&context).unwrap();
    for (name, text) in files {
        std::fs::write(context.join(name), text).unwrap();
    }
    let tag = format!("sandbox-test-build:{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let builder = Builder::connect(DEFAULT_SOCKET).await.expect("the builder is up (scripts/setup.sh starts it)");
        let limits = BuildLimits {
            network: Some("none".into()),
            memory_bytes: Some(512 << 20),
            cpus: Some(1.0),
            write_bytes: Some(256 << 20),
            dockerfile: None,
        };
        let steps = builder
            .build(
                &sandbox::dockerfile::BuildRequest {
                    context: &context,
                    dockerfile: &dir.path().join("Dockerfile"),
                    tag: &tag,
                    allowed: &allowed(),
                    limits,
                    labels: Default::default(),
                    touched: None,
                },
                &mut |_| {},
            )
            .await;
        let layers = match &steps {
            Ok(_) => builder.engine().image_layers(&tag).await.unwrap(),
            Err(_) => Vec::new(),
        };
        builder.engine().remove_image(&tag).await.unwrap();
        steps.map(|steps| (steps, layers))
    })
}

#[test]
fn run_steps_execute_under_gvisor_and_their_layers_are_not_empty() {
    let dockerfile =
        "FROM debian:12\nRUN uname -r\nCOPY hello.txt /hello.txt\nRUN useradd app && cat /hello.txt\nUSER app\n";
    let (steps, layers) = build(dockerfile, &[("hello.txt", "hello from the context\n")]).unwrap();
    let host_kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap().trim().to_string();
    let run = steps.iter().find(|s| s.instruction == "RUN uname -r").expect("the RUN step is reported");
    // gVisor answers uname with its own kernel version, not the host's.
    assert_eq!(run.output, ["4.4.0"], "{steps:?}");
    assert_ne!(host_kernel, "4.4.0");
    let useradd = steps.iter().find(|s| s.instruction.starts_with("RUN useradd")).unwrap();
    assert_eq!(useradd.output, ["hello from the context"], "{steps:?}");
    // Under runsc's default overlay the builder committed RUN layers empty (gvisor#11559).
    let (_, size) = layers.iter().find(|(by, _)| by.contains("useradd app")).expect("the useradd layer");
    assert!(*size > 0, "the useradd layer is empty: {layers:?}");
}

#[test]
fn a_run_step_may_run_no_more_processes_than_a_challenge() {
    // Cached steps print nothing: the id makes this one new on every run.
    let nonce = std::process::id();
    let dockerfile = format!("FROM debian:12\nRUN echo {nonce} >/dev/null && bash -c 'ulimit -u'\n");
    let (steps, _) = build(&dockerfile, &[]).unwrap();
    let run = steps.iter().find(|s| s.instruction.starts_with("RUN echo")).expect("the RUN step is reported");
    assert_eq!(run.output, ["256"], "{steps:?}");
}

#[test]
fn a_run_step_has_no_route_out() {
    let dockerfile = "FROM debian:12\nRUN timeout 5 bash -c 'echo > /dev/tcp/1.1.1.1/80' && echo reached\n";
    match build(dockerfile, &[]) {
        Err(BuildError::Failed { message, steps }) => {
            assert!(message.contains("returned a non-zero code"), "{message}");
            assert!(steps.last().is_some_and(|s| s.instruction.starts_with("RUN timeout")), "{steps:?}");
        }
        other => panic!("the step reached the network: {other:?}"),
    }
}

#[test]
fn a_from_outside_the_catalog_and_a_copy_out_of_the_context_are_refused_before_building() {
    assert!(matches!(
        build("FROM python:3.12-slim\n", &[]),
        Err(BuildError::Dockerfile(DockerfileError::FromOutsideCatalog { .. }))
    ));
    assert!(matches!(
        build("FROM debian:12\nCOPY ../Dockerfile /x\n", &[]),
        Err(BuildError::Dockerfile(DockerfileError::OutsideContext { .. }))
    ));
}

//! Files in and out of containers: archives copied in before a start, files written into a
//! running one through an exec, a path's entry read from its archive.

use bollard::query_parameters::UploadToContainerOptionsBuilder;
use futures_util::StreamExt;
use miette::Diagnostic;

use super::{BollardError, Engine, EngineError, ExecError};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum FileError {
    #[error("failed to copy files into {what}")]
    #[diagnostic(code(sandbox::engine::upload))]
    Upload {
        what: String,
        #[source]
        source: BollardError,
    },

    #[error("failed to write {path} in {what}: {output}")]
    #[diagnostic(code(sandbox::engine::write_file))]
    WriteFile { what: String, path: String, output: String },

    #[error("failed to read {path} from {what}")]
    #[diagnostic(code(sandbox::engine::read_path))]
    ReadPath {
        what: String,
        path: String,
        #[source]
        source: BollardError,
    },

    #[error("the archive of {path} from {what} ended before its first entry")]
    #[diagnostic(code(sandbox::engine::read_path))]
    TruncatedArchive { what: String, path: String },
}

/// What kind of file a path is, as its tar header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A regular file (or a hard link to one).
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// A path of a container's filesystem, as the first entry of its archive describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathEntry {
    pub kind: PathKind,
    /// Permission and special bits (`0o4755`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// A symlink's target.
    pub link: Option<String>,
    /// A regular file's bytes, when they were asked for and within the limit.
    pub contents: Option<Vec<u8>>,
}

impl Engine {
    /// Copies a tar archive into a container that has not started yet. (Into a running runsc
    /// container, files copied this way may stay invisible: gVisor caches the root
    /// filesystem. Running containers get files through `exec` instead.)
    pub async fn upload_before_start(
        &self,
        id: &str,
        what: &str,
        dest: &str,
        archive: Vec<u8>,
    ) -> Result<(), EngineError> {
        let options = UploadToContainerOptionsBuilder::default().path(dest).build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|source| FileError::Upload { what: what.to_string(), source }.into())
    }

    /// Writes a file into a running container: a one-file tar on an exec's stdin (see
    /// `upload_before_start` for why not the archive API), so its size is not bounded by
    /// what an environment variable or an argument may hold.
    pub async fn write_file(
        &self,
        id: &str,
        what: &str,
        path: &str,
        contents: &str,
        mode: u32,
    ) -> Result<(), EngineError> {
        self.write_files(id, what, &[(path, contents, mode)]).await
    }

    /// Writes several files (absolute path, contents, mode) in one exec.
    pub async fn write_files(&self, id: &str, what: &str, files: &[(&str, &str, u32)]) -> Result<(), EngineError> {
        let entries: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(path, contents, mode)| (path.trim_start_matches('/'), contents.as_bytes(), *mode))
            .collect();
        self.extract_into_running(id, what, "/", &tar_of(&entries)).await
    }

    /// Unpacks a tar archive into `dest` of a running container through an exec reading the
    /// archive on stdin (see `upload_before_start` for why not the archive API).
    pub async fn extract_into_running(
        &self,
        id: &str,
        what: &str,
        dest: &str,
        archive: &[u8],
    ) -> Result<(), EngineError> {
        use tokio::io::AsyncWriteExt;
        let failed = |output: String| {
            EngineError::from(FileError::WriteFile { what: what.to_string(), path: dest.to_string(), output })
        };
        let script = "mkdir -p \"$1\" && tar -x -C \"$1\"";
        let mut exec = self.exec_interactive(id, what, &["sh", "-c", script, "sh", dest], &[], false).await?;
        // tar says nothing until it fails, so writing all of stdin first cannot block on output.
        let written = async {
            exec.input.write_all(archive).await?;
            exec.input.shutdown().await
        };
        written.await.map_err(|err| failed(err.to_string()))?;
        let mut output = String::new();
        while let Some(chunk) = exec.output.next().await {
            let chunk = chunk.map_err(|source| ExecError::Exec {
                what: what.to_string(),
                command: format!("tar -x -C {dest}"),
                source,
            })?;
            output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        if self.exec_exit_code(&exec.exec_id, what).await? != 0 {
            return Err(failed(output));
        }
        Ok(())
    }

    /// The path's entry in the container's filesystem (a created container will do: nothing
    /// has to run), None when it does not exist. With `read_up_to`, a regular file's bytes
    /// come too, up to that many. Only as much of the archive is read as that takes: a
    /// directory's whole tree is never fetched.
    pub async fn read_path(
        &self,
        id: &str,
        what: &str,
        path: &str,
        read_up_to: Option<usize>,
    ) -> Result<Option<PathEntry>, EngineError> {
        let options = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default().path(path).build();
        let mut archive = self.docker.download_from_container(id, Some(options));
        let mut received = Vec::new();
        loop {
            match first_entry(&received, read_up_to) {
                Parsed::Entry(entry) => return Ok(Some(entry)),
                Parsed::Empty => return Ok(None),
                Parsed::NeedMore => {}
            }
            match archive.next().await {
                Some(Ok(chunk)) => received.extend_from_slice(&chunk),
                Some(Err(BollardError::DockerResponseServerError { status_code: 404, .. })) => return Ok(None),
                Some(Err(source)) => {
                    return Err(FileError::ReadPath { what: what.to_string(), path: path.to_string(), source }.into())
                }
                None => {
                    return Err(FileError::TruncatedArchive { what: what.to_string(), path: path.to_string() }.into())
                }
            }
        }
    }
}

/// How far the first entry of an archive has arrived.
enum Parsed {
    Entry(PathEntry),
    /// The archive holds no entry.
    Empty,
    NeedMore,
}

/// The first entry of a tar archive received so far, skipping the long-name and PAX records
/// that describe it.
fn first_entry(received: &[u8], read_up_to: Option<usize>) -> Parsed {
    let mut offset = 0;
    loop {
        let Some(block) = received.get(offset..offset + 512) else { return Parsed::NeedMore };
        if block.iter().all(|byte| *byte == 0) {
            return Parsed::Empty;
        }
        let header = tar::Header::from_byte_slice(block);
        let size = header.entry_size().unwrap_or(0) as usize;
        let entry_type = header.entry_type();
        if entry_type.is_pax_local_extensions()
            || entry_type.is_pax_global_extensions()
            || entry_type.is_gnu_longname()
            || entry_type.is_gnu_longlink()
        {
            offset += 512 + size.div_ceil(512) * 512;
            continue;
        }
        let kind = match entry_type {
            tar::EntryType::Directory => PathKind::Directory,
            tar::EntryType::Symlink => PathKind::Symlink,
            tar::EntryType::Char => PathKind::CharDevice,
            tar::EntryType::Block => PathKind::BlockDevice,
            tar::EntryType::Fifo => PathKind::Fifo,
            _ => PathKind::Regular,
        };
        let contents = match read_up_to.filter(|limit| kind == PathKind::Regular && size <= *limit) {
            None => None,
            Some(_) => match received.get(offset + 512..offset + 512 + size) {
                Some(bytes) => Some(bytes.to_vec()),
                None => return Parsed::NeedMore,
            },
        };
        return Parsed::Entry(PathEntry {
            kind,
            mode: header.mode().unwrap_or(0) & 0o7777,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            link: header.link_name().ok().flatten().map(|link| link.to_string_lossy().into_owned()),
            contents,
        });
    }
}

/// Builds a tar archive in memory from (path in archive, contents, mode) entries.
pub fn tar_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, path, *contents).expect("writing to a Vec cannot fail");
    }
    builder.into_inner().expect("writing to a Vec cannot fail")
}

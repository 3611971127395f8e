//! The only part of `deploy` that touches the disk, and the rules it keeps:
//!
//! - the output directory must be absent (it is created) or empty, unless `--force`;
//! - nothing is written outside it: every path is relative, with no `..`;
//! - no symlink is followed: the directory itself, every directory inside it and every
//!   file to write is looked at with `symlink_metadata` before anything is written, and a
//!   symlink anywhere is refused; files are then created with `create_new` (`O_EXCL`,
//!   which never follows a link), after removing the old file under `--force`.
//!
//! Every problem is found before the first file is written, so a refused run leaves the
//! directory as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use super::Artifact;

/// Why nothing (or not everything) was written; every case is exit 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The output directory holds files and `--force` was not given.
    #[error(
        "{} is not empty: pass an empty or absent directory, or --force to overwrite the files deploy writes",
        .0.display()
    )]
    NotEmpty(PathBuf),
    /// A path on the way is a symlink.
    #[error("{} is a symlink, and deploy never writes through one: remove it or pick another --out", .0.display())]
    Symlink(PathBuf),
    /// Something else sits where a directory (or a file) must go.
    #[error("{} is in the way: it is not a {expected}; remove it or pick another --out", .path.display())]
    InTheWay {
        /// The path.
        path: PathBuf,
        /// `directory` or `regular file`.
        expected: &'static str,
    },
    /// A renderer made a path that would leave the directory (a bug, reported as such).
    #[error("refusing to write {0:?}: not a plain relative path inside the output directory")]
    Outside(String),
    /// The file system said no.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

/// What a path is, without following it.
enum Found {
    Nothing,
    Directory,
    File,
    Symlink,
    Other,
}

fn look(path: &Path) -> Result<Found, WriteError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Ok(Found::Symlink),
        Ok(meta) if meta.is_dir() => Ok(Found::Directory),
        Ok(meta) if meta.is_file() => Ok(Found::File),
        Ok(_) => Ok(Found::Other),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Found::Nothing),
        Err(source) => Err(io_error(path, source)),
    }
}

fn io_error(path: &Path, source: io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `files` into `dir` and returns the paths written, in order.
///
/// # Errors
///
/// [`WriteError`]: the directory is not empty (without `force`), a symlink or something
/// else is in the way, or the file system refused.
pub(crate) fn write_all(
    dir: &Path,
    files: &[Artifact],
    force: bool,
) -> Result<Vec<PathBuf>, WriteError> {
    let relative: Vec<(&Artifact, Vec<&str>)> = files
        .iter()
        .map(|file| Ok((file, components(&file.path)?)))
        .collect::<Result<_, WriteError>>()?;
    match look(dir)? {
        Found::Symlink => return Err(WriteError::Symlink(dir.to_path_buf())),
        Found::File | Found::Other => {
            return Err(WriteError::InTheWay {
                path: dir.to_path_buf(),
                expected: "directory",
            });
        }
        Found::Directory => {
            let mut entries = fs::read_dir(dir).map_err(|source| io_error(dir, source))?;
            if !force && entries.next().is_some() {
                return Err(WriteError::NotEmpty(dir.to_path_buf()));
            }
        }
        Found::Nothing => {}
    }
    // Look at everything first: a refused run writes nothing.
    for (_, parts) in &relative {
        let mut path = dir.to_path_buf();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let last = i + 1 == parts.len();
            match (look(&path)?, last) {
                (Found::Nothing, _) | (Found::Directory, false) | (Found::File, true) => {}
                (Found::Symlink, _) => return Err(WriteError::Symlink(path)),
                (_, last) => {
                    return Err(WriteError::InTheWay {
                        path,
                        expected: if last { "regular file" } else { "directory" },
                    });
                }
            }
        }
    }
    fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
    let mut written = Vec::with_capacity(relative.len());
    for (file, parts) in relative {
        let mut path = dir.to_path_buf();
        for part in &parts[..parts.len() - 1] {
            path.push(part);
            make_dir(&path)?;
        }
        path.push(parts[parts.len() - 1]);
        write_file(&path, file)?;
        written.push(path);
    }
    Ok(written)
}

/// The parts of a relative path; anything that could climb out is refused.
fn components(path: &str) -> Result<Vec<&str>, WriteError> {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |part: &&str| {
        matches!(
            Path::new(part).components().collect::<Vec<_>>().as_slice(),
            [Component::Normal(_)]
        ) && *part != "."
            && *part != ".."
    };
    if parts.is_empty() || !parts.iter().all(plain) {
        return Err(WriteError::Outside(path.to_owned()));
    }
    Ok(parts)
}

/// Creates a directory inside the output, or accepts one that is really a directory.
fn make_dir(path: &Path) -> Result<(), WriteError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => match look(path)? {
            Found::Directory => Ok(()),
            Found::Symlink => Err(WriteError::Symlink(path.to_path_buf())),
            _ => Err(WriteError::InTheWay {
                path: path.to_path_buf(),
                expected: "directory",
            }),
        },
        Err(source) => Err(io_error(path, source)),
    }
}

fn write_file(path: &Path, file: &Artifact) -> Result<(), WriteError> {
    match look(path)? {
        Found::Nothing => {}
        // Only with --force can one be here: the directory was empty otherwise.
        Found::File => fs::remove_file(path).map_err(|source| io_error(path, source))?,
        Found::Symlink => return Err(WriteError::Symlink(path.to_path_buf())),
        Found::Directory | Found::Other => {
            return Err(WriteError::InTheWay {
                path: path.to_path_buf(),
                expected: "regular file",
            });
        }
    }
    let mut out: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| io_error(path, source))?;
    let mode = if file.executable { 0o755 } else { 0o644 };
    out.write_all(file.contents.as_bytes())
        .and_then(|()| out.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| out.sync_all())
        .map_err(|source| io_error(path, source))
}

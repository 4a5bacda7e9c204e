//! Where inputs come from: the [`Source`] port (list, then open one by one), over local files,
//! directories and standard input ([`LocalSource`]); S3 is in [`super::s3`].
//!
//! A directory walk never stops on one bad entry: a broken symbolic link, a link loop, an entry
//! or a directory that cannot be read is listed with its [`Input::problem`] (reported unreadable,
//! the input incomplete) and the walk goes on. Each directory is walked once and each file read
//! once, however many names or links lead to it (device and inode).

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::CliError;

/// One input to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// Its name in the report: a path, an `s3://` URL, or `stdin`.
    pub name: String,
    /// Its size in bytes, when known before reading.
    pub size: Option<u64>,
    /// Why it cannot be read, when listing found out (a broken symbolic link...): it is reported
    /// as unreadable and not opened.
    pub problem: Option<String>,
}

/// A place holding inputs: lists them, then opens each as a byte stream (gzip or not).
pub trait Source: Sync {
    /// Every input, in a stable order.
    fn list(&self) -> Result<Vec<Input>, CliError>;
    /// Open one listed input.
    fn open(&self, input: &Input) -> Result<Box<dyn Read + Send>, CliError>;
}

/// The name standard input is reported under.
pub const STDIN: &str = "stdin";

/// Local files and directories (recursive), and `-` for standard input.
#[derive(Debug, Clone)]
pub struct LocalSource {
    paths: Vec<String>,
}

impl LocalSource {
    /// The given paths (`-` is standard input).
    pub fn new(paths: Vec<String>) -> Self {
        Self { paths }
    }
}

/// CloudTrail writes digest files beside the logs (`AWSLogs/<account>/CloudTrail-Digest/`):
/// they hold hashes, no records, and are skipped when a directory or prefix is listed.
pub fn is_digest(name: &str) -> bool {
    name.contains("/CloudTrail-Digest/")
}

/// What makes a file or directory the same one under another name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

fn identity(path: &Path, meta: &fs::Metadata) -> Identity {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        Identity::Inode(meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Identity::Path(fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()))
    }
}

/// Why an entry whose metadata cannot be read cannot be read, in words.
fn unreadable(path: &Path, e: &std::io::Error) -> String {
    let link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !link {
        return format!("{e}: check the path and its permissions");
    }
    let target = fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
    // ELOOP (40 on Linux, 62 on macOS and the BSDs)
    if e.raw_os_error().is_some_and(|c| c == 40 || c == 62) {
        format!("symbolic link loop (-> {target}): not read")
    } else {
        format!("broken symbolic link (-> {target}: {e}): not read")
    }
}

#[derive(Debug, Default)]
struct Walk {
    out: Vec<Input>,
    seen: HashSet<Identity>,
}

impl Walk {
    fn dir(&mut self, dir: &Path) {
        let entries = fs::read_dir(dir).and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect::<Result<Vec<PathBuf>, _>>());
        let mut entries = match entries {
            Ok(e) => e,
            Err(e) => {
                let problem = Some(format!("cannot list this directory: {e}: check its permissions"));
                self.out.push(Input { name: dir.display().to_string(), size: None, problem });
                return;
            }
        };
        entries.sort();
        for p in entries {
            let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            let name = p.display().to_string();
            if hidden || is_digest(&name) {
                continue;
            }
            self.entry(&p, name);
        }
    }

    fn entry(&mut self, p: &Path, name: String) {
        let meta = match fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                self.out.push(Input { name, size: None, problem: Some(unreadable(p, &e)) });
                return;
            }
        };
        // walked or read already, under this name or another
        if !self.seen.insert(identity(p, &meta)) {
            return;
        }
        if meta.is_dir() {
            self.dir(p);
        } else if meta.is_file() {
            self.out.push(Input { name, size: Some(meta.len()), problem: None });
        }
    }
}

impl Source for LocalSource {
    fn list(&self) -> Result<Vec<Input>, CliError> {
        let mut walk = Walk::default();
        for p in &self.paths {
            if p == "-" {
                if walk.out.iter().any(|i: &Input| i.name == STDIN) {
                    return Err(CliError::Usage("standard input ('-') is given twice".into()));
                }
                walk.out.push(Input { name: STDIN.into(), size: None, problem: None });
                continue;
            }
            let meta = fs::metadata(p).map_err(|e| CliError::Input { source_name: p.clone(), reason: format!("{e}: check the path") })?;
            if !walk.seen.insert(identity(Path::new(p), &meta)) {
                continue;
            }
            if meta.is_dir() {
                walk.dir(Path::new(p));
            } else {
                walk.out.push(Input { name: p.clone(), size: Some(meta.len()), problem: None });
            }
        }
        Ok(walk.out)
    }

    fn open(&self, input: &Input) -> Result<Box<dyn Read + Send>, CliError> {
        if input.name == STDIN && input.size.is_none() {
            return Ok(Box::new(std::io::stdin()));
        }
        let f = fs::File::open(&input.name)
            .map_err(|e| CliError::Input { source_name: input.name.clone(), reason: format!("{e}: check the path and its permissions") })?;
        Ok(Box::new(f))
    }
}

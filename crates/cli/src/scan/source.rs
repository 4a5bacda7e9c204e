//! Where inputs come from: the [`Source`] port (list, then open one by one), over local files,
//! directories and standard input ([`LocalSource`]); S3 is in [`super::s3`].

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::CliError;

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Its name in the report: a path, an `s3://` URL, or `stdin`.
    pub name: String,
    /// Its size in bytes, when known before reading.
    pub size: Option<u64>,
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

fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), CliError> {
    let err = |e: std::io::Error| CliError::Input {
        source_name: dir.display().to_string(),
        reason: format!("{e}: check the path and its permissions"),
    };
    let mut entries: Vec<PathBuf> = fs::read_dir(dir).map_err(err)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(err)?;
    entries.sort();
    for p in entries {
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        let meta = fs::metadata(&p).map_err(err)?;
        let name = p.display().to_string();
        if hidden || is_digest(&name) {
            continue;
        }
        if meta.is_dir() {
            walk(&p, out)?;
        } else if meta.is_file() {
            out.push(Input { name, size: Some(meta.len()) });
        }
    }
    Ok(())
}

impl Source for LocalSource {
    fn list(&self) -> Result<Vec<Input>, CliError> {
        let mut out = Vec::new();
        for p in &self.paths {
            if p == "-" {
                if out.iter().any(|i: &Input| i.name == STDIN) {
                    return Err(CliError::Usage("standard input ('-') is given twice".into()));
                }
                out.push(Input { name: STDIN.into(), size: None });
                continue;
            }
            let meta = fs::metadata(p).map_err(|e| CliError::Input { source_name: p.clone(), reason: format!("{e}: check the path") })?;
            if meta.is_dir() {
                walk(Path::new(p), &mut out)?;
            } else {
                out.push(Input { name: p.clone(), size: Some(meta.len()) });
            }
        }
        Ok(out)
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

//! Where inputs come from: the [`Source`] port (list, then open one by one), over local files,
//! directories and standard input ([`LocalSource`]); S3 is in [`super::s3`].
//!
//! A directory walk never stops on one bad entry: a broken symbolic link, a link loop, an entry
//! or a directory that cannot be read is listed with its [`Input::problem`] (reported unreadable,
//! the input incomplete) and the walk goes on. Each directory is walked once and each file read
//! once, however many names or links lead to it (device and inode). A walk lists only the files
//! its [`WalkFilter`] wants (`--include`/`--exclude`), and marks a file plainly not CloudTrail by
//! its name (`README.md`, `rules.yml`...) as skipped; one that is not by its first bytes is
//! skipped when read ([`Input::walked`]). A file named on the command line is always read.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

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
    /// Why it is not read although it could be (plainly not CloudTrail): reported as skipped.
    pub skipped: Option<String>,
    /// Found by walking a directory (not named): skipped if its first bytes are plainly not JSON.
    pub walked: bool,
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
    filter: WalkFilter,
}

impl LocalSource {
    /// The given paths (`-` is standard input).
    pub fn new(paths: Vec<String>) -> Self {
        Self { paths, filter: WalkFilter::default() }
    }

    /// Directory walks list only the files `filter` wants.
    pub fn with_filter(self, filter: WalkFilter) -> Self {
        Self { filter, ..self }
    }
}

/// Which files a directory walk lists: `--include` and `--exclude` globs (globset syntax) over
/// each file's path relative to the directory walked. Files named on the command line are not
/// filtered.
#[derive(Debug, Clone, Default)]
pub struct WalkFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl WalkFilter {
    /// A filter keeping what matches one of `include` (everything when empty) and none of `exclude`.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, CliError> {
        let set = |globs: &[String], flag: &str| -> Result<Option<GlobSet>, CliError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(Glob::new(g).map_err(|e| CliError::Usage(format!("{flag} {g:?}: {e}")))?);
            }
            b.build().map(Some).map_err(|e| CliError::Usage(format!("{flag}: {e}")))
        };
        Ok(Self { include: set(include, "--include")?, exclude: set(exclude, "--exclude")? })
    }

    fn wants(&self, relative: &Path) -> bool {
        self.include.as_ref().is_none_or(|g| g.is_match(relative)) && !self.exclude.as_ref().is_some_and(|g| g.is_match(relative))
    }
}

/// File name endings that are plainly not CloudTrail: documents, configuration, code, images,
/// signatures. A file so named found by a walk is skipped (and reported as skipped).
const NOT_CLOUDTRAIL: [&str; 40] = [
    ".md",
    ".markdown",
    ".rst",
    ".adoc",
    ".yml",
    ".yaml",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".py",
    ".rb",
    ".rs",
    ".go",
    ".js",
    ".ts",
    ".java",
    ".sh",
    ".ps1",
    ".tf",
    ".hcl",
    ".html",
    ".htm",
    ".css",
    ".xml",
    ".csv",
    ".tsv",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".pdf",
    ".docx",
    ".xlsx",
    ".pem",
    ".crt",
    ".sig",
    ".asc",
    ".sha256",
];

/// Why a file found by a walk is plainly not CloudTrail by its name, if it is.
fn not_cloudtrail_by_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    NOT_CLOUDTRAIL.iter().find(|end| name.ends_with(*end)).map(|end| format!("not CloudTrail by its name ({end})"))
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

#[derive(Debug)]
struct Walk<'f> {
    out: Vec<Input>,
    seen: HashSet<Identity>,
    filter: &'f WalkFilter,
    /// The directory named on the command line being walked.
    root: PathBuf,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path) {
        let entries = fs::read_dir(dir).and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect::<Result<Vec<PathBuf>, _>>());
        let mut entries = match entries {
            Ok(e) => e,
            Err(e) => {
                let problem = Some(format!("cannot list this directory: {e}: check its permissions"));
                self.out.push(Input { name: dir.display().to_string(), problem, ..Input::default() });
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
                if self.wanted(p) {
                    self.out.push(Input { name, problem: Some(unreadable(p, &e)), ..Input::default() });
                }
                return;
            }
        };
        // walked or read already, under this name or another
        if !self.seen.insert(identity(p, &meta)) {
            return;
        }
        if meta.is_dir() {
            self.dir(p);
        } else if meta.is_file() && self.wanted(p) {
            self.out.push(Input { name, size: Some(meta.len()), skipped: not_cloudtrail_by_name(p), walked: true, problem: None });
        }
    }

    fn wanted(&self, p: &Path) -> bool {
        self.filter.wants(p.strip_prefix(&self.root).unwrap_or(p))
    }
}

impl Source for LocalSource {
    fn list(&self) -> Result<Vec<Input>, CliError> {
        let mut walk = Walk { out: Vec::new(), seen: HashSet::new(), filter: &self.filter, root: PathBuf::new() };
        for p in &self.paths {
            if p == "-" {
                if walk.out.iter().any(|i: &Input| i.name == STDIN) {
                    return Err(CliError::Usage("standard input ('-') is given twice".into()));
                }
                walk.out.push(Input { name: STDIN.into(), ..Input::default() });
                continue;
            }
            let meta = fs::metadata(p).map_err(|e| CliError::Input { source_name: p.clone(), reason: format!("{e}: check the path") })?;
            if !walk.seen.insert(identity(Path::new(p), &meta)) {
                continue;
            }
            if meta.is_dir() {
                walk.root = PathBuf::from(p);
                walk.dir(Path::new(p));
            } else {
                walk.out.push(Input { name: p.clone(), size: Some(meta.len()), ..Input::default() });
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

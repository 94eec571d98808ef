//! Files the tool writes for people (`validate --errors-out`, `report -o`): they hold
//! the source's personal data, so they are private; they must never replace a file
//! the tool reads; and their cells must not run as spreadsheet formulas.

use anyhow::{bail, Context};
use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Prefixes `'` to cells a spreadsheet would run as a formula.
pub fn neutralise(cell: &[u8]) -> Cow<'_, [u8]> {
    match cell.first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            let mut v = Vec::with_capacity(cell.len() + 1);
            v.push(b'\'');
            v.extend_from_slice(cell);
            Cow::Owned(v)
        }
        _ => Cow::Borrowed(cell),
    }
}

/// Whether `out` names the same file as `other`, by any path: a symlink, `..`, or a
/// hard link (same device and inode). `out` may not exist yet.
pub fn same_file(out: &Path, other: &Path) -> bool {
    if let (Ok(a), Ok(b)) = (std::fs::metadata(out), std::fs::metadata(other)) {
        return a.dev() == b.dev() && a.ino() == b.ino();
    }
    let Ok(other) = other.canonicalize() else {
        return false;
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (parent.canonicalize(), out.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name) == other,
        _ => false,
    }
}

/// Creates `path` readable by its owner only, refusing a directory and any file of
/// `protected` (what this command reads, each with how messages name it).
pub fn create_private(
    path: &Path,
    what: &str,
    protected: &[(PathBuf, &str)],
) -> anyhow::Result<File> {
    if path.is_dir() {
        bail!("{what} {} is a directory; name a file", path.display());
    }
    if let Some((_, name)) = protected.iter().find(|(p, _)| same_file(path, p)) {
        bail!("{what} {} is {name}; choose another path", path.display());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {what} file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_neutralised() {
        let cases: [(&[u8], &[u8]); 8] = [
            (b"=SUM(A1)", b"'=SUM(A1)"),
            (b"+48601", b"'+48601"),
            (b"-1", b"'-1"),
            (b"@cmd", b"'@cmd"),
            (b"\tx", b"'\tx"),
            (b"\rx", b"'\rx"),
            (b"Anna", b"Anna"),
            (b"", b""),
        ];
        for (cell, expected) in cases {
            assert_eq!(neutralise(cell).as_ref(), expected);
        }
    }

    #[test]
    fn a_file_is_recognised_through_a_symlink_a_hard_link_and_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&input, &hard).unwrap();
        let soft = dir.path().join("soft.csv");
        std::os::unix::fs::symlink(&input, &soft).unwrap();
        for alias in [hard, soft, dir.path().join("sub/../in.csv")] {
            assert!(same_file(&alias, &input), "{}", alias.display());
            assert!(create_private(&alias, "-o", &[(input.clone(), "the input")]).is_err());
        }
        let fresh = dir.path().join("new.csv");
        assert!(!same_file(&fresh, &input));
        assert!(
            create_private(dir.path(), "-o", &[]).is_err(),
            "a directory"
        );
        create_private(&fresh, "-o", &[(input.clone(), "the input")]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read(&input).unwrap(),
            b"x",
            "the input is untouched"
        );
    }
}

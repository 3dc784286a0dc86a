//! Disk helpers of the disk-full and copy tests: a small tmpfs to fill up, and the copies an
//! open leaves beside a store.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on an existing empty directory, unmounted when dropped. Mounting needs
/// root (CI runs as root).
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_bytes` on `dir`; the error says why it could not.
    pub fn mount(dir: &Path, size_bytes: u64) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_bytes}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("could not run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mounting a tmpfs on {} needs root (CI runs as root): {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Bytes free for an unprivileged writer, as `statfs` reports them.
    pub fn free_bytes(&self) -> u64 {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(&self.dir)
            .output()
            .expect("run stat");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let numbers: Vec<u64> = text
            .split_whitespace()
            .map(|p| p.parse().expect("stat prints numbers"))
            .collect();
        numbers[0] * numbers[1]
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Every entry beside `store` whose name extends the store's (`<store>.before-open`, a
/// `.partial` copy, an older build's `<store>.before-open-<pid>-<nanos>`), sorted.
pub fn copies_beside(store: &Path) -> Vec<PathBuf> {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = store.parent().unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    n.starts_with(&name) && n.len() > name.len()
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

//! The workspace's declared `rust-version` is true: no locked dependency of any of its packages
//! asks for a newer compiler. (No older toolchain is installed here to build with, so this is
//! the check that a user on the declared version would not meet a dependency refusing it.)

use std::process::Command;

/// `major.minor[.patch]` as three numbers ("1.89" is 1.89.0).
fn version(s: &str) -> [u64; 3] {
    let mut v = [0; 3];
    for (slot, part) in v.iter_mut().zip(s.split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    v
}

/// The platform this test runs on (dependencies of other platforms are not built here).
fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

#[test]
fn no_locked_dependency_needs_a_newer_rust_than_the_workspace_declares() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let declared = env!("CARGO_PKG_RUST_VERSION");
    assert!(
        !declared.is_empty(),
        "the workspace declares a rust-version"
    );
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let mut checked = 0;
    let mut too_new = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        let id = package["id"].as_str().unwrap_or_default();
        if let Some(wanted) = package["rust_version"].as_str() {
            checked += 1;
            if version(wanted) > version(declared) {
                too_new.push(format!(
                    "{} {} needs {wanted}",
                    package["name"], package["version"]
                ));
            }
        }
        if members.contains(&id) {
            assert_eq!(
                package["rust_version"].as_str(),
                Some(declared),
                "{} declares the workspace's rust-version",
                package["name"]
            );
        }
    }
    assert!(
        checked > 20,
        "the metadata lists dependencies' rust-versions"
    );
    assert!(
        too_new.is_empty(),
        "rust-version {declared} is not enough: {too_new:?}"
    );
}

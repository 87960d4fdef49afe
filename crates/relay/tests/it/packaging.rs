//! What ships beside the binary: `relay --version` names the git revision, the systemd unit
//! passes `systemd-analyze verify` (where the tool exists) and the sample configuration passes
//! `relay config check`.

use std::path::Path;
use std::process::Command;

use crate::support::BIN;
/// What build.rs found, given to every target of the package.
const REV: &str = env!("RELAY_GIT_REV");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

#[test]
fn the_version_names_the_git_revision() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("relay {} (git {REV})", env!("CARGO_PKG_VERSION"))
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output();
    match head {
        // Unless the build was given its revision through RELAY_GIT_REV.
        Ok(h) if h.status.success() && std::env::var_os("RELAY_GIT_REV").is_none() => {
            let head = String::from_utf8_lossy(&h.stdout).trim().to_owned();
            assert_eq!(REV, head, "the binary was built from another revision");
        }
        _ => eprintln!("the revision is {REV:?}"),
    }
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(repo().join("packaging/relay.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/relay serve --config /etc/relay/relay.toml"),
        "{unit}"
    );
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: the unit is not verified");
        return;
    }
    // The unit names the installed binary; verify checks that it exists, so point it at this
    // build.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/relay", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_sample_configuration_checks() {
    let out = Command::new(BIN)
        .args(["config", "check"])
        .arg(repo().join("packaging/relay.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Gives `relay --version` the git revision it was built from: `RELAY_GIT_REV` when set (a
//! container build, where the context has no `.git`), else `git rev-parse`, else "unknown"
//! (a source tarball).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=RELAY_GIT_REV");
    let rev = match std::env::var("RELAY_GIT_REV") {
        Ok(rev) if !rev.trim().is_empty() => rev.trim().to_owned(),
        _ => {
            // Rebuilt when HEAD moves: a commit, a checkout, a fetch of a packed ref.
            if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
                let dir = Path::new(&dir);
                println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
                if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
                        let common = Path::new(env!("CARGO_MANIFEST_DIR")).join(common);
                        println!("cargo:rerun-if-changed={}", common.join(&head).display());
                        println!(
                            "cargo:rerun-if-changed={}",
                            common.join("packed-refs").display()
                        );
                    }
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=RELAY_GIT_REV={rev}");
}

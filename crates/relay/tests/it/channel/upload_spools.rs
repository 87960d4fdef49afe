//! An upload is spooled under a dot-name until it is complete; a crash in the middle of one
//! leaves its spool behind, which the next start removes, while kept files stay.

use crate::support::server::Server;

#[test]
fn a_restart_after_a_crash_removes_the_spools_of_cut_off_uploads_and_keeps_the_files() {
    let mut s = Server::start();
    let files = s.data_dir().join("channels").join("files");
    assert!(files.is_dir(), "{}", files.display());
    s.kill9();
    std::fs::write(files.join(".upload-cutoff"), b"half a file").unwrap();
    std::fs::write(files.join("kept.txt"), b"a kept file").unwrap();
    s.crash_and_restart();
    assert!(!files.join(".upload-cutoff").exists(), "the spool is gone");
    assert_eq!(
        std::fs::read(files.join("kept.txt")).unwrap(),
        b"a kept file"
    );
    let r = s.anon("GET", "/file/store/kept.txt").send();
    assert_eq!((r.status, &r.body[..]), (200, &b"a kept file"[..]));
}

//! A client that pipelines requests and does not read the replies.

use crate::common::{frame, ok, read_frame, TestInstance};
use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

#[test]
fn a_client_that_never_reads_its_replies_stops_being_read() {
    // Its replies would otherwise pile up in the instance without bound; once it reads them,
    // it is served again.
    let inst = TestInstance::start();
    let mut s = inst.raw();
    let ping = frame(br#"{"command":"ping"}"#);
    let batch: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1000)
        .collect();
    // Far more than the instance may hold for one client (65,536 replies).
    let cap = 6 * 1024 * 1024;
    s.set_nonblocking(true).unwrap();
    let (mut batches, mut written, mut sent) = (0usize, 0usize, 0usize);
    let mut blocked_since: Option<Instant> = None;
    loop {
        if written == batch.len() || batches == 0 {
            batches += 1;
            written = 0;
        }
        match s.write(&batch[written..]) {
            Ok(n) => {
                written += n;
                sent += n;
                blocked_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if blocked_since.get_or_insert_with(Instant::now).elapsed()
                    > Duration::from_millis(500)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(
            sent < cap,
            "the instance kept reading {sent} bytes of requests whose replies nobody read"
        );
    }
    // Reading the replies lets the rest of the requests through, then a last one.
    s.set_nonblocking(false).unwrap();
    let mut reader = s.try_clone().unwrap();
    let expected = batches * 1000 + 1;
    let replies = std::thread::spawn(move || {
        let mut last = None;
        for _ in 0..expected {
            last = Some(
                read_frame(&mut reader)
                    .expect("a reply for every request")
                    .1,
            );
        }
        last
    });
    s.write_all(&batch[written..]).unwrap();
    s.write_all(&frame(br#"{"msgid":"last","command":"ping"}"#))
        .unwrap();
    let last = replies.join().unwrap().unwrap();
    assert!(ok(&last) && last["msgid"] == "last", "{last}");
}

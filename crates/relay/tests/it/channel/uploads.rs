//! `POST /file/store/` takes anyone's upload, so it must not let anyone make the server hold
//! the file in memory: a key sent first (as the SDK sends it) that was never issued is refused
//! before the file is read, and a file is written to disk as it arrives, then moved to its key's
//! name, or removed if the upload fails.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::server::Server;
use serde_json::Value;

const MIB: usize = 1024 * 1024;

/// Opens `POST /file/store/` announcing a body of `total` bytes and sends `key` (if any) and the
/// head of the `file` part; the caller sends the file's bytes.
fn start_upload(s: &Server, key: Option<&str>, file_len: usize) -> (std::net::TcpStream, Vec<u8>) {
    let mut head = Vec::new();
    if let Some(k) = key {
        head.extend_from_slice(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{k}\r\n")
                .as_bytes(),
        );
    }
    head.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    let tail = b"\r\n--XyZ--\r\n".to_vec();
    let total = head.len() + file_len + tail.len();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let req = format!("POST /file/store/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {total}\r\n\r\n");
    tcp.write_all(req.as_bytes()).unwrap();
    tcp.write_all(&head).unwrap();
    (tcp, tail)
}

/// The response's status line and JSON body (read until the connection says where it ends).
fn response(tcp: &mut std::net::TcpStream) -> (String, Value) {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if got.len() >= end + 4 + len {
                let body = serde_json::from_slice(&got[end + 4..end + 4 + len]).unwrap();
                return (head.lines().next().unwrap().to_owned(), body);
            }
        }
        let n = tcp.read(&mut buf).expect("no answer within 10 s");
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

fn part_files(dir: &Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map_while(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn a_key_never_issued_is_refused_before_the_file_is_read() {
    let s = Server::start();
    let (mut tcp, _) = start_upload(&s, Some("no-such-key"), 48 * MIB);
    tcp.write_all(&vec![b'x'; 64 * 1024]).unwrap();
    // The other 48 MiB never come: the answer must not wait for them.
    let (status, body) = response(&mut tcp);
    assert!(status.starts_with("HTTP/1.1 403"), "{status} {body}");
    assert_eq!(body["code"], 40300, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_is_written_to_disk_as_it_arrives() {
    let s = Server::start();
    s.add_account("a@example.com", "pw");
    let mut h = relay_client::channel::ChannelHttp::new(&s.http()).unwrap();
    let (token, _) = h.sign_in("a@example.com", "pw").await.unwrap();
    let ticket = crate::support::channel::upload_ticket(&s, &token, "bin").await;
    let key = ticket["fields"]["key"].as_str().unwrap().to_owned();
    let files = s.data_dir().join("channels").join("files");
    let port = s.port();
    tokio::task::spawn_blocking(move || {
        let file_len = 40 * MIB;
        let (mut tcp, tail) = start_upload(&s, Some(&key), file_len);
        let chunk = vec![b'y'; MIB];
        for _ in 0..file_len / MIB - 1 {
            tcp.write_all(&chunk).unwrap();
        }
        // All but the last MiB sent: most of the file is on disk already, not in memory.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let parts = part_files(&files);
            if parts.iter().any(|(_, len)| *len as usize >= file_len - 8 * MIB) {
                break;
            }
            assert!(Instant::now() < deadline, "the upload is not being written to disk: {parts:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        tcp.write_all(&chunk).unwrap();
        tcp.write_all(&tail).unwrap();
        let (status, body) = response(&mut tcp);
        assert!(status.starts_with("HTTP/1.1 200"), "{status} {body}");
        assert_eq!((body["code"].as_i64(), body["data"]["size"].as_u64()), (Some(10000), Some(file_len as u64)), "{body}");
        assert_eq!(std::fs::metadata(files.join(&key)).unwrap().len(), file_len as u64);
        assert_eq!(part_files(&files), []);

        // The key is used up: a second upload with it (file first this time) is refused, and
        // what it wrote is removed.
        let body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n\r\nzzz\r\n--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n--XyZ--\r\n"
        );
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let req = format!("POST /file/store/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        tcp.write_all(req.as_bytes()).unwrap();
        let (status, body) = response(&mut tcp);
        assert!(status.starts_with("HTTP/1.1 403"), "{status} {body}");
        assert_eq!(part_files(&files), []);
    })
    .await
    .unwrap();
}

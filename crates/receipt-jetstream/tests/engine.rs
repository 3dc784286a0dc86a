//! The Engine on JetStream against the Engine on sled: the same commands give the same
//! answers; reopening (a replay from the server) gives them again; two processes splitting the
//! partitions answer together as one engine, once their answers are gathered.

#[path = "../../../tests/support/mod.rs"]
#[allow(dead_code)] // the root tests' checks; this file uses the cold-fold comparison
mod checks;
mod support;

use receipt_engine::*;
use receipt_jetstream::*;
use receipt_workload::{Workload, WorkloadConfig};
use std::collections::BTreeSet;
use std::sync::Arc;
use support::NatsServer;

fn log(server: &NatsServer, prefix: &str, partitions: u32) -> Arc<JetStreamLog> {
    Arc::new(
        JetStreamLog::connect(
            &JetStreamOptions::new(server.url.clone())
                .with_prefix(prefix)
                .with_partitions(partitions),
        )
        .unwrap(),
    )
}

fn config() -> WorkloadConfig {
    WorkloadConfig::sized(1_500, 7)
}

fn options() -> EngineOptions {
    EngineOptions::default().with_policy(config().policy())
}

/// Every user of the workload who appears in the engine's answers, with each answer.
fn answers<B: store::Backend>(engine: &Engine<B>, users: &[UserId]) -> Vec<String> {
    users
        .iter()
        .map(|u| {
            let mut list = engine.conversations(u).unwrap();
            list.sort_by(|a, b| a.conversation.cmp(&b.conversation));
            format!("{u}: {:?} {:?}", engine.badge(u).unwrap(), list)
        })
        .collect()
}

fn users_of(commands: &[Command]) -> Vec<UserId> {
    let mut users = BTreeSet::new();
    for c in commands {
        if let Some(ConversationId::Direct { low: a, high: b }) = c.kind.named_conversation() {
            users.insert(a);
            users.insert(b);
        }
    }
    users.into_iter().collect()
}

/// Runs the commands; returns those accepted (with events or as no-ops), with their outcome.
fn run<B: store::Backend>(engine: &Engine<B>, commands: &[Command]) -> Vec<(Command, Outcome)> {
    let mut accepted = Vec::new();
    for c in commands {
        match engine.execute_command(c.clone()) {
            Ok(o) => accepted.push((c.clone(), o)),
            Err(EngineError::Rejected(_)) => {}
            Err(e) => panic!("{:?}: {e}", c.kind),
        }
    }
    accepted
}

#[test]
fn the_engine_on_jetstream_answers_as_the_engine_on_sled_and_again_after_reopening() {
    let server = NatsServer::start();
    let commands: Vec<Command> = Workload::new(config()).collect();
    let users = users_of(&commands);
    let dir = tempfile::tempdir().unwrap();
    let sled = Engine::open(dir.path(), options()).unwrap();
    let accepted_on_sled = run(&sled, &commands);
    let js_log = log(&server, "same", 4);
    let on_js = JetStreamEngine::open(js_log.clone(), &Ownership::all("one"), options()).unwrap();
    let accepted_on_js = run(&on_js, &commands);
    assert_eq!(accepted_on_js.len(), accepted_on_sled.len());
    for ((c, x), (_, y)) in accepted_on_js.iter().zip(&accepted_on_sled) {
        assert_eq!((&x.events, &x.note), (&y.events, &y.note), "{:?}", c.kind);
    }
    assert!(accepted_on_sled.len() > 1_000, "{}", accepted_on_sled.len());
    let want = answers(&sled, &users);
    assert_eq!(answers(&on_js, &users), want);
    let events = on_js.head();
    drop(on_js);

    // Reopened: everything comes back from the server.
    let reopened =
        JetStreamEngine::open(js_log.clone(), &Ownership::all("one"), options()).unwrap();
    assert_eq!(reopened.replayed().events, events);
    assert_eq!(reopened.replayed().partitions, 4);
    assert_eq!(answers(&reopened, &users), want);
    let mut all = Vec::new();
    reopened.log().replay(0, |e| all.push(e.event)).unwrap();
    assert_eq!(
        checks::difference_from_cold_fold(&reopened, &all).unwrap(),
        None
    );
    // Retried commands are recognised after the reopening, no-ops included: the same
    // answer, nothing new appended.
    let noops = accepted_on_js
        .iter()
        .filter(|(_, o)| o.events.is_empty())
        .count();
    assert!(noops > 10, "{noops}");
    for (c, first) in &accepted_on_js {
        let again = reopened.execute_command(c.clone()).unwrap();
        assert!(again.repeated, "{:?}", c.kind);
        assert_eq!((&again.events, &again.note), (&first.events, &first.note));
    }
    assert_eq!(reopened.head(), events);
    let report = js_log.verify().unwrap();
    assert_eq!(report.events, events);
    assert_eq!(report.noops, noops as u64);
}

/// The partition a command belongs to, as a service's router finds it: by the conversation it
/// names, or for a command naming only a message, by the conversation the service stored the
/// message in.
fn route(
    command: &Command,
    partitions: u32,
    sent: &mut std::collections::HashMap<MessageId, ConversationId>,
) -> Option<u32> {
    if let Some((message, conversation)) = command.kind.sent_message() {
        sent.insert(message, conversation.clone());
    }
    let conversation = command.kind.named_conversation().or_else(|| {
        command
            .kind
            .named_message()
            .and_then(|m| sent.get(&m).cloned())
    })?;
    Some(partition_of(&conversation, partitions))
}

#[test]
fn two_processes_split_the_partitions_and_their_gathered_answers_are_one_engines() {
    let server = NatsServer::start();
    let commands: Vec<Command> = Workload::new(config()).collect();
    let users = users_of(&commands);
    let single = Engine::in_memory(options()).unwrap();
    let js_log = log(&server, "split", 4);
    let a = JetStreamEngine::open(js_log.clone(), &Ownership::of("a", [0, 2]), options()).unwrap();
    let b = JetStreamEngine::open(js_log.clone(), &Ownership::of("b", [1, 3]), options()).unwrap();
    // A third process cannot take a partition that is owned.
    match JetStreamEngine::open(js_log.clone(), &Ownership::of("c", [1]), options()) {
        Err(JetStreamError::LeaseHeld {
            partition: 1,
            holder,
            ..
        }) => assert_eq!(holder, "b"),
        other => panic!("{other:?}"),
    }
    let mut sent = std::collections::HashMap::new();
    let mut unroutable = 0;
    for c in &commands {
        let single_answer = single.execute_command(c.clone());
        let Some(p) = route(c, 4, &mut sent) else {
            unroutable += 1;
            assert!(single_answer.is_err(), "{:?}", c.kind);
            continue;
        };
        let (owner, other) = if [0, 2].contains(&p) {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let got = owner.execute_command(c.clone());
        match (&single_answer, &got) {
            (Ok(x), Ok(y)) => assert_eq!((&x.events, &x.note), (&y.events, &y.note)),
            (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string()),
            _ => panic!("{:?}: {single_answer:?} vs {got:?}", c.kind),
        }
        // The process that does not own the partition refuses the command, and says why.
        if let Some(conversation) = c.kind.named_conversation() {
            if single_answer.is_ok() {
                let refused = other.execute_command(Command {
                    id: CommandId(uuid::Uuid::now_v7()),
                    ..c.clone()
                });
                match refused {
                    Err(EngineError::Store(e)) => assert_eq!(e.kind(), "NotOwned"),
                    // Decided before routing matters: a rule refused it (unknown group...).
                    Err(EngineError::Rejected(_)) => {}
                    other => panic!("{conversation}: {other:?}"),
                }
            }
        }
    }
    assert!(unroutable < commands.len() / 10, "{unroutable}");
    for u in &users {
        let gathered: Badge = [a.badge(u).unwrap(), b.badge(u).unwrap()].into_iter().sum();
        assert_eq!(gathered, single.badge(u).unwrap(), "{u}");
        // The lists put together and ordered are one engine's list, in its order.
        let mut list = a.conversations(u).unwrap();
        list.extend(b.conversations(u).unwrap());
        domain::order_conversation_list(&mut list);
        assert_eq!(list, single.conversations(u).unwrap(), "{u}");
    }
}

#[test]
fn a_replica_on_disk_reads_only_what_the_partitions_gained_since_it_was_closed() {
    let server = NatsServer::start();
    let commands: Vec<Command> = Workload::new(config()).collect();
    let users = users_of(&commands);
    let (first, rest) = commands.split_at(commands.len() / 2);
    let js_log = log(&server, "kept", 4);
    let dir = tempfile::tempdir().unwrap();
    let replica = dir.path().join("replica");
    let open_a = || {
        JetStreamEngine::open_in(js_log.clone(), &Ownership::all("a"), options(), &replica).unwrap()
    };
    let a = open_a();
    run(&a, first);
    let (held_by_a, a_answers) = (a.head(), answers(&a, &users));
    drop(a);
    // Reopened after a clean close: nothing to read, the same answers.
    let a = open_a();
    assert_eq!(a.replayed().events, 0);
    assert_eq!(a.head(), held_by_a);
    assert_eq!(answers(&a, &users), a_answers);
    drop(a);
    // Another process takes the partitions over and goes on; a's replica then reads only what
    // it appended, and answers as it does.
    let b = JetStreamEngine::open(js_log.clone(), &Ownership::all("b"), options()).unwrap();
    run(&b, rest);
    let (total, b_answers) = (b.head(), answers(&b, &users));
    drop(b);
    let a = open_a();
    assert_eq!(a.replayed().events, total - held_by_a);
    assert_eq!(answers(&a, &users), b_answers);
    drop(a);
    // After a crash the marker holds no sequence: every partition is read again, and what the
    // replica holds already is recognised, not appended twice.
    let marker = replica.join(REPLICA_MARKER_FILE);
    let text = std::fs::read_to_string(&marker).unwrap();
    let crashed: String = text
        .lines()
        .filter(|l| !(l.starts_with('p') && l.as_bytes().get(1).is_some_and(u8::is_ascii_digit)))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(crashed.len() < text.len(), "{text}");
    std::fs::write(&marker, crashed).unwrap();
    let a = open_a();
    assert_eq!(a.replayed().events, total);
    assert_eq!(a.head(), total);
    assert_eq!(answers(&a, &users), b_answers);
    let mut all = Vec::new();
    a.log().replay(0, |e| all.push(e.event)).unwrap();
    assert_eq!(checks::difference_from_cold_fold(&a, &all).unwrap(), None);
    drop(a);
    // A replica of other partitions is refused: it would answer for conversations this
    // process does not own.
    match JetStreamEngine::open_in(
        js_log.clone(),
        &Ownership::of("a", [0]),
        options(),
        &replica,
    ) {
        Err(JetStreamError::ReplicaMismatch { .. }) => {}
        other => panic!("{other:?}"),
    }
}

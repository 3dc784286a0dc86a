//! The workload's tests: the same seed gives the same commands, and the standard workload
//! holds every kind of command the benchmarks and the demo rely on.

use super::*;

#[test]
fn the_same_seed_gives_the_same_commands() {
    let a: Vec<Command> = Workload::new(WorkloadConfig::sized(2_000, 9)).collect();
    let b: Vec<Command> = Workload::new(WorkloadConfig::sized(2_000, 9)).collect();
    let c: Vec<Command> = Workload::new(WorkloadConfig::sized(2_000, 10)).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn the_mix_has_every_kind_and_groups_above_the_cap() {
    let w = Workload::new(WorkloadConfig::quick(1));
    let sizes: Vec<usize> = w
        .conversations
        .iter()
        .filter(|c| c.id.is_group())
        .map(|c| c.members.len())
        .collect();
    let cmds: Vec<Command> = w.collect();
    let has = |f: &dyn Fn(&CommandKind) -> bool| cmds.iter().any(|c| f(&c.kind));
    assert!(sizes.contains(&3_000), "one 3000-member group: {sizes:?}");
    assert!(
        sizes.iter().any(|&s| s <= 200),
        "and groups under the cap: {sizes:?}"
    );
    assert!(has(&|k| matches!(k, CommandKind::SendMessage { .. })));
    assert!(has(&|k| matches!(k, CommandKind::Deliver { .. })));
    assert!(has(&|k| matches!(k, CommandKind::AckMessageRead { .. })));
    assert!(has(&|k| matches!(
        k,
        CommandKind::AckConversationRead { .. }
    )));
    assert!(has(&|k| matches!(
        k,
        CommandKind::AckGroupMessageRead { .. }
    )));
    assert!(has(&|k| matches!(k, CommandKind::MarkMessageRead { .. })));
    assert!(has(&|k| matches!(
        k,
        CommandKind::MarkConversationRead { .. }
    )));
    let kinds: std::collections::BTreeMap<String, usize> =
        cmds.iter().fold(Default::default(), |mut m, c| {
            *m.entry(
                format!("{:?}", c.kind)
                    .split([' ', '{'])
                    .next()
                    .unwrap_or("")
                    .to_string(),
            )
            .or_default() += 1;
            m
        });
    assert!(
        has(&|k| matches!(k, CommandKind::LeaveGroup { .. })),
        "{kinds:?}"
    );
    assert!(kinds["AckGroupMessageRead"] > 500, "{kinds:?}");
    // Batch and bulk commands: groups are created with their rosters (the 3000-member one
    // needs members added in chunks too), and a share of the acks come a page at a time.
    assert!(kinds["AckMessagesRead"] > 100, "{kinds:?}");
    assert!(kinds["RecallMessage"] > 50, "{kinds:?}");
    assert!(kinds["SendMessageMentioning"] > 200, "{kinds:?}");
    assert!(kinds["SetNotificationMode"] > 50, "{kinds:?}");
    assert!(kinds["AckConversationReadUpTo"] > 100, "{kinds:?}");
    assert!(kinds["MarkConversationReadUpTo"] > 100, "{kinds:?}");
    assert!(kinds["AckMessageReadIn"] > 100, "{kinds:?}");
    assert!(kinds["SendThreadReply"] > 100, "{kinds:?}");
    assert!(kinds["FollowThread"] > 20, "{kinds:?}");
    assert!(kinds["MarkThreadRead"] > 20, "{kinds:?}");
    assert_eq!(kinds["CreateGroup"], sizes.len(), "{kinds:?}");
    assert!(
        kinds["AddMembers"] >= 5,
        "3000 = 1 + 500 + 5 x 500: {kinds:?}"
    );
    assert!(
        cmds.iter().any(|c| matches!(&c.kind, CommandKind::AckMessagesRead { messages, .. } if messages.len() > 1)),
        "a batch names several messages"
    );
    assert!(
        cmds.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
        "time never goes back"
    );
}

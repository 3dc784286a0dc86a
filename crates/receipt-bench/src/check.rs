//! Every store must answer like the reference before any of its timings is believed.

use crate::plan::Plan;
use crate::stores::Store;
use crate::Result;
use receipt_domain::{ConversationId, EventBody, GroupAck, MessageId, Policy, State, UserId};

/// A message's ack count in projections held in memory, as its sender (who may always see it)
/// sees it.
pub fn ack_count_in(state: &State, message: &MessageId) -> Result<u32> {
    let sender = state.message_sender(message).ok_or("unknown message")?;
    Ok(state.group_ack_count(&Policy::all_receipts_on(), &sender, message)?)
}

/// Every (user, conversation) pair with read state, and every group message sent with acks
/// and not recalled (a recalled message has no ack count).
pub fn query_sample(plan: &Plan) -> (Vec<(UserId, ConversationId)>, Vec<MessageId>) {
    let state = &plan.state;
    let pairs = state
        .users()
        .flat_map(|u| {
            state
                .conversations(u)
                .into_iter()
                .map(move |c| (u.clone(), c.conversation))
        })
        .collect();
    let messages = plan
        .all_events()
        .filter_map(|e| match &e.body {
            EventBody::MessageSent {
                message,
                group_ack: GroupAck::Enabled,
                ..
            } => Some(*message),
            _ => None,
        })
        .filter(|m| {
            state
                .message_sender(m)
                .is_some_and(|s| !matches!(state.message_status(&Policy::all_receipts_on(), &s, m), Ok(st) if st.recalled))
        })
        .collect();
    (pairs, messages)
}

/// Checks `store`'s unread counts on at most `max_pairs` evenly spaced (user, conversation)
/// pairs and its ack count of every group message with acks against the reference.
pub fn check_projections(store: &dyn Store, plan: &Plan, max_pairs: usize) -> Result {
    let (pairs, messages) = query_sample(plan);
    let step = pairs.len().div_ceil(max_pairs.max(1)).max(1);
    for (u, c) in pairs.iter().step_by(step) {
        let want = plan.state.unread_count(u, c);
        match store.unread(u, c)? {
            Some(got) if got == want => {}
            got => {
                return Err(
                    format!("unread of {u} in {c} is {got:?}, the reference says {want}").into(),
                )
            }
        }
    }
    for m in &messages {
        let want = ack_count_in(&plan.state, m)?;
        match store.group_ack_count(m)? {
            Some(got) if got == want => {}
            got => {
                return Err(
                    format!("ack count of {m} is {got:?}, the reference says {want}").into(),
                )
            }
        }
    }
    Ok(())
}

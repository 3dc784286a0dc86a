//! Where a conversation lives: its partition (a frozen hash of its stream key), its stream and
//! its subject. Changing any of these would lose every stored conversation: they are frozen.

use receipt_domain::ConversationId;
use receipt_store::wire::{conversation_of_stream_key, stream_key};
use receipt_store::StoreError;

/// FNV-1a, 64 bits, over the conversation's stream key. Written here rather than taken from a
/// hashing crate: the function is part of the stored format and must never change with a
/// dependency's version. It spreads short ids well, which is all a partition choice needs.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The partition of `conversation` among `partitions` (at least 1).
pub fn partition_of(conversation: &ConversationId, partitions: u32) -> u32 {
    (fnv1a64(&stream_key(conversation)) % u64::from(partitions.max(1))) as u32
}

/// The name of partition `p`'s stream (stream names allow no `.`, space or wildcard).
pub(crate) fn stream_name(prefix: &str, p: u32) -> String {
    format!("{prefix}-p{p}")
}

/// The subjects partition `p`'s stream holds.
pub(crate) fn stream_subjects(prefix: &str, p: u32) -> String {
    format!("{prefix}.p{p}.*")
}

/// The subject of `conversation`: one token of lowercase hex of its stream key, so no id (with
/// `.`, `*`, `>`, spaces or any other character) can change the subject's shape.
pub(crate) fn subject_of(prefix: &str, p: u32, conversation: &ConversationId) -> String {
    let key = stream_key(conversation);
    let mut s = String::with_capacity(prefix.len() + 16 + 2 * key.len());
    s.push_str(prefix);
    s.push_str(&format!(".p{p}."));
    for b in key {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The partition a subject of this log names (its second token, `p<n>`).
pub(crate) fn partition_of_subject(subject: &str) -> Option<u32> {
    subject
        .split('.')
        .rev()
        .nth(1)?
        .strip_prefix('p')?
        .parse()
        .ok()
}

/// The conversation a subject of this log names.
pub(crate) fn conversation_of_subject(subject: &str) -> Result<ConversationId, StoreError> {
    let bad = || StoreError::corrupt(0, format!("subject {subject} is not a conversation's"));
    let token = subject.rsplit('.').next().ok_or_else(bad)?;
    if token.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    conversation_of_stream_key(&bytes)
}

/// A KV key for arbitrary bytes (KV keys allow `[-/_=.a-zA-Z0-9]`): lowercase hex.
pub(crate) fn kv_key(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(1 + 2 * bytes.len());
    s.push('k');
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

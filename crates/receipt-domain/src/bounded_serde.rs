//! Deserialization of the state's containers that allocates only for what is decoded.
//!
//! serde's derived `Vec`/`HashMap`/`HashSet` preallocate from the length the input claims (up
//! to 1 MiB per container). A snapshot is stored bytes, so a few forged bytes could claim many
//! nested containers and make a decoder allocate far beyond the input's size. These visitors
//! preallocate at most `PREALLOC` entries and grow as entries are actually decoded, each of
//! which consumes input. The wire format is the derive's (`deserialize_seq`/`_map`). The
//! storage crate decodes its records with them too.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

/// Entries preallocated before any is decoded.
const PREALLOC: usize = 64;

fn capacity(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(PREALLOC)
}

struct VecVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for VecVisitor<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(capacity(seq.size_hint()));
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(out)
    }
}

/// A `Vec`, allocated as it is decoded.
pub fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(VecVisitor(PhantomData))
}

struct SetVisitor<T, S>(PhantomData<(T, S)>);

impl<'de, T, S> Visitor<'de> for SetVisitor<T, S>
where
    T: Deserialize<'de> + Eq + Hash,
    S: BuildHasher + Default,
{
    type Value = HashSet<T, S>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a set")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = HashSet::with_capacity_and_hasher(capacity(seq.size_hint()), S::default());
        while let Some(item) = seq.next_element()? {
            out.insert(item);
        }
        Ok(out)
    }
}

/// A `HashSet`, allocated as it is decoded.
pub fn set<'de, D, T, S>(d: D) -> Result<HashSet<T, S>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Eq + Hash,
    S: BuildHasher + Default,
{
    d.deserialize_seq(SetVisitor(PhantomData))
}

struct MapVisitor<K, V, S>(PhantomData<(K, V, S)>);

impl<'de, K, V, S> Visitor<'de> for MapVisitor<K, V, S>
where
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    type Value = HashMap<K, V, S>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = HashMap::with_capacity_and_hasher(capacity(map.size_hint()), S::default());
        while let Some((k, v)) = map.next_entry()? {
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// A `HashMap`, allocated as it is decoded.
pub fn map<'de, D, K, V, S>(d: D) -> Result<HashMap<K, V, S>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    d.deserialize_map(MapVisitor(PhantomData))
}

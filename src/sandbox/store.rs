//! The created users and the uniqueness indexes the API enforces.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Mutex;

use super::fxhash::FxHasher;

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// Which uniqueness rule a new user broke, in the order the API checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    ExternalUserId,
    Phone,
    Email,
}

/// One created user as `GET /_sandbox/users` lists it (no personal data).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    #[serde(rename = "externalUserId")]
    pub external_user_id: String,
    #[serde(rename = "userId")]
    pub user_id: String,
}

#[derive(Default)]
struct Users {
    by_external_id: FastSet<String>,
    phones: FastSet<String>,
    emails: FastSet<String>,
    listed: Vec<Listed>,
}

/// Shards for the per-id POST counters: every POST touches them, so spread the locks.
const POST_SHARDS: usize = 32;

/// All sandbox state. Creation takes one short lock (the three indexes must agree);
/// POST counting is sharded by id.
pub struct Store {
    users: Mutex<Users>,
    posts: Vec<Mutex<FastMap<String, u64>>>,
}

impl Store {
    pub fn new() -> Self {
        Store {
            users: Mutex::new(Users::default()),
            posts: (0..POST_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Counts a POST for `external_user_id`; returns how many it has had.
    pub fn count_post(&self, external_user_id: &str) -> u64 {
        use std::hash::BuildHasher;
        let h = BuildHasherDefault::<FxHasher>::default().hash_one(external_user_id);
        let shard = &self.posts[(h >> 40) as usize % POST_SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(external_user_id) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                map.insert(external_user_id.to_string(), 1);
                1
            }
        }
    }

    /// Creates the user unless a uniqueness rule forbids it (checked id, phone, email).
    /// `admit` runs under the lock after the uniqueness checks and may veto creation
    /// (forbidden country) with its own error.
    pub fn create<E>(
        &self,
        external_user_id: &str,
        phone: &str,
        email_lower: &str,
        user_id: &str,
        admit: impl FnOnce() -> Result<(), E>,
    ) -> Result<Result<(), E>, Taken> {
        let mut u = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if u.by_external_id.contains(external_user_id) {
            return Err(Taken::ExternalUserId);
        }
        if u.phones.contains(phone) {
            return Err(Taken::Phone);
        }
        if u.emails.contains(email_lower) {
            return Err(Taken::Email);
        }
        if let Err(e) = admit() {
            return Ok(Err(e));
        }
        u.by_external_id.insert(external_user_id.to_string());
        u.phones.insert(phone.to_string());
        u.emails.insert(email_lower.to_string());
        u.listed.push(Listed {
            external_user_id: external_user_id.to_string(),
            user_id: user_id.to_string(),
        });
        Ok(Ok(()))
    }

    /// Every created user, in creation order.
    pub fn list(&self) -> Vec<Listed> {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .listed
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(s: &Store, id: &str, phone: &str, email: &str) -> Result<(), Taken> {
        s.create::<()>(id, phone, email, "u-1", || Ok(()))
            .map(|r| r.expect("admitted"))
    }

    #[test]
    fn uniqueness_is_checked_by_id_then_phone_then_email() {
        let s = Store::new();
        assert_eq!(create(&s, "a", "111", "a@x"), Ok(()));
        assert_eq!(create(&s, "a", "111", "a@x"), Err(Taken::ExternalUserId));
        assert_eq!(create(&s, "b", "111", "a@x"), Err(Taken::Phone));
        assert_eq!(create(&s, "b", "222", "a@x"), Err(Taken::Email));
        assert_eq!(create(&s, "b", "222", "b@x"), Ok(()));
        assert_eq!(s.list().len(), 2);
    }

    #[test]
    fn a_vetoed_user_is_not_created() {
        let s = Store::new();
        assert_eq!(s.create("a", "1", "e", "u-1", || Err("no")), Ok(Err("no")));
        assert!(s.list().is_empty());
    }

    #[test]
    fn posts_are_counted_per_external_user_id() {
        let s = Store::new();
        assert_eq!(s.count_post("a"), 1);
        assert_eq!(s.count_post("a"), 2);
        assert_eq!(s.count_post("b"), 1);
    }
}

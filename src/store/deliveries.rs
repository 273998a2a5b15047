//! Webhook deliveries already applied: a sender that retries (GitHub's "Redeliver", a CD tool
//! that did not see the answer) sends the same delivery id again, and the second copy must
//! change nothing. The id is written in the batch of the data the delivery brought, so that a
//! crash leaves either both or neither.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::encoding::{tagged, TAG_DELIVERY};
use super::{Store, StoreError};

/// What is kept of an applied delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The event it carried (`deployment_status`, `pull_request`, `deployment` …).
    pub event: String,
    /// When it was applied.
    pub received_at: DateTime<Utc>,
}

impl Store {
    /// The delivery `id` of `source`, if it was applied before.
    pub fn delivery(&self, source: &str, id: &str) -> Result<Option<Delivery>, StoreError> {
        let Some(bytes) = self.db.get(tagged(TAG_DELIVERY, source, id))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Codec {
                kind: "delivery".into(),
                key: format!("{source}/{id}"),
                source: e,
            })
    }

    /// Forgets the deliveries of `source` applied before `before` (senders redeliver within
    /// days; GitHub keeps deliveries for redelivery for 3 days), so the record stays bounded.
    /// Returns how many were forgotten.
    pub fn forget_deliveries(
        &self,
        source: &str,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let prefix = tagged(TAG_DELIVERY, source, "");
        let mut old = Vec::new();
        for kv in self.db.scan_prefix(&prefix) {
            let (k, v) = kv?;
            // A record this version cannot read is old by definition.
            let keep = serde_json::from_slice::<Delivery>(&v)
                .map(|d| d.received_at >= before)
                .unwrap_or(false);
            if !keep {
                old.push(k);
            }
        }
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = sled::Batch::default();
        for k in &old {
            batch.remove(k);
        }
        self.db.apply_batch(batch)?;
        Ok(old.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteBatch;

    #[test]
    fn deliveries_are_remembered_with_their_batch_and_forgotten_when_old() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(dir.path()).expect("the store opens");
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("a time");
        assert_eq!(store.delivery("github", "d-1").expect("reads"), None);
        let mut batch = WriteBatch::new();
        let d = Delivery {
            event: "push".into(),
            received_at: at("2026-11-20T00:00:00Z"),
        };
        batch.remember_delivery("github", "d-1", d.clone());
        batch.remember_delivery(
            "github",
            "d-2",
            Delivery {
                event: "push".into(),
                received_at: at("2026-11-25T00:00:00Z"),
            },
        );
        store.commit(batch).expect("commits");
        assert_eq!(store.delivery("github", "d-1").expect("reads"), Some(d));
        // Another source's ids are its own.
        assert_eq!(store.delivery("events", "d-1").expect("reads"), None);
        let gone = store
            .forget_deliveries("github", at("2026-11-22T00:00:00Z"))
            .expect("forgets");
        assert_eq!(gone, 1);
        assert_eq!(store.delivery("github", "d-1").expect("reads"), None);
        assert!(store.delivery("github", "d-2").expect("reads").is_some());
    }
}

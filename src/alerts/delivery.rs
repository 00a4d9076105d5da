//! Delivering the outbox: what is due goes out per channel, on its own
//! within the rate limit or folded into one digest beyond it; failures are
//! retried with exponential backoff and jitter, then dead-lettered; "send
//! test" and "retry" queue through the same path.

use super::Alerts;
use super::channels::{Channel, Message, Notification};
use super::model::Notice;
use super::repo::{self, OutboxRow};
use crate::audit_trail::Actioned;
use crate::error::AppError;

const FIRST_RETRY_MS: i64 = 5_000;
const MAX_RETRY_MS: i64 = 30 * 60_000;

impl Alerts {
    /// Sends what is due. Per channel: within the rate limit each goes on
    /// its own; over it, everything due goes as one digest once the minute
    /// allows. Returns how many notifications went out.
    pub async fn deliver_due(&self) -> Result<usize, AppError> {
        let now = self.clock.now_ms();
        let due = self.store.read(move |c| repo::due(c, now, 500)).await?;
        let mut sent = 0;
        let defs = self.defs();
        for channel in &defs.channels {
            let mine: Vec<OutboxRow> = due
                .iter()
                .filter(|r| r.channel_id == channel.id)
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            let id = channel.id.clone();
            let recent = self
                .store
                .read(move |c| repo::sent_since(c, &id, now - 60_000))
                .await?;
            let room = (self.rate_limit - recent).max(0);
            let batches: Vec<Vec<OutboxRow>> =
                if i64::try_from(mine.len()).unwrap_or(i64::MAX) <= room {
                    mine.into_iter().map(|r| vec![r]).collect()
                } else if room > 0 {
                    vec![mine]
                } else {
                    Vec::new()
                };
            for batch in batches {
                sent += self.send_batch(channel, batch, now).await?;
            }
        }
        Ok(sent)
    }

    async fn send_batch(
        &self,
        channel: &Channel,
        batch: Vec<OutboxRow>,
        now: i64,
    ) -> Result<usize, AppError> {
        let notes: Vec<Notification> = batch
            .iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect();
        let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
        let (message, digest_key) = if batch.len() == 1 {
            match notes.into_iter().next() {
                Some(n) => (Message::One(Box::new(n)), None),
                None => {
                    self.store
                        .write(move |c| {
                            repo::mark_failed(
                                c,
                                &ids,
                                "the stored notification is not readable",
                                None,
                            )
                        })
                        .await?;
                    return Ok(0);
                }
            }
        } else {
            let key = format!("digest-{}-{}", uuid::Uuid::now_v7(), channel.id);
            (
                Message::Digest {
                    digest: true,
                    idempotency_key: key.clone(),
                    notifications: notes,
                },
                Some(key),
            )
        };
        let result = super::channels::deliver(&self.client, channel, &message, now / 1000).await;
        let attempts = batch.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
        let count = ids.len();
        match result {
            Ok(()) => {
                self.store
                    .write(move |c| repo::mark_sent(c, &ids, now, digest_key.as_deref()))
                    .await?;
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(channel = %channel.id, attempts, error = %error, "alert delivery failed");
                let next = (attempts < self.max_attempts).then(|| now + backoff_ms(attempts));
                self.store
                    .write(move |c| repo::mark_failed(c, &ids, &error, next))
                    .await?;
                Ok(0)
            }
        }
    }

    /// Queues a test notification on `channel_id`, audited.
    pub async fn send_test(&self, channel_id: &str, by: &Actioned) -> Result<(), AppError> {
        let defs = self.defs();
        let channel = defs
            .channels
            .iter()
            .find(|c| c.id == channel_id)
            .ok_or(AppError::NotFound)?;
        let now = self.clock.now_ms();
        let n = test_notification(
            &channel.id,
            self.base_url.get().map_or("", String::as_str),
            now,
        );
        let body = serde_json::to_string(&n).unwrap_or_default();
        let (id, key) = (channel.id.clone(), n.idempotency_key.clone());
        let entry = by.entry("alert.channel_tested", format!("channel:{id}"));
        let trail = self.trail.clone();
        self.store
            .write(move |c| {
                repo::enqueue(c, &id, &key, &body, now)?;
                trail.append(c, now, &entry)?;
                Ok(())
            })
            .await?;
        self.queued.notify_one();
        Ok(())
    }

    /// A dead letter queued again, audited.
    pub async fn retry(&self, id: i64, by: &Actioned) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        let entry = by.entry("alert.delivery_retried", format!("notification:{id}"));
        let trail = self.trail.clone();
        let done = self
            .store
            .write(move |c| {
                let done = repo::requeue(c, id, now)?;
                if done {
                    trail.append(c, now, &entry)?;
                }
                Ok(done)
            })
            .await?;
        if !done {
            return Err(AppError::NotFound);
        }
        self.queued.notify_one();
        Ok(())
    }
}

/// The notification "send test" sends on `channel_id`.
pub fn test_notification(channel_id: &str, base_url: &str, now_ms: i64) -> Notification {
    Notification {
        rule: "test".into(),
        status: "firing".into(),
        notice: Notice::Firing.as_str().into(),
        severity: "info".into(),
        summary: format!("A test notification from Watchpost to channel {channel_id:?}"),
        subject: format!("channel:{channel_id}"),
        started_at: rfc3339(now_ms),
        idempotency_key: format!("{}-{channel_id}", uuid::Uuid::now_v7()),
        labels: Default::default(),
        runbook: None,
        url: format!("{base_url}/alerts"),
    }
}

/// Exponential backoff with jitter: 5 s, 10 s, 20 s … up to 30 min, ±25 %.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = FIRST_RETRY_MS.saturating_mul(1i64 << exp).min(MAX_RETRY_MS);
    let jitter = i64::from(uuid::Uuid::new_v4().as_bytes()[0]) * base / 1020 - base / 8;
    base + jitter
}

pub(super) fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_is_capped() {
        for attempts in 1..30 {
            let base = (FIRST_RETRY_MS << (attempts.min(20) - 1)).min(MAX_RETRY_MS);
            let b = backoff_ms(attempts);
            assert!(
                b >= base - base / 8 && b <= base + base / 8,
                "{attempts}: {b}"
            );
        }
    }
}

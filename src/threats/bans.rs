//! Making and ending bans. A detection becomes a ban record with
//! repeat-offender doubling; manual bans, lifts and extensions (pages, API,
//! CLI) are audited in the same transaction as their change. Every new ban
//! is announced on the bus, recorded as `ban.created`, and handed to the
//! firewall command; every end (expiry or lift) is noticed once by
//! [`Threats::sync`], which runs the unban command and records
//! `ban.expired` for expiries.

use serde_json::json;

use super::model::{REPEAT_WINDOW_MS, Target, ban_length_ms};
use super::repo::bans::{self, Ban, NewBan};
use super::service::{Detection, Threats};
pub use crate::audit_trail::Actioned;
use crate::bus::Signal;
use crate::error::AppError;

/// A manual ban's terms.
pub struct Order {
    pub target: Target,
    pub for_ms: i64,
    pub reason: String,
}

impl Threats {
    /// Records a detection's ban (the gate already holds it).
    pub async fn ban_detected(&self, d: Detection) -> Result<Ban, AppError> {
        let rule = self.rules.get(&d.detector).copied();
        let base = rule.map_or(3_600_000, |r| r.ban_ms);
        let target = Target::Ip(d.ip);
        let ip = target.to_string();
        let now = self.clock.now_ms();
        let reason = format!("{} detector", d.detector.name().replace('_', " "));
        let detector = d.detector.name();
        let source = d.source.clone();
        let (ban, created) = self
            .store
            .write(move |conn| {
                if let Some(existing) = bans::active_for(conn, &ip, now)? {
                    return Ok((existing, false));
                }
                let previous = bans::previous_length(conn, &ip, now - REPEAT_WINDOW_MS)?;
                let length = ban_length_ms(base, previous);
                let new = NewBan {
                    ip: &ip,
                    reason: &reason,
                    detector: Some(detector),
                    source: &source,
                    first_seen_ms: Some(d.at_ms),
                    until_ms: now.saturating_add(length),
                    hits: d.hits,
                };
                let id = bans::insert(conn, &new, now)?;
                let ban = bans::active_for(conn, &ip, now)?.filter(|b| b.id == id);
                Ok((
                    ban.ok_or(crate::store::StoreError::Sqlite(
                        rusqlite::Error::QueryReturnedNoRows,
                    ))?,
                    true,
                ))
            })
            .await?;
        if created {
            self.announce(target, &ban);
        } else {
            self.gate.insert(target, ban.until_ms);
        }
        Ok(ban)
    }

    fn announce(&self, target: Target, ban: &Ban) {
        self.gate.insert(target, ban.until_ms);
        let seconds = (ban.until_ms - self.clock.now_ms()).div_euclid(1000);
        self.commands.ban(target, seconds);
        self.record(
            "ban.created",
            &ban.ip,
            &ban.source,
            json!({
                "reason": ban.reason,
                "detector": ban.detector,
                "until_ms": ban.until_ms,
                "hits": ban.hits,
            }),
        );
        self.bus.publish(Signal::BanCreated {
            ip: ban.ip.clone(),
            reason: ban.reason.clone(),
            detector: ban.detector.clone(),
            source: ban.source.clone(),
            until_ms: ban.until_ms,
        });
    }

    /// Why a manual ban of `target` is refused, if it is.
    fn refusal(&self, target: Target, by: &Actioned) -> Option<String> {
        let covers_allowed = match target {
            Target::Ip(ip) => self.gate.allowed(ip),
            Target::Net(net) => self
                .config
                .allow_networks()
                .iter()
                .any(|a| net.contains(a) || a.contains(&net)),
        };
        if covers_allowed {
            return Some(format!(
                "{target} is on threats.allowlist, which is never banned; take it off the allowlist first."
            ));
        }
        if by.ip.is_some_and(|own| target.contains(own.to_canonical())) {
            return Some(format!(
                "{target} includes your own address; banning it would lock you out."
            ));
        }
        None
    }

    /// A manual ban; an existing ban of the same target is lengthened instead.
    pub async fn ban(&self, order: Order, by: &Actioned) -> Result<Ban, AppError> {
        if let Some(why) = self.refusal(order.target, by) {
            return Err(AppError::BadRequest(why));
        }
        if order.for_ms <= 0 {
            return Err(AppError::BadRequest(
                "Give the ban a positive length, e.g. 4h.".into(),
            ));
        }
        let reason = order.reason.trim().chars().take(200).collect::<String>();
        let reason = if reason.is_empty() {
            "manual ban".to_owned()
        } else {
            reason
        };
        let now = self.clock.now_ms();
        let until = now.saturating_add(order.for_ms);
        let ip = order.target.to_string();
        let (trail, entry) = (
            self.trail.clone(),
            by.entry("ip.banned", format!("ip:{}", order.target))
                .detail("until_ms", until)
                .detail("reason", reason.clone()),
        );
        let (ban, created) = self
            .store
            .write(move |conn| {
                let created = match bans::active_for(conn, &ip, now)? {
                    Some(existing) => {
                        bans::extend(conn, &ip, existing.until_ms.max(until), now)?;
                        false
                    }
                    None => {
                        let new = NewBan {
                            ip: &ip,
                            reason: &reason,
                            detector: None,
                            source: "manual",
                            first_seen_ms: None,
                            until_ms: until,
                            hits: 0,
                        };
                        bans::insert(conn, &new, now)?;
                        true
                    }
                };
                trail.append(conn, now, &entry)?;
                let ban = bans::active_for(conn, &ip, now)?;
                Ok((
                    ban.ok_or(crate::store::StoreError::Sqlite(
                        rusqlite::Error::QueryReturnedNoRows,
                    ))?,
                    created,
                ))
            })
            .await?;
        if created {
            self.announce(order.target, &ban);
        } else {
            self.gate.insert(order.target, ban.until_ms);
        }
        Ok(ban)
    }

    /// Lifts the target's ban now; the unban command runs at the next sync.
    pub async fn unban(&self, target: Target, by: &Actioned) -> Result<(), AppError> {
        let ip = target.to_string();
        let now = self.clock.now_ms();
        let by_text = by.actor.kind().to_owned();
        let (trail, entry) = (
            self.trail.clone(),
            by.entry("ip.unbanned", format!("ip:{target}")),
        );
        let lifted = self
            .store
            .write(move |conn| {
                let lifted = bans::lift(conn, &ip, &by_text, now)?;
                if lifted > 0 {
                    trail.append(conn, now, &entry)?;
                }
                Ok(lifted)
            })
            .await?;
        if lifted == 0 {
            return Err(AppError::NotFound);
        }
        self.gate.remove(target);
        Ok(())
    }

    /// Moves the end of the target's ban `by_ms` later.
    pub async fn extend(&self, target: Target, by_ms: i64, by: &Actioned) -> Result<Ban, AppError> {
        if by_ms <= 0 {
            return Err(AppError::BadRequest(
                "Extend by a positive length, e.g. 4h.".into(),
            ));
        }
        let ip = target.to_string();
        let now = self.clock.now_ms();
        let trail = self.trail.clone();
        let entry = by
            .entry("ip.ban_extended", format!("ip:{target}"))
            .detail("by_ms", by_ms);
        let ban = self
            .store
            .write(move |conn| {
                let Some(current) = bans::active_for(conn, &ip, now)? else {
                    return Ok(None);
                };
                let until = current.until_ms.saturating_add(by_ms);
                bans::extend(conn, &ip, until, now)?;
                trail.append(conn, now, &entry.detail("until_ms", until))?;
                bans::active_for(conn, &ip, now)
            })
            .await?
            .ok_or(AppError::NotFound)?;
        self.gate.insert(target, ban.until_ms);
        Ok(ban)
    }

    /// Brings the gate up to date with the database (bans made by the CLI
    /// or the login rules appear; every new one, and at start every active
    /// one, goes to the firewall command) and handles ended bans once. A
    /// ban the gate holds that the database no longer has as active — one
    /// ended by a privacy erasure, which leaves no address in the database
    /// to end it by — is lifted too, and its address (known only here, in
    /// memory) goes to the unban command.
    pub async fn sync(&self) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        // Taken before the read: a ban added after it is in the gate but may
        // not be in what the read returns, and must not be lifted.
        let held = self.gate.targets();
        let (active, ended) = self
            .store
            .write(move |conn| Ok((bans::active(conn, now)?, bans::take_ended(conn, now)?)))
            .await?;
        for ban in &active {
            let Ok(target) = ban.ip.parse::<Target>() else {
                continue;
            };
            if !self.gate.holds(target) {
                self.commands
                    .ban(target, (ban.until_ms - now).div_euclid(1000));
            }
            self.gate.insert(target, ban.until_ms);
        }
        for ban in &ended {
            let Ok(target) = ban.ip.parse::<Target>() else {
                continue;
            };
            if ban.lifted_ms.is_none() {
                self.record(
                    "ban.expired",
                    &ban.ip,
                    &ban.source,
                    json!({ "reason": ban.reason, "until_ms": ban.until_ms }),
                );
            }
            if !active.iter().any(|a| a.ip == ban.ip) {
                self.gate.remove(target);
                self.commands.unban(target);
            }
        }
        let in_force: Vec<Target> = active.iter().filter_map(|b| b.ip.parse().ok()).collect();
        for target in held {
            if !in_force.contains(&target) && self.gate.holds(target) {
                self.gate.remove(target);
                self.commands.unban(target);
            }
        }
        self.gate.prune_expired(now);
        Ok(())
    }
}

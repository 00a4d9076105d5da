//! The checks feature's operations, shared by the pages, the JSON API, the
//! scheduler and start-up: load and validate stored checks, create, update,
//! delete, pause and resume them (each audited in the same transaction),
//! provision `[[checks]]` and the built-in self-checks, store a run with its
//! state change, and take heartbeat pings.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

use super::builtin::Builtins;
use super::definition::{BUILTIN, Check, Definition, Probe};
use super::heartbeat;
use super::model::{IncidentChange, Outcome, State, Window};
use super::probe::Clients;
use super::repo::{self, CheckRow, Written};
use crate::audit_trail::{Actor, Entry, Outcome as AuditOutcome, Trail};
use crate::auth::seal::Sealer;
use crate::auth::secrets;
use crate::clock::Clock;
use crate::config::Problem;
use crate::error::AppError;
use crate::series::{Sample, Unit};
use crate::store::{Store, StoreError};

/// Who owns a check row.
pub const ORIGIN_UI: &str = "ui";
pub const ORIGIN_CONFIG: &str = "config";
pub const ORIGIN_BUILTIN: &str = "builtin";
/// The most of a ping body kept.
pub const PING_BODY_MAX: usize = 10 * 1024;

/// The feature's shared state.
pub struct Checks {
    pub store: Store,
    pub trail: Trail,
    pub clock: Clock,
    pub clients: Clients,
    pub builtins: Builtins,
    sealer: Sealer,
    /// Woken whenever definitions change, so the scheduler reloads.
    pub changed: Notify,
    /// Where people reach this instance (for heartbeat URLs).
    pub base_url: std::sync::OnceLock<String>,
    /// Checks being run right now (by the scheduler or "run now").
    running: Mutex<HashSet<i64>>,
}

/// Holds a check as running; dropping it lets the check run again.
pub struct Claim<'a> {
    checks: &'a Checks,
    id: i64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.checks.running.lock() {
            running.remove(&self.id);
        }
    }
}

/// A stored check with its definition and its validated form.
#[derive(Clone)]
pub struct Loaded {
    pub row: CheckRow,
    pub def: Definition,
    pub check: Arc<Check>,
}

impl Loaded {
    pub fn is_managed(&self) -> bool {
        self.row.origin != ORIGIN_UI
    }
}

/// Why a change was refused.
pub enum Refusal {
    Invalid(Vec<Problem>),
    Other(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::Other(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Other(e.into())
    }
}

/// Who asked for a change, for the audit trail.
#[derive(Clone)]
pub struct Actioned {
    pub actor: Actor,
    pub ip: Option<std::net::IpAddr>,
    pub request_id: Option<String>,
}

impl Actioned {
    fn entry(&self, action: &str, target: &str) -> Entry {
        Entry::new(self.actor.clone(), action, AuditOutcome::Success)
            .ip(self.ip)
            .request_id(self.request_id.clone())
            .target(target.to_string())
    }
}

impl Checks {
    pub fn new(
        store: Store,
        trail: Trail,
        clock: Clock,
        sealer: Sealer,
        builtins: Builtins,
    ) -> anyhow::Result<Checks> {
        Ok(Checks {
            store,
            trail,
            clock,
            clients: Clients::new()?,
            builtins,
            sealer,
            changed: Notify::new(),
            base_url: std::sync::OnceLock::new(),
            running: Mutex::new(HashSet::new()),
        })
    }

    /// Marks check `id` as running, unless it already is.
    pub fn claim(&self, id: i64) -> Option<Claim<'_>> {
        let newly = self.running.lock().ok()?.insert(id);
        // (Built only when claimed: a dropped Claim releases the check.)
        newly.then(|| Claim { checks: self, id })
    }

    /// Runs a check once without storing anything: the network probe, the
    /// heartbeat's judgement, or the self-check. `None`: nothing to say yet.
    pub async fn probe(&self, loaded: &Loaded) -> Option<Outcome> {
        match &loaded.check.probe {
            Probe::Heartbeat { .. } => {
                heartbeat::judge(&loaded.row, &loaded.check, self.clock.now_ms())
            }
            Probe::Builtin(what) => Some(self.builtins.run(what).await),
            _ => super::probe::run(&self.clients, &loaded.check).await,
        }
    }

    /// Runs a check now and stores the result ("run now"); refused while
    /// the check is already running.
    pub async fn run_now(&self, loaded: &Loaded) -> Result<(Option<Outcome>, State), AppError> {
        let Some(_claim) = self.claim(loaded.row.id) else {
            return Err(AppError::Conflict(format!(
                "{} is being checked right now; try again when that run ends.",
                loaded.row.name
            )));
        };
        if loaded.row.paused {
            return Ok((None, State::Paused));
        }
        let ts_ms = self.clock.now_ms();
        match self.probe(loaded).await {
            Some(outcome) => {
                let state = self.record(loaded, outcome.clone(), ts_ms).await?;
                Ok((Some(outcome), state))
            }
            None => Ok((None, loaded.row.state)),
        }
    }

    /// Its definition and typed check for a row. A row that no longer
    /// validates (an edited database) is an internal error.
    pub fn load(&self, row: CheckRow) -> Result<Loaded, AppError> {
        let mut def: Definition = serde_json::from_str(&row.spec).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("check {} has a bad spec: {e}", row.slug))
        })?;
        if let Some(sealed) = &row.headers_sealed {
            let plain = self.sealer.open(sealed, row.slug.as_bytes())?;
            def.headers = serde_json::from_slice(&plain).map_err(|e| {
                AppError::Internal(anyhow::anyhow!("check {} headers: {e}", row.slug))
            })?;
        }
        let check = def.validate("").map_err(|p| {
            AppError::Internal(anyhow::anyhow!(
                "check {} no longer validates: {}",
                row.slug,
                p[0]
            ))
        })?;
        Ok(Loaded {
            row,
            def,
            check: Arc::new(check),
        })
    }

    pub async fn all(&self) -> Result<Vec<Loaded>, AppError> {
        let rows = self.store.read(repo::list).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            match self.load(row) {
                Ok(l) => out.push(l),
                Err(e) => tracing::warn!(error = %e, "skipping a check that does not load"),
            }
        }
        Ok(out)
    }

    pub async fn get(&self, slug: &str) -> Result<Loaded, AppError> {
        let slug = slug.to_string();
        let row = self
            .store
            .read(move |conn| repo::by_slug(conn, &slug))
            .await?
            .ok_or(AppError::NotFound)?;
        self.load(row)
    }

    /// The heartbeat URL of a check (`None` for other kinds).
    pub fn ping_url(&self, loaded: &Loaded) -> Option<String> {
        let sealed = loaded.row.ping_sealed.as_ref()?;
        let token = self.sealer.open(sealed, loaded.row.slug.as_bytes()).ok()?;
        let base = self.base_url.get().map_or("", String::as_str);
        Some(format!("{base}/ping/{}", String::from_utf8_lossy(&token)))
    }

    /// What is written for a definition: the spec JSON without headers, the
    /// headers sealed.
    fn written_parts(&self, def: &Definition) -> Result<(String, Option<Vec<u8>>), AppError> {
        let mut bare = def.clone();
        bare.headers.clear();
        let spec = serde_json::to_string(&bare).map_err(|e| AppError::Internal(e.into()))?;
        let headers = if def.headers.is_empty() {
            None
        } else {
            let plain =
                serde_json::to_vec(&def.headers).map_err(|e| AppError::Internal(e.into()))?;
            Some(self.sealer.seal(&plain, def.id.trim().as_bytes())?)
        };
        Ok((spec, headers))
    }

    fn new_ping(&self, slug: &str) -> Result<(String, Vec<u8>), AppError> {
        let token = secrets::random_token(24)?;
        let sealed = self.sealer.seal(token.as_bytes(), slug.as_bytes())?;
        Ok((secrets::sha256_hex(&token), sealed))
    }

    /// Creates a check; `origin` says who owns it.
    pub async fn create(
        &self,
        mut def: Definition,
        origin: &'static str,
        by: &Actioned,
    ) -> Result<Loaded, Refusal> {
        def.id = def.id.trim().to_string();
        let check = def.validate("").map_err(Refusal::Invalid)?;
        if check.probe.kind() == BUILTIN && origin != ORIGIN_BUILTIN {
            return Err(Refusal::Invalid(vec![Problem::new(
                "kind",
                "builtin checks are Watchpost's own; use http, tcp, tls or heartbeat",
            )]));
        }
        let (spec, headers) = self.written_parts(&def)?;
        let ping = match check.probe {
            Probe::Heartbeat { .. } => Some(self.new_ping(&check.slug)?),
            _ => None,
        };
        let now = self.clock.now_ms();
        let (trail, entry) = (
            self.trail.clone(),
            by.entry("check.create", &check.slug)
                .detail("kind", check.probe.kind()),
        );
        let slug = check.slug.clone();
        let name = check.name.clone();
        let kind = check.probe.kind();
        let public = check.public;
        let id = self
            .store
            .write(move |conn| {
                if repo::by_slug(conn, &slug)?.is_some() {
                    return Ok(None);
                }
                let w = Written {
                    slug: &slug,
                    name: &name,
                    kind,
                    spec: &spec,
                    headers_sealed: headers.as_deref(),
                    origin,
                    public,
                };
                let id = repo::insert(
                    conn,
                    &w,
                    ping.as_ref().map(|(h, s)| (h.as_str(), s.as_slice())),
                    now,
                )?;
                trail.append(conn, now, &entry)?;
                Ok(Some(id))
            })
            .await?;
        let Some(id) = id else {
            return Err(Refusal::Other(AppError::Conflict(format!(
                "A check with id {:?} exists already; choose another id.",
                def.id
            ))));
        };
        self.changed.notify_one();
        self.by_id(id).await.map_err(Refusal::Other)
    }

    async fn by_id(&self, id: i64) -> Result<Loaded, AppError> {
        let row = self
            .store
            .read(move |conn| repo::by_id(conn, id))
            .await?
            .ok_or(AppError::NotFound)?;
        self.load(row)
    }

    /// Replaces the definition of `current` (its id cannot change).
    pub async fn update(
        &self,
        current: &Loaded,
        mut def: Definition,
        by: &Actioned,
    ) -> Result<Loaded, Refusal> {
        def.id = current.row.slug.clone();
        // A redacted header sent back unchanged keeps its stored value.
        for (name, value) in def.headers.iter_mut() {
            if value == crate::redact::REDACTED
                && let Some(old) = current.def.headers.get(name)
            {
                value.clone_from(old);
            }
        }
        let check = def.validate("").map_err(Refusal::Invalid)?;
        self.write_definition(current, &def, &check, &current.row.origin.clone(), Some(by))
            .await?;
        self.changed.notify_one();
        self.by_id(current.row.id).await.map_err(Refusal::Other)
    }

    async fn write_definition(
        &self,
        current: &Loaded,
        def: &Definition,
        check: &Check,
        origin: &str,
        by: Option<&Actioned>,
    ) -> Result<(), AppError> {
        let (spec, headers) = self.written_parts(def)?;
        let needs_ping =
            matches!(check.probe, Probe::Heartbeat { .. }) && current.row.ping_sealed.is_none();
        let ping = if needs_ping {
            Some(self.new_ping(&check.slug)?)
        } else {
            None
        };
        let now = self.clock.now_ms();
        let entry = match by {
            Some(by) => by.entry("check.update", &check.slug),
            None => Entry::new(Actor::System, "check.provision", AuditOutcome::Success)
                .target(check.slug.clone()),
        };
        let (trail, id, name, kind, public, origin) = (
            self.trail.clone(),
            current.row.id,
            check.name.clone(),
            check.probe.kind(),
            check.public,
            origin.to_string(),
        );
        let slug = check.slug.clone();
        self.store
            .write(move |conn| {
                let w = Written {
                    slug: &slug,
                    name: &name,
                    kind,
                    spec: &spec,
                    headers_sealed: headers.as_deref(),
                    origin: &origin,
                    public,
                };
                repo::update(
                    conn,
                    id,
                    &w,
                    ping.as_ref().map(|(h, s)| (h.as_str(), s.as_slice())),
                    now,
                )?;
                trail.append(conn, now, &entry)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    pub async fn delete(&self, current: &Loaded, by: &Actioned) -> Result<(), AppError> {
        let (trail, entry, id) = (
            self.trail.clone(),
            by.entry("check.delete", &current.row.slug),
            current.row.id,
        );
        let now = self.clock.now_ms();
        let name = current.series_name();
        self.store
            .write(move |conn| {
                repo::delete(conn, id)?;
                crate::series::repo::forget(conn, &name)?;
                trail.append(conn, now, &entry)?;
                Ok(())
            })
            .await?;
        self.changed.notify_one();
        Ok(())
    }

    pub async fn set_paused(
        &self,
        current: &Loaded,
        paused: bool,
        by: &Actioned,
    ) -> Result<(), AppError> {
        let action = if paused {
            "check.pause"
        } else {
            "check.resume"
        };
        let (trail, entry, id) = (
            self.trail.clone(),
            by.entry(action, &current.row.slug),
            current.row.id,
        );
        let now = self.clock.now_ms();
        self.store
            .write(move |conn| {
                repo::set_paused(conn, id, paused, now)?;
                trail.append(conn, now, &entry)?;
                Ok(())
            })
            .await?;
        self.changed.notify_one();
        Ok(())
    }

    pub async fn add_window(
        &self,
        current: &Loaded,
        window: Window,
        note: String,
        by: &Actioned,
    ) -> Result<(), AppError> {
        let (trail, entry, id) = (
            self.trail.clone(),
            by.entry("check.maintenance.add", &current.row.slug)
                .detail("window", window.describe()),
            current.row.id,
        );
        let now = self.clock.now_ms();
        self.store
            .write(move |conn| {
                repo::add_window(conn, id, &window, &note)?;
                trail.append(conn, now, &entry)?;
                Ok(())
            })
            .await?;
        self.changed.notify_one();
        Ok(())
    }

    pub async fn delete_window(
        &self,
        current: &Loaded,
        window: i64,
        by: &Actioned,
    ) -> Result<bool, AppError> {
        let (trail, entry, id) = (
            self.trail.clone(),
            by.entry("check.maintenance.delete", &current.row.slug),
            current.row.id,
        );
        let now = self.clock.now_ms();
        let deleted = self
            .store
            .write(move |conn| {
                let deleted = repo::delete_window(conn, id, window)?;
                if deleted {
                    trail.append(conn, now, &entry)?;
                }
                Ok(deleted)
            })
            .await?;
        self.changed.notify_one();
        Ok(deleted)
    }

    pub async fn add_note(
        &self,
        incident: i64,
        author: String,
        body: String,
        by: &Actioned,
    ) -> Result<(), AppError> {
        let (trail, now) = (self.trail.clone(), self.clock.now_ms());
        let entry = by.entry("check.incident.note", &incident.to_string());
        let found = self
            .store
            .write(move |conn| {
                if repo::incident_check(conn, incident)?.is_none() {
                    return Ok(false);
                }
                repo::add_note(conn, incident, now, &author, &body)?;
                trail.append(conn, now, &entry)?;
                Ok(true)
            })
            .await?;
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Makes the stored `config` and `builtin` checks match `wanted`: creates
    /// new ones, updates changed ones, removes those no longer listed. Checks
    /// made in the UI are never touched; an id taken by one is an error.
    pub async fn provision(
        &self,
        wanted: Vec<(Definition, &'static str)>,
    ) -> anyhow::Result<Vec<String>> {
        let existing = self.all().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut report = Vec::new();
        let system = Actioned {
            actor: Actor::System,
            ip: None,
            request_id: None,
        };
        for (def, origin) in &wanted {
            let slug = def.id.trim();
            match existing.iter().find(|l| l.row.slug == slug) {
                Some(l) if l.row.origin == ORIGIN_UI => anyhow::bail!(
                    "[[checks]] id {slug:?} is taken by a check made in the web UI; rename one of them"
                ),
                Some(l) => {
                    let same = l.def == *def && l.row.origin == *origin;
                    if !same {
                        let check = def.validate("").map_err(|p| anyhow::anyhow!("{}", p[0]))?;
                        self.write_definition(l, def, &check, origin, None).await?;
                        report.push(format!("updated {slug}"));
                    }
                }
                None => match self.create(def.clone(), origin, &system).await {
                    Ok(_) => report.push(format!("created {slug}")),
                    Err(Refusal::Invalid(p)) => anyhow::bail!("[[checks]] {slug}: {}", p[0]),
                    Err(Refusal::Other(e)) => anyhow::bail!("[[checks]] {slug}: {e}"),
                },
            }
        }
        for l in existing.iter().filter(|l| l.row.origin != ORIGIN_UI) {
            if !wanted.iter().any(|(d, _)| d.id.trim() == l.row.slug) {
                self.delete(l, &system).await?;
                report.push(format!("removed {}", l.row.slug));
            }
        }
        self.changed.notify_one();
        Ok(report)
    }

    /// Stores one run of `loaded` at `ts_ms` and returns the new state.
    pub async fn record(
        &self,
        loaded: &Loaded,
        outcome: Outcome,
        ts_ms: i64,
    ) -> Result<State, StoreError> {
        let id = loaded.row.id;
        let check = loaded.check.clone();
        let series = loaded.series_name();
        let label = format!("Latency of {}", loaded.row.name);
        self.store
            .write(move |conn| {
                let Some(row) = repo::by_id(conn, id)? else {
                    return Ok(State::Pending);
                };
                if row.paused {
                    return Ok(State::Paused);
                }
                let in_window = in_maintenance(conn, id, ts_ms)?;
                let before = row.tally();
                // A heartbeat's pings are the job's own word: one is enough.
                let (fail_after, recover_after) = match check.probe {
                    Probe::Heartbeat { .. } => (1, 1),
                    _ => (check.fail_after, check.recover_after),
                };
                let (after, change) = before.apply(outcome.status, in_window, fail_after, recover_after);
                let shown = if in_window && outcome.status != State::Up {
                    State::Maintenance
                } else {
                    outcome.status
                };
                let run = repo::Run {
                    ts_ms,
                    shown,
                    before,
                    after,
                    change,
                };
                repo::save_run(conn, id, run, &outcome)?;
                if let Some(ms) = outcome.latency_ms {
                    let sample = Sample {
                        name: series,
                        unit: Unit::Milliseconds,
                        label,
                        value: ms,
                    };
                    crate::series::repo::record(conn, ts_ms.div_euclid(1000), &[sample])?;
                }
                if !matches!(change, IncidentChange::None) {
                    tracing::info!(check = %row.slug, from = before.state.as_str(), to = after.state.as_str(), reason = outcome.reason.as_deref().unwrap_or(""), "check changed state");
                }
                Ok(after.state)
            })
            .await
    }

    /// A heartbeat ping by token: records it and, for a success or failure,
    /// judges the check at once. `None` when no check has this token.
    pub async fn ping(
        &self,
        token: &str,
        kind: heartbeat::PingKind,
        body: Option<String>,
    ) -> Result<Option<State>, AppError> {
        let hash = secrets::sha256_hex(token);
        let row = self
            .store
            .read(move |conn| repo::by_ping_hash(conn, &hash))
            .await?;
        let Some(row) = row else { return Ok(None) };
        let loaded = self.load(row)?;
        let now = self.clock.now_ms();
        let (id, label) = (loaded.row.id, kind.as_str());
        let body = body.map(|b| truncate(&b, PING_BODY_MAX));
        self.store
            .write(move |conn| repo::record_ping(conn, id, now, label, body.as_deref()))
            .await?;
        if loaded.row.paused {
            return Ok(Some(State::Paused));
        }
        let fresh = self.by_id(id).await?;
        let Some(outcome) = heartbeat::judge(&fresh.row, &fresh.check, now) else {
            return Ok(Some(fresh.row.state));
        };
        let state = self.record(&fresh, outcome, now).await?;
        Ok(Some(state))
    }
}

impl Loaded {
    /// The latency series of this check.
    pub fn series_name(&self) -> String {
        format!("check.latency.{}", self.row.slug)
    }
}

fn in_maintenance(conn: &Connection, id: i64, ts_ms: i64) -> Result<bool, StoreError> {
    Ok(repo::windows(conn, Some(id))?
        .iter()
        .any(|(_, _, w, _)| w.covers(ts_ms)))
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

//! The checks feature's operations, shared by the pages, the JSON API, the
//! scheduler and start-up: load and validate stored checks, create, update,
//! delete, pause and resume them (each audited in the same transaction),
//! provision `[[checks]]` and the built-in self-checks, store a run with its
//! state change, and take heartbeat pings.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

use super::builtin::Builtins;
use super::check::{Check, Probe};
use super::definition::Definition;
use super::heartbeat;
use super::model::{IncidentChange, Outcome, State};
use super::probe::Clients;
use super::repo::{self, CheckRow};
pub use crate::audit_trail::Actioned;
use crate::audit_trail::Trail;
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
    pub(super) sealer: Sealer,
    /// Woken whenever definitions change, so the scheduler reloads.
    pub changed: Notify,
    /// Where people reach this instance (for heartbeat URLs).
    pub base_url: std::sync::OnceLock<String>,
    /// Checks being run right now (by the scheduler or "run now").
    running: Mutex<HashSet<i64>>,
    /// Parsed definitions by row id, reused while the stored spec is the
    /// same (pages and the scheduler load every check often).
    parsed: Mutex<HashMap<i64, Parsed>>,
}

/// A row's spec and sealed headers as stored, and what they parsed to.
type Parsed = ((String, Option<Vec<u8>>), Definition, Arc<Check>);

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

    /// `409` for a check owned by `watchpost.toml` or by Watchpost itself.
    pub fn editable(&self) -> Result<(), AppError> {
        if !self.is_managed() {
            return Ok(());
        }
        let owner = if self.row.origin == ORIGIN_CONFIG {
            "watchpost.toml"
        } else {
            "Watchpost itself"
        };
        Err(AppError::Conflict(format!(
            "{} is managed by {owner}; change it there.",
            self.row.name
        )))
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
            parsed: Mutex::new(HashMap::new()),
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
        let key = (row.spec.clone(), row.headers_sealed.clone());
        if let Ok(cache) = self.parsed.lock()
            && let Some((seen, def, check)) = cache.get(&row.id)
            && *seen == key
        {
            let (def, check) = (def.clone(), check.clone());
            return Ok(Loaded { row, def, check });
        }
        let mut def: Definition = serde_json::from_str(&row.spec).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("check {} has a bad spec: {e}", row.slug))
        })?;
        if let Some(sealed) = &row.headers_sealed {
            let plain = self.sealer.open(sealed, row.slug.as_bytes())?;
            def.headers = serde_json::from_slice(&plain).map_err(|e| {
                AppError::Internal(anyhow::anyhow!("check {} headers: {e}", row.slug))
            })?;
        }
        let check = Arc::new(def.validate("").map_err(|p| {
            AppError::Internal(anyhow::anyhow!(
                "check {} no longer validates: {}",
                row.slug,
                p[0]
            ))
        })?);
        if let Ok(mut cache) = self.parsed.lock() {
            cache.insert(row.id, (key, def.clone(), check.clone()));
        }
        Ok(Loaded { row, def, check })
    }

    /// Drops the parsed definition of a deleted check.
    pub(super) fn forget_parsed(&self, id: i64) {
        if let Ok(mut cache) = self.parsed.lock() {
            cache.remove(&id);
        }
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

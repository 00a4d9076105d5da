//! Changing checks: create, update, delete, pause and resume, maintenance
//! windows and incident notes, each audited in the same transaction as its
//! change; and provisioning `[[checks]]` and the self-checks at start.

use super::check::{BUILTIN, Check, Probe};
use super::definition::Definition;
use super::model::Window;
use super::repo::{self, Written};
use super::service::{Actioned, Checks, Loaded, ORIGIN_BUILTIN, ORIGIN_UI, Refusal};
use crate::audit_trail::{Actor, Entry, Outcome as AuditOutcome};
use crate::auth::secrets;
use crate::config::Problem;
use crate::error::AppError;

impl Checks {
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

    pub(super) async fn by_id(&self, id: i64) -> Result<Loaded, AppError> {
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
        self.forget_parsed(id);
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
        let entry = by.entry("check.incident.note", incident.to_string());
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
        let system = Actioned::system();
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
}

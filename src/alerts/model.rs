//! The alert state machine, pure: `(instance, observation, now) → (instance,
//! actions)`. An instance is one rule applied to one subject (a check, a
//! filesystem, an address). It goes inactive → pending (the condition holds,
//! `for` not yet elapsed) → firing → resolved (the condition has been clear
//! for `resolve_after`), and back to inactive.
//!
//! Notifications are decided here too, so their rules are testable without
//! a clock or a network:
//! - one *firing* notification per episode; *reminders* while it goes on, no
//!   closer together than the reminder interval (0 = none);
//! - exactly one *resolved* notification for an episode that was notified;
//! - a silenced (or maintenance) observation changes states as usual but
//!   sends nothing; a firing that was silenced is notified when the silence
//!   ends while it still fires, and one never notified resolves quietly;
//! - flapping is dampened: an instance that started firing `FLAP_FIRINGS`
//!   times within `FLAP_WINDOW_MS` fires quietly until it has been stable
//!   for that window.

use serde::Serialize;

/// Firings within [`FLAP_WINDOW_MS`] that mark an instance as flapping.
pub const FLAP_FIRINGS: usize = 4;
pub const FLAP_WINDOW_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Inactive,
    Pending,
    Firing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Inactive => "inactive",
            Phase::Pending => "pending",
            Phase::Firing => "firing",
        }
    }

    pub fn parse(text: &str) -> Phase {
        match text {
            "pending" => Phase::Pending,
            "firing" => Phase::Firing,
            _ => Phase::Inactive,
        }
    }
}

/// One rule on one subject, as stored between evaluations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub phase: Phase,
    /// When the current phase began.
    pub since_ms: i64,
    /// When the condition was first seen clear while firing.
    pub clear_since_ms: Option<i64>,
    /// When the last firing or reminder notification was sent (this episode).
    pub notified_ms: Option<i64>,
    /// Start times of recent firings, for flap detection (oldest first).
    pub recent_firings: Vec<i64>,
}

impl Instance {
    pub fn new(now_ms: i64) -> Instance {
        Instance {
            phase: Phase::Inactive,
            since_ms: now_ms,
            clear_since_ms: None,
            notified_ms: None,
            recent_firings: Vec::new(),
        }
    }

    pub fn is_flapping(&self) -> bool {
        self.recent_firings.len() >= FLAP_FIRINGS
    }
}

/// What the evaluator saw for one subject now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The rule's condition holds.
    pub active: bool,
    /// A silence or a maintenance window covers it: keep states, send nothing.
    pub silenced: bool,
}

/// A rule's timings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub for_ms: i64,
    pub resolve_after_ms: i64,
    /// 0 = no reminders.
    pub reminder_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    Firing,
    Reminder,
    Resolved,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Firing => "firing",
            Notice::Reminder => "reminder",
            Notice::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A phase change, stored in `alert_events`.
    Transition { from: Phase, to: Phase },
    /// Went to firing quietly because the instance flaps.
    Flapping,
    /// Send this to the rule's channels.
    Notify(Notice),
}

/// One evaluation step. Pure: the same inputs give the same outputs.
pub fn step(
    mut inst: Instance,
    seen: Observation,
    now_ms: i64,
    timing: Timing,
) -> (Instance, Vec<Action>) {
    let mut actions = Vec::new();
    inst.recent_firings
        .retain(|&t| now_ms.saturating_sub(t) < FLAP_WINDOW_MS);
    match (inst.phase, seen.active) {
        (Phase::Inactive, true) => {
            move_to(&mut inst, Phase::Pending, now_ms, &mut actions);
            if timing.for_ms <= 0 {
                fire(&mut inst, seen, now_ms, &mut actions);
            }
        }
        (Phase::Inactive, false) => {}
        (Phase::Pending, true) => {
            if now_ms.saturating_sub(inst.since_ms) >= timing.for_ms {
                fire(&mut inst, seen, now_ms, &mut actions);
            }
        }
        (Phase::Pending, false) => move_to(&mut inst, Phase::Inactive, now_ms, &mut actions),
        (Phase::Firing, true) => {
            inst.clear_since_ms = None;
            remind(&mut inst, seen, now_ms, timing, &mut actions);
        }
        (Phase::Firing, false) => {
            let clear_since = *inst.clear_since_ms.get_or_insert(now_ms);
            if now_ms.saturating_sub(clear_since) >= timing.resolve_after_ms {
                let was_notified = inst.notified_ms.is_some();
                move_to(&mut inst, Phase::Inactive, now_ms, &mut actions);
                if was_notified {
                    actions.push(Action::Notify(Notice::Resolved));
                }
            } else {
                remind(&mut inst, seen, now_ms, timing, &mut actions);
            }
        }
    }
    (inst, actions)
}

fn move_to(inst: &mut Instance, to: Phase, now_ms: i64, actions: &mut Vec<Action>) {
    actions.push(Action::Transition {
        from: inst.phase,
        to,
    });
    inst.phase = to;
    inst.since_ms = now_ms;
    inst.clear_since_ms = None;
    if to != Phase::Firing {
        inst.notified_ms = None;
    }
}

fn fire(inst: &mut Instance, seen: Observation, now_ms: i64, actions: &mut Vec<Action>) {
    let flapping = inst.is_flapping();
    inst.recent_firings.push(now_ms);
    move_to(inst, Phase::Firing, now_ms, actions);
    if flapping {
        actions.push(Action::Flapping);
    } else if !seen.silenced {
        inst.notified_ms = Some(now_ms);
        actions.push(Action::Notify(Notice::Firing));
    }
}

/// While firing: a late first notification (after a silence ended or the
/// flapping calmed down), or a reminder once the interval has passed.
fn remind(
    inst: &mut Instance,
    seen: Observation,
    now_ms: i64,
    timing: Timing,
    actions: &mut Vec<Action>,
) {
    if seen.silenced {
        return;
    }
    match inst.notified_ms {
        None if !inst.is_flapping() => {
            inst.notified_ms = Some(now_ms);
            actions.push(Action::Notify(Notice::Firing));
        }
        Some(last) if timing.reminder_ms > 0 && now_ms - last >= timing.reminder_ms => {
            inst.notified_ms = Some(now_ms);
            actions.push(Action::Notify(Notice::Reminder));
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;

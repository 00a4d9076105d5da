use proptest::prelude::*;

use super::*;

const TIMING: Timing = Timing {
    for_ms: 120_000,
    resolve_after_ms: 60_000,
    reminder_ms: 4 * 3_600_000,
};

/// Runs `seen` (one observation every `every_ms`) through the machine and
/// returns every action with the time it happened.
fn run(seen: &[Observation], every_ms: i64, timing: Timing) -> Vec<(i64, Action)> {
    let mut inst = Instance::new(0);
    let mut out = Vec::new();
    for (i, s) in seen.iter().enumerate() {
        let now = i as i64 * every_ms;
        let (next, actions) = step(inst, *s, now, timing);
        inst = next;
        out.extend(actions.into_iter().map(|a| (now, a)));
    }
    out
}

fn notices(actions: &[(i64, Action)]) -> Vec<(i64, Notice)> {
    actions
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Notify(n) => Some((*t, *n)),
            _ => None,
        })
        .collect()
}

fn transitions(actions: &[(i64, Action)]) -> Vec<(i64, Phase, Phase)> {
    actions
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Transition { from, to } => Some((*t, *from, *to)),
            _ => None,
        })
        .collect()
}

fn seen(active: bool) -> Observation {
    Observation {
        active,
        silenced: false,
    }
}

#[test]
fn a_condition_fires_after_for_and_resolves_after_resolve_after() {
    // 15 s evaluations: 3 min active, then 3 min clear.
    let mut obs = vec![seen(true); 12];
    obs.extend(vec![seen(false); 12]);
    let actions = run(&obs, 15_000, TIMING);
    assert_eq!(
        notices(&actions),
        vec![(120_000, Notice::Firing), (240_000, Notice::Resolved)]
    );
    assert_eq!(
        transitions(&actions),
        vec![
            (0, Phase::Inactive, Phase::Pending),
            (120_000, Phase::Pending, Phase::Firing),
            (240_000, Phase::Firing, Phase::Inactive),
        ]
    );
}

#[test]
fn a_blip_shorter_than_for_never_notifies() {
    let obs = [seen(true), seen(true), seen(false), seen(false)];
    let actions = run(&obs, 15_000, TIMING);
    assert!(notices(&actions).is_empty());
    assert_eq!(transitions(&actions).len(), 2, "pending, then back");
}

#[test]
fn reminders_come_at_the_interval_while_firing() {
    let timing = Timing {
        for_ms: 0,
        resolve_after_ms: 0,
        reminder_ms: 60_000,
    };
    let actions = run(&[seen(true); 10], 15_000, timing);
    let sent: Vec<_> = notices(&actions).into_iter().map(|(t, _)| t).collect();
    assert_eq!(sent, vec![0, 60_000, 120_000]);
}

#[test]
fn a_silenced_firing_is_notified_when_the_silence_ends() {
    let timing = Timing {
        for_ms: 0,
        resolve_after_ms: 0,
        reminder_ms: 0,
    };
    let quiet = Observation {
        active: true,
        silenced: true,
    };
    let actions = run(
        &[quiet, quiet, seen(true), seen(true), seen(false)],
        1,
        timing,
    );
    assert_eq!(
        notices(&actions),
        vec![(2, Notice::Firing), (4, Notice::Resolved)]
    );
}

#[test]
fn flapping_fires_quietly() {
    let timing = Timing {
        for_ms: 0,
        resolve_after_ms: 0,
        reminder_ms: 0,
    };
    let obs: Vec<_> = (0..20).map(|i| seen(i % 2 == 0)).collect();
    let actions = run(&obs, 60_000, timing);
    let firings = notices(&actions)
        .iter()
        .filter(|(_, n)| *n == Notice::Firing)
        .count();
    assert_eq!(firings, FLAP_FIRINGS, "then it flaps and stays quiet");
    assert!(actions.iter().any(|(_, a)| *a == Action::Flapping));
}

fn observations() -> impl Strategy<Value = Vec<Observation>> {
    prop::collection::vec(
        (any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(active, silenced)| Observation { active, silenced }),
        1..300,
    )
}

fn timings() -> impl Strategy<Value = Timing> {
    (0i64..5, 0i64..5, 0i64..8).prop_map(|(f, r, m)| Timing {
        for_ms: f * 15_000,
        resolve_after_ms: r * 15_000,
        reminder_ms: m * 15_000,
    })
}

proptest! {
    /// Within one firing episode, notifications (firing or reminder) are
    /// never closer together than the reminder interval, and without one
    /// there is exactly one per notified episode.
    #[test]
    fn no_second_notification_before_the_reminder_interval(obs in observations(), timing in timings()) {
        let actions = run(&obs, 15_000, timing);
        let mut last: Option<i64> = None;
        for (t, n) in notices(&actions) {
            match n {
                Notice::Firing => {
                    prop_assert!(last.is_none(), "a second firing notice in one episode at {t}");
                    last = Some(t);
                }
                Notice::Reminder => {
                    let prev = last.ok_or_else(|| TestCaseError::fail("reminder before firing"))?;
                    prop_assert!(timing.reminder_ms > 0 && t - prev >= timing.reminder_ms);
                    last = Some(t);
                }
                Notice::Resolved => last = None,
            }
        }
    }

    /// Every notified firing ends with exactly one resolved once the
    /// condition has cleared for `resolve_after` (and nothing unnotified is
    /// ever resolved).
    #[test]
    fn every_notified_firing_resolves_exactly_once(mut obs in observations(), timing in timings()) {
        // Make sure the condition finally clears for long enough.
        obs.extend(vec![seen(false); 6]);
        let actions = run(&obs, 15_000, timing);
        let mut open = false;
        for (_, n) in notices(&actions) {
            match n {
                Notice::Firing => { prop_assert!(!open); open = true; }
                Notice::Reminder => prop_assert!(open),
                Notice::Resolved => { prop_assert!(open, "resolved without a firing"); open = false; }
            }
        }
        prop_assert!(!open, "a notified firing was never resolved");
    }

    /// Silences change what is sent, never the states.
    #[test]
    fn silences_suppress_sends_but_not_transitions(obs in observations(), timing in timings()) {
        let all_silenced: Vec<_> = obs.iter().map(|o| Observation { active: o.active, silenced: true }).collect();
        let unsilenced: Vec<_> = obs.iter().map(|o| Observation { active: o.active, silenced: false }).collect();
        let quiet = run(&all_silenced, 15_000, timing);
        prop_assert!(notices(&quiet).is_empty());
        prop_assert_eq!(transitions(&quiet), transitions(&run(&unsilenced, 15_000, timing)));
        prop_assert_eq!(transitions(&run(&obs, 15_000, timing)), transitions(&quiet));
    }
}

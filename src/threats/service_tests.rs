//! Unit tests of the threats service: every detector at its capacity and
//! one hit below, the bus signals, and the allowlist.

use super::*;
use crate::logwatch::sshd::SshFailureKind;

struct Fixture {
    threats: Threats,
    _dir: tempfile::TempDir,
}

fn threats() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let trail = Trail::load_or_create(dir.path()).unwrap();
    let sealer = Sealer::load_or_create(dir.path()).unwrap();
    let config = ThreatsConfig::default();
    let threats = Threats::new(
        &config,
        store,
        trail,
        Clock::system(),
        sealer,
        Bus::default(),
    );
    Fixture { threats, _dir: dir }
}

fn ip(n: u8) -> IpAddr {
    IpAddr::from([203, 0, 113, n])
}

/// A request that feeds `d` (the n-th of a run, so paths differ).
fn request(d: Detector, n: usize) -> (String, Option<String>, Option<&'static str>, u16, bool) {
    let path = |p: &str| format!("{p}{n}");
    match d {
        Detector::PathProbe => (path("/missing-"), None, None, 404, false),
        Detector::SensitiveFile => (path("/.env"), None, None, 200, false),
        Detector::BadAgent => ("/".into(), None, Some("nikto/2.5"), 200, false),
        Detector::Traversal => (
            "/file".into(),
            Some(path("name=../../etc/passwd&n=")),
            None,
            200,
            false,
        ),
        Detector::AdminPath => (path("/wp-admin/x"), None, None, 403, false),
        Detector::Sqli => (
            "/item".into(),
            Some(path("id=1 union select 1,")),
            None,
            200,
            false,
        ),
        Detector::Xss => ("/q".into(), Some(path("x=<script>")), None, 200, false),
        Detector::HttpBruteforce => ("/login".into(), None, None, 401, true),
        Detector::SshBruteforce => (String::new(), None, None, 0, false),
    }
}

fn feed(t: &Threats, d: Detector, who: IpAddr, n: usize) {
    if d == Detector::SshBruteforce {
        let failure = SshFailure {
            ip: who,
            user: Some(format!("user{n}")),
            kind: SshFailureKind::InvalidUser,
        };
        t.feed_ssh(&failure, "auth-log");
        return;
    }
    let (path, query, ua, status, login) = request(d, n);
    let req = detect::Request {
        method: if login { "POST" } else { "GET" },
        path: &path,
        query: query.as_deref(),
        user_agent: ua,
        status,
        login,
    };
    t.feed_request(who, &req, "http", None);
}

#[tokio::test]
async fn every_detector_bans_at_its_capacity_and_not_one_below() {
    let f = threats();
    let t = &f.threats;
    for (i, d) in Detector::ALL.into_iter().enumerate() {
        let capacity = t.rules[&d].capacity as usize;
        let below = ip(2 * i as u8 + 1);
        let at = ip(2 * i as u8 + 2);
        for n in 0..capacity - 1 {
            feed(t, d, below, n);
        }
        assert!(
            !t.is_banned(below),
            "{} banned one hit below capacity",
            d.name()
        );
        for n in 0..capacity {
            feed(t, d, at, n);
        }
        assert!(
            t.is_banned(at),
            "{} did not ban at capacity {capacity}",
            d.name()
        );
    }
}

#[tokio::test]
async fn brute_force_and_bans_are_signalled_on_the_bus() {
    let f = threats();
    let t = &f.threats;
    let mut rx = t.bus.subscribe();
    for n in 0..5 {
        feed(t, Detector::SshBruteforce, ip(200), n);
    }
    let signal = rx.recv().await.unwrap();
    assert!(
        matches!(
            signal,
            Signal::BruteForce {
                detector: "ssh_bruteforce",
                ..
            }
        ),
        "{signal:?}"
    );
    let mut queue = t.queue.lock().unwrap().take().unwrap();
    let detection = queue.recv().await.unwrap();
    let ban = t.ban_detected(detection).await.unwrap();
    assert_eq!(
        (ban.ip.as_str(), ban.source.as_str()),
        ("203.0.113.200", "auth-log")
    );
    let signal = rx.recv().await.unwrap();
    assert!(
        matches!(signal, Signal::BanCreated { ref ip, .. } if ip == "203.0.113.200"),
        "{signal:?}"
    );
}

#[tokio::test]
async fn allowlisted_senders_feed_nothing() {
    let f = threats();
    let t = &f.threats;
    let loopback = IpAddr::from([127, 0, 0, 1]);
    for n in 0..20 {
        feed(t, Detector::SensitiveFile, loopback, n);
    }
    assert!(!t.is_banned(loopback));
    assert_eq!(t.flush().await.unwrap(), 0, "not even an event");
}

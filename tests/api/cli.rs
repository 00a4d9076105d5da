//! The binary itself: exit codes, first run, signals, healthcheck, backup.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");

fn watchpost(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("WATCHPOST_CONFIG")
        .env("WATCHPOST_SERVER__BIND", "127.0.0.1:0")
        .env("WATCHPOST_LOGGING__STDOUT", "false");
    cmd
}

#[test]
fn an_invalid_configuration_exits_2_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("watchpost.toml"),
        "[server]\nbind = \"0.0.0.0:80x\"\n",
    )
    .unwrap();
    for args in [&["config", "check"][..], &["serve"][..], &[][..]] {
        let out = watchpost(dir.path())
            .env_remove("WATCHPOST_SERVER__BIND")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("server.bind") && stderr.contains("e.g. 127.0.0.1:8080"),
            "{stderr}"
        );
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");

    let ok = watchpost(dir.path())
        .env("WATCHPOST_SERVER__BIND", "127.0.0.1:9")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn config_dump_prints_the_effective_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = watchpost(dir.path())
        .env("WATCHPOST_SERVER__BIND", "127.0.0.1:7777")
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bind = \"127.0.0.1:7777\""), "{text}");
}

#[test]
fn version_and_systemd_unit() {
    let dir = tempfile::tempdir().unwrap();
    let out = watchpost(dir.path()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = watchpost(dir.path()).arg("systemd-unit").output().unwrap();
    let unit = String::from_utf8_lossy(&out.stdout);
    assert!(
        unit.contains("NoNewPrivileges=yes")
            && unit.contains(&format!(
                "ReadWritePaths={}",
                dir.path().join("data").display()
            )),
        "{unit}"
    );
}

/// Starts `watchpost` in `dir`, returns the child and the URL it printed.
fn start(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = watchpost(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}");
    let second = lines.next().unwrap().unwrap();
    assert!(
        second.starts_with("Data directory: ") && second.ends_with("/data"),
        "{second}"
    );
    (child, url)
}

fn wait(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn first_run_creates_private_data_then_sigterm_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(dir.path());
    let data = dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("watchpost.db")) & 0o077, 0);
    assert_eq!(
        mode(&data.join("logs").join("watchpost.log")) & 0o037,
        0,
        "log file 0600/0640"
    );

    let health = watchpost(dir.path())
        .args(["healthcheck", "--url", &format!("{url}/health")])
        .output()
        .unwrap();
    assert_eq!(
        health.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&health.stdout)
    );

    let backup = dir.path().join("backup.db");
    let out = watchpost(dir.path())
        .args(["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("integrity_check: ok"));
    let out = watchpost(dir.path())
        .args(["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "an existing file is never overwritten"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(wait(&mut child), Some(0), "graceful shutdown exits 0");
    assert!(
        !data.join("watchpost.db-wal").exists()
            || std::fs::metadata(data.join("watchpost.db-wal"))
                .unwrap()
                .len()
                == 0,
        "the writer flushed"
    );

    let down = watchpost(dir.path())
        .args(["healthcheck", "--url", &format!("{url}/health")])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "nothing answers any more");
}

#[test]
fn config_check_validates_checks_and_dump_hides_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "[[checks]]\nid = \"web\"\nname = \"Web\"\nkind = \"http\"\nurl = \"ftp://x\"\n\n\
               [[checks]]\nid = \"web\"\nname = \"Again\"\nkind = \"tcp\"\ntarget = \"db:5432\"\n";
    std::fs::write(dir.path().join("watchpost.toml"), bad).unwrap();
    let out = watchpost(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checks[0].url"), "{stderr}");
    assert!(
        stderr.contains("checks[1].id") && stderr.contains("unique"),
        "{stderr}"
    );

    let good = "[[checks]]\nid = \"api\"\nname = \"API\"\nkind = \"http\"\nurl = \"https://api.example.com/\"\n\
                headers = { Authorization = \"Bearer s3cret-value\", Accept = \"application/json\" }\n";
    std::fs::write(dir.path().join("watchpost.toml"), good).unwrap();
    let out = watchpost(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = watchpost(dir.path())
        .args(["config", "dump"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("[[checks]]") && text.contains("application/json"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret-value") && text.contains("[redacted]"),
        "{text}"
    );
}

#[test]
fn demo_mode_makes_public_checks_and_prints_the_viewer_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let banner = |dir: &std::path::Path| {
        let mut child = watchpost(dir)
            .args(["serve", "--demo"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            let done = line.starts_with("Demo mode:");
            seen.push(line);
            if done {
                break;
            }
        }
        (child, seen)
    };
    let (mut child, seen) = banner(dir.path());
    let text = seen.join("\n");
    assert!(
        text.contains("Demo mode: 3 public checks created"),
        "{text}"
    );
    let url = seen[0].rsplit(' ').next().unwrap().to_string();
    let password = seen
        .iter()
        .find_map(|l| l.strip_prefix("Demo viewer: demo@watchpost.local / "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no password line: {text}"))
        .to_string();
    assert!(password.len() >= 20);
    let html = http_get(&url, "/status");
    assert!(
        html.contains("Watchpost health") && html.contains("Status page"),
        "{html}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(wait(&mut child), Some(0));

    let (mut again, seen) = banner(dir.path());
    let text = seen.join("\n");
    assert!(
        text.contains("Demo mode: 0 public checks created"),
        "{text}"
    );
    assert!(
        !text.contains("Demo viewer:"),
        "the password is printed only once: {text}"
    );
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(wait(&mut again), Some(0));
}

/// A plain HTTP/1.0 GET on loopback (these tests have no async runtime).
fn http_get(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn threats_commands_ban_list_extend_and_unban_with_audit_rows() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = watchpost(dir.path()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[
        "threats",
        "ban",
        "198.51.100.0/24",
        "--for",
        "2h",
        "--reason",
        "abuse desk",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("banned 198.51.100.0/24 until "), "{out}");
    let (_, out, _) = run(&["threats", "list"]);
    assert!(
        out.contains("198.51.100.0/24") && out.contains("abuse desk"),
        "{out}"
    );
    let (code, out, _) = run(&["threats", "extend", "198.51.100.0/24", "--by", "1h"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("is banned until"));
    let (code, _, err) = run(&["threats", "ban", "198.51.100.7; reboot"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not an IP address"), "{err}");
    let (code, _, _) = run(&["threats", "unban", "198.51.100.0/24"]);
    assert_eq!(code, Some(0));
    let (code, _, err) = run(&["threats", "unban", "198.51.100.0/24"]);
    assert_eq!(code, Some(1), "nothing left to lift: {err}");
    let (_, out, _) = run(&["threats", "list"]);
    assert!(!out.contains("198.51.100.0/24"), "{out}");

    let conn = rusqlite::Connection::open(dir.path().join("data").join("watchpost.db")).unwrap();
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM audit_trail WHERE actor_kind = 'cli' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actions, ["ip.banned", "ip.ban_extended", "ip.unbanned"]);
}

#[test]
fn config_check_names_every_bad_threats_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("watchpost.toml"),
        r#"
[threats]
allowlist = ["10.0.0.0/33"]
on_ban_command = ["nft", "add"]
[threats.detectors.sqli]
leak = "quickly"
[threats.rate_limits.login]
per_minute = 0
[[threats.log_sources]]
id = "web"
kind = "iis"
path = "/var/log/iis.log"
[[threats.log_sources]]
id = "web"
kind = "nginx"
"#,
    )
    .unwrap();
    let out = watchpost(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "threats.allowlist[0]",
        "threats.on_ban_command",
        "threats.detectors.sqli.leak",
        "threats.rate_limits.login",
        "threats.log_sources[0].kind",
        "threats.log_sources[1].id",
        "threats.log_sources[1].path",
    ] {
        assert!(err.contains(key), "{key} missing from {err}");
    }
    let good = "[[threats.log_sources]]\nid = \"nginx\"\nkind = \"nginx\"\npath = \"/var/log/nginx/*.log\"\n[threats.detectors.path_probe]\ncapacity = 20\n";
    std::fs::write(dir.path().join("watchpost.toml"), good).unwrap();
    let out = watchpost(dir.path())
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        dump.contains("capacity = 20") && dump.contains("/var/log/nginx/*.log"),
        "{dump}"
    );
    assert!(
        dump.contains("[threats.detectors.sqli]"),
        "defaults fill the other detectors"
    );
}

#[test]
fn alerts_list_test_and_silence_from_the_shell() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("watchpost.toml"),
        format!(
            "[[alerts.channels]]\nid = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\n\
             [[alerts.rules]]\nid = \"site-down\"\nkind = \"check_down\"\nchannels = [\"ops\"]\n"
        ),
    )
    .unwrap();
    let got = std::thread::spawn(move || {
        let (mut stream, _) = receiver.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&request).contains("\"url\"") {
            let n = stream.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&request).to_string()
    });
    let run = |args: &[&str]| {
        watchpost(dir.path())
            .arg("alerts")
            .args(args)
            .output()
            .unwrap()
    };

    let list = run(&["list"]);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    for expected in ["site-down", "disk-full", "ops", "http://127.0.0.1", "none"] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(!text.contains("/hook"), "a channel's path is never printed");

    let test = run(&["test", "ops"]);
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stderr)
    );
    let request = got.join().unwrap();
    assert!(request.starts_with("POST /hook"), "{request}");
    assert!(
        request.contains("A test notification from Watchpost"),
        "{request}"
    );
    let missing = run(&["test", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not a channel"));

    let bad = run(&["silence", "--rule", "nope", "--comment", "x"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a rule id"));
    let ok = run(&[
        "silence",
        "--rule",
        "site-down",
        "--minutes",
        "30",
        "--comment",
        "deploying",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("silence #1 until"));
}

#[test]
fn errors_project_add_prints_only_the_dsn() {
    let dir = tempfile::tempdir().unwrap();
    let add = |name: &str| {
        watchpost(dir.path())
            .env(
                "WATCHPOST_SERVER__PUBLIC_URL",
                "https://watchpost.example.com/",
            )
            .args(["errors", "project", "add", name])
            .output()
            .unwrap()
    };
    let out = add("Shop backend");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dsn = String::from_utf8_lossy(&out.stdout).to_string();
    let dsn = dsn.strip_suffix('\n').unwrap();
    assert!(!dsn.contains('\n'), "one line: {dsn:?}");
    let key = dsn
        .strip_prefix("https://")
        .and_then(|rest| rest.strip_suffix("@watchpost.example.com/1"))
        .unwrap_or_else(|| panic!("{dsn}"));
    assert!(
        key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    let again = add("Shop backend");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert!(again.stdout.is_empty());
}

/// `watchpost audit` in `dir` with `config` as watchpost.toml (mode 0600
/// unless changed after), the host's files read under an empty directory.
fn audit(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    watchpost(dir)
        .env("WATCHPOST_AUDIT__HOST_ROOT", dir.join("host"))
        .arg("audit")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn audit_exits_1_only_for_findings_at_or_above_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("host")).unwrap();
    let config = dir.path().join("watchpost.toml");
    let write = |text: &str, mode: u32| {
        std::fs::write(&config, text).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("", 0o600);
    // A first start makes the data directory, its keys and the database.
    let (mut child, _) = start(dir.path());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(wait(&mut child), Some(0));

    let codes = |expect: [i32; 3], why: &str| {
        for (level, code) in ["low", "medium", "high"].into_iter().zip(expect) {
            let out = audit(dir.path(), &["--fail-on", level]);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{why}, --fail-on {level}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    codes([0, 0, 0], "a clean installation");
    let out = audit(dir.path(), &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 high, 0 medium, 0 low"));

    write("", 0o640);
    codes([1, 0, 0], "a group-readable config file is low");
    let out = audit(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "--fail-on defaults to high");
    assert!(String::from_utf8_lossy(&out.stdout).contains("file.config_group_readable"));

    write("[threats.rate_limits.login]\nper_minute = 1000\n", 0o600);
    codes([1, 1, 0], "a loose login rate limit is medium");

    write("[auth]\nrequire_2fa_for_admins = false\n", 0o600);
    codes([1, 1, 1], "admins without required 2FA is high");
    let out = audit(dir.path(), &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "watchpost.audit.v1");
    assert_eq!(report["summary"]["high"], 1);
    assert_eq!(report["findings"][0]["id"], "config.admin_2fa_not_required");
    assert_eq!(
        report["findings"][0]["fix"],
        "[auth] require_2fa_for_admins = true"
    );

    write("[server]\nbind = \"nowhere\"\n", 0o600);
    let out = watchpost(dir.path())
        .env_remove("WATCHPOST_SERVER__BIND")
        .env("WATCHPOST_AUDIT__HOST_ROOT", dir.path().join("host"))
        .arg("audit")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an invalid configuration");
}

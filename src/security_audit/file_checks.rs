//! Checks of the files Watchpost keeps: the data directory, the database
//! and its WAL, every key file in the data directory, the logs, the
//! configuration file and the TLS key. Each must not be writable by group
//! or others, the secret ones not readable by them either, and all must
//! belong to the user Watchpost runs as. Reads metadata only, never contents.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::model::{Category, Collector, Finding, Severity, sub};

/// What a file is, which decides how private it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    DataDir,
    Db,
    Wal,
    Key,
    Log,
    Config,
    TlsKey,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::DataDir => "data_dir",
            Kind::Db => "db",
            Kind::Wal => "wal",
            Kind::Key => "key",
            Kind::Log => "log",
            Kind::Config => "config",
            Kind::TlsKey => "tls_key",
        }
    }

    /// How bad it is when group members or others can read it (`None`:
    /// reading is allowed, as for `0640` logs).
    fn read_severity(self, world: bool) -> Option<Severity> {
        match (self, world) {
            (Kind::Key | Kind::TlsKey | Kind::Db | Kind::Wal, true) => Some(Severity::High),
            (Kind::Key | Kind::TlsKey, false) => Some(Severity::Medium),
            (Kind::Db | Kind::Wal | Kind::DataDir | Kind::Config, false) => Some(Severity::Low),
            (Kind::DataDir | Kind::Config | Kind::Log, true) => Some(Severity::Medium),
            (Kind::Log, false) => None,
        }
    }

    /// One file per kind is named by its kind alone; keys and logs, of which
    /// there may be several, by file name too.
    fn several(self) -> bool {
        matches!(self, Kind::Key | Kind::Log)
    }
}

/// One file to check.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub path: PathBuf,
}

/// Every file the audit looks at, those that exist.
pub fn targets(data_dir: &Path, config_file: Option<&Path>, tls_key: Option<&Path>) -> Vec<Target> {
    let mut out = vec![Target {
        kind: Kind::DataDir,
        path: data_dir.to_path_buf(),
    }];
    let db = data_dir.join(crate::store::DB_FILE);
    out.push(Target {
        kind: Kind::Wal,
        path: PathBuf::from(format!("{}-wal", db.display())),
    });
    out.push(Target {
        kind: Kind::Db,
        path: db,
    });
    let mut keys: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.ends_with(".key") || name == crate::auth::bootstrap::SETUP_TOKEN_FILE
                })
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    out.extend(keys.into_iter().map(|path| Target {
        kind: Kind::Key,
        path,
    }));
    let logs = data_dir.join("logs");
    let mut log_files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    log_files.sort();
    out.extend(log_files.into_iter().map(|path| Target {
        kind: Kind::Log,
        path,
    }));
    if let Some(file) = config_file {
        out.push(Target {
            kind: Kind::Config,
            path: file.to_path_buf(),
        });
    }
    if let Some(key) = tls_key {
        out.push(Target {
            kind: Kind::TlsKey,
            path: key.to_path_buf(),
        });
    }
    out.retain(|t| t.path.exists());
    out
}

/// The effective uid of this process (`/proc/self/status`), or `None`
/// where there is no such file.
pub fn process_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    uid_in_status(&status)
}

fn uid_in_status(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Real, effective, saved, filesystem: the effective one decides.
    line.split_whitespace().nth(2)?.parse().ok()
}

const CHECKS: [&str; 5] = [
    "world_readable",
    "world_writable",
    "group_readable",
    "group_writable",
    "wrong_owner",
];

/// Checks each target's mode and owner against `uid` (the process's).
pub fn check(targets: &[Target], uid: Option<u32>, out: &mut Collector) {
    let before = out.len();
    let mut checked_kinds = Vec::new();
    for t in targets {
        let Ok(meta) = std::fs::metadata(&t.path) else {
            continue;
        };
        if !checked_kinds.contains(&t.kind) {
            checked_kinds.push(t.kind);
        }
        let mode = meta.mode() & 0o7777;
        let shown = t.path.display().to_string();
        let id = |check: &str| {
            let base = format!("file.{}_{check}", t.kind.name());
            if t.kind.several() {
                let name = t
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                sub(&base, name)
            } else {
                base
            }
        };
        let private = if t.kind == Kind::DataDir {
            "700"
        } else {
            "600"
        };
        let evidence = format!("{shown} has mode {mode:04o}, owner uid {}", meta.uid());
        if mode & 0o002 != 0 {
            out.add(Finding::new(
                id("world_writable"),
                Severity::High,
                Category::File,
                format!("Anyone on the host can change {shown}"),
                evidence.clone(),
                format!("chmod {private} {shown}"),
            ));
        }
        if mode & 0o020 != 0 {
            out.add(Finding::new(
                id("group_writable"),
                Severity::Medium,
                Category::File,
                format!("The group of {shown} can change it"),
                evidence.clone(),
                format!("chmod {private} {shown}"),
            ));
        }
        if mode & 0o004 != 0
            && let Some(severity) = t.kind.read_severity(true)
        {
            out.add(Finding::new(
                id("world_readable"),
                severity,
                Category::File,
                format!("Anyone on the host can read {shown}"),
                evidence.clone(),
                format!("chmod {private} {shown}"),
            ));
        }
        if mode & 0o040 != 0
            && let Some(severity) = t.kind.read_severity(false)
        {
            out.add(Finding::new(
                id("group_readable"),
                severity,
                Category::File,
                format!("The group of {shown} can read it"),
                evidence.clone(),
                format!("chmod {private} {shown}"),
            ));
        }
        if let Some(uid) = uid
            && meta.uid() != uid
        {
            out.add(Finding::new(
                id("wrong_owner"),
                Severity::Medium,
                Category::File,
                format!("{shown} belongs to another user than Watchpost's"),
                format!(
                    "{shown} is owned by uid {}; Watchpost runs as uid {uid}",
                    meta.uid()
                ),
                format!("chown {uid} {shown}"),
            ));
        }
    }
    for kind in checked_kinds {
        for check in CHECKS {
            out.pass_if_clean(&format!("file.{}_{check}", kind.name()), before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn run(targets: &[Target], uid: Option<u32>) -> super::super::model::Report {
        let mut out = Collector::default();
        check(targets, uid, &mut out);
        out.into_report(0)
    }

    fn data_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o700);
        for name in [
            "watchpost.db",
            "watchpost.db-wal",
            "trail.key",
            "secret.key",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
            chmod(&dir.path().join(name), 0o600);
        }
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/watchpost.log"), b"x").unwrap();
        chmod(&dir.path().join("logs/watchpost.log"), 0o640);
        dir
    }

    #[test]
    fn private_files_pass_and_every_kind_is_listed() {
        let dir = data_dir();
        let targets = targets(dir.path(), None, None);
        let kinds: Vec<Kind> = targets.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::DataDir,
                Kind::Wal,
                Kind::Db,
                Kind::Key,
                Kind::Key,
                Kind::Log
            ]
        );
        let r = run(&targets, process_uid());
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert!(r.passed.iter().any(|p| p == "file.db_world_readable"));
        assert!(r.passed.iter().any(|p| p == "file.key_wrong_owner"));
    }

    #[test]
    fn loose_modes_are_found_with_the_chmod_that_fixes_them() {
        let dir = data_dir();
        chmod(&dir.path().join("watchpost.db"), 0o644);
        chmod(&dir.path().join("trail.key"), 0o640);
        chmod(&dir.path().join("logs/watchpost.log"), 0o666);
        chmod(dir.path(), 0o755);
        let config = dir.path().join("watchpost.toml");
        std::fs::write(&config, "").unwrap();
        chmod(&config, 0o664);
        let r = run(&targets(dir.path(), Some(&config), None), process_uid());
        let ids: Vec<(&str, Severity)> = r
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.severity))
            .collect();
        assert_eq!(
            ids,
            [
                ("file.db_world_readable", Severity::High),
                ("file.log_world_writable:watchpost.log", Severity::High),
                ("file.config_group_writable", Severity::Medium),
                ("file.config_world_readable", Severity::Medium),
                ("file.data_dir_world_readable", Severity::Medium),
                ("file.key_group_readable:trail.key", Severity::Medium),
                ("file.log_group_writable:watchpost.log", Severity::Medium),
                ("file.log_world_readable:watchpost.log", Severity::Medium),
                ("file.config_group_readable", Severity::Low),
                ("file.data_dir_group_readable", Severity::Low),
                ("file.db_group_readable", Severity::Low),
            ]
        );
        let db = &r.findings[0];
        assert_eq!(
            db.fix,
            format!("chmod 600 {}", dir.path().join("watchpost.db").display())
        );
        assert!(db.evidence.contains("mode 0644"));
        let data = r
            .findings
            .iter()
            .find(|f| f.id == "file.data_dir_world_readable")
            .unwrap();
        assert!(data.fix.starts_with("chmod 700 "));
        assert!(!r.passed.iter().any(|p| p == "file.db_world_readable"));
    }

    #[test]
    fn a_file_of_another_user_is_found() {
        let dir = data_dir();
        let mine = process_uid().unwrap();
        let r = run(&targets(dir.path(), None, None), Some(mine + 1));
        assert!(r.findings.iter().all(|f| f.id.contains("wrong_owner")));
        assert_eq!(r.findings.len(), 6);
        assert!(
            r.findings[0]
                .fix
                .starts_with(&format!("chown {} ", mine + 1))
        );
    }

    #[test]
    fn the_effective_uid_is_read_from_the_status_file() {
        let status = "Name:\twatchpost\nUid:\t1000\t1001\t1000\t1000\nGid:\t1000\n";
        assert_eq!(uid_in_status(status), Some(1001));
        assert_eq!(uid_in_status("Name: x\n"), None);
    }
}

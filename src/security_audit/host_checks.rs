//! Checks of the host (Linux): sshd's root login and password
//! authentication, TCP listeners on every interface, unattended upgrades on
//! Debian and Ubuntu, a pending reboot, and the certificates the health
//! checks watch. Every path read is in [`HostPaths`], so tests point them at
//! fixtures. A file that is absent makes its check not apply (neither found
//! nor passed); the host is only read, never changed.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::model::{Category, Collector, Finding, Severity, sub};

/// Where the host checks read.
#[derive(Debug, Clone)]
pub struct HostPaths {
    pub sshd_config: PathBuf,
    pub proc_tcp: PathBuf,
    pub proc_tcp6: PathBuf,
    pub os_release: PathBuf,
    pub apt_conf_dir: PathBuf,
    pub dpkg_status: PathBuf,
    pub reboot_required: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            sshd_config: "/etc/ssh/sshd_config".into(),
            proc_tcp: "/proc/net/tcp".into(),
            proc_tcp6: "/proc/net/tcp6".into(),
            os_release: "/etc/os-release".into(),
            apt_conf_dir: "/etc/apt/apt.conf.d".into(),
            dpkg_status: "/var/lib/dpkg/status".into(),
            reboot_required: "/var/run/reboot-required".into(),
        }
    }
}

impl HostPaths {
    /// The default paths under `root` (`/`, or a container's `/host`).
    pub fn under(root: &Path) -> HostPaths {
        let d = HostPaths::default();
        let at = |p: PathBuf| root.join(p.strip_prefix("/").unwrap_or(&p));
        HostPaths {
            sshd_config: at(d.sshd_config),
            proc_tcp: at(d.proc_tcp),
            proc_tcp6: at(d.proc_tcp6),
            os_release: at(d.os_release),
            apt_conf_dir: at(d.apt_conf_dir),
            dpkg_status: at(d.dpkg_status),
            reboot_required: at(d.reboot_required),
        }
    }
}

/// A health check's certificate: (slug, name, days left).
pub type CertDays = (String, String, i64);

pub fn check(paths: &HostPaths, certs: &[CertDays], out: &mut Collector) {
    sshd(paths, out);
    listeners(paths, out);
    unattended_upgrades(paths, out);
    reboot(paths, out);
    certificates(certs, out);
}

/// The global settings of an sshd_config: keywords lower-cased, the first
/// value of each kept (as sshd does), comments ignored, `Include` followed
/// (globs, relative to `/etc/ssh`), and the first `Match` block ending the
/// global section.
pub fn sshd_settings(text: &str, base: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut depth = 0;
    read_sshd(text, base, &mut out, &mut depth);
    out
}

/// Returns false once a `Match` line ended the global section.
fn read_sshd(text: &str, base: &Path, out: &mut Vec<(String, String)>, depth: &mut u32) -> bool {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
            Some(at) => (&line[..at], &line[at..]),
            None => (line, ""),
        };
        let keyword = keyword.to_ascii_lowercase();
        let value = rest
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .trim()
            .trim_matches('"')
            .to_string();
        if keyword == "match" {
            return false;
        }
        if keyword == "include" {
            if *depth >= 8 {
                continue;
            }
            *depth += 1;
            for pattern in value.split_whitespace() {
                let pattern = if Path::new(pattern).is_absolute() {
                    PathBuf::from(pattern)
                } else {
                    base.join(pattern)
                };
                let mut files: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
                    .map(|paths| paths.filter_map(Result::ok).collect())
                    .unwrap_or_default();
                files.sort();
                for file in files {
                    if let Ok(inner) = std::fs::read_to_string(&file)
                        && !read_sshd(&inner, base, out, depth)
                    {
                        *depth -= 1;
                        return false;
                    }
                }
            }
            *depth -= 1;
            continue;
        }
        if !out.iter().any(|(k, _)| *k == keyword) {
            out.push((keyword, value));
        }
    }
    true
}

fn sshd(paths: &HostPaths, out: &mut Collector) {
    let Ok(text) = std::fs::read_to_string(&paths.sshd_config) else {
        return;
    };
    let base = paths
        .sshd_config
        .parent()
        .map_or_else(|| PathBuf::from("/etc/ssh"), Path::to_path_buf);
    let settings = sshd_settings(&text, &base);
    let get = |key: &str| {
        settings.iter().find(|(k, _)| k == key).map(|(_, v)| {
            v.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
    };
    let shown = paths.sshd_config.display();
    if get("permitrootlogin").as_deref() == Some("yes") {
        out.add(Finding::new(
            "host.ssh_root_login",
            Severity::High,
            Category::Host,
            "sshd lets root log in with a password",
            format!("{shown}: PermitRootLogin yes"),
            format!(
                "Write PermitRootLogin no (or prohibit-password) in {shown}, then: systemctl reload ssh"
            ),
        ));
    } else {
        out.pass("host.ssh_root_login");
    }
    let password = get("passwordauthentication");
    if password.as_deref().is_none_or(|v| v == "yes") {
        let evidence = match password {
            Some(_) => format!("{shown}: PasswordAuthentication yes"),
            None => {
                format!("{shown} does not set PasswordAuthentication, and sshd's default is yes")
            }
        };
        out.add(Finding::new(
            "host.ssh_password_auth",
            Severity::Medium,
            Category::Host,
            "sshd accepts passwords, which can be guessed",
            evidence,
            format!(
                "Once your key logs in, write PasswordAuthentication no near the top of {shown}, then: systemctl reload ssh"
            ),
        ));
    } else {
        out.pass("host.ssh_password_auth");
    }
}

/// Listening sockets bound to every interface in a `/proc/net/tcp` or
/// `tcp6` table: the ports.
pub fn wildcard_listeners(table: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            if state != "0A" {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            if !addr.chars().all(|c| c == '0') {
                return None;
            }
            u16::from_str_radix(port, 16).ok()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn listeners(paths: &HostPaths, out: &mut Collector) {
    let mut any_table = false;
    let mut found = BTreeSet::new();
    for (path, any) in [
        (&paths.proc_tcp, Ipv4Addr::UNSPECIFIED.to_string()),
        (&paths.proc_tcp6, format!("[{}]", Ipv6Addr::UNSPECIFIED)),
    ] {
        let Ok(table) = std::fs::read_to_string(path) else {
            continue;
        };
        any_table = true;
        for port in wildcard_listeners(&table) {
            found.insert((port, any.clone()));
        }
    }
    if !any_table {
        return;
    }
    if found.is_empty() {
        out.pass("host.listener_all_interfaces");
    }
    for (port, any) in found {
        out.add(Finding::new(
            sub("host.listener_all_interfaces", format!("{any}:{port}")),
            Severity::Low,
            Category::Host,
            format!("TCP port {port} listens on every interface"),
            format!("a listener on {any}:{port} is reachable from every network the host is on; review that it should be"),
            format!(
                "If it need not be public, bind the service to 127.0.0.1 in its configuration, or allow only known peers: ufw allow from 203.0.113.0/24 to any port {port} proto tcp && ufw deny {port}/tcp"
            ),
        ));
    }
}

/// `ID` and `ID_LIKE` of an os-release file say Debian or Ubuntu.
pub fn is_debian_like(os_release: &str) -> bool {
    os_release.lines().any(|line| {
        let Some((key, value)) = line.split_once('=') else {
            return false;
        };
        (key == "ID" || key == "ID_LIKE")
            && value
                .trim_matches('"')
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
    })
}

/// Whether dpkg's status file has `package` installed.
pub fn dpkg_installed(status: &str, package: &str) -> bool {
    status.split("\n\n").any(|stanza| {
        let mut name = false;
        let mut installed = false;
        for line in stanza.lines() {
            if line == format!("Package: {package}") {
                name = true;
            }
            if line == "Status: install ok installed" {
                installed = true;
            }
        }
        name && installed
    })
}

/// Whether a file in apt.conf.d turns the daily unattended upgrade on
/// (`APT::Periodic::Unattended-Upgrade "1";`).
fn upgrades_enabled(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        std::fs::read_to_string(e.path()).is_ok_and(|text| {
            text.lines().any(|line| {
                let line = line.trim();
                !line.starts_with("//")
                    && line.starts_with("APT::Periodic::Unattended-Upgrade")
                    && {
                        let value: String = line["APT::Periodic::Unattended-Upgrade".len()..]
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric())
                            .collect();
                        value != "0" && !value.is_empty()
                    }
            })
        })
    })
}

fn unattended_upgrades(paths: &HostPaths, out: &mut Collector) {
    let Ok(os) = std::fs::read_to_string(&paths.os_release) else {
        return;
    };
    if !is_debian_like(&os) {
        return;
    }
    let installed = std::fs::read_to_string(&paths.dpkg_status)
        .is_ok_and(|s| dpkg_installed(&s, "unattended-upgrades"));
    let enabled = upgrades_enabled(&paths.apt_conf_dir);
    if installed && enabled {
        out.pass("host.unattended_upgrades_missing");
        return;
    }
    let evidence = if installed {
        format!(
            "unattended-upgrades is installed but no file in {} sets APT::Periodic::Unattended-Upgrade \"1\"",
            paths.apt_conf_dir.display()
        )
    } else {
        format!(
            "the package unattended-upgrades is not installed ({})",
            paths.dpkg_status.display()
        )
    };
    out.add(Finding::new(
        "host.unattended_upgrades_missing",
        Severity::Medium,
        Category::Host,
        "Security updates are not installed automatically",
        evidence,
        "apt install unattended-upgrades && dpkg-reconfigure -plow unattended-upgrades",
    ));
}

fn reboot(paths: &HostPaths, out: &mut Collector) {
    if paths.reboot_required.exists() {
        let pkgs = std::fs::read_to_string(format!("{}.pkgs", paths.reboot_required.display()))
            .map(|t| {
                let names: Vec<&str> = t.split_whitespace().take(10).collect();
                names.join(", ")
            })
            .unwrap_or_default();
        let evidence = if pkgs.is_empty() {
            format!("{} exists", paths.reboot_required.display())
        } else {
            format!(
                "{} exists (updated: {pkgs})",
                paths.reboot_required.display()
            )
        };
        out.add(Finding::new(
            "host.reboot_required",
            Severity::Medium,
            Category::Host,
            "Installed updates wait for a reboot",
            evidence,
            "Reboot at a quiet time: systemctl reboot",
        ));
    } else {
        out.pass("host.reboot_required");
    }
}

const CERT_WARN_DAYS: i64 = 14;
const CERT_URGENT_DAYS: i64 = 3;

fn certificates(certs: &[CertDays], out: &mut Collector) {
    let start = out.len();
    for (slug, name, days) in certs {
        if *days >= CERT_WARN_DAYS {
            continue;
        }
        let severity = if *days < CERT_URGENT_DAYS {
            Severity::High
        } else {
            Severity::Medium
        };
        let evidence = if *days < 0 {
            format!(
                "the certificate checked by {name} ({slug}) expired {} days ago",
                -days
            )
        } else {
            format!("the certificate checked by {name} ({slug}) expires in {days} days")
        };
        out.add(Finding::new(
            sub("host.cert_expiring", slug),
            severity,
            Category::Host,
            "A certificate is about to expire",
            evidence,
            "Renew it where it is served (e.g. certbot renew && systemctl reload nginx), then run the check again on /checks",
        ));
    }
    out.pass_if_clean("host.cert_expiring", start);
}

#[cfg(test)]
#[path = "host_checks_tests.rs"]
mod tests;

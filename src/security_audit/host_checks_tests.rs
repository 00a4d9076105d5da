//! Tests of the host checks on fixture files and sample tables.
use super::*;

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 100 0 0 10 0
   2: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
   3: 0A00020F:0016 0A000201:D2F0 01 00000000:00000000 02:000A7B5C 00000000     0        0 4 4 0000000000000000 20 4 30 10 -1
";
const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 6 1 0000000000000000 100 0 0 10 0
";

struct Host {
    dir: tempfile::TempDir,
    paths: HostPaths,
}

/// A host with nothing at any path.
fn host() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let paths = HostPaths {
        sshd_config: at("ssh/sshd_config"),
        proc_tcp: at("tcp"),
        proc_tcp6: at("tcp6"),
        os_release: at("os-release"),
        apt_conf_dir: at("apt.conf.d"),
        dpkg_status: at("status"),
        reboot_required: at("reboot-required"),
    };
    std::fs::create_dir(at("ssh")).unwrap();
    Host { dir, paths }
}

fn run(host: &Host, certs: &[CertDays]) -> super::super::model::Report {
    let mut out = Collector::default();
    check(&host.paths, certs, &mut out);
    out.into_report(0)
}

fn ids(r: &super::super::model::Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn paths_under_a_root_keep_their_layout() {
    let p = HostPaths::under(Path::new("/host"));
    assert_eq!(p.sshd_config, Path::new("/host/etc/ssh/sshd_config"));
    assert_eq!(p.proc_tcp6, Path::new("/host/proc/net/tcp6"));
    assert_eq!(
        HostPaths::under(Path::new("/")).dpkg_status,
        Path::new("/var/lib/dpkg/status")
    );
}

#[test]
fn absent_files_make_host_checks_not_apply() {
    let r = run(&host(), &[]);
    assert!(r.findings.is_empty());
    assert_eq!(r.passed, ["host.cert_expiring", "host.reboot_required"]);
}

#[test]
fn sshd_first_value_wins_keywords_ignore_case_and_match_ends_the_global_part() {
    let text = "# PermitRootLogin yes\n\
                permitrootlogin=no\n\
                PermitRootLogin yes\n\
                PASSWORDAUTHENTICATION  no  # trailing\n\
                Match User deploy\n\
                PasswordAuthentication yes\n";
    let settings = sshd_settings(text, Path::new("/nonexistent"));
    assert_eq!(
        settings,
        [
            ("permitrootlogin".to_string(), "no".to_string()),
            (
                "passwordauthentication".to_string(),
                "no  # trailing".to_string()
            ),
        ]
    );
}

#[test]
fn sshd_root_login_and_passwords_are_found_and_fixed_configs_pass() {
    let h = host();
    std::fs::write(
        &h.paths.sshd_config,
        "Include sshd_config.d/*.conf\nPermitRootLogin no\n",
    )
    .unwrap();
    std::fs::create_dir(h.dir.path().join("ssh/sshd_config.d")).unwrap();
    std::fs::write(
        h.dir.path().join("ssh/sshd_config.d/10-cloud.conf"),
        "PermitRootLogin yes\nPasswordAuthentication yes\n",
    )
    .unwrap();
    let r = run(&h, &[]);
    assert_eq!(ids(&r), ["host.ssh_root_login", "host.ssh_password_auth"]);
    assert!(r.findings[0].evidence.ends_with("PermitRootLogin yes"));

    std::fs::write(&h.paths.sshd_config, "PermitRootLogin prohibit-password\n").unwrap();
    std::fs::remove_dir_all(h.dir.path().join("ssh/sshd_config.d")).unwrap();
    let r = run(&h, &[]);
    assert_eq!(ids(&r), ["host.ssh_password_auth"], "sshd's default is yes");
    assert!(r.findings[0].evidence.contains("default is yes"));

    std::fs::write(
        &h.paths.sshd_config,
        "PermitRootLogin no\nPasswordAuthentication no\n",
    )
    .unwrap();
    let r = run(&h, &[]);
    assert!(r.findings.is_empty());
    assert!(r.passed.iter().any(|p| p == "host.ssh_root_login"));
    assert!(r.passed.iter().any(|p| p == "host.ssh_password_auth"));
}

#[test]
fn listeners_on_every_interface_are_listed_for_review() {
    assert_eq!(wildcard_listeners(TCP), [22, 443]);
    assert_eq!(wildcard_listeners(TCP6), [22]);
    let h = host();
    std::fs::write(&h.paths.proc_tcp, TCP).unwrap();
    std::fs::write(&h.paths.proc_tcp6, TCP6).unwrap();
    let r = run(&h, &[]);
    assert_eq!(
        ids(&r),
        [
            "host.listener_all_interfaces:0.0.0.0:22",
            "host.listener_all_interfaces:0.0.0.0:443",
            "host.listener_all_interfaces:[::]:22",
        ]
    );
    assert!(r.findings.iter().all(|f| f.severity == Severity::Low));
    std::fs::write(&h.paths.proc_tcp, TCP.lines().next().unwrap()).unwrap();
    std::fs::remove_file(&h.paths.proc_tcp6).unwrap();
    let r = run(&h, &[]);
    assert!(r.passed.iter().any(|p| p == "host.listener_all_interfaces"));
}

#[test]
fn unattended_upgrades_are_required_on_debian_only() {
    let h = host();
    std::fs::write(
        &h.paths.os_release,
        "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n",
    )
    .unwrap();
    std::fs::write(
        &h.paths.dpkg_status,
        "Package: openssh-server\nStatus: install ok installed\n\nPackage: unattended-upgrades\nStatus: deinstall ok config-files\n",
    )
    .unwrap();
    let r = run(&h, &[]);
    assert_eq!(ids(&r), ["host.unattended_upgrades_missing"]);
    assert!(r.findings[0].evidence.contains("not installed"));

    std::fs::write(
        &h.paths.dpkg_status,
        "Package: unattended-upgrades\nStatus: install ok installed\nVersion: 2.9\n",
    )
    .unwrap();
    std::fs::create_dir(&h.paths.apt_conf_dir).unwrap();
    std::fs::write(
        h.paths.apt_conf_dir.join("20auto-upgrades"),
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"0\";\n",
    )
    .unwrap();
    let r = run(&h, &[]);
    assert!(r.findings[0].evidence.contains("is installed but"));
    std::fs::write(
        h.paths.apt_conf_dir.join("20auto-upgrades"),
        "APT::Periodic::Unattended-Upgrade \"1\";\n",
    )
    .unwrap();
    assert!(run(&h, &[]).findings.is_empty());

    std::fs::write(&h.paths.os_release, "ID=fedora\n").unwrap();
    std::fs::remove_dir_all(&h.paths.apt_conf_dir).unwrap();
    let r = run(&h, &[]);
    assert!(r.findings.is_empty());
    assert!(
        !r.passed
            .iter()
            .any(|p| p == "host.unattended_upgrades_missing")
    );
}

#[test]
fn a_pending_reboot_is_found() {
    let h = host();
    std::fs::write(
        &h.paths.reboot_required,
        "*** System restart required ***\n",
    )
    .unwrap();
    std::fs::write(
        format!("{}.pkgs", h.paths.reboot_required.display()),
        "linux-image-6.8.0-50-generic\n",
    )
    .unwrap();
    let r = run(&h, &[]);
    assert_eq!(ids(&r), ["host.reboot_required"]);
    assert!(
        r.findings[0]
            .evidence
            .contains("linux-image-6.8.0-50-generic")
    );
}

#[test]
fn certificates_under_14_days_are_found_by_check() {
    let certs = vec![
        ("site".to_string(), "Website".to_string(), 40),
        ("api".to_string(), "API".to_string(), 13),
        ("old".to_string(), "Old".to_string(), -2),
    ];
    let r = run(&host(), &certs);
    assert_eq!(
        ids(&r),
        ["host.cert_expiring:old", "host.cert_expiring:api"]
    );
    assert_eq!(r.findings[0].severity, Severity::High);
    assert!(r.findings[0].evidence.contains("expired 2 days ago"));
    assert_eq!(r.findings[1].severity, Severity::Medium);
    let r = run(&host(), &certs[..1]);
    assert!(r.passed.iter().any(|p| p == "host.cert_expiring"));
}

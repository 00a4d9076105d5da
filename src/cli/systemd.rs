//! The text of a hardened systemd unit: the service can write only its data
//! directory, sees no home directories or private /tmp of others, gains no
//! privileges, and restarts on failure.

use std::path::Path;

pub fn unit(exe: &Path, config: Option<&Path>, data_dir: &Path, port: u16) -> String {
    let config_arg = config
        .map(|c| format!(" --config {}", c.display()))
        .unwrap_or_default();
    let bind_capability = if port < 1024 {
        "AmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"
    } else {
        "CapabilityBoundingSet=\n"
    };
    format!(
        "# Save as /etc/systemd/system/watchpost.service, then:
#   useradd --system --home {data} --shell /usr/sbin/nologin watchpost
#   install -d -o watchpost -g watchpost -m 0700 {data}
#   systemctl daemon-reload && systemctl enable --now watchpost
[Unit]
Description=Watchpost server monitor
Documentation=https://github.com/watchpost/watchpost
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=watchpost
Group=watchpost
ExecStart={exe} serve{config_arg}
WorkingDirectory={data}
Restart=on-failure
RestartSec=5s
TimeoutStopSec=20s
UMask=0077

NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={data}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
{bind_capability}
[Install]
WantedBy=multi-user.target
",
        exe = exe.display(),
        data = data_dir.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_is_hardened_and_writes_only_the_data_dir() {
        let text = unit(
            Path::new("/usr/bin/watchpost"),
            Some(Path::new("/etc/watchpost.toml")),
            Path::new("/var/lib/watchpost"),
            8080,
        );
        for line in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/watchpost",
            "PrivateTmp=yes",
            "ProtectHome=yes",
            "Restart=on-failure",
            "ExecStart=/usr/bin/watchpost serve --config /etc/watchpost.toml",
            "CapabilityBoundingSet=\n",
        ] {
            assert!(text.contains(line), "missing {line:?}");
        }
        let low = unit(Path::new("/w"), None, Path::new("/d"), 443);
        assert!(low.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
    }
}

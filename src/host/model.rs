//! The shape of what the collector measures: a [`Metric`] (its series name,
//! unit, chart family, human label and Prometheus name; the list is in
//! `catalogue.rs`) and its chart [`Family`]. A [`Reading`] is one
//! measured value of one metric (for one core, mount or interface); a
//! [`Snapshot`] is everything one sample measured. Pure: no I/O.

use serde::{Deserialize, Serialize};

use crate::series::{Sample, Unit};

/// Which chart a metric is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Cpu,
    Load,
    Memory,
    Swap,
    Filesystems,
    DiskIo,
    Network,
    NetworkErrors,
    Processes,
    Temperature,
    Uptime,
    OwnMemory,
    OwnCpu,
    OwnFiles,
    OwnStorage,
    OwnQueue,
}

impl Family {
    pub const ALL: [Family; 16] = [
        Family::Cpu,
        Family::Load,
        Family::Memory,
        Family::Swap,
        Family::Filesystems,
        Family::DiskIo,
        Family::Network,
        Family::NetworkErrors,
        Family::Processes,
        Family::Temperature,
        Family::Uptime,
        Family::OwnMemory,
        Family::OwnCpu,
        Family::OwnFiles,
        Family::OwnStorage,
        Family::OwnQueue,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Family::Cpu => "CPU",
            Family::Load => "Load average",
            Family::Memory => "Memory",
            Family::Swap => "Swap",
            Family::Filesystems => "Filesystems, used",
            Family::DiskIo => "Disk I/O",
            Family::Network => "Network traffic",
            Family::NetworkErrors => "Network errors",
            Family::Processes => "Processes",
            Family::Temperature => "Temperatures",
            Family::Uptime => "Uptime",
            Family::OwnMemory => "Watchpost memory (RSS)",
            Family::OwnCpu => "Watchpost CPU",
            Family::OwnFiles => "Watchpost open files",
            Family::OwnStorage => "Watchpost database",
            Family::OwnQueue => "Watchpost writer queue",
        }
    }

    /// The anchor of its chart on the host page.
    pub fn slug(self) -> &'static str {
        match self {
            Family::Cpu => "cpu",
            Family::Load => "load",
            Family::Memory => "memory",
            Family::Swap => "swap",
            Family::Filesystems => "filesystems",
            Family::DiskIo => "disk-io",
            Family::Network => "network",
            Family::NetworkErrors => "network-errors",
            Family::Processes => "processes",
            Family::Temperature => "temperature",
            Family::Uptime => "uptime",
            Family::OwnMemory => "own-memory",
            Family::OwnCpu => "own-cpu",
            Family::OwnFiles => "own-files",
            Family::OwnStorage => "own-storage",
            Family::OwnQueue => "own-queue",
        }
    }
}

/// One metric of the catalogue.
#[derive(Debug, PartialEq)]
pub struct Metric {
    /// The series name, or its prefix when the metric has a label
    /// (`host.cpu.core` → `host.cpu.core.0`).
    pub series: &'static str,
    pub family: Family,
    pub unit: Unit,
    /// The human label; `{}` stands for the core, mount or interface.
    pub text: &'static str,
    /// The Prometheus gauge and its label name, when `/metrics` shows it.
    pub prometheus: Option<(&'static str, Option<&'static str>)>,
    pub help: &'static str,
}

impl Metric {
    /// The catalogue entry a stored series belongs to.
    pub fn of_series(name: &str) -> Option<&'static Metric> {
        super::catalogue::ALL.iter().copied().find(|m| {
            name == m.series
                || name
                    .strip_prefix(m.series)
                    .is_some_and(|rest| rest.starts_with('.') && !rest[1..].contains('.'))
        })
    }
}

/// One measured value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub metric: &'static Metric,
    /// The core, mount point, interface or sensor, for labelled metrics.
    pub label: Option<String>,
    pub value: f64,
}

impl Reading {
    pub fn new(metric: &'static Metric, value: f64) -> Reading {
        Reading {
            metric,
            label: None,
            value,
        }
    }

    pub fn labelled(metric: &'static Metric, label: impl Into<String>, value: f64) -> Reading {
        Reading {
            metric,
            label: Some(label.into()),
            value,
        }
    }

    pub fn series_name(&self) -> String {
        match &self.label {
            Some(label) => format!("{}.{}", self.metric.series, series_part(label)),
            None => self.metric.series.to_string(),
        }
    }

    pub fn sample(&self) -> Sample {
        let text = match &self.label {
            Some(label) => self.metric.text.replace("{}", label),
            None => self.metric.text.to_string(),
        };
        Sample {
            name: self.series_name(),
            unit: self.metric.unit,
            label: text,
            value: self.value,
        }
    }
}

/// A label as one dot-free, URL-safe part of a series name: `/` is `root`,
/// `/var/lib` is `var_lib`, anything outside `[a-z0-9_-]` becomes `_`.
pub fn series_part(label: &str) -> String {
    let trimmed = label.trim_matches('/');
    if trimmed.is_empty() {
        return "root".to_string();
    }
    trimmed
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '_',
        })
        .collect()
}

/// One process of a top-5 list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopProcess {
    pub pid: u32,
    pub name: String,
    pub user: String,
    /// CPU percent of one core, or resident bytes.
    pub value: f64,
}

/// The busiest processes at one sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopProcesses {
    pub by_cpu: Vec<TopProcess>,
    pub by_memory: Vec<TopProcess>,
}

/// Everything one sample measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Unix seconds.
    pub ts: i64,
    pub readings: Vec<Reading>,
    pub top: TopProcesses,
    /// CPU time this process has used, for `process_cpu_seconds_total`.
    pub own_cpu_seconds: f64,
}

impl Snapshot {
    pub fn value(&self, metric: &Metric) -> Option<f64> {
        self.readings
            .iter()
            .find(|r| r.metric.series == metric.series && r.label.is_none())
            .map(|r| r.value)
    }

    pub fn labelled<'a>(&'a self, metric: &'a Metric) -> impl Iterator<Item = &'a Reading> {
        self.readings
            .iter()
            .filter(move |r| r.metric.series == metric.series)
    }
}

/// Filesystem types that are not storage people fill up.
const PSEUDO_FILESYSTEMS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "overlay",
    "overlayfs",
    "proc",
    "sysfs",
    "squashfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "fusectl",
    "configfs",
    "hugetlbfs",
    "ramfs",
    "nsfs",
    "efivarfs",
    "binfmt_misc",
    "rpc_pipefs",
    "fuse.lxcfs",
    "fuse.portal",
    "iso9660",
    "nfsd",
    "selinuxfs",
    "zram",
];

/// Whether a mounted filesystem is watched: listed in `include`, or of a
/// real type and not listed in `exclude`.
pub fn watch_filesystem(
    mount: &str,
    fs_type: &str,
    include: &[String],
    exclude: &[String],
) -> bool {
    if exclude.iter().any(|m| m == mount) {
        return false;
    }
    if include.iter().any(|m| m == mount) {
        return true;
    }
    include.is_empty() && !PSEUDO_FILESYSTEMS.contains(&fs_type)
}

/// Whether a network interface is watched: never `lo`; listed in `include`
/// when that list is given; not listed in `exclude`.
pub fn watch_interface(name: &str, include: &[String], exclude: &[String]) -> bool {
    name != "lo"
        && !exclude.iter().any(|n| n == name)
        && (include.is_empty() || include.iter().any(|n| n == name))
}

/// A per-second rate from a count over `seconds`.
pub fn rate(count: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return 0.0;
    }
    count as f64 / seconds
}

#[cfg(test)]
mod tests {
    use super::super::catalogue::*;
    use super::*;

    #[test]
    fn series_names_are_one_safe_part_per_label() {
        assert_eq!(series_part("/"), "root");
        assert_eq!(series_part("/var/lib"), "var_lib");
        assert_eq!(series_part("Core 0 (Tctl)"), "core_0__tctl_");
        let r = Reading::labelled(&FS_USED, "/home", 1.0);
        assert_eq!(r.series_name(), "host.fs.used.home");
        assert_eq!(r.sample().label, "Used on /home");
        assert_eq!(Reading::new(&LOAD_1, 0.5).series_name(), "host.load.1");
    }

    #[test]
    fn a_series_finds_its_metric() {
        assert_eq!(Metric::of_series("host.fs.used.home"), Some(&FS_USED));
        assert_eq!(Metric::of_series("host.load.15"), Some(&LOAD_15));
        assert_eq!(Metric::of_series("host.cpu.total"), Some(&CPU_TOTAL));
        assert_eq!(Metric::of_series("host.cpu.core.3"), Some(&CPU_CORE));
        assert_eq!(Metric::of_series("checks.latency.web"), None);
    }

    #[test]
    fn every_series_name_is_unique_in_the_catalogue() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.series).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn pseudo_filesystems_are_skipped_unless_included() {
        let none: &[String] = &[];
        assert!(watch_filesystem("/", "ext4", none, none));
        assert!(!watch_filesystem("/run", "tmpfs", none, none));
        assert!(!watch_filesystem("/", "overlay", none, none));
        assert!(watch_filesystem("/", "overlay", &["/".into()], none));
        assert!(!watch_filesystem("/boot", "ext4", none, &["/boot".into()]));
        assert!(!watch_filesystem("/data", "xfs", &["/".into()], none));
    }

    #[test]
    fn loopback_is_never_watched() {
        let none: &[String] = &[];
        assert!(!watch_interface("lo", &["lo".into()], none));
        assert!(watch_interface("eth0", none, none));
        assert!(!watch_interface("docker0", none, &["docker0".into()]));
        assert!(!watch_interface("eth1", &["eth0".into()], none));
    }

    #[test]
    fn rates_are_per_second() {
        assert_eq!(rate(1000, 10.0), 100.0);
        assert_eq!(rate(5, 0.0), 0.0);
    }
}

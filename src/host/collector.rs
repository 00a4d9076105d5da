//! Reads the host with one long-lived `sysinfo` state: CPU (total and per
//! core), load, memory, swap, filesystems, disk and network rates, process
//! count, uptime, temperatures, the top processes, and this process's own
//! memory, CPU, open files and database files. Rates and CPU use are over
//! the time since the previous sample, so the first sample has no rates.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use sysinfo::{
    Components, CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Pid,
    ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users,
};

use super::catalogue::*;
use super::config::CollectorConfig;
use super::model::{
    Reading, Snapshot, TopProcess, TopProcesses, rate, watch_filesystem, watch_interface,
};

/// Processes kept per top list.
const TOP: usize = 5;
/// Samples between refreshes of the user-name list.
const USERS_EVERY: u32 = 360;

pub struct Collector {
    system: System,
    disks: Disks,
    networks: Networks,
    components: Components,
    users: Users,
    user_names: HashMap<u32, String>,
    samples: u32,
    previous: Option<Instant>,
    own_pid: Option<Pid>,
    db_path: PathBuf,
    config: CollectorConfig,
}

/// What the store reports of itself at sampling time.
pub struct StoreFigures {
    pub queue_depth: usize,
}

impl Collector {
    pub fn new(config: CollectorConfig, db_path: PathBuf) -> anyhow::Result<Collector> {
        let mut system = System::new()?;
        system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        Ok(Collector {
            system,
            disks: Disks::new_with_refreshed_list_specifics(disk_kind())?,
            networks: Networks::new_with_refreshed_list()?,
            components: Components::new_with_refreshed_list()?,
            users: Users::new_with_refreshed_list()?,
            user_names: HashMap::new(),
            samples: 0,
            previous: None,
            own_pid: sysinfo::get_current_pid().ok(),
            db_path,
            config,
        })
    }

    /// Takes one sample at `ts` (Unix seconds).
    pub fn sample(&mut self, ts: i64, store: StoreFigures) -> Snapshot {
        let now = Instant::now();
        let elapsed = self.previous.map(|p| now.duration_since(p).as_secs_f64());
        self.previous = Some(now);
        if self.samples.is_multiple_of(USERS_EVERY) {
            self.users.refresh();
            self.user_names = self
                .users
                .iter()
                .map(|u| (**u.id(), u.name().to_string()))
                .collect();
        }
        self.samples = self.samples.wrapping_add(1);

        let mut readings = Vec::with_capacity(48);
        self.cpu(&mut readings, elapsed.is_some());
        self.memory(&mut readings);
        self.filesystems(&mut readings, elapsed);
        self.network(&mut readings, elapsed);
        self.temperatures(&mut readings);
        if let Ok(uptime) = System::uptime() {
            readings.push(Reading::new(&UPTIME, uptime as f64));
        }
        let (top, own_cpu_seconds) = self.processes(&mut readings, elapsed.is_some());
        self.own_files(&mut readings, &store);
        Snapshot {
            ts,
            readings,
            top,
            own_cpu_seconds,
        }
    }

    fn cpu(&mut self, out: &mut Vec<Reading>, has_previous: bool) {
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        if has_previous {
            out.push(Reading::new(
                &CPU_TOTAL,
                f64::from(self.system.global_cpu_usage()),
            ));
            for (i, cpu) in self.system.cpus().iter().enumerate() {
                out.push(Reading::labelled(
                    &CPU_CORE,
                    i.to_string(),
                    f64::from(cpu.usage()),
                ));
            }
        }
        if let Ok(load) = System::load_average() {
            out.push(Reading::new(&LOAD_1, load.one));
            out.push(Reading::new(&LOAD_5, load.five));
            out.push(Reading::new(&LOAD_15, load.fifteen));
        }
    }

    fn memory(&mut self, out: &mut Vec<Reading>) {
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::everything());
        let s = &self.system;
        out.push(Reading::new(&MEMORY_USED, s.used_memory() as f64));
        out.push(Reading::new(&MEMORY_AVAILABLE, s.available_memory() as f64));
        out.push(Reading::new(&MEMORY_TOTAL, s.total_memory() as f64));
        out.push(Reading::new(&SWAP_USED, s.used_swap() as f64));
        out.push(Reading::new(&SWAP_TOTAL, s.total_swap() as f64));
    }

    fn filesystems(&mut self, out: &mut Vec<Reading>, elapsed: Option<f64>) {
        self.disks.refresh_specifics(true, disk_kind());
        let (include, exclude) = (
            &self.config.filesystems_include,
            &self.config.filesystems_exclude,
        );
        let mut devices = HashSet::new();
        let (mut read, mut written) = (0u64, 0u64);
        for disk in self.disks.iter() {
            let mount = disk.mount_point().to_string_lossy();
            let fs_type = disk.file_system().to_string_lossy();
            if !watch_filesystem(&mount, &fs_type, include, exclude) {
                continue;
            }
            // A device mounted twice (bind mounts) counts once.
            if !devices.insert(disk.name().to_os_string()) {
                continue;
            }
            let total = disk.total_space();
            let used = total.saturating_sub(disk.available_space());
            out.push(Reading::labelled(&FS_USED, mount.as_ref(), used as f64));
            out.push(Reading::labelled(&FS_TOTAL, mount.as_ref(), total as f64));
            let usage = disk.usage();
            read += usage.read_bytes;
            written += usage.written_bytes;
        }
        if let Some(seconds) = elapsed {
            out.push(Reading::new(&DISK_READ, rate(read, seconds)));
            out.push(Reading::new(&DISK_WRITE, rate(written, seconds)));
        }
    }

    fn network(&mut self, out: &mut Vec<Reading>, elapsed: Option<f64>) {
        self.networks.refresh(true);
        let Some(seconds) = elapsed else {
            return;
        };
        let (include, exclude) = (
            &self.config.interfaces_include,
            &self.config.interfaces_exclude,
        );
        let mut interfaces: Vec<(String, &sysinfo::NetworkData)> = self
            .networks
            .iter()
            .map(|(name, data)| (name.to_string_lossy().into_owned(), data))
            .filter(|(name, _)| watch_interface(name, include, exclude))
            .collect();
        interfaces.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, data) in interfaces {
            let rx_errors = rate(data.errors_on_received(), seconds);
            let tx_errors = rate(data.errors_on_transmitted(), seconds);
            out.push(Reading::labelled(
                &NET_RX,
                name.as_str(),
                rate(data.received(), seconds),
            ));
            out.push(Reading::labelled(
                &NET_TX,
                name.as_str(),
                rate(data.transmitted(), seconds),
            ));
            out.push(Reading::labelled(&NET_RX_ERRORS, name.as_str(), rx_errors));
            out.push(Reading::labelled(&NET_TX_ERRORS, name.as_str(), tx_errors));
        }
    }

    fn temperatures(&mut self, out: &mut Vec<Reading>) {
        self.components.refresh(true);
        for component in self.components.iter() {
            if let Some(t) = component.temperature().filter(|t| t.is_finite()) {
                out.push(Reading::labelled(
                    &TEMPERATURE,
                    component.label(),
                    f64::from(t),
                ));
            }
        }
    }

    /// The process count, the top lists, and this process's own figures.
    fn processes(&mut self, out: &mut Vec<Reading>, has_previous: bool) -> (TopProcesses, f64) {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_user(UpdateKind::OnlyIfNotSet),
        );
        let processes = self.system.processes();
        // Threads are listed as processes on Linux; count and rank processes only.
        let mut all: Vec<_> = processes
            .values()
            .filter(|p| p.thread_kind().is_none())
            .collect();
        out.push(Reading::new(&PROCESSES, all.len() as f64));
        let user_of = |p: &sysinfo::Process| {
            p.user_id()
                .and_then(|uid| self.user_names.get(&**uid).cloned())
                .or_else(|| p.user_id().map(|uid| (**uid).to_string()))
                .unwrap_or_default()
        };
        let entry = |p: &sysinfo::Process, value: f64| TopProcess {
            pid: p.pid().as_u32(),
            name: p.name().to_string_lossy().into_owned(),
            user: user_of(p),
            value,
        };
        let mut top = TopProcesses::default();
        if has_previous {
            all.sort_by(|a, b| b.cpu_usage().total_cmp(&a.cpu_usage()));
            top.by_cpu = all
                .iter()
                .take(TOP)
                .map(|p| entry(p, f64::from(p.cpu_usage())))
                .collect();
        }
        all.sort_by_key(|p| std::cmp::Reverse(p.memory()));
        top.by_memory = all
            .iter()
            .take(TOP)
            .map(|p| entry(p, p.memory() as f64))
            .collect();
        let own = self.own_pid.and_then(|pid| processes.get(&pid));
        let mut own_cpu_seconds = 0.0;
        if let Some(own) = own {
            out.push(Reading::new(&OWN_RSS, own.memory() as f64));
            if has_previous {
                out.push(Reading::new(&OWN_CPU, f64::from(own.cpu_usage())));
            }
            own_cpu_seconds = own.accumulated_cpu_time() as f64 / 1000.0;
        }
        (top, own_cpu_seconds)
    }

    fn own_files(&self, out: &mut Vec<Reading>, store: &StoreFigures) {
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            out.push(Reading::new(&OWN_FDS, entries.count() as f64));
        }
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        out.push(Reading::new(&OWN_DB, size(&self.db_path) as f64));
        let mut wal = self.db_path.clone().into_os_string();
        wal.push("-wal");
        out.push(Reading::new(
            &OWN_WAL,
            size(std::path::Path::new(&wal)) as f64,
        ));
        out.push(Reading::new(&OWN_QUEUE, store.queue_depth as f64));
    }
}

fn disk_kind() -> DiskRefreshKind {
    DiskRefreshKind::nothing().with_storage().with_io_usage()
}

//! The catalogue of what the collector measures: each metric's series name,
//! chart family, unit, human label and Prometheus name, in chart order.

use super::model::{Family, Metric};
use crate::series::Unit;

macro_rules! metric {
    ($name:ident, $series:literal, $family:ident, $unit:ident, $text:literal, $prom:expr, $help:literal) => {
        pub const $name: Metric = Metric {
            series: $series,
            family: Family::$family,
            unit: Unit::$unit,
            text: $text,
            prometheus: $prom,
            help: $help,
        };
    };
}

metric!(
    CPU_TOTAL,
    "host.cpu.total",
    Cpu,
    Percent,
    "All cores",
    Some(("watchpost_host_cpu_usage_percent", None)),
    "CPU use of all cores, 0-100"
);
metric!(
    CPU_CORE,
    "host.cpu.core",
    Cpu,
    Percent,
    "Core {}",
    Some(("watchpost_host_cpu_core_usage_percent", Some("core"))),
    "CPU use of one core, 0-100"
);
metric!(
    LOAD_1,
    "host.load.1",
    Load,
    Count,
    "1 minute",
    Some(("watchpost_host_load1", None)),
    "Load average over 1 minute"
);
metric!(
    LOAD_5,
    "host.load.5",
    Load,
    Count,
    "5 minutes",
    Some(("watchpost_host_load5", None)),
    "Load average over 5 minutes"
);
metric!(
    LOAD_15,
    "host.load.15",
    Load,
    Count,
    "15 minutes",
    Some(("watchpost_host_load15", None)),
    "Load average over 15 minutes"
);
metric!(
    MEMORY_USED,
    "host.memory.used",
    Memory,
    Bytes,
    "Used",
    Some(("watchpost_host_memory_used_bytes", None)),
    "Memory in use"
);
metric!(
    MEMORY_AVAILABLE,
    "host.memory.available",
    Memory,
    Bytes,
    "Available",
    Some(("watchpost_host_memory_available_bytes", None)),
    "Memory available for new work"
);
metric!(
    MEMORY_TOTAL,
    "host.memory.total",
    Memory,
    Bytes,
    "Total",
    Some(("watchpost_host_memory_total_bytes", None)),
    "Memory installed"
);
metric!(
    SWAP_USED,
    "host.swap.used",
    Swap,
    Bytes,
    "Used",
    Some(("watchpost_host_swap_used_bytes", None)),
    "Swap in use"
);
metric!(
    SWAP_TOTAL,
    "host.swap.total",
    Swap,
    Bytes,
    "Total",
    Some(("watchpost_host_swap_total_bytes", None)),
    "Swap configured"
);
metric!(
    FS_USED,
    "host.fs.used",
    Filesystems,
    Bytes,
    "Used on {}",
    Some(("watchpost_host_filesystem_used_bytes", Some("mount"))),
    "Space used on a filesystem"
);
metric!(
    FS_TOTAL,
    "host.fs.total",
    Filesystems,
    Bytes,
    "Size of {}",
    Some(("watchpost_host_filesystem_size_bytes", Some("mount"))),
    "Size of a filesystem"
);
metric!(
    DISK_READ,
    "host.disk.read",
    DiskIo,
    BytesPerSecond,
    "Read",
    Some(("watchpost_host_disk_read_bytes_per_second", None)),
    "Bytes read from disks per second"
);
metric!(
    DISK_WRITE,
    "host.disk.write",
    DiskIo,
    BytesPerSecond,
    "Written",
    Some(("watchpost_host_disk_written_bytes_per_second", None)),
    "Bytes written to disks per second"
);
metric!(
    NET_RX,
    "host.net.rx",
    Network,
    BytesPerSecond,
    "{} in",
    Some((
        "watchpost_host_network_receive_bytes_per_second",
        Some("interface")
    )),
    "Bytes received per second"
);
metric!(
    NET_TX,
    "host.net.tx",
    Network,
    BytesPerSecond,
    "{} out",
    Some((
        "watchpost_host_network_transmit_bytes_per_second",
        Some("interface")
    )),
    "Bytes sent per second"
);
metric!(
    NET_RX_ERRORS,
    "host.net.rx_errors",
    NetworkErrors,
    PerSecond,
    "{} in",
    Some((
        "watchpost_host_network_receive_errors_per_second",
        Some("interface")
    )),
    "Receive errors per second"
);
metric!(
    NET_TX_ERRORS,
    "host.net.tx_errors",
    NetworkErrors,
    PerSecond,
    "{} out",
    Some((
        "watchpost_host_network_transmit_errors_per_second",
        Some("interface")
    )),
    "Transmit errors per second"
);
metric!(
    PROCESSES,
    "host.processes",
    Processes,
    Count,
    "Processes",
    Some(("watchpost_host_processes", None)),
    "Processes running"
);
metric!(
    TEMPERATURE,
    "host.temperature",
    Temperature,
    Celsius,
    "{}",
    Some(("watchpost_host_temperature_celsius", Some("sensor"))),
    "Sensor temperature"
);
metric!(
    UPTIME,
    "host.uptime",
    Uptime,
    Seconds,
    "Uptime",
    Some(("watchpost_host_uptime_seconds", None)),
    "Time since the host booted"
);
metric!(
    OWN_RSS,
    "watchpost.rss",
    OwnMemory,
    Bytes,
    "Resident memory",
    Some(("process_resident_memory_bytes", None)),
    "Resident memory of this Watchpost"
);
metric!(
    OWN_CPU,
    "watchpost.cpu",
    OwnCpu,
    Percent,
    "CPU (of one core)",
    Some(("watchpost_process_cpu_percent", None)),
    "CPU use of this Watchpost, percent of one core"
);
metric!(
    OWN_FDS,
    "watchpost.fds",
    OwnFiles,
    Count,
    "Open file descriptors",
    Some(("process_open_fds", None)),
    "Open file descriptors of this Watchpost"
);
metric!(
    OWN_DB,
    "watchpost.db_size",
    OwnStorage,
    Bytes,
    "Database file",
    None,
    "Size of the database file"
);
metric!(
    OWN_WAL,
    "watchpost.wal_size",
    OwnStorage,
    Bytes,
    "Write-ahead log",
    None,
    "Size of the write-ahead log"
);
metric!(
    OWN_QUEUE,
    "watchpost.writer_queue",
    OwnQueue,
    Count,
    "Jobs waiting",
    None,
    "Jobs waiting for the database writer"
);

/// Every metric, in chart order.
pub const ALL: &[&Metric] = &[
    &CPU_TOTAL,
    &CPU_CORE,
    &LOAD_1,
    &LOAD_5,
    &LOAD_15,
    &MEMORY_USED,
    &MEMORY_AVAILABLE,
    &MEMORY_TOTAL,
    &SWAP_USED,
    &SWAP_TOTAL,
    &FS_USED,
    &FS_TOTAL,
    &DISK_READ,
    &DISK_WRITE,
    &NET_RX,
    &NET_TX,
    &NET_RX_ERRORS,
    &NET_TX_ERRORS,
    &PROCESSES,
    &TEMPERATURE,
    &UPTIME,
    &OWN_RSS,
    &OWN_CPU,
    &OWN_FDS,
    &OWN_DB,
    &OWN_WAL,
    &OWN_QUEUE,
];

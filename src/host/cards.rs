//! The overview's host cards: CPU, memory, the fullest filesystem, load and
//! network, each with its current value and a sparkline of the last hour.

use std::sync::Arc;

use super::Host;
use super::catalogue::*;
use super::model::{Reading, Snapshot};
use crate::series::{self, Unit};
use crate::store::Store;
use crate::web::chart::sparkline;
use crate::web::units::format;
use crate::web::{Card, CardSource};

const SPARK_RANGE: i64 = 3600;
const SPARK_POINTS: usize = 60;

pub fn card_source(host: Arc<Host>, store: Store) -> CardSource {
    Arc::new(move || {
        let (host, store) = (host.clone(), store.clone());
        Box::pin(async move {
            let Some(snapshot) = host.latest() else {
                return Vec::new();
            };
            let plans = plan(&snapshot);
            let names: Vec<String> = plans.iter().map(|p| p.series.clone()).collect();
            let to = snapshot.ts;
            let lines = store
                .read(move |conn| {
                    names
                        .iter()
                        .map(|n| series::answer(conn, n, to - SPARK_RANGE, to, SPARK_POINTS))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await
                .unwrap_or_default();
            plans
                .into_iter()
                .enumerate()
                .map(|(i, p)| Card {
                    title: p.title.to_string(),
                    value: p.value,
                    detail: p.detail,
                    sparkline: lines
                        .get(i)
                        .and_then(Option::as_ref)
                        .map(|a| sparkline(&a.buckets, a.step, to - SPARK_RANGE, to)),
                    href: p.href,
                })
                .collect()
        })
    })
}

struct Plan {
    title: &'static str,
    value: String,
    detail: String,
    series: String,
    href: &'static str,
}

/// The cards a snapshot can fill, with the series each sparkline draws.
fn plan(s: &Snapshot) -> Vec<Plan> {
    let mut cards = Vec::new();
    if let Some(cpu) = s.value(&CPU_TOTAL) {
        cards.push(Plan {
            title: "CPU",
            value: format(cpu, Unit::Percent),
            detail: format!("{} cores", s.labelled(&CPU_CORE).count()),
            series: CPU_TOTAL.series.into(),
            href: "/host#cpu",
        });
    }
    if let (Some(used), Some(total)) = (s.value(&MEMORY_USED), s.value(&MEMORY_TOTAL)) {
        cards.push(Plan {
            title: "Memory",
            value: format(share(used, total), Unit::Percent),
            detail: format!(
                "{} of {}",
                format(used, Unit::Bytes),
                format(total, Unit::Bytes)
            ),
            series: MEMORY_USED.series.into(),
            href: "/host#memory",
        });
    }
    if let Some((used, total)) = fullest(s) {
        cards.push(Plan {
            title: "Fullest disk",
            value: format(share(used.value, total), Unit::Percent),
            detail: format!(
                "{}: {} of {}",
                used.label.as_deref().unwrap_or("?"),
                format(used.value, Unit::Bytes),
                format(total, Unit::Bytes)
            ),
            series: used.series_name(),
            href: "/host#filesystems",
        });
    }
    if let (Some(one), Some(five), Some(fifteen)) =
        (s.value(&LOAD_1), s.value(&LOAD_5), s.value(&LOAD_15))
    {
        cards.push(Plan {
            title: "Load",
            value: format(one, Unit::Count),
            detail: format!(
                "5 min {} · 15 min {}",
                format(five, Unit::Count),
                format(fifteen, Unit::Count)
            ),
            series: LOAD_1.series.into(),
            href: "/host#load",
        });
    }
    if let Some(busiest) = s
        .labelled(&NET_RX)
        .max_by(|a, b| a.value.total_cmp(&b.value))
    {
        let label = busiest.label.clone().unwrap_or_default();
        let tx = s
            .labelled(&NET_TX)
            .find(|r| r.label == busiest.label)
            .map_or(0.0, |r| r.value);
        cards.push(Plan {
            title: "Network",
            value: format(busiest.value + tx, Unit::BytesPerSecond),
            detail: format!(
                "{label}: in {} · out {}",
                format(busiest.value, Unit::BytesPerSecond),
                format(tx, Unit::BytesPerSecond)
            ),
            series: busiest.series_name(),
            href: "/host#network",
        });
    }
    cards
}

/// The filesystem with the highest share used, and its size.
fn fullest(s: &Snapshot) -> Option<(&Reading, f64)> {
    s.labelled(&FS_USED)
        .filter_map(|used| {
            let total = s.labelled(&FS_TOTAL).find(|t| t.label == used.label)?;
            (total.value > 0.0).then_some((used, total.value))
        })
        .max_by(|a, b| share(a.0.value, a.1).total_cmp(&share(b.0.value, b.1)))
}

fn share(part: f64, whole: f64) -> f64 {
    if whole <= 0.0 {
        0.0
    } else {
        part / whole * 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::TopProcesses;
    use super::*;

    #[test]
    fn the_cards_show_what_the_snapshot_measured() {
        let snapshot = Snapshot {
            ts: 0,
            readings: vec![
                Reading::new(&CPU_TOTAL, 12.5),
                Reading::labelled(&CPU_CORE, "0", 10.0),
                Reading::labelled(&CPU_CORE, "1", 15.0),
                Reading::new(&MEMORY_USED, 1024.0 * 1024.0 * 1024.0),
                Reading::new(&MEMORY_TOTAL, 4.0 * 1024.0 * 1024.0 * 1024.0),
                Reading::labelled(&FS_USED, "/", 10.0),
                Reading::labelled(&FS_TOTAL, "/", 100.0),
                Reading::labelled(&FS_USED, "/data", 90.0),
                Reading::labelled(&FS_TOTAL, "/data", 100.0),
            ],
            top: TopProcesses::default(),
            own_cpu_seconds: 0.0,
        };
        let cards = plan(&snapshot);
        let titles: Vec<_> = cards.iter().map(|c| c.title).collect();
        assert_eq!(titles, vec!["CPU", "Memory", "Fullest disk"]);
        assert_eq!(cards[0].value, "12.5%");
        assert_eq!(cards[0].detail, "2 cores");
        assert_eq!(cards[1].value, "25%");
        assert_eq!(cards[1].detail, "1 GiB of 4 GiB");
        assert_eq!(cards[2].value, "90%");
        assert_eq!(cards[2].series, "host.fs.used.data");
        assert!(cards[2].detail.starts_with("/data: "));
    }
}

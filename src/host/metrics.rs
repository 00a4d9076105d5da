//! The host's part of `/metrics`: a gauge for every catalogue metric that
//! has a Prometheus name, from the latest sample, and this process's CPU
//! seconds as a counter.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Host;
use super::catalogue::ALL;

type Labels = Vec<(String, String)>;

pub fn contribution(host: Arc<Host>) -> crate::metrics::Contribution {
    Arc::new(move |registry: &mut Registry| {
        let Some(snapshot) = host.latest() else {
            return;
        };
        for metric in ALL {
            let Some((name, label_name)) = metric.prometheus else {
                continue;
            };
            let mut readings = snapshot.labelled(metric).peekable();
            if readings.peek().is_none() {
                continue;
            }
            match label_name {
                None => {
                    let gauge = Gauge::<f64, AtomicU64>::default();
                    if let Some(r) = readings.next() {
                        gauge.set(r.value);
                    }
                    registry.register(name, metric.help, gauge);
                }
                Some(label_name) => {
                    let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                    for r in readings {
                        let labels =
                            vec![(label_name.to_string(), r.label.clone().unwrap_or_default())];
                        family.get_or_create(&labels).set(r.value);
                    }
                    registry.register(name, metric.help, family);
                }
            }
        }
        registry.register(
            "process_cpu_seconds",
            "CPU time this Watchpost has used, in seconds",
            ConstCounter::new(snapshot.own_cpu_seconds),
        );
    })
}

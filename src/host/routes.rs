//! The host page (`/host`): a chart for every metric family over a chosen
//! range (1 h to 30 d, or a custom from/to), with min–max bands on rollups,
//! and the top processes at the end of the range. The charts section is also
//! served alone (`/host/charts`) so the page's small script can refresh it
//! every 10 s; with JavaScript off the page is complete as served.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::model::{Family, Metric, TopProcess, TopProcesses};
use super::repo;
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::series::{self, RangeQuery, Tier, Unit};
use crate::store::{Store, StoreError};
use crate::web::chart::{COLOURS, Chart, Line};
use crate::web::{Layout, SignedIn, units};

/// Points per chart line.
const POINTS: usize = 600;

const PRESETS: [(&str, &str, i64); 5] = [
    ("1h", "1 hour", 3600),
    ("6h", "6 hours", 6 * 3600),
    ("24h", "24 hours", 86_400),
    ("7d", "7 days", 7 * 86_400),
    ("30d", "30 days", 30 * 86_400),
];

#[derive(Debug, Deserialize)]
pub struct HostQuery {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub struct Preset {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct LegendItem {
    pub colour: usize,
    pub label: String,
    pub latest: String,
}

pub struct ChartView {
    pub slug: &'static str,
    pub title: &'static str,
    pub svg: String,
    pub legend: Vec<LegendItem>,
}

pub struct ProcessRow {
    pub pid: u32,
    pub name: String,
    pub user: String,
    pub value: String,
}

pub struct TopView {
    pub at: String,
    pub by_cpu: Vec<ProcessRow>,
    pub by_memory: Vec<ProcessRow>,
}

/// Everything the charts section shows.
pub struct View {
    pub presets: Vec<Preset>,
    pub range_text: String,
    pub from_input: String,
    pub to_input: String,
    /// Where the script fetches fresh charts; only for ranges ending now.
    pub refresh_url: Option<String>,
    pub charts: Vec<ChartView>,
    pub top: Option<TopView>,
    pub synthetic: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "host/page.html")]
struct HostPage {
    layout: Layout,
    view: View,
}

#[derive(Template, WebTemplate)]
#[template(path = "host/charts.html")]
struct ChartsFragment {
    view: View,
}

async fn page(
    req: HttpRequest,
    SignedIn(viewer): SignedIn,
    store: web::Data<Store>,
    query: web::Query<HostQuery>,
) -> Result<HostPage, AppError> {
    Ok(HostPage {
        layout: Layout::new("Host", req.path()).with_viewer(viewer),
        view: view(&store, &query).await?,
    })
}

async fn charts(
    _: SignedIn,
    store: web::Data<Store>,
    query: web::Query<HostQuery>,
) -> Result<ChartsFragment, AppError> {
    Ok(ChartsFragment {
        view: view(&store, &query).await?,
    })
}

/// The range asked for: a preset (default 1 h) ending now, or from/to.
fn resolve(query: &HostQuery, now: i64) -> Result<(i64, i64, Option<&'static str>), AppError> {
    if query.from.as_deref().is_some_and(|f| !f.is_empty()) {
        let custom = RangeQuery::new(
            query.from.clone(),
            query.to.clone().filter(|t| !t.is_empty()),
        );
        let (from, to, _) = custom.resolve(now)?;
        return Ok((from, to, None));
    }
    let key = query.range.as_deref().unwrap_or("1h");
    let (key, _, span) = PRESETS.iter().find(|(k, _, _)| *k == key).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{:?} is not a range; use 1h, 6h, 24h, 7d or 30d, or give from and to",
            key.chars().take(20).collect::<String>()
        ))
    })?;
    Ok((now - span, now, Some(key)))
}

pub async fn view(store: &Store, query: &HostQuery) -> Result<View, AppError> {
    let now = crate::clock::now_ms().div_euclid(1000);
    let (from, to, preset) = resolve(query, now)?;
    let (charts, top, synthetic) = store
        .read(move |conn| {
            let charts = build_charts(conn, from, to)?;
            let top = repo::top_at(conn, to)?;
            Ok((charts, top, repo::synthetic_note(conn)?))
        })
        .await?;
    Ok(View {
        presets: PRESETS
            .iter()
            .map(|(key, label, _)| Preset {
                key,
                label,
                current: preset == Some(*key),
            })
            .collect(),
        range_text: format!("{} to {}", units::utc_minute(from), units::utc_minute(to)),
        from_input: input_text(from),
        to_input: input_text(to),
        refresh_url: preset.map(|key| format!("/host/charts?range={key}")),
        charts,
        top: top.map(|(ts, top)| top_view(ts, top)),
        synthetic,
    })
}

/// One chart per family that has series, in catalogue order.
fn build_charts(
    conn: &rusqlite::Connection,
    from: i64,
    to: i64,
) -> Result<Vec<ChartView>, StoreError> {
    let mut families: BTreeMap<Family, Vec<(&'static Metric, series::SeriesInfo)>> =
        BTreeMap::new();
    for info in series::repo::list(conn)? {
        if let Some(metric) = Metric::of_series(&info.name) {
            families
                .entry(metric.family)
                .or_default()
                .push((metric, info));
        }
    }
    let mut charts = Vec::new();
    for family in Family::ALL {
        let Some(mut members) = families.remove(&family) else {
            continue;
        };
        let rank = |m: &Metric| {
            super::catalogue::ALL
                .iter()
                .position(|x| x.series == m.series)
        };
        members.sort_by(|a, b| {
            rank(a.0)
                .cmp(&rank(b.0))
                .then_with(|| natural(&a.1.name, &b.1.name))
        });
        let unit = members.first().map_or(Unit::Count, |(m, _)| m.unit);
        let mut lines = Vec::new();
        let mut band = false;
        for (_, info) in &members {
            if let Some(answer) = series::answer(conn, &info.name, from, to, POINTS)? {
                band |= answer.tier != Tier::Raw || answer.buckets.iter().any(|b| b.count > 1);
                lines.push(Line {
                    label: info.label.clone(),
                    buckets: answer.buckets,
                    step: answer.step,
                });
            }
        }
        let svg = Chart {
            title: family.title(),
            unit,
            from,
            to,
            lines: &lines,
            band,
        }
        .svg();
        let legend = lines
            .iter()
            .enumerate()
            .map(|(i, line)| LegendItem {
                colour: i % COLOURS,
                label: line.label.clone(),
                latest: line
                    .buckets
                    .last()
                    .map_or_else(|| "–".to_string(), |b| units::format(b.avg(), unit)),
            })
            .collect();
        charts.push(ChartView {
            slug: family.slug(),
            title: family.title(),
            svg,
            legend,
        });
    }
    Ok(charts)
}

/// Orders `host.cpu.core.10` after `host.cpu.core.9`.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| {
        let digits = s.len() - s.bytes().rev().take_while(u8::is_ascii_digit).count();
        (s[..digits].to_string(), s[digits..].parse::<u64>().ok())
    };
    split(a).cmp(&split(b))
}

fn top_view(ts: i64, top: TopProcesses) -> TopView {
    let rows = |list: Vec<TopProcess>, unit: Unit| {
        list.into_iter()
            .map(|p| ProcessRow {
                pid: p.pid,
                name: p.name,
                user: p.user,
                value: units::format(p.value, unit),
            })
            .collect()
    };
    TopView {
        at: units::utc_minute(ts),
        by_cpu: rows(top.by_cpu, Unit::Percent),
        by_memory: rows(top.by_memory, Unit::Bytes),
    }
}

/// The value a `datetime-local` field shows (UTC).
fn input_text(ts: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

pub fn routes(r: &mut Routes) {
    r.get("/host", Access::Viewer, page);
    r.get("/host/charts", Access::Viewer, charts);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> HostQuery {
        HostQuery {
            range: range.map(Into::into),
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn ranges_resolve_from_presets_or_from_and_to() {
        let now = 1_000_000;
        assert_eq!(
            resolve(&query(None, None, None), now).unwrap(),
            (now - 3600, now, Some("1h"))
        );
        assert_eq!(
            resolve(&query(Some("30d"), None, None), now).unwrap(),
            (now - 30 * 86_400, now, Some("30d"))
        );
        assert_eq!(
            resolve(&query(Some("1h"), Some("900000"), Some("950000")), now).unwrap(),
            (900_000, 950_000, None)
        );
        assert!(resolve(&query(Some("2y"), None, None), now).is_err());
        assert!(resolve(&query(None, Some("950000"), Some("900000")), now).is_err());
    }

    #[test]
    fn core_numbers_sort_naturally() {
        let mut names = vec!["host.cpu.core.10", "host.cpu.core.2", "host.cpu.core.1"];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(
            names,
            vec!["host.cpu.core.1", "host.cpu.core.2", "host.cpu.core.10"]
        );
    }
}

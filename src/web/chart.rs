//! SVG charts drawn by Watchpost itself: a line per series over a fixed
//! viewBox (so a refresh never moves the layout), a min–max band where the
//! points are rollups, gridlines labelled in the series' unit, time ticks,
//! and hover columns whose native tooltips give the values at that time.
//! Lines break where samples are missing. Colours come from CSS classes
//! (`s0`…`s7`), so light and dark mode style them. No script is needed.

use std::fmt::Write;

use crate::series::{Bucket, Unit};
use crate::web::units;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;
/// At most this many hover columns per chart.
const HOVER_COLUMNS: usize = 120;
/// Colour classes cycle after this many lines.
pub const COLOURS: usize = 8;

/// One series on a chart.
pub struct Line {
    pub label: String,
    pub buckets: Vec<Bucket>,
    /// Seconds each bucket covers; a wider hole is a gap.
    pub step: i64,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub unit: Unit,
    /// Unix seconds.
    pub from: i64,
    pub to: i64,
    pub lines: &'a [Line],
    /// Draw min–max bands (the points are rollups).
    pub band: bool,
}

/// A moment drawn as a vertical line across a chart (a deploy, say).
pub struct Marker {
    /// Unix seconds.
    pub ts: i64,
    pub label: String,
}

impl Chart<'_> {
    pub fn svg(&self) -> String {
        self.svg_with_markers(&[])
    }

    /// As [`Chart::svg`], with markers inside the range drawn over the lines;
    /// each has a native tooltip with its label.
    pub fn svg_with_markers(&self, markers: &[Marker]) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let (lo, hi) = self.value_range();
        let plot = Plot {
            from: self.from,
            to: self.to.max(self.from + 1),
            lo,
            hi,
        };
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
            esc(self.title)
        );
        self.grid(&mut out, &plot);
        for (i, line) in self.lines.iter().enumerate() {
            let class = i % COLOURS;
            for segment in segments(&line.buckets, line.step) {
                if self.band && segment.iter().any(|b| b.min != b.max) {
                    band(&mut out, &plot, segment, class);
                }
                path(&mut out, &plot, segment, class);
            }
        }
        for m in markers
            .iter()
            .filter(|m| m.ts >= plot.from && m.ts <= plot.to)
        {
            let x = plot.x(m.ts);
            let _ = write!(
                out,
                r#"<g class="marker"><title>{}</title><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}"/></g>"#,
                esc(&m.label),
                HEIGHT - BOTTOM
            );
        }
        self.hover(&mut out, &plot);
        if self.lines.iter().all(|l| l.buckets.is_empty()) {
            let _ = write!(
                out,
                r#"<text class="empty" x="{}" y="{}" text-anchor="middle">No data in this range</text>"#,
                LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
                TOP + (HEIGHT - TOP - BOTTOM) / 2.0
            );
        }
        out.push_str("</svg>");
        out
    }

    /// The value axis: from zero (or the lowest value, when negative) to a
    /// round number at or above the highest; 0–100 for percents.
    fn value_range(&self) -> (f64, f64) {
        let values = self.lines.iter().flat_map(|l| l.buckets.iter());
        let (mut lo, mut hi) = (0.0f64, f64::MIN);
        for b in values {
            lo = lo.min(b.min);
            hi = hi.max(if self.band { b.max } else { b.avg() });
        }
        if self.unit == Unit::Percent && hi <= 100.0 {
            return (lo.min(0.0), 100.0);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        (lo, nice_ceiling(hi, self.unit))
    }

    fn grid(&self, out: &mut String, plot: &Plot) {
        for i in 0..=4 {
            let value = plot.lo + (plot.hi - plot.lo) * f64::from(i) / 4.0;
            let y = plot.y(value);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                esc(&units::format(value, self.unit))
            );
        }
        let span = plot.to - plot.from;
        let tick = TICKS
            .iter()
            .copied()
            .find(|t| span / t <= 6)
            .unwrap_or(30 * 86_400);
        let mut t = (plot.from + tick - 1).div_euclid(tick) * tick;
        while t <= plot.to {
            let x = plot.x(t);
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}"/><text class="axis" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                HEIGHT - BOTTOM,
                HEIGHT - 6.0,
                time_label(t, span)
            );
            t += tick;
        }
    }

    fn hover(&self, out: &mut String, plot: &Plot) {
        let span = plot.to - plot.from;
        let columns = HOVER_COLUMNS.min(
            self.lines
                .iter()
                .map(|l| l.buckets.len())
                .max()
                .unwrap_or(0),
        );
        if columns == 0 {
            return;
        }
        let width = (WIDTH - LEFT - RIGHT) / columns as f64;
        out.push_str(r#"<g class="hover">"#);
        for c in 0..columns {
            let at = plot.from + (span as f64 * (c as f64 + 0.5) / columns as f64) as i64;
            let mut text = units::utc_minute(at);
            let mut any = false;
            for line in self.lines {
                let Some(b) = nearest(&line.buckets, at, line.step.max(span / columns as i64))
                else {
                    continue;
                };
                any = true;
                let _ = write!(
                    text,
                    "\n{}: {}",
                    line.label,
                    units::format(b.avg(), self.unit)
                );
                if self.band && b.min != b.max {
                    let _ = write!(
                        text,
                        " ({} – {})",
                        units::format(b.min, self.unit),
                        units::format(b.max, self.unit)
                    );
                }
            }
            if any {
                let _ = write!(
                    out,
                    r#"<rect x="{:.1}" y="{TOP}" width="{width:.1}" height="{}"><title>{}</title></rect>"#,
                    LEFT + width * c as f64,
                    HEIGHT - TOP - BOTTOM,
                    esc(&text)
                );
            }
        }
        out.push_str("</g>");
    }
}

/// A small line of recent values for a card: no axes, no text.
pub fn sparkline(buckets: &[Bucket], step: i64, from: i64, to: i64) -> String {
    const W: f64 = 120.0;
    const H: f64 = 32.0;
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for b in buckets {
        lo = lo.min(b.avg());
        hi = hi.max(b.avg());
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let span = (to - from).max(1) as f64;
    let mut out = format!(
        r#"<svg class="sparkline" viewBox="0 0 {W} {H}" preserveAspectRatio="none" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">"#
    );
    for segment in segments(buckets, step) {
        out.push_str(r#"<path d=""#);
        trace(
            &mut out,
            segment.iter().map(|b| {
                let x = (b.ts - from) as f64 / span * W;
                (x, H - 2.0 - (b.avg() - lo) / (hi - lo) * (H - 4.0))
            }),
        );
        out.push_str(r#""/>"#);
    }
    out.push_str("</svg>");
    out
}

/// Tick spacings, finest first.
const TICKS: [i64; 13] = [
    60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
];

struct Plot {
    from: i64,
    to: i64,
    lo: f64,
    hi: f64,
}

impl Plot {
    fn x(&self, ts: i64) -> f64 {
        LEFT + (ts - self.from) as f64 / (self.to - self.from) as f64 * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, value: f64) -> f64 {
        let share = ((value - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM)
    }
}

/// Runs of buckets without a hole wider than twice the step between them.
fn segments(buckets: &[Bucket], step: i64) -> impl Iterator<Item = &[Bucket]> {
    let limit = step.max(1) * 2;
    buckets.chunk_by(move |a, b| b.ts - a.ts <= limit)
}

fn path(out: &mut String, plot: &Plot, segment: &[Bucket], class: usize) {
    if let [only] = segment {
        let _ = write!(
            out,
            r#"<circle class="dot s{class}" cx="{:.1}" cy="{:.1}" r="1.5"/>"#,
            plot.x(only.ts),
            plot.y(only.avg())
        );
        return;
    }
    let _ = write!(out, r#"<path class="line s{class}" d=""#);
    trace(out, segment.iter().map(|b| (plot.x(b.ts), plot.y(b.avg()))));
    out.push_str(r#""/>"#);
}

/// The area between each bucket's max (left to right) and min (back).
fn band(out: &mut String, plot: &Plot, segment: &[Bucket], class: usize) {
    let _ = write!(out, r#"<path class="band s{class}" d=""#);
    let upper = segment.iter().map(|b| (plot.x(b.ts), plot.y(b.max)));
    let lower = segment.iter().rev().map(|b| (plot.x(b.ts), plot.y(b.min)));
    trace(out, upper.chain(lower));
    out.push_str(r#" Z"/>"#);
}

/// Path data through `points`: a move to the first, lines to the rest.
fn trace(out: &mut String, points: impl Iterator<Item = (f64, f64)>) {
    for (i, (x, y)) in points.enumerate() {
        let _ = write!(out, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" });
    }
}

/// The bucket closest to `at`, if one lies within `reach` seconds.
fn nearest(buckets: &[Bucket], at: i64, reach: i64) -> Option<&Bucket> {
    let i = buckets.partition_point(|b| b.ts < at);
    [i.checked_sub(1), Some(i)]
        .into_iter()
        .flatten()
        .filter_map(|i| buckets.get(i))
        .filter(|b| (b.ts - at).abs() <= reach)
        .min_by_key(|b| (b.ts - at).abs())
}

/// A round axis maximum at or above `v`: 1, 2, 2.5 or 5 times a power of
/// ten, or for byte units of a power of 1024.
fn nice_ceiling(v: f64, unit: Unit) -> f64 {
    let scale = match unit {
        Unit::Bytes | Unit::BytesPerSecond => {
            let mut s = 1.0;
            while v / s >= 1024.0 {
                s *= 1024.0;
            }
            s
        }
        _ => 1.0,
    };
    let x = v / scale;
    let magnitude = 10f64.powf(x.log10().floor());
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|n| *n >= x)
        .unwrap_or(10.0 * magnitude);
    nice * scale
}

fn time_label(ts: i64, span: i64) -> String {
    let format = if span <= 2 * 86_400 {
        time::macros::format_description!("[hour]:[minute]")
    } else {
        time::macros::format_description!("[month repr:short] [day padding:none]")
    };
    utc(ts)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn utc(ts: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(ts).ok()
}

/// Text made safe for SVG (XML) content and attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(range: std::ops::Range<i64>, step: i64) -> Vec<Bucket> {
        range
            .step_by(usize::try_from(step).unwrap())
            .map(|t| Bucket {
                ts: t,
                min: (t % 7) as f64,
                max: (t % 7) as f64 + 10.0,
                sum: (t % 7) as f64 + 5.0,
                count: 1,
            })
            .collect()
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"))
    }

    #[test]
    fn a_chart_is_well_formed_svg_with_a_path_per_unbroken_run() {
        let mut with_gap = buckets(0..3600, 60);
        with_gap.retain(|b| !(1200..2400).contains(&b.ts));
        let lines = [
            Line {
                label: "Used on /home & <tmp>".into(),
                buckets: with_gap,
                step: 60,
            },
            Line {
                label: "Total".into(),
                buckets: buckets(0..3600, 60),
                step: 60,
            },
        ];
        let svg = Chart {
            title: "Disk \"usage\"",
            unit: Unit::Bytes,
            from: 0,
            to: 3600,
            lines: &lines,
            band: true,
        }
        .svg();
        let doc = parse(&svg);
        let paths = |class: &str| {
            doc.descendants()
                .filter(|n| n.attribute("class") == Some(class))
                .count()
        };
        assert_eq!(paths("line s0"), 2, "the gap splits the first line");
        assert_eq!(paths("line s1"), 1);
        assert_eq!(paths("band s0"), 2);
        let tooltips: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text())
            .collect();
        assert!(tooltips.iter().any(|t| t.contains("Used on /home & <tmp>")));
        assert!(tooltips[0].contains("Disk \"usage\""));
    }

    #[test]
    fn an_empty_chart_says_so() {
        let lines = [Line {
            label: "CPU".into(),
            buckets: vec![],
            step: 10,
        }];
        let svg = Chart {
            title: "CPU",
            unit: Unit::Percent,
            from: 0,
            to: 60,
            lines: &lines,
            band: false,
        }
        .svg();
        let doc = parse(&svg);
        assert!(
            doc.descendants()
                .any(|n| n.text() == Some("No data in this range"))
        );
    }

    #[test]
    fn a_sparkline_is_well_formed_svg() {
        let svg = sparkline(&buckets(0..600, 10), 10, 0, 600);
        let doc = parse(&svg);
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("path")).count(),
            1
        );
        parse(&sparkline(&[], 10, 0, 600));
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(7.3, Unit::Count), 10.0);
        assert_eq!(nice_ceiling(1.7, Unit::Count), 2.0);
        assert_eq!(nice_ceiling(230.0, Unit::Count), 250.0);
        assert_eq!(
            nice_ceiling(1500.0 * 1024.0 * 1024.0, Unit::Bytes),
            2.0 * 1024.0 * 1024.0 * 1024.0
        );
    }

    #[test]
    fn the_nearest_bucket_is_found_within_reach() {
        let b = buckets(0..600, 60);
        assert_eq!(nearest(&b, 95, 60).map(|b| b.ts), Some(120));
        assert_eq!(nearest(&b, 5000, 60), None);
    }
}

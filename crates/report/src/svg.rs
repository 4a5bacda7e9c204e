//! The timeline as an inline SVG: stacked bars, one colour per principal, drawn here (no
//! charting crate: a bar chart is a few rectangles, and owning it keeps every attribute escaped).
//!
//! Each bar is a `<rect>` carrying its data (`data-series`, `data-minute`, `data-count`) and a
//! `<title>` (the browser's tooltip), so tests and people can read the numbers back.

use std::fmt::Write as _;

use crate::escape::html;
use crate::timeline::Timeline;

/// Colours of the series (Okabe-Ito: distinguishable with the common colour-vision deficiencies).
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn minute(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%MZ").to_string())
}

/// The chart, or `None` when there is nothing to draw.
pub fn chart(t: &Timeline) -> Option<String> {
    let bins = t.bins();
    let peak = t.peak();
    if bins == 0 || peak == 0 {
        return None;
    }
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / bins as f64;
    // a bar is at most 48 px wide, centred in its slot
    let bar_w = slot.min(48.0);
    let scale = plot_h / peak as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" aria-label="{}">"#,
        html(&format!("{} per {} minute(s), stacked by principal", t.measure.label(), t.bin_minutes))
    );
    // axes and grid: 0, half and the peak
    let base = TOP + plot_h;
    let _ = write!(s, r##"<g class="axis" font-size="11" fill="#444" stroke="#bbb">"##);
    for v in [0, peak / 2, peak] {
        let y = base - v as f64 * scale;
        let _ = write!(s, r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke-dasharray="3,3"/>"#, WIDTH - RIGHT);
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end" stroke="none">{v}</text>"#, LEFT - 6.0, y + 4.0);
    }
    let every = bins.div_ceil(8).max(1);
    for i in (0..bins).step_by(every) {
        let x = LEFT + (i as f64 + 0.5) * slot;
        let label = t.bin_start(i).map_or_else(String::new, |m| m.format("%H:%M").to_string());
        let _ = write!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" stroke="none">{label}</text>"#, base + 16.0);
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" stroke="none">UTC, {} minute(s) per bar, from {}</text>"#,
        LEFT + plot_w / 2.0,
        base + 34.0,
        t.bin_minutes,
        html(&minute(t.start))
    );
    let _ = write!(s, "</g>");
    // the bars
    for i in 0..bins {
        let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
        let mut y = base;
        let at = minute(t.bin_start(i));
        for (k, series) in t.series.iter().enumerate() {
            let n = series.counts.get(i).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = n as f64 * scale;
            y -= h;
            let _ = write!(
                s,
                r#"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{h:.2}" fill="{}" data-series="{k}" data-minute="{at}" data-count="{n}"><title>{}</title></rect>"#,
                (bar_w - 1.0).max(0.5),
                colour(k),
                html(&format!("{}: {n} {} at {at}", series.label, t.measure.label()))
            );
        }
    }
    s.push_str("</svg>");
    Some(s)
}

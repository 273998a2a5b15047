//! The dashboard's charts: SVG line charts drawn with `plotters`, with regime bands, shift
//! markers and a hover title on every point.

use plotters::prelude::*;

use super::esc;
use crate::analysis::pressure::Regime;
use crate::analysis::weekly::WeekRow;
use crate::analysis::WEEK_MS;
use crate::model::Calendar;

/// One line of a chart: name, colour, (week, value) with gaps where missing.
pub(super) struct Line {
    pub(super) name: &'static str,
    pub(super) colour: RGBColor,
    pub(super) points: Vec<(i64, Option<f64>)>,
}

pub(super) fn line(
    name: &'static str,
    colour: RGBColor,
    rows: &[&WeekRow],
    pick: fn(&WeekRow) -> Option<f64>,
) -> Line {
    Line {
        name,
        colour,
        points: rows.iter().map(|r| (r.signals.week_ms, pick(r))).collect(),
    }
}

/// Regime backgrounds of the pressure chart.
pub(super) fn regime_colour(r: Regime) -> RGBColor {
    match r {
        Regime::Growth => RGBColor(214, 240, 218),
        Regime::Balanced => RGBColor(236, 236, 236),
        Regime::Resilience => RGBColor(250, 218, 214),
    }
}

/// An SVG line chart; `bands` shades weeks (the regime), `shifts` marks the weeks a regime
/// shift began. Every point carries a hover title with its week and value (SVG `<title>`, no
/// script). Returns the SVG, or a note when there is nothing to draw.
pub(super) fn chart(
    cal: Calendar,
    title: &str,
    lines: &[Line],
    bands: &[(i64, RGBColor)],
    shifts: &[i64],
    y_format: fn(f64) -> String,
) -> String {
    let values: Vec<f64> = lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let weeks: Vec<i64> = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .collect();
    let (Some(x0), Some(x1)) = (weeks.iter().min(), weeks.iter().max()) else {
        return format!(
            "<p class=\"empty\">{}: no data in these weeks.</p>",
            esc(title)
        );
    };
    if values.is_empty() {
        return format!(
            "<p class=\"empty\">{}: no data in these weeks.</p>",
            esc(title)
        );
    }
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let mut svg = String::new();
    // (x, y) in pixels and the hover text of every point, added after plotters has drawn.
    let mut hover: Vec<(i32, i32, String)> = Vec::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (560, 240)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(*x0..*x1 + WEEK_MS, lo..hi)?;
        for &(w, colour) in bands {
            c.draw_series(std::iter::once(Rectangle::new(
                [(w, lo), (w + WEEK_MS, hi)],
                colour.filled(),
            )))?;
        }
        c.configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|ms| cal.local_date(*ms).format("%Y-%m").to_string())
            .y_label_formatter(&|v| y_format(*v))
            .draw()?;
        for &w in shifts.iter().filter(|w| (*x0..=*x1).contains(*w)) {
            c.draw_series(std::iter::once(PathElement::new(
                [(w, lo), (w, hi)],
                RGBColor(60, 60, 60).stroke_width(1),
            )))?;
        }
        for l in lines {
            // A missing week breaks the line: missing is never drawn as zero.
            let mut runs: Vec<Vec<(i64, f64)>> = vec![Vec::new()];
            for &(w, v) in &l.points {
                match v.filter(|v| v.is_finite()) {
                    Some(v) => runs
                        .last_mut()
                        .map(|r| r.push((w + WEEK_MS / 2, v)))
                        .unwrap_or(()),
                    None => runs.push(Vec::new()),
                }
            }
            for &(w, v) in &l.points {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    let (px, py) = c.backend_coord(&(w + WEEK_MS / 2, v));
                    hover.push((
                        px,
                        py,
                        format!("{}, week of {}: {}", l.name, cal.local_date(w), y_format(v)),
                    ));
                }
            }
            let colour = l.colour;
            let mut first = true;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let series = c.draw_series(LineSeries::new(run, colour.stroke_width(2)))?;
                if first {
                    series.label(l.name).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2))
                    });
                    first = false;
                }
            }
        }
        if lines.len() > 1 {
            c.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }
        root.present()?;
        Ok(())
    })();
    if drawn.is_ok() {
        let titles: String = hover
            .iter()
            .map(|(x, y, t)| {
                format!(
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"4\" fill=\"transparent\"><title>{}</title></circle>",
                    esc(t)
                )
            })
            .collect();
        if let Some(end) = svg.rfind("</svg>") {
            svg.insert_str(end, &titles);
        }
    }
    match drawn {
        Ok(()) => format!("<figure class=\"chart\">{svg}</figure>"),
        Err(e) => format!(
            "<p class=\"empty\">{}: cannot draw ({})</p>",
            esc(title),
            esc(&e.to_string())
        ),
    }
}

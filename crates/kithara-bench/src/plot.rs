//! SVG plots of `kithara-bench --out DIR`, drawn with plotters.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use plotters::{coord::types::RangedCoordf64, prelude::*};

/// Buckets across the plotted range.
const BUCKETS: u64 = 80;

/// Colours of the series, in order.
const COLORS: [RGBColor; 4] = [RED, BLUE, GREEN, MAGENTA];

/// What drawing returns: plotters' errors are boxed.
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// A chart of `f64` against `f64` on an SVG.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one coloured, labelled line per series, then the legend.
fn lines_and_legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    series: impl IntoIterator<Item = (String, Vec<(f64, f64)>)>,
) -> Drawn {
    for (i, (label, points)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Runs `draw`, naming `path` in its error.
fn render(path: &Path, draw: impl FnOnce() -> Drawn) -> Result<()> {
    draw()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("could not draw {}", path.display()))
}

/// The wake-latency distributions (one line per storage kind): share of wakes per latency bucket,
/// up to the largest p99.9 of them.
pub(crate) fn wake_histogram(path: &Path, series: &[(&str, Histogram<u64>)]) -> Result<()> {
    let top_ns = series
        .iter()
        .map(|(_, h)| h.value_at_quantile(0.999))
        .max()
        .unwrap_or(1_000)
        .max(BUCKETS);
    let step = top_ns.div_ceil(BUCKETS);
    let mut lines = Vec::new();
    let mut y_max = 1.0f64;
    for (name, h) in series {
        let total = h.len().max(1) as f64;
        let mut points = Vec::new();
        for v in h.iter_linear(step) {
            let x = v.value_iterated_to() as f64 / 1e3;
            if v.value_iterated_to() > top_ns {
                break;
            }
            let y = v.count_since_last_iteration() as f64 * 100.0 / total;
            y_max = y_max.max(y);
            points.push((x, y));
        }
        lines.push((*name, points));
    }
    render(path, || {
        let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "kithara wake latency: chunk landed -> blocked reader returns",
                ("sans-serif", 20),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..top_ns as f64 / 1e3, 0f64..y_max * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("latency (µs)")
            .y_desc("share of wakes per bucket (%)")
            .draw()?;
        lines_and_legend(
            &mut chart,
            lines.into_iter().map(|(name, p)| (name.to_owned(), p)),
        )?;
        root.present()?;
        Ok(())
    })
}

/// One rule's line of an ABR replay plot.
pub(crate) struct AbrSeries<'a> {
    /// The rule.
    pub(crate) name: &'a str,
    /// `(media s, kbit/s)` of every segment fetched: the bitrate chosen.
    pub(crate) chosen: Vec<(f64, f64)>,
    /// `(media s, s)`: media buffered ahead of the player.
    pub(crate) buffer: Vec<(f64, f64)>,
}

/// Steps of a piecewise-constant line through `points` up to `end`.
fn steps(points: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2 + 1);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    if let Some(&(_, y)) = points.last() {
        out.push((end, y));
    }
    out
}

/// An ABR replay: available bandwidth and the bitrate each rule chose (top), the buffer level
/// of each (bottom), over media time.
pub(crate) fn abr_replay(
    path: &Path,
    trace: &str,
    k: f64,
    bandwidth: &[(f64, f64)],
    series: &[AbrSeries<'_>],
) -> Result<()> {
    let end = series
        .iter()
        .flat_map(|s| s.buffer.iter().chain(&s.chosen).map(|p| p.0))
        .fold(1.0f64, f64::max);
    let kbps_max = bandwidth
        .iter()
        .map(|p| p.1)
        .chain(series.iter().flat_map(|s| s.chosen.iter().map(|p| p.1)))
        .fold(1.0f64, f64::max);
    let buffer_max = series
        .iter()
        .flat_map(|s| s.buffer.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    render(path, || {
        let root = SVGBackend::new(path, (900, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(360);
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!("kithara ABR replay, trace {trace} (K = {k:.0}, media time)"),
                ("sans-serif", 20),
            )
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, 0f64..kbps_max * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("media time (s)")
            .y_desc("kbit/s")
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                steps(bandwidth, end),
                BLACK.stroke_width(1),
            ))?
            .label("available bandwidth")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        lines_and_legend(
            &mut chart,
            series
                .iter()
                .map(|s| (format!("{}: bitrate chosen", s.name), steps(&s.chosen, end))),
        )?;
        let mut chart = ChartBuilder::on(&bottom)
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..end, 0f64..buffer_max * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("media time (s)")
            .y_desc("buffer ahead (s)")
            .draw()?;
        lines_and_legend(
            &mut chart,
            series
                .iter()
                .map(|s| (format!("{}: buffer", s.name), s.buffer.clone())),
        )?;
        root.present()?;
        Ok(())
    })
}

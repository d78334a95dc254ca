//! SVG plots of `kithara bench --out DIR`, drawn with plotters.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use plotters::prelude::*;

/// Buckets across the plotted range.
const BUCKETS: u64 = 80;

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
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
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
        let colors = [RED, BLUE, GREEN, MAGENTA];
        for (i, (name, points)) in lines.iter().enumerate() {
            let color = colors[i % colors.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("could not draw {}", path.display()))
}

//! The growth curves as an SVG (plotters): four log-log panels against events in the log.

use crate::run::growth::Point;
use crate::Result;
use plotters::prelude::*;
use std::path::Path;

/// One series of a panel.
type Series<'a> = (&'static str, RGBColor, &'a dyn Fn(&Point) -> Option<f64>);

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    points: &[Point],
    series: &[Series<'_>],
) -> Result {
    let xs: Vec<f64> = points.iter().map(|p| p.events as f64).collect();
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|p| series.iter().filter_map(move |s| (s.2)(p)))
        .filter(|y| *y > 0.0)
        .collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::MAX, f64::min) * 0.8,
        xs.iter().copied().fold(0.0, f64::max) * 1.25,
    );
    let (y0, y1) = (
        ys.iter().copied().fold(f64::MAX, f64::min) * 0.5,
        ys.iter().copied().fold(0.0, f64::max) * 2.0,
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("events in the log")
        .x_label_formatter(&|x| format!("{:.0}k", x / 1e3))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .draw()?;
    for (name, color, f) in series {
        let data: Vec<(f64, f64)> = points
            .iter()
            .filter_map(|p| Some((p.events as f64, f(p)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(
            data.into_iter()
                .map(|xy| Circle::new(xy, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Draws the growth curves to `path`.
pub fn growth_svg(points: &[Point], path: &Path) -> Result {
    let root = SVGBackend::new(path, (1000, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((2, 2));
    let (blue, orange, grey) = (
        RGBColor(43, 108, 176),
        RGBColor(192, 86, 33),
        RGBColor(113, 128, 150),
    );
    panel(
        &areas[0],
        "process start to first answer (s)",
        points,
        &[
            ("engine, snapshot + tail", blue, &|p| {
                Some(p.engine_snapshot.wall_s)
            }),
            ("engine, full replay", grey, &|p| {
                Some(p.engine_replay.wall_s)
            }),
            ("SQLite + counters", orange, &|p| {
                p.sqlite.as_ref().map(|s| s.wall_s)
            }),
        ],
    )?;
    panel(
        &areas[1],
        "resident memory after open (MB)",
        points,
        &[
            ("engine, snapshot + tail", blue, &|p| {
                Some(p.engine_snapshot.rss_mb)
            }),
            ("engine, full replay", grey, &|p| {
                Some(p.engine_replay.rss_mb)
            }),
            ("SQLite + counters", orange, &|p| {
                p.sqlite.as_ref().map(|s| s.rss_mb)
            }),
        ],
    )?;
    panel(
        &areas[2],
        "disk per event (bytes)",
        points,
        &[
            ("engine", blue, &|p| Some(p.engine_disk_bytes_per_event)),
            ("SQLite + counters", orange, &|p| {
                p.sqlite_disk_bytes_per_event
            }),
        ],
    )?;
    panel(
        &areas[3],
        "fold rate (M events/s)",
        points,
        &[("engine fold", blue, &|p| Some(p.fold_events_per_s / 1e6))],
    )?;
    root.present()?;
    Ok(())
}

//! A hand-written SVG line chart of a load report: with several steps (a ramp), server CPU µs
//! per forwarded packet and loss against the subscriber count; with one step, packets/s in
//! and latency p99 over time, or, when the clients were impaired, packets/s in and the video
//! loss left after repair over time.
//!
//! Owns: the chart's markup. Must not read files or the clock.

use std::fmt::Write as _;

use super::report::LoadReport;

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// One plotted series, scaled to its own axis (left for the first, right for the second).
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// The chart for `report`.
pub fn chart(report: &LoadReport) -> String {
    if report.steps.len() > 1 {
        let x: Vec<f64> = report.steps.iter().map(|s| s.subscribers as f64).collect();
        let cpu = Series {
            name: "server CPU µs / forwarded packet",
            color: "#1f77b4",
            points: x
                .iter()
                .zip(&report.steps)
                .filter_map(|(x, s)| s.cpu_us_per_forwarded_packet.map(|v| (*x, v)))
                .collect(),
        };
        let loss = Series {
            name: "loss %",
            color: "#d62728",
            points: x
                .iter()
                .zip(&report.steps)
                .map(|(x, s)| (*x, s.loss_pct))
                .collect(),
        };
        render(
            "rtcdn-load: cost and loss against subscribers",
            "subscribers",
            &cpu,
            &loss,
        )
    } else {
        let pps = Series {
            name: "packets/s received",
            color: "#1f77b4",
            points: report
                .timeseries
                .iter()
                .map(|s| (s.t_s, s.pps_in))
                .collect(),
        };
        let impair = &report.config.impair;
        let (title, second) = if impair.send.is_none() && impair.recv.is_none() {
            let lat = Series {
                name: "latency p99 µs",
                color: "#ff7f0e",
                points: report
                    .timeseries
                    .iter()
                    .map(|s| (s.t_s, s.latency_p99_us))
                    .collect(),
            };
            ("rtcdn-load: throughput and latency over time", lat)
        } else {
            let residual = Series {
                name: "video loss after repair %",
                color: "#d62728",
                points: report
                    .timeseries
                    .iter()
                    .map(|s| (s.t_s, s.residual_loss_pct))
                    .collect(),
            };
            (
                "rtcdn-load: throughput and residual loss over time (impaired)",
                residual,
            )
        };
        render(title, "seconds", &pps, &second)
    }
}

fn bounds(points: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = points.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let lo = lo.min(0.0);
    if hi - lo < 1e-9 {
        (lo, lo + 1.0)
    } else {
        (lo, hi * 1.05)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render(title: &str, x_label: &str, a: &Series, b: &Series) -> String {
    let (x0, x1) = bounds(a.points.iter().chain(&b.points).map(|p| p.0));
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n\
         <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>\n",
        W / 2.0,
        escape(title)
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let x = LEFT + f * pw;
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph + 18.0,
            fmt_num(x0 + f * (x1 - x0))
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        LEFT + pw / 2.0,
        H - 10.0,
        escape(x_label)
    );
    for (series, right) in [(a, false), (b, true)] {
        let (y0, y1) = bounds(series.points.iter().map(|p| p.1));
        let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
        for i in 0..=4 {
            let f = f64::from(i) / 4.0;
            let (x, anchor) = if right {
                (LEFT + pw + 6.0, "start")
            } else {
                (LEFT - 6.0, "end")
            };
            let _ = writeln!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{}\">{}</text>",
                TOP + ph - f * ph + 4.0,
                series.color,
                fmt_num(y0 + f * (y1 - y0))
            );
        }
        let pts: Vec<String> = series
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            series.color,
            pts.join(" ")
        );
        for &(x, y) in &series.points {
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                sx(x),
                sy(y),
                series.color
            );
        }
        let lx = if right {
            LEFT + pw - 220.0
        } else {
            LEFT + 10.0
        };
        let _ = writeln!(
            out,
            "<text x=\"{lx:.1}\" y=\"{:.1}\" fill=\"{}\">{}{}</text>",
            TOP + 16.0,
            series.color,
            escape(series.name),
            if right {
                " (right axis)"
            } else {
                " (left axis)"
            }
        );
    }
    out.push_str("</svg>\n");
    out
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::LoadConfig;
    use super::super::report::{LoadReport, Sample, StepReport};
    use super::*;

    fn report(steps: usize) -> LoadReport {
        LoadReport {
            completed: true,
            config: LoadConfig::new("ws://127.0.0.1:1"),
            totals: StepReport::default(),
            steps: (1..=steps)
                .map(|i| StepReport {
                    subscribers: i * 10,
                    cpu_us_per_forwarded_packet: Some(i as f64),
                    loss_pct: 0.5 * i as f64,
                    ..StepReport::default()
                })
                .collect(),
            received_per_subscriber: vec![],
            rtp_per_subscriber: vec![],
            verified_per_subscriber: vec![],
            video_expected_per_subscriber: vec![],
            residual_lost_per_subscriber: vec![],
            impaired_video_per_subscriber: vec![],
            nacks_per_subscriber: vec![],
            repaired_per_subscriber: vec![],
            freezes_per_subscriber: vec![],
            timeseries: (0..3)
                .map(|i| Sample {
                    t_s: f64::from(i),
                    pps_in: 100.0 * f64::from(i),
                    latency_p99_us: 250.0,
                    ..Sample::default()
                })
                .collect(),
            errors: vec![],
        }
    }

    #[test]
    fn ramp_chart_plots_every_step() {
        let svg = chart(&report(3));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("subscribers"));
        assert_eq!(svg.matches("<circle").count(), 6);
        assert_eq!(svg.matches("<polyline").count(), 2);
    }

    #[test]
    fn time_chart_and_empty_series() {
        let svg = chart(&report(1));
        assert!(svg.contains("seconds"));
        assert_eq!(svg.matches("<circle").count(), 6);
        let mut r = report(1);
        r.config.impair.recv.loss_pct = 3.0;
        let svg = chart(&r);
        assert!(svg.contains("residual loss") && svg.contains("after repair"));
        r.timeseries.clear();
        let svg = chart(&r);
        assert!(!svg.contains("NaN"));
        assert!(!svg.contains("inf"));
    }
}

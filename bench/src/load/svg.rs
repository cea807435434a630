//! A hand-written SVG line chart of a load report: with several steps (a ramp), server CPU µs
//! per forwarded packet and loss against the subscriber count; with one step, packets/s in
//! and latency p99 over time, or, when the clients were impaired, packets/s in and the video
//! loss left after repair over time. Of a churn report ([`churn_chart`]): each server's RSS
//! (left axis), open descriptors and peers (right axis) over time.
//!
//! Owns: the chart's markup. Must not read files or the clock.

use std::fmt::Write as _;

use super::churn::report::ChurnReport;
use super::churn::watch::Phase;
use super::report::LoadReport;

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// Height of one legend line under a chart of several series per axis.
const LEGEND_ROW: f64 = 16.0;

/// One plotted series; the series of one axis share its scale.
struct Series<'a> {
    name: String,
    color: &'a str,
    /// Drawn dashed (a second server's series).
    dashed: bool,
    points: Vec<(f64, f64)>,
}

impl<'a> Series<'a> {
    fn new(name: &str, color: &'a str, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.to_owned(),
            color,
            dashed: false,
            points,
        }
    }
}

/// The chart for `report`.
pub fn chart(report: &LoadReport) -> String {
    if report.steps.len() > 1 {
        let x: Vec<f64> = report.steps.iter().map(|s| s.subscribers as f64).collect();
        let cpu = Series::new(
            "server CPU µs / forwarded packet",
            "#1f77b4",
            x.iter()
                .zip(&report.steps)
                .filter_map(|(x, s)| s.cpu_us_per_forwarded_packet.map(|v| (*x, v)))
                .collect(),
        );
        let loss = Series::new(
            "loss %",
            "#d62728",
            x.iter()
                .zip(&report.steps)
                .map(|(x, s)| (*x, s.loss_pct))
                .collect(),
        );
        render(
            "rtcdn-load: cost and loss against subscribers",
            "subscribers",
            &[cpu],
            &[loss],
            &[],
        )
    } else {
        let pps = Series::new(
            "packets/s received",
            "#1f77b4",
            report
                .timeseries
                .iter()
                .map(|s| (s.t_s, s.pps_in))
                .collect(),
        );
        let impair = &report.config.impair;
        let (title, second) = if impair.send.is_none() && impair.recv.is_none() {
            let lat = Series::new(
                "latency p99 µs",
                "#ff7f0e",
                report
                    .timeseries
                    .iter()
                    .map(|s| (s.t_s, s.latency_p99_us))
                    .collect(),
            );
            ("rtcdn-load: throughput and latency over time", lat)
        } else {
            let residual = Series::new(
                "video loss after repair %",
                "#d62728",
                report
                    .timeseries
                    .iter()
                    .map(|s| (s.t_s, s.residual_loss_pct))
                    .collect(),
            );
            (
                "rtcdn-load: throughput and residual loss over time (impaired)",
                residual,
            )
        };
        render(title, "seconds", &[pps], &[second], &[])
    }
}

/// The chart of a churn run: per server RSS in MiB (left axis), open descriptors and peers
/// (right axis) against seconds, a second server's lines dashed; vertical marks where the
/// drain and the settle time began.
pub fn churn_chart(report: &ChurnReport) -> String {
    let mut left = Vec::new();
    let mut right = Vec::new();
    for (i, w) in report.servers.iter().enumerate() {
        let points = |f: &dyn Fn(&super::churn::watch::ServerReading) -> Option<f64>| {
            report
                .samples
                .iter()
                .filter_map(|s| Some((s.t_s, f(s.servers.get(i)?)?)))
                .collect::<Vec<_>>()
        };
        let dashed = i > 0;
        let series = |name: &str, color, f: &dyn Fn(&_) -> Option<f64>| Series {
            name: format!("{} {name}", w.role),
            color,
            dashed,
            points: points(f),
        };
        left.push(series("RSS MiB", "#1f77b4", &|r| {
            r.rss_kib.map(|k| k as f64 / 1024.0)
        }));
        right.push(series("fds", "#ff7f0e", &|r| r.fds.map(|v| v as f64)));
        right.push(series("peers", "#2ca02c", &|r| r.peers.map(|v| v as f64)));
    }
    let mark = |phase: Phase, label: &'static str| {
        report
            .samples
            .iter()
            .find(|s| s.phase == phase)
            .map(|s| (s.t_s, label))
    };
    let marks: Vec<(f64, &str)> = [mark(Phase::Drain, "drain"), mark(Phase::Settle, "settle")]
        .into_iter()
        .flatten()
        .collect();
    render(
        "rtcdn-load churn: server RSS, descriptors and peers",
        "seconds",
        &left,
        &right,
        &marks,
    )
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

/// Renders `left` on the left axis and `right` on the right one (each axis scaled to all its
/// series), with labelled vertical `marks` at their x.
fn render(
    title: &str,
    x_label: &str,
    left: &[Series],
    right: &[Series],
    marks: &[(f64, &str)],
) -> String {
    let (x0, x1) = bounds(
        left.iter()
            .chain(right)
            .flat_map(|s| s.points.iter().map(|p| p.0)),
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    // One series per axis: its name inside the plot's top corner; more: a legend of one line
    // per series under the chart, a column per axis.
    let several = left.len() > 1 || right.len() > 1;
    let legend_h = if several {
        LEGEND_ROW * left.len().max(right.len()) as f64 + 6.0
    } else {
        0.0
    };
    let height = H + legend_h;
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" \
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
    for (row, &(x, label)) in marks.iter().enumerate() {
        let x = sx(x);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"2,3\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#666\">{}</text>",
            TOP + ph,
            x + 3.0,
            TOP + 14.0 * (row + 1) as f64,
            escape(label),
        );
    }
    for (axis, right) in [(left, false), (right, true)] {
        let mut legend_row = 0.0;
        let (y0, y1) = bounds(axis.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
        let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
        // The axis labels in the colour of its series if they all share one, else grey.
        let color = match axis.first() {
            Some(first) if axis.iter().all(|s| s.color == first.color) => first.color,
            _ => "#444",
        };
        for i in 0..=4 {
            let f = f64::from(i) / 4.0;
            let (x, anchor) = if right {
                (LEFT + pw + 6.0, "start")
            } else {
                (LEFT - 6.0, "end")
            };
            let _ = writeln!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{color}\">{}</text>",
                TOP + ph - f * ph + 4.0,
                fmt_num(y0 + f * (y1 - y0))
            );
        }
        for series in axis {
            let pts: Vec<String> = series
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>",
                series.color,
                if series.dashed {
                    " stroke-dasharray=\"6,4\""
                } else {
                    ""
                },
                pts.join(" ")
            );
            // Dots only where they can be told apart.
            let dots = if series.points.len() <= 60 {
                &series.points[..]
            } else {
                &[]
            };
            for &(x, y) in dots {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                    sx(x),
                    sy(y),
                    series.color
                );
            }
            let (lx, ly) = match (several, right) {
                (false, false) => (LEFT + 10.0, TOP + 16.0),
                (false, true) => (LEFT + pw - 220.0, TOP + 16.0),
                (true, false) => (LEFT, H + LEGEND_ROW * legend_row),
                (true, true) => (LEFT + pw / 2.0, H + LEGEND_ROW * legend_row),
            };
            legend_row += 1.0;
            let _ = writeln!(
                out,
                "<text x=\"{lx:.1}\" y=\"{ly:.1}\" fill=\"{}\">{}{}{}</text>",
                series.color,
                escape(&series.name),
                if series.dashed { " (dashed)" } else { "" },
                if right {
                    " (right axis)"
                } else {
                    " (left axis)"
                }
            );
        }
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
    fn churn_chart_has_a_line_per_server_and_figure() {
        use super::super::churn::report::{ChurnReport, ClientTotals};
        use super::super::churn::watch::{Sample, ServerReading, Watched};
        let reading = |role: &str, t: u64| ServerReading {
            role: role.into(),
            rss_kib: Some(20_000 + t),
            fds: Some(30),
            peers: Some(t % 7),
            ..ServerReading::default()
        };
        let samples: Vec<Sample> = (0..100u64)
            .map(|t| Sample {
                t_s: t as f64,
                phase: match t {
                    0..80 => Phase::Churn,
                    80..90 => Phase::Drain,
                    _ => Phase::Settle,
                },
                viewers: 0,
                waiting: 0,
                jobs: 0,
                ghosts: 0,
                joins: 0,
                leaves: 0,
                servers: vec![reading("origin", t), reading("edge", t)],
            })
            .collect();
        let watched = |role: &str| Watched {
            role: role.into(),
            addr: "127.0.0.1:1".into(),
            pid: Some(1),
        };
        let report = ChurnReport {
            completed: true,
            leak_free: true,
            config: LoadConfig::new("ws://127.0.0.1:1"),
            servers: vec![watched("origin"), watched("edge")],
            churn_s: 80.0,
            drain_s: 10.0,
            settle_s: 10.0,
            clients: ClientTotals::default(),
            baseline: vec![],
            end: vec![],
            peaks: vec![],
            rss: vec![],
            rss_growth_pct: None,
            fd_slack: 2,
            leaks: vec![],
            errors: vec![],
            samples,
        };
        let svg = churn_chart(&report);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 6, "RSS, fds, peers × 2");
        assert_eq!(
            svg.matches("stroke-dasharray=\"6,4\"").count(),
            3,
            "the edge's"
        );
        assert_eq!(svg.matches("<circle").count(), 0, "100 points: no dots");
        for label in [
            "origin RSS MiB",
            "edge fds",
            "edge peers",
            ">drain<",
            ">settle<",
        ] {
            assert!(svg.contains(label), "{label}");
        }
        assert!(!svg.contains("NaN"));
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

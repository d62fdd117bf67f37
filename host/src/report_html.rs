//! Self-contained HTML page for a `kiln validate` report (schema `kiln.validate/1`, docs/CLI.md).
//!
//! [`render`] turns the report JSON into one HTML5 document: inline CSS, inline SVG charts, no
//! scripts, no external resources (no URL of any kind), light/dark/print friendly. The JSON is
//! read leniently: every field may be missing, `null` or of the wrong type (older reports, `f32`
//! builds, the `host` board) and rendering never panics; a section whose data is absent is left
//! out. Every string taken from the report goes through [`escape`].
//!
//! Number formatting: fractions in [0, 1] as percentages with 2 decimals, integers with thin-space
//! thousands separators, other floats with 4 significant digits, `null` as "—".

use serde_json::Value;
use std::fmt::Write as _;

/// Shown for a missing or `null` figure.
const DASH: &str = "—";
/// Thousands separator (U+2009 THIN SPACE).
const THIN: char = '\u{2009}';
/// Larger confusion matrices are cut to their first classes.
const MAX_CLASSES: usize = 256;

/// Renders a validate report as a complete, self-contained HTML page.
pub fn render(report: &Value) -> String {
    let r = report;
    let sections: Vec<Section> = [
        comparison_section(r),
        outputs_section(r),
        checks_section(r),
        gates_section(r),
        confusion_section(r),
        per_layer_section(r),
        profile_section(r).or_else(|| latency_section(r)),
        quantization_section(r),
        memory_section(r),
        provenance_section(r),
    ]
    .into_iter()
    .flatten()
    .collect();

    let mut out = String::with_capacity(48 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&page_title(r)));
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>");
    out.push_str(&header(r));
    out.push_str("<main>\n");
    out.push_str(&summary(r));
    out.push_str(&notices(r));
    out.push_str(&nav(&sections));
    for s in &sections {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>",
            s.id, s.title, s.body
        );
    }
    out.push_str("</main>\n");
    out.push_str(&footer(r));
    out.push_str("</body>\n</html>\n");
    out
}

/// Escapes text for HTML element content and quoted attribute values. `/` is escaped as well
/// (OWASP's recommendation), so report text can never form a URL scheme like `http://` or `</`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '/' => out.push_str("&#47;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Lenient JSON access and number formatting

/// A finite number, or `None` (missing, `null`, wrong type).
fn num(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// The elements of an array, or nothing.
fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Any JSON value for display, escaped: integers with separators, floats with 4 significant
/// digits, `null` as a dash.
fn show(v: &Value) -> String {
    match v {
        Value::Null => DASH.into(),
        Value::Bool(b) => (if *b { "yes" } else { "no" }).into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => fmt_int(i128::from(i)),
            (_, Some(u), _) => fmt_int(i128::from(u)),
            (_, _, Some(f)) => fmt_float(f),
            _ => DASH.into(),
        },
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// A fraction in [0, 1] as a percentage with 2 decimals; other numbers as floats.
fn pct(v: &Value) -> String {
    match num(v) {
        Some(x) if (0.0..=1.0).contains(&x) => fmt_pct(x),
        Some(x) => fmt_float(x),
        None => show(v),
    }
}

fn fmt_pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// A byte count: `32 632 B`.
fn bytes(v: &Value) -> String {
    match num(v) {
        Some(_) => format!("{}{THIN}B", show(v)),
        None => show(v),
    }
}

/// A byte count in KiB, for the small print under a big number.
fn kib(v: &Value) -> Option<String> {
    num(v).map(|b| format!("{}{THIN}KiB", fmt_float(b / 1024.0)))
}

/// An integer with thin-space thousands separators.
fn fmt_int(i: i128) -> String {
    let digits = i.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3 + 1);
    if i < 0 {
        out.push('-');
    }
    group_digits(&digits, &mut out);
    out
}

fn group_digits(digits: &str, out: &mut String) {
    // Digits left before the next separator: the leading group holds 1 to 3 of them.
    let mut left = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    for c in digits.chars() {
        if left == 0 {
            out.push(THIN);
            left = 3;
        }
        out.push(c);
        left -= 1;
    }
}

/// A float with 4 significant digits (scientific notation outside [1e-3, 1e9)); integers of 10 000
/// and more get separators.
fn fmt_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return (if x > 0.0 { "∞" } else { "-∞" }).into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e9).contains(&a) {
        return format!("{x:.3e}");
    }
    let mag = a.log10().floor() as i32;
    let mut decimals = (3 - mag).max(0) as usize;
    let mut s = format!("{x:.decimals$}");
    // Rounding can carry into a new leading digit (9.9996 -> "10.000"): one decimal fewer.
    let carried = s
        .parse::<f64>()
        .is_ok_and(|r| r.abs() >= 10f64.powi(mag + 1));
    if carried && decimals > 0 {
        decimals -= 1;
        s = format!("{x:.decimals$}");
    }
    let (sign, body) = s.strip_prefix('-').map_or(("", s.as_str()), |b| ("-", b));
    let (int, frac) = body
        .split_once('.')
        .map_or((body, None), |(i, f)| (i, Some(f)));
    let mut out = String::from(sign);
    if int.len() > 4 {
        group_digits(int, &mut out);
    } else {
        out.push_str(int);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A count that may be fractional (confusion cells): integer formatting when whole.
fn fmt_count(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        fmt_int(x as i128)
    } else {
        fmt_float(x)
    }
}

/// `device_vs_float` -> "Device vs float model"; unknown names get underscores as spaces.
fn humanise(name: &str) -> String {
    let known = match name {
        "device_vs_labels" => "Device vs labels",
        "float_vs_labels" => "Float model vs labels",
        "host_vs_labels" => "Host simulation vs labels",
        "device_vs_float" => "Device vs float model",
        "device_vs_host" => "Device vs host simulation",
        "host_vs_float" => "Host simulation vs float model",
        _ => "",
    };
    if !known.is_empty() {
        return known.into();
    }
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Shortens a label to `max` characters with an ellipsis (raw text; escape afterwards).
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.into()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

// ---------------------------------------------------------------------------------------------
// Small HTML building blocks

struct Section {
    id: &'static str,
    title: &'static str,
    body: String,
}

fn section(id: &'static str, title: &'static str, body: String) -> Option<Section> {
    Some(Section { id, title, body })
}

fn badge(kind: &str, text: &str) -> String {
    format!("<span class=\"badge {kind}\">{text}</span>")
}

/// PASS / FAIL badge from a boolean, a dash otherwise.
fn pass_fail(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => badge("pass", "PASS"),
        Some(false) => badge("fail", "FAIL"),
        None => badge("skip", DASH),
    }
}

/// A table row: a CSS class for the `<tr>` (may be empty) and pre-rendered HTML cells.
struct Row {
    class: &'static str,
    cells: Vec<String>,
}

impl Row {
    fn new(cells: Vec<String>) -> Self {
        Row { class: "", cells }
    }
}

/// A table; header names ending in `#` are numeric (right-aligned), the `#` is dropped.
fn table(head: &[&str], rows: &[Row]) -> String {
    let numeric: Vec<bool> = head.iter().map(|h| h.ends_with('#')).collect();
    let mut out = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for (h, &n) in head.iter().zip(&numeric) {
        let _ = write!(
            out,
            "<th{}>{}</th>",
            if n { " class=\"n\"" } else { "" },
            h.strip_suffix('#').unwrap_or(h)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        if row.class.is_empty() {
            out.push_str("<tr>");
        } else {
            let _ = write!(out, "<tr class=\"{}\">", row.class);
        }
        for (k, cell) in row.cells.iter().enumerate() {
            let n = numeric.get(k).copied().unwrap_or(false);
            let _ = write!(
                out,
                "<td{}>{cell}</td>",
                if n { " class=\"n\"" } else { "" }
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// A definition list of (label, pre-rendered HTML value); rows whose value is a dash are kept so
/// the reader sees what is missing.
fn kv_list(pairs: &[(&str, String)]) -> String {
    let mut out = String::from("<dl class=\"kv\">\n");
    for (k, v) in pairs {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl>\n");
    out
}

fn code(v: &Value) -> String {
    match v {
        Value::String(s) => format!("<code>{}</code>", escape(s)),
        other => show(other),
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny SVG writer

struct Svg {
    w: f64,
    h: f64,
    label: String,
    body: String,
}

impl Svg {
    /// `label` is raw text (escaped here); it becomes the accessible name and `<title>`.
    fn new(w: f64, h: f64, label: &str) -> Self {
        Svg {
            w,
            h,
            label: escape(label),
            body: String::new(),
        }
    }

    /// A rectangle; `style` is an inline style (may be empty), `tip` raw tooltip text.
    fn rect(&mut self, (x, y, w, h): (f64, f64, f64, f64), class: &str, style: &str, tip: &str) {
        let _ = write!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"{class}\"",
            w.max(0.0),
            h.max(0.0)
        );
        if !style.is_empty() {
            let _ = write!(self.body, " style=\"{style}\"");
        }
        if tip.is_empty() {
            self.body.push_str("/>");
        } else {
            let _ = write!(self.body, "><title>{}</title></rect>", escape(tip));
        }
    }

    /// Text at (x, y); `anchor` is start/middle/end, `html` is already escaped.
    fn text(&mut self, (x, y): (f64, f64), anchor: &str, class: &str, html: &str) {
        let _ = write!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" class=\"{class}\">{html}</text>"
        );
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        let _ = write!(
            self.body,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" class=\"{class}\"/>"
        );
    }

    fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    fn finish(self) -> String {
        format!(
            "<svg class=\"chart\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" \
             role=\"img\" aria-label=\"{l}\"><title>{l}</title>{b}</svg>\n",
            w = self.w,
            h = self.h,
            l = self.label,
            b = self.body
        )
    }
}

/// A step of 1, 2 or 5 × 10^k giving at most about 5 ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    step * mag
}

/// One bar of a horizontal bar chart. `value` is `None` for no bar, `INFINITY` for a full bar.
struct Bar {
    label: String,
    value: Option<f64>,
    class: &'static str,
    /// Escaped text printed after the bar.
    text: String,
    /// Raw tooltip.
    tip: String,
}

/// A horizontal bar chart over [0, `scale`] with an optional dashed threshold line.
fn hbar_chart(title: &str, bars: &[Bar], scale: f64, threshold: Option<(f64, String)>) -> String {
    const LABEL_W: f64 = 190.0;
    const BAR_W: f64 = 400.0;
    const VALUE_W: f64 = 120.0;
    const ROW_H: f64 = 22.0;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 26.0;
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let x_of = |v: f64| LABEL_W + (v.clamp(0.0, scale) / scale) * BAR_W;
    let plot_h = bars.len() as f64 * ROW_H;
    let mut svg = Svg::new(LABEL_W + BAR_W + VALUE_W, TOP + plot_h + BOTTOM, title);

    let step = nice_step(scale);
    let mut tick = 0.0;
    for _ in 0..12 {
        if tick > scale * (1.0 + 1e-9) {
            break;
        }
        let x = x_of(tick);
        svg.line((x, TOP - 4.0), (x, TOP + plot_h), "grid");
        svg.text((x, TOP + plot_h + 16.0), "middle", "tick", &fmt_tick(tick));
        tick += step;
    }

    // Bars, then the threshold over them, then the values (with a halo) over both.
    let mut ends = Vec::with_capacity(bars.len());
    for (k, bar) in bars.iter().enumerate() {
        let y = TOP + k as f64 * ROW_H;
        let label = escape(&truncate(&bar.label, 26));
        svg.text((LABEL_W - 8.0, y + 15.0), "end", "lbl", &label);
        let end = match bar.value {
            Some(v) if v.is_infinite() => LABEL_W + BAR_W,
            Some(v) => x_of(v),
            None => LABEL_W,
        };
        if bar.value.is_some() {
            let r = (LABEL_W, y + 4.0, end - LABEL_W, ROW_H - 8.0);
            svg.rect(r, bar.class, "", &bar.tip);
        }
        ends.push((end, y));
    }
    if let Some((t, label)) = threshold {
        let x = x_of(t);
        svg.line((x, TOP - 6.0), (x, TOP + plot_h + 2.0), "thr");
        svg.text((x, TOP - 10.0), "middle", "thr-lbl", &escape(&label));
    }
    for (bar, (end, y)) in bars.iter().zip(ends) {
        svg.text((end + 6.0, y + 15.0), "start", "val", &bar.text);
    }
    svg.finish()
}

/// Axis tick label: compact, e.g. `40k`, `1.5M`.
fn fmt_tick(v: f64) -> String {
    // Only decimals lose their trailing zeros: "20.00" -> "20", "1000" stays.
    let short = |x: f64| {
        let s = fmt_float(x);
        if s.contains('.') && !s.contains('e') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if v >= 1e6 {
        format!("{}M", short(v / 1e6))
    } else if v >= 1e4 {
        format!("{}k", short(v / 1e3))
    } else if v.fract() == 0.0 {
        fmt_count(v)
    } else {
        short(v)
    }
}

// ---------------------------------------------------------------------------------------------
// Page parts

fn page_title(r: &Value) -> String {
    let model = r["model"].as_str().unwrap_or("model");
    let board = r["board"].as_str().unwrap_or("?");
    let verdict = match r["passed"].as_bool() {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "no verdict",
    };
    format!("{model} on {board}: {verdict} (kiln validate)")
}

fn header(r: &Value) -> String {
    let verdict = match r["passed"].as_bool() {
        Some(true) => badge("verdict pass", "PASS"),
        Some(false) => badge("verdict fail", "FAIL"),
        None => badge("verdict skip", "NO VERDICT"),
    };
    let date = match r["created_at"].as_str() {
        Some(d) => format!("<time datetime=\"{0}\">{0}</time>", escape(d)),
        None => show(&r["created_at"]),
    };
    let mut meta = vec![
        ("Board", code(&r["board"])),
        ("Precision", show(&r["precision"])),
        ("Samples", show(&r["samples"])),
        ("Data", code(&r["data"])),
    ];
    if !r["created_at"].is_null() {
        meta.push(("Date", date));
    }
    if !r["repeat_identical"].is_null() {
        meta.push(("Repeat run identical", show(&r["repeat_identical"])));
    }
    let mut out = String::from("<header class=\"top\">\n<div class=\"headline\">\n<div>");
    let _ = write!(
        out,
        "<p class=\"eyebrow\">kiln validate report</p><h1>{}</h1></div>{verdict}\n</div>\n",
        show(&r["model"])
    );
    out.push_str("<dl class=\"meta\">\n");
    for (k, v) in meta {
        let _ = writeln!(out, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    }
    out.push_str("</dl>\n</header>\n");
    out
}

/// `top1` of the named comparison row, for reports without `accuracy`.
fn row_top1<'a>(r: &'a Value, name: &str) -> &'a Value {
    items(&r["rows"])
        .iter()
        .find(|row| row["name"].as_str() == Some(name))
        .map_or(&Value::Null, |row| &row["top1"])
}

fn accuracy<'a>(r: &'a Value, key: &str, row: &str) -> &'a Value {
    match &r["accuracy"][key] {
        Value::Null => row_top1(r, row),
        v => v,
    }
}

fn summary(r: &Value) -> String {
    let device = accuracy(r, "device", "device_vs_labels");
    let float = accuracy(r, "float", "float_vs_labels");
    let delta = match (num(device), num(float)) {
        (Some(d), Some(f)) => format!("{:+.2}{THIN}pp", (d - f) * 100.0),
        _ => DASH.into(),
    };
    let ipi = &r["instructions_per_inference"];
    let ipi_sub = match (num(&ipi["min"]), num(&ipi["max"])) {
        (Some(_), Some(_)) => format!("min {} · max {}", show(&ipi["min"]), show(&ipi["max"])),
        _ => String::new(),
    };
    let sizes = &r["firmware"]["sizes"];
    let stack = &r["stack"];
    let (used, reserve) = (&stack["stack_used"], &stack["stack_reserve"]);
    let stack_big = match (num(used), num(reserve)) {
        (None, None) => DASH.into(),
        _ => format!("{} / {}", show(used), bytes(reserve)),
    };
    let stack_sub = match (num(used), num(reserve)) {
        (Some(u), Some(s)) if s > 0.0 => format!("{} of reserve", fmt_pct(u / s)),
        _ => String::new(),
    };
    let host_sub = match num(&r["accuracy"]["host"]) {
        Some(_) => format!("host simulation {}", pct(&r["accuracy"]["host"])),
        None => String::new(),
    };
    let cards = [
        ("Device accuracy", pct(device), host_sub),
        ("Float model accuracy", pct(float), String::new()),
        ("Device − float", delta, "percentage points".into()),
        ("Instructions / inference", show(&ipi["mean"]), ipi_sub),
        (
            "Flash",
            bytes(&sizes["flash_bytes"]),
            kib(&sizes["flash_bytes"]).unwrap_or_default(),
        ),
        (
            "RAM",
            bytes(&sizes["ram_bytes"]),
            kib(&sizes["ram_bytes"]).unwrap_or_default(),
        ),
        ("Stack used / reserve", stack_big, stack_sub),
    ];
    let mut out = String::from("<section id=\"summary\" class=\"strip\">\n");
    for (label, big, sub) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card\"><div class=\"k\">{label}</div><div class=\"big\">{big}</div>\
             <div class=\"sub\">{sub}</div></div>"
        );
    }
    out.push_str("</section>\n");
    out
}

fn notices(r: &Value) -> String {
    let list = items(&r["notices"]);
    if list.is_empty() {
        return String::new();
    }
    let mut out = String::from("<aside class=\"notices\"><strong>Notices</strong><ul>\n");
    for n in list {
        let _ = writeln!(out, "<li>{}</li>", show(n));
    }
    out.push_str("</ul></aside>\n");
    out
}

fn nav(sections: &[Section]) -> String {
    if sections.is_empty() {
        return String::new();
    }
    let mut out = String::from("<nav class=\"toc\">");
    for s in sections {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", s.id, s.title);
    }
    out.push_str("</nav>\n");
    out
}

fn footer(r: &Value) -> String {
    format!(
        "<footer>Generated by kiln {} from a <code>{}</code> report. Self-contained page: \
         no scripts, no external resources.</footer>\n",
        show(&r["provenance"]["kiln_version"]),
        show(&r["schema"])
    )
}

fn comparison_section(r: &Value) -> Option<Section> {
    let rows = items(&r["rows"]);
    if rows.is_empty() {
        return None;
    }
    let body_rows: Vec<Row> = rows
        .iter()
        .map(|row| {
            let name = match row["name"].as_str() {
                Some(n) => escape(&humanise(n)),
                None => show(&row["name"]),
            };
            Row::new(vec![
                name,
                show(&row["output"]),
                pct(&row["top1"]),
                pct(&row["top5"]),
                show(&row["rmse"]),
                show(&row["mae"]),
                show(&row["max_abs"]),
                show(&row["rel_l2"]),
                show(&row["cosine"]),
                show(&row["nse"]),
                show(&row["elements"]),
            ])
        })
        .collect();
    let head = [
        "Comparison",
        "Output",
        "Top-1#",
        "Top-5#",
        "RMSE#",
        "MAE#",
        "Max |err|#",
        "Rel. L2#",
        "Cosine#",
        "NSE#",
        "Elements#",
    ];
    section("compare", "Comparison", table(&head, &body_rows))
}

fn outputs_section(r: &Value) -> Option<Section> {
    const PAIRS: [&str; 3] = ["device_vs_host", "device_vs_float", "host_vs_float"];
    let mut rows = Vec::new();
    for output in items(&r["outputs"]) {
        let mut name = show(&output["name"]);
        if num(&output["lsb"]).is_some() {
            let _ = write!(
                name,
                "<div class=\"sub\">LSB {}; device vs host max {} LSB</div>",
                show(&output["lsb"]),
                show(&output["max_lsb_device_vs_host"])
            );
        }
        // The output's name heads its first row only.
        let mut first = Some(name);
        for pair in PAIRS {
            let p = &output[pair];
            if !p.is_object() {
                continue;
            }
            let bad = pair == "device_vs_host" && num(&p["mismatched"]).is_some_and(|m| m > 0.0);
            rows.push(Row {
                class: if bad { "warn" } else { "" },
                cells: vec![
                    first.take().unwrap_or_default(),
                    escape(&humanise(pair)),
                    show(&p["max_abs_error"]),
                    show(&p["rmse"]),
                    show(&p["cosine_similarity"]),
                    pct(&p["top1_agreement"]),
                    show(&p["out_of_tolerance"]),
                    show(&p["mismatched"]),
                    show(&p["elements"]),
                ],
            });
        }
    }
    if rows.is_empty() {
        return None;
    }
    let head = [
        "Output",
        "Comparison",
        "Max abs err#",
        "RMSE#",
        "Cosine#",
        "Top-1 agree#",
        "Out of tol.#",
        "Mismatched#",
        "Elements#",
    ];
    let note = "<p class=\"note\">Out of tolerance: elements outside 1e-5 + 1e-4·|ref|. \
                Mismatched: elements whose bits differ.</p>\n";
    section(
        "outputs",
        "Outputs",
        format!("{}{note}", table(&head, &rows)),
    )
}

fn checks_section(r: &Value) -> Option<Section> {
    let checks = items(&r["checks"]);
    if checks.is_empty() {
        return None;
    }
    let rows: Vec<Row> = checks
        .iter()
        .map(|c| Row {
            class: if c["passed"].as_bool() == Some(false) {
                "bad"
            } else {
                ""
            },
            cells: vec![
                code(&c["name"]),
                pass_fail(&c["passed"]),
                show(&c["detail"]),
            ],
        })
        .collect();
    section(
        "checks",
        "Checks",
        table(&["Check", "Result", "Detail"], &rows),
    )
}

fn gate_status(v: &Value) -> String {
    match v.as_str() {
        Some("pass") => badge("pass", "PASS"),
        Some("fail") => badge("fail", "FAIL"),
        Some("skipped") => badge("skip", "SKIPPED"),
        _ => show(v),
    }
}

fn gates_section(r: &Value) -> Option<Section> {
    let gates = items(&r["gates"]);
    if gates.is_empty() {
        return None;
    }
    let rows: Vec<Row> = gates
        .iter()
        .map(|g| {
            let unit = g["unit"].as_str().unwrap_or("");
            let figure = |v: &Value| if unit == "pp" { pct(v) } else { show(v) };
            let in_unit = |v: &Value| match num(v) {
                Some(_) if !unit.is_empty() => format!("{}{THIN}{}", show(v), escape(unit)),
                _ => show(v),
            };
            Row {
                class: if g["status"].as_str() == Some("fail") {
                    "bad"
                } else {
                    ""
                },
                cells: vec![
                    code(&g["name"]),
                    code(&g["metric"]),
                    figure(&g["baseline"]),
                    figure(&g["current"]),
                    in_unit(&g["regression"]),
                    in_unit(&g["limit"]),
                    gate_status(&g["status"]),
                    show(&g["detail"]),
                ],
            }
        })
        .collect();
    let head = [
        "Gate",
        "Metric",
        "Baseline#",
        "Current#",
        "Regression#",
        "Limit#",
        "Status",
        "Detail",
    ];
    let mut body = String::new();
    if !r["baseline"]["source"].is_null() {
        let _ = writeln!(body, "<p>Baseline: {}</p>", code(&r["baseline"]["source"]));
    }
    body.push_str(&table(&head, &rows));
    section("gates", "Regression gates", body)
}

/// Confusion counts as rows of non-negative numbers, squared up to n × n (n ≤ [`MAX_CLASSES`]).
fn confusion_counts(c: &Value) -> Vec<Vec<f64>> {
    let raw: Vec<Vec<f64>> = items(&c["counts"])
        .iter()
        .map(|row| {
            items(row)
                .iter()
                .map(|v| num(v).unwrap_or(0.0).max(0.0))
                .collect()
        })
        .collect();
    let widest = raw.iter().map(Vec::len).max().unwrap_or(0);
    let n = raw.len().max(widest).min(MAX_CLASSES);
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    raw.get(i)
                        .and_then(|row| row.get(j))
                        .copied()
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .collect()
}

fn confusion_section(r: &Value) -> Option<Section> {
    let m = confusion_counts(&r["confusion"]);
    let n = m.len();
    if n == 0 {
        return None;
    }
    let cell = if n <= 12 {
        40.0
    } else {
        (520.0 / n as f64).clamp(4.0, 40.0)
    };
    let with_numbers = cell >= 18.0;
    let (left, top) = (64.0, 56.0);
    let recall_w = if with_numbers { 70.0 } else { 0.0 };
    let grid = cell * n as f64;
    let mut svg = Svg::new(
        left + grid + recall_w + 8.0,
        top + grid + 12.0,
        "Confusion matrix",
    );
    svg.text((left + grid / 2.0, 14.0), "middle", "axis", "predicted");
    let (ty, tx) = (top + grid / 2.0, 16.0);
    svg.raw(&format!(
        "<text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" class=\"axis\" \
         transform=\"rotate(-90 {tx:.1} {ty:.1})\">true</text>"
    ));
    let tick_every = (n as f64 / 20.0).ceil().max(1.0) as usize;
    for k in (0..n).step_by(tick_every) {
        let mid = k as f64 * cell + cell / 2.0;
        svg.text((left + mid, top - 8.0), "middle", "tick", &k.to_string());
        svg.text((left - 8.0, top + mid + 4.0), "end", "tick", &k.to_string());
    }
    if with_numbers {
        svg.text((left + grid + 8.0, top - 8.0), "start", "tick", "recall");
    }
    for (i, row) in m.iter().enumerate() {
        let total: f64 = row.iter().sum();
        for (j, &count) in row.iter().enumerate() {
            let share = if total > 0.0 { count / total } else { 0.0 };
            let (x, y) = (left + j as f64 * cell, top + i as f64 * cell);
            let class = match (count > 0.0, i == j) {
                (false, _) => "cm-zero",
                (true, true) => "cm-hit",
                (true, false) => "cm-miss",
            };
            // sqrt keeps a few confusions in a row visible next to a full diagonal.
            let shade = 0.15 + 0.85 * share.sqrt();
            let style = if count > 0.0 {
                format!("fill-opacity:{shade:.3}")
            } else {
                String::new()
            };
            let tip = format!(
                "true {i}, predicted {j}: {} ({} of row)",
                fmt_count(count),
                fmt_pct(share)
            );
            svg.rect((x, y, cell - 1.0, cell - 1.0), class, &style, &tip);
            if with_numbers && count > 0.0 {
                let class = if shade > 0.6 { "cm-num inv" } else { "cm-num" };
                let c = (x + cell / 2.0 - 0.5, y + cell / 2.0 + 4.0);
                svg.text(c, "middle", class, &fmt_count(count));
            }
        }
        if with_numbers && total > 0.0 {
            let y = top + i as f64 * cell + cell / 2.0 + 4.0;
            let recall = fmt_pct(row.get(i).copied().unwrap_or(0.0) / total);
            svg.text((left + grid + 8.0, y), "start", "val", &recall);
        }
    }
    let mut body = svg.finish();
    body.push_str(&confusion_notes(&m));
    section("confusion", "Confusion matrix", body)
}

/// Overall accuracy from the matrix and its most frequent confusion.
fn confusion_notes(m: &[Vec<f64>]) -> String {
    let total: f64 = m.iter().flatten().sum();
    let hits: f64 = (0..m.len()).map(|i| m[i][i]).sum();
    let worst = m
        .iter()
        .enumerate()
        .flat_map(|(i, row)| row.iter().enumerate().map(move |(j, &c)| (i, j, c)))
        .filter(|&(i, j, c)| i != j && c > 0.0)
        .max_by(|a, b| a.2.total_cmp(&b.2));
    let mut out = String::from("<p class=\"note\">Rows are true classes, columns predictions; ");
    out.push_str("cells are shaded by their share of the row (square-root scale).");
    if total > 0.0 {
        let _ = write!(
            out,
            " {} of {} samples on the diagonal ({}).",
            fmt_count(hits),
            fmt_count(total),
            fmt_pct(hits / total)
        );
    }
    if let Some((i, j, c)) = worst {
        let _ = write!(
            out,
            " Most frequent confusion: true {i} → predicted {j} ({} samples).",
            fmt_count(c)
        );
    }
    out.push_str("</p>\n");
    out
}

/// SNR of a layer: measured, `null` (outputs identical: infinite), or absent / malformed.
enum Snr {
    Db(f64),
    Identical,
    Missing,
}

struct Layer<'a> {
    node: String,
    op: &'a Value,
    kernel: &'a Value,
    snr: Snr,
    cosine: &'a Value,
    instructions: Option<f64>,
}

fn layers(pl: &Value) -> Vec<Layer<'_>> {
    items(&pl["layers"])
        .iter()
        .enumerate()
        .map(|(k, l)| Layer {
            node: l["node"]
                .as_str()
                .map_or_else(|| format!("layer {k}"), String::from),
            op: &l["op_type"],
            kernel: &l["kernel"],
            snr: match l.get("snr_db") {
                Some(Value::Null) => Snr::Identical,
                Some(v) => num(v).map_or(Snr::Missing, Snr::Db),
                None => Snr::Missing,
            },
            cosine: &l["cosine"],
            instructions: num(&l["instructions"]),
        })
        .collect()
}

fn fmt_snr(s: &Snr) -> String {
    match s {
        Snr::Db(x) => format!("{}{THIN}dB", fmt_float(*x)),
        Snr::Identical => "∞".into(),
        Snr::Missing => DASH.into(),
    }
}

fn per_layer_section(r: &Value) -> Option<Section> {
    let pl = &r["per_layer"];
    let layers = layers(pl);
    if layers.is_empty() {
        return None;
    }
    let threshold = num(&pl["threshold_db"]);
    let below = |l: &Layer| matches!((&l.snr, threshold), (Snr::Db(x), Some(t)) if *x < t);
    let first_below = pl["first_below"]
        .as_str()
        .map(String::from)
        .or_else(|| layers.iter().find(|l| below(l)).map(|l| l.node.clone()));

    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p class=\"note\">Signal-to-noise ratio of each layer's output on the device against the \
         float model, over {} samples; ∞ means identical outputs.</p>",
        show(&pl["samples"])
    );
    match (&first_below, threshold) {
        (Some(name), t) => {
            let at = t.map_or(String::new(), |t| format!(" the {}{THIN}dB", fmt_float(t)));
            let _ = writeln!(
                body,
                "<p class=\"callout warn\">First layer below{at} threshold: <strong>{}</strong></p>",
                escape(name)
            );
        }
        (None, Some(t)) => {
            let _ = writeln!(
                body,
                "<p class=\"callout ok\">All layers at or above the {}{THIN}dB threshold.</p>",
                fmt_float(t)
            );
        }
        (None, None) => {}
    }
    body.push_str(&snr_chart(&layers, threshold, &below));
    body.push_str(&layer_table(&layers, &below));
    section("per-layer", "Per-layer accuracy", body)
}

fn snr_chart(layers: &[Layer], threshold: Option<f64>, below: &dyn Fn(&Layer) -> bool) -> String {
    let finite_max = layers
        .iter()
        .filter_map(|l| match l.snr {
            Snr::Db(x) => Some(x),
            _ => None,
        })
        .fold(threshold.unwrap_or(0.0), f64::max);
    let scale = (finite_max * 1.15).max(10.0);
    let bars: Vec<Bar> = layers
        .iter()
        .map(|l| {
            let (value, class) = match l.snr {
                Snr::Db(x) if below(l) => (Some(x.max(0.0)), "bar warn"),
                Snr::Db(x) => (Some(x.max(0.0)), "bar"),
                Snr::Identical => (Some(f64::INFINITY), "bar inf"),
                Snr::Missing => (None, "bar"),
            };
            Bar {
                label: l.node.clone(),
                value,
                class,
                text: fmt_snr(&l.snr),
                tip: format!("{}: {}", l.node, fmt_snr(&l.snr).replace(THIN, " ")),
            }
        })
        .collect();
    let thr = threshold.map(|t| (t, format!("threshold {} dB", fmt_float(t))));
    hbar_chart("SNR per layer (dB)", &bars, scale, thr)
}

fn layer_table(layers: &[Layer], below: &dyn Fn(&Layer) -> bool) -> String {
    let rows: Vec<Row> = layers
        .iter()
        .enumerate()
        .map(|(k, l)| Row {
            class: if below(l) { "warn" } else { "" },
            cells: vec![
                (k + 1).to_string(),
                format!("<code>{}</code>", escape(&l.node)),
                show(l.op),
                show(l.kernel),
                fmt_snr(&l.snr),
                show(l.cosine),
                l.instructions
                    .map_or_else(|| DASH.into(), |x| fmt_count(x.round())),
            ],
        })
        .collect();
    let head = [
        "##",
        "Node",
        "Op",
        "Kernel",
        "SNR#",
        "Cosine#",
        "Instructions#",
    ];
    table(&head, &rows)
}

fn latency_section(r: &Value) -> Option<Section> {
    let layers = layers(&r["per_layer"]);
    let total: f64 = layers.iter().filter_map(|l| l.instructions).sum();
    if layers.iter().all(|l| l.instructions.is_none()) {
        return None;
    }
    let max = layers
        .iter()
        .filter_map(|l| l.instructions)
        .fold(0.0, f64::max);
    let bars: Vec<Bar> = layers
        .iter()
        .map(|l| {
            let text = match l.instructions {
                Some(x) if total > 0.0 => format!("{} ({})", fmt_count(x), fmt_pct(x / total)),
                Some(x) => fmt_count(x),
                None => DASH.into(),
            };
            Bar {
                label: l.node.clone(),
                value: l.instructions.map(|x| x.max(0.0)),
                class: "bar lat",
                tip: format!("{}: {}", l.node, text.replace(THIN, " ")),
                text,
            }
        })
        .collect();
    let mut body = format!(
        "<p class=\"note\">Emulated instructions per layer and inference; {} in total.</p>\n",
        fmt_count(total)
    );
    body.push_str(&hbar_chart(
        "Instructions per layer",
        &bars,
        max * 1.05,
        None,
    ));
    section("latency", "Per-layer latency", body)
}

/// `--profile`: per-layer latency measured on the device, with MACs and instructions per MAC.
fn profile_section(r: &Value) -> Option<Section> {
    let pr = &r["profile"];
    let layers = items(&pr["layers"]);
    if layers.is_empty() {
        return None;
    }
    let total = num(&pr["total_instructions"]).unwrap_or(0.0);
    let whole = num(&pr["whole_instructions"]).unwrap_or(0.0);
    let instr = |l: &Value| num(&l["instructions"]).unwrap_or(0.0);
    let max = layers.iter().map(instr).fold(0.0, f64::max);
    let share = |x: f64| {
        if total > 0.0 {
            fmt_pct(x / total)
        } else {
            DASH.into()
        }
    };
    let name = |l: &Value| l["node"].as_str().unwrap_or("").to_string();
    let bars: Vec<Bar> = layers
        .iter()
        .map(|l| {
            let x = instr(l);
            let text = format!("{} ({})", fmt_count(x), share(x));
            Bar {
                label: name(l),
                value: Some(x.max(0.0)),
                class: "bar lat",
                tip: format!("{}: {}", name(l), text.replace(THIN, " ")),
                text,
            }
        })
        .collect();
    let rows: Vec<Row> = layers
        .iter()
        .map(|l| {
            Row::new(vec![
                escape(&name(l)),
                escape(l["op_type"].as_str().unwrap_or("")),
                escape(l["kernel"].as_str().unwrap_or("")),
                show(&l["macs"]),
                fmt_count(instr(l)),
                num(&l["instructions_per_mac"]).map_or(DASH.into(), |v| format!("{v:.2}")),
                share(instr(l)),
            ])
        })
        .collect();
    let cycles = pr["unit"] == "cycles";
    let mut body = format!(
        "<p class=\"note\">{} per layer, measured on the device (sample 0, \
         layers 0..=L run one prefix at a time). The layers add up to {} against {} for the \
         whole inference timed on its own ({} apart).</p>\n",
        if cycles {
            "Core clock cycles"
        } else {
            "Emulated instructions"
        },
        fmt_count(total),
        fmt_count(whole),
        num(&pr["difference_pct"]).map_or(DASH.into(), |d| format!("{d:.2}{THIN}%")),
    );
    body.push_str(&hbar_chart(
        if cycles {
            "Cycles per layer"
        } else {
            "Instructions per layer"
        },
        &bars,
        max * 1.05,
        None,
    ));
    body.push_str(&table(
        &[
            "layer",
            "op",
            "kernel",
            "MACs#",
            if cycles { "cycles#" } else { "instructions#" },
            "per MAC#",
            "share#",
        ],
        &rows,
    ));
    section("latency", "Per-layer latency", body)
}

fn quantization_section(r: &Value) -> Option<Section> {
    let q = &r["quantization"];
    if !q.is_object() {
        return None;
    }
    let calibration = if q["calib_method"].is_null() && q["calib_samples"].is_null() {
        DASH.to_string()
    } else {
        format!(
            "{} on {} samples",
            show(&q["calib_method"]),
            show(&q["calib_samples"])
        )
    };
    let mut body = kv_list(&[
        ("Source", show(&q["source"])),
        ("Recipe", show(&q["recipe"])),
        ("Calibration", calibration),
        ("Calibration hash", code(&q["calib_hash"])),
        (
            "Layers",
            format!(
                "{} int8 · {} f32",
                show(&q["int8_layers"]),
                show(&q["f32_layers"])
            ),
        ),
    ]);
    let rows: Vec<Row> = items(&q["layers"])
        .iter()
        .map(|l| {
            let kernel = match l["kernel"].as_str() {
                Some("int8") => badge("int8", "int8"),
                Some("f32") => badge("f32", "f32"),
                _ => show(&l["kernel"]),
            };
            Row {
                class: if l["kernel"].as_str() == Some("f32") {
                    "warn"
                } else {
                    ""
                },
                cells: vec![
                    code(&l["node"]),
                    show(&l["op_type"]),
                    kernel,
                    show(&l["reason"]),
                ],
            }
        })
        .collect();
    if !rows.is_empty() {
        body.push_str(&table(&["Node", "Op", "Kernel", "Fallback reason"], &rows));
    }
    section("quant", "Quantization", body)
}

fn memory_section(r: &Value) -> Option<Section> {
    let sizes = &r["firmware"]["sizes"];
    if !sizes.is_object() {
        return None;
    }
    let flash = [
        ("weights", &sizes["flash_weights_bytes"]),
        ("code", &sizes["flash_code_bytes"]),
    ];
    let ram = [
        ("arena", &sizes["ram_arena_bytes"]),
        ("stack reserve", &sizes["ram_stack_reserve_bytes"]),
        ("other", &sizes["ram_other_bytes"]),
    ];
    let used = num(&r["stack"]["stack_used"]);
    let mut svg = Svg::new(680.0, 84.0, "Flash and RAM use");
    stacked_bar(&mut svg, 4.0, "Flash", &flash, &sizes["flash_bytes"], None);
    stacked_bar(&mut svg, 48.0, "RAM", &ram, &sizes["ram_bytes"], used);

    let mut rows = Vec::new();
    for (region, parts, total) in [
        ("Flash", &flash[..], &sizes["flash_bytes"]),
        ("RAM", &ram[..], &sizes["ram_bytes"]),
    ] {
        let t = num(total).unwrap_or_else(|| parts.iter().filter_map(|(_, v)| num(v)).sum());
        for (k, (part, v)) in parts.iter().enumerate() {
            let share = match num(v) {
                Some(b) if t > 0.0 => fmt_pct(b / t),
                _ => DASH.into(),
            };
            let swatch = format!("<span class=\"sw seg{k}\"></span>{part}");
            rows.push(Row::new(vec![region.into(), swatch, bytes(v), share]));
        }
        rows.push(Row {
            class: "total",
            cells: vec![region.into(), "total".into(), bytes(total), String::new()],
        });
    }
    if used.is_some() {
        rows.push(Row::new(vec![
            "RAM".into(),
            "<span class=\"sw used\"></span>stack used (measured)".into(),
            bytes(&r["stack"]["stack_used"]),
            String::new(),
        ]));
    }
    let mut body = svg.finish();
    body.push_str(&table(&["Region", "Part", "Bytes#", "Share#"], &rows));
    section("memory", "Memory", body)
}

/// One stacked bar at `y`: segments in order, scaled to `total` (or their sum), with the measured
/// stack use drawn inside the segment named "stack reserve".
fn stacked_bar(
    svg: &mut Svg,
    y: f64,
    label: &str,
    parts: &[(&str, &Value)],
    total: &Value,
    stack_used: Option<f64>,
) {
    const X0: f64 = 60.0;
    const W: f64 = 500.0;
    const H: f64 = 30.0;
    let sum: f64 = parts.iter().filter_map(|(_, v)| num(v)).sum();
    let scale = num(total).unwrap_or(sum).max(sum);
    svg.text((X0 - 8.0, y + 20.0), "end", "lbl", label);
    svg.rect((X0, y, W, H), "track", "", "");
    let mut x = X0;
    if scale > 0.0 {
        for (k, (name, v)) in parts.iter().enumerate() {
            let Some(b) = num(v).filter(|b| *b > 0.0) else {
                continue;
            };
            let w = b / scale * W;
            let tip = format!("{label} {name}: {} B", fmt_count(b).replace(THIN, " "));
            svg.rect((x, y, w, H), &format!("seg{k}"), "", &tip);
            if *name == "stack reserve" {
                if let Some(u) = stack_used.filter(|u| *u > 0.0) {
                    let uw = (u / b).min(1.0) * w;
                    let tip = format!("stack used: {} B", fmt_count(u).replace(THIN, " "));
                    svg.rect((x, y + H - 7.0, uw, 7.0), "used", "", &tip);
                }
            }
            if w > 90.0 {
                let text = format!("{name} {}", kib(v).unwrap_or_default());
                svg.text((x + 6.0, y + 19.0), "start", "seg-lbl", &escape(&text));
            }
            x += w;
        }
    }
    let shown = num(total).map_or_else(|| Value::from(sum), |_| total.clone());
    let kib_text = kib(&shown).unwrap_or_default();
    svg.text((X0 + W + 8.0, y + 13.0), "start", "val", &kib_text);
    svg.text((X0 + W + 8.0, y + 27.0), "start", "tick", &bytes(&shown));
}

fn provenance_section(r: &Value) -> Option<Section> {
    let (p, fw, stored) = (&r["provenance"], &r["firmware"], &r["stored"]);
    if !p.is_object() && !fw.is_object() && !stored.is_object() {
        return None;
    }
    let tc = &fw["toolchain"];
    let toolchain = if tc.is_object() {
        format!(
            "{} ({}, target {})",
            show(&tc["version"]),
            show(&tc["kind"]),
            code(&tc["target"])
        )
    } else {
        show(tc)
    };
    let stored_text = if stored.is_object() {
        format!("{} run #{}", code(&stored["db"]), show(&stored["id"]))
    } else {
        show(stored)
    };
    let build = match num(&fw["build_seconds"]) {
        Some(s) => format!("{}{THIN}s", fmt_float(s)),
        None => show(&fw["build_seconds"]),
    };
    let body = kv_list(&[
        ("Producer", show(&p["producer"])),
        ("Opset", show(&p["opset"])),
        ("Model SHA-256", code(&p["model_sha256"])),
        ("kiln version", show(&p["kiln_version"])),
        ("Git commit", code(&p["git_commit"])),
        ("Toolchain", toolchain),
        ("rustc", code(&tc["rustc"])),
        ("cargo", code(&tc["cargo"])),
        ("Firmware hash", code(&fw["hash"])),
        ("Firmware ELF", code(&fw["elf"])),
        ("Build time", build),
        ("Stored in", stored_text),
    ]);
    section("provenance", "Provenance", body)
}

// ---------------------------------------------------------------------------------------------
// Style

const CSS: &str = r#"
:root{--bg:#f5f6f8;--fg:#1b1f24;--muted:#5d6773;--card:#fff;--line:#dde1e7;--accent:#2563eb;
--ok:#15803d;--ok-bg:#dcfce7;--bad:#b91c1c;--bad-bg:#fee2e2;--warn:#c2410c;--warn-bg:#ffedd5;
--skip:#4b5563;--skip-bg:#e5e7eb;--heat:#2563eb;--miss:#dc2626;--bar:#2563eb;--inf:#0d9488;
--lat:#7c3aed;--seg0:#2563eb;--seg1:#7c3aed;--seg2:#0891b2;--used:#0b1f4d;--track:#eef0f3}
@media (prefers-color-scheme:dark){:root{--bg:#0e1116;--fg:#e6e9ee;--muted:#9aa4b1;
--card:#161a21;--line:#2a313b;--accent:#60a5fa;--ok:#4ade80;--ok-bg:#123420;--bad:#f87171;
--bad-bg:#3d1515;--warn:#fb923c;--warn-bg:#3a2210;--skip:#cbd5e1;--skip-bg:#2a3039;
--heat:#60a5fa;--miss:#f87171;--bar:#60a5fa;--inf:#2dd4bf;--lat:#a78bfa;--seg0:#3b82f6;
--seg1:#8b5cf6;--seg2:#06b6d4;--used:#e2e8f0;--track:#1f252e}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
font-variant-numeric:tabular-nums}
header.top,main,footer{max-width:1120px;margin:0 auto;padding:0 20px}
header.top{padding-top:24px}
.headline{display:flex;align-items:flex-start;justify-content:space-between;gap:16px}
.eyebrow{margin:0;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.08em}
h1{margin:2px 0 8px;font-size:1.5rem;line-height:1.25;overflow-wrap:anywhere}
h2{margin:0 0 12px;font-size:1.15rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;
overflow-wrap:anywhere}
dl.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0 0 16px}
dl.meta div{min-width:0}
dl.meta dt{color:var(--muted);font-size:.78rem}
dl.meta dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:.8rem;font-weight:650;
letter-spacing:.03em;white-space:nowrap}
.badge.pass{color:var(--ok);background:var(--ok-bg)}
.badge.fail{color:var(--bad);background:var(--bad-bg)}
.badge.skip{color:var(--skip);background:var(--skip-bg)}
.badge.int8{color:var(--accent);background:var(--track)}
.badge.f32{color:var(--warn);background:var(--warn-bg)}
.badge.verdict{font-size:1.4rem;padding:6px 18px;border-radius:10px;flex:none}
.strip{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;
margin:8px 0 16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.card .k{color:var(--muted);font-size:.78rem}
.card .big{font-size:1.45rem;font-weight:650;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis}
.card .sub,.sub{color:var(--muted);font-size:.78rem}
.notices{background:var(--warn-bg);border-radius:10px;padding:10px 14px;margin:0 0 16px}
.notices ul{margin:4px 0 0;padding-left:20px}
nav.toc{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 16px;font-size:.88rem}
nav.toc a{color:var(--accent);text-decoration:none}
main>section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:16px 18px;margin:0 0 16px}
main>section.strip{background:none;border:0;padding:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:.8rem;white-space:nowrap}
td.n,th.n{text-align:right;white-space:nowrap}
tr.bad td{background:var(--bad-bg)}
tr.warn td{background:var(--warn-bg)}
tr.total td{font-weight:600}
.note{color:var(--muted);font-size:.85rem;margin:4px 0 10px}
.callout{border-radius:8px;padding:8px 12px;margin:8px 0 12px}
.callout.warn{background:var(--warn-bg);color:var(--warn)}
.callout.ok{background:var(--ok-bg);color:var(--ok)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0 0 12px}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;min-width:0;overflow-wrap:anywhere}
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0 12px;font-size:12px}
svg.chart text{fill:var(--fg)}
svg.chart .tick,svg.chart .thr-lbl{fill:var(--muted);font-size:11px}
svg.chart .val{paint-order:stroke;stroke:var(--card);stroke-width:3px;stroke-linejoin:round}
svg.chart .axis{fill:var(--muted);font-size:12px;font-style:italic}
svg.chart .grid{stroke:var(--line);stroke-width:1}
svg.chart .thr{stroke:var(--warn);stroke-width:1.5;stroke-dasharray:5 4}
svg.chart .bar{fill:var(--bar)}
svg.chart .bar.warn{fill:var(--warn)}
svg.chart .bar.inf{fill:var(--inf)}
svg.chart .bar.lat{fill:var(--lat)}
svg.chart .cm-zero{fill:var(--track)}
svg.chart .cm-hit{fill:var(--heat)}
svg.chart .cm-miss{fill:var(--miss)}
svg.chart .cm-num{font-size:11px}
svg.chart .cm-num.inv{fill:#fff}
svg.chart .track{fill:var(--track)}
svg.chart .seg-lbl{fill:#fff;font-size:11px}
.seg0{fill:var(--seg0);background:var(--seg0)}
.seg1{fill:var(--seg1);background:var(--seg1)}
.seg2{fill:var(--seg2);background:var(--seg2)}
.used{fill:var(--used);background:var(--used)}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
footer{color:var(--muted);font-size:.8rem;padding-bottom:24px}
@media (max-width:640px){.headline{flex-direction:column}.card .big{font-size:1.2rem}}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--card:#fff;--line:#bbb;--track:#eee;
--ok:#15803d;--ok-bg:#dcfce7;--bad:#b91c1c;--bad-bg:#fee2e2;--warn:#c2410c;--warn-bg:#ffedd5;
--skip:#4b5563;--skip-bg:#e5e7eb;--heat:#2563eb;--miss:#dc2626;--bar:#2563eb;--inf:#0d9488;
--lat:#7c3aed;--seg0:#2563eb;--seg1:#7c3aed;--seg2:#0891b2;--used:#0b1f4d}
body{font-size:10.5pt;-webkit-print-color-adjust:exact;print-color-adjust:exact}
nav.toc{display:none}main>section,.card{break-inside:avoid;border-color:#bbb}
header.top,main,footer{max-width:none;padding:0}}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn full_report() -> Value {
        json!({
            "schema": "kiln.validate/1",
            "model": "models/digits-cnn/model.onnx",
            "board": "mps2-an386",
            "precision": "int8",
            "samples": 359,
            "data": "models/digits-cnn/test.npz",
            "created_at": "2026-11-27T01:02:03Z",
            "accuracy": {"device": 0.986, "host": 0.986, "float": 0.9889},
            "rows": [
                {"name": "device_vs_labels", "output": "logits", "top1": 0.986, "top5": 0.9972,
                 "rmse": null, "mae": null, "max_abs": null, "rel_l2": null, "cosine": null,
                 "nse": null, "elements": 359},
                {"name": "float_vs_labels", "output": "logits", "top1": 0.9889, "top5": 1.0,
                 "rmse": null, "mae": null, "max_abs": null, "rel_l2": null, "cosine": null,
                 "nse": null, "elements": 359},
                {"name": "device_vs_float", "output": "logits", "top1": 0.9944, "top5": null,
                 "rmse": 0.1034, "mae": 0.0512, "max_abs": 2.6, "rel_l2": 0.0123,
                 "cosine": 0.99991, "nse": 0.9998, "elements": 3590}
            ],
            "confusion": {"classes": 10, "counts": (0..10).map(|i| (0..10).map(|j| {
                if i == j { 35 } else if i == 4 && j == 9 { 2 } else { 0 }
            }).collect::<Vec<_>>()).collect::<Vec<_>>()},
            "outputs": [{"name": "logits", "lsb": 0.1656, "max_lsb_device_vs_host": 0,
                "device_vs_host": {"max_abs_error": 0, "rmse": 0, "cosine_similarity": 1,
                    "top1_agreement": 1, "out_of_tolerance": 0, "mismatched": 0, "elements": 3590},
                "device_vs_float": {"max_abs_error": 2.6, "rmse": 0.1034,
                    "cosine_similarity": 0.99991, "top1_agreement": 0.9944,
                    "out_of_tolerance": 3400, "mismatched": 3590, "elements": 3590},
                "host_vs_float": {"max_abs_error": 2.6, "rmse": 0.1034,
                    "cosine_similarity": 0.99991, "top1_agreement": 0.9944,
                    "out_of_tolerance": 3400, "mismatched": 3590, "elements": 3590}}],
            "instructions_per_inference": {"mean": 649850, "min": 649680, "max": 650000},
            "repeat_identical": true,
            "stack": {"stack_used": 688, "stack_reserve": 16384},
            "firmware": {"dir": "kiln-out/digits-cnn", "elf": "kiln-out/digits-cnn/fw.elf",
                "hash": "0123456789abcdef0123456789abcdef",
                "sizes": {"flash_bytes": 32632, "flash_weights_bytes": 2304,
                    "flash_code_bytes": 30328, "ram_bytes": 18088, "ram_arena_bytes": 640,
                    "ram_stack_reserve_bytes": 16384, "ram_other_bytes": 1064},
                "toolchain": {"kind": "build-std", "cargo": "cargo 1.85.0", "rustc": "rustc 1.85.0",
                    "version": "rustc 1.85", "target": "thumbv7em-none-eabihf"},
                "build_seconds": 4.2},
            "quantization": {"source": "ptq",
                "recipe": "ptq minmax, weights 8-bit symmetric per-channel, activations int8 asymmetric per-tensor",
                "calib_method": "minmax", "calib_hash": "ab".repeat(32), "calib_samples": 100,
                "int8_layers": 4, "f32_layers": 1,
                "layers": [
                    {"node": "conv1", "op_type": "Conv", "kernel": "int8", "reason": null},
                    {"node": "conv2", "op_type": "Conv", "kernel": "int8", "reason": null},
                    {"node": "pool", "op_type": "MaxPool", "kernel": "int8", "reason": null},
                    {"node": "softmax", "op_type": "Softmax", "kernel": "f32",
                     "reason": "no int8 kernel for Softmax"},
                    {"node": "fc", "op_type": "Gemm", "kernel": "int8", "reason": null}]},
            "provenance": {"producer": "kiln-models 1", "opset": 13, "model_sha256": "cd".repeat(32),
                "kiln_version": "0.1.0", "git_commit": null},
            "per_layer": {"samples": 4, "threshold_db": 25.0, "first_below": "conv2",
                "layers": [
                    {"node": "conv1", "op_type": "Conv", "kernel": "int8", "snr_db": 38.2,
                     "cosine": 0.9999, "instructions": 212345},
                    {"node": "conv2", "op_type": "Conv", "kernel": "int8", "snr_db": 18.4,
                     "cosine": 0.998, "instructions": 401000},
                    {"node": "pool", "op_type": "MaxPool", "kernel": "int8", "snr_db": null,
                     "cosine": 1.0, "instructions": 12000},
                    {"node": "fc", "op_type": "Gemm", "kernel": "int8", "snr_db": 27.9,
                     "cosine": 0.9991, "instructions": 24505}]},
            "notices": ["symbolic batch dimension `N` fixed to 1"],
            "checks": [
                {"name": "device_equals_host_simulation", "passed": true,
                 "detail": "0 of 3590 elements differ"},
                {"name": "repeated_run_identical", "passed": true, "detail": "identical"},
                {"name": "gate_accuracy", "passed": true, "detail": "drop 0.28 pp <= 1 pp"}],
            "passed": true,
            "baseline": {"source": "base.json", "limits": {"max_accuracy_drop_pp": 1.0}},
            "gates": [
                {"name": "gate_accuracy", "metric": "accuracy.device", "unit": "pp",
                 "baseline": 0.9889, "current": 0.986, "regression": 0.29, "limit": 1.0,
                 "status": "pass", "detail": "ok"},
                {"name": "gate_latency", "metric": "instructions_per_inference.mean", "unit": "%",
                 "baseline": 650000, "current": 649850, "regression": -0.023, "limit": 5.0,
                 "status": "pass", "detail": "ok"},
                {"name": "gate_ram", "metric": "firmware.sizes.ram_bytes", "unit": "%",
                 "baseline": null, "current": 18088, "regression": null, "limit": 5.0,
                 "status": "skipped", "detail": "baseline lacks RAM"}],
            "stored": {"db": "kiln.db", "id": 3}
        })
    }

    /// Invariants every rendered page must hold.
    fn assert_page(html: &str) {
        assert!(
            html.starts_with("<!doctype html>"),
            "{}",
            &html[..40.min(html.len())]
        );
        assert!(html.ends_with("</html>\n"));
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<title>"));
        for bad in [
            "http://", "https://", "<script", "<link", "<img", "@import", "url(",
        ] {
            assert!(!html.contains(bad), "output contains {bad:?}");
        }
    }

    #[test]
    fn profile_renders_a_bar_chart_and_a_table_with_macs() {
        let mut r = full_report();
        r["profile"] = json!({
            "layers": [
                {"node": "conv1", "op_type": "Conv", "kernel": "conv2d int8", "macs": 9216,
                 "instructions": 30000, "instructions_per_mac": 3.257},
                {"node": "fc<1>", "op_type": "Gemm", "kernel": "dense int8", "macs": 0,
                 "instructions": 10000, "instructions_per_mac": null}],
            "total_instructions": 40000, "whole_instructions": 40120, "difference_pct": 0.299});
        let html = render(&r);
        assert_page(&html);
        assert!(html.contains("aria-label=\"Instructions per layer\""));
        assert!(html.contains(&escape("fc<1>")) && !html.contains("fc<1>"));
        assert!(
            html.contains(&fmt_count(9216.0)) && html.contains("3.26"),
            "MACs and per MAC"
        );
        assert!(html.contains("75.00%"), "share of conv1");
        assert!(html.contains("0.30\u{2009}%"), "sum vs whole");
        // The per-layer diff's timing is not drawn a second time.
        assert_eq!(html.matches("<section id=\"latency\">").count(), 1);
        assert!(html.contains("Emulated instructions per layer"));

        r["profile"]["unit"] = json!("cycles");
        let html = render(&r);
        assert!(html.contains("aria-label=\"Cycles per layer\""));
        assert!(
            html.contains("Core clock cycles per layer")
                && html.contains("<th class=\"n\">cycles</th>")
        );
    }

    #[test]
    fn full_report_renders_every_section() {
        let html = render(&full_report());
        assert_page(&html);
        assert!(html.contains(&escape("models/digits-cnn/model.onnx")));
        assert!(html.contains("PASS"));
        for row in [
            "Device vs labels",
            "Float model vs labels",
            "Device vs float model",
        ] {
            assert!(html.contains(row), "missing row {row}");
        }
        assert!(html.contains("<svg class=\"chart\" viewBox=\"0 0 "));
        assert!(html.contains("aria-label=\"Confusion matrix\""));
        assert!(html.contains("aria-label=\"SNR per layer (dB)\""));
        assert!(html.contains("aria-label=\"Instructions per layer\""));
        assert!(html.contains("aria-label=\"Flash and RAM use\""));
        assert!(html
            .contains("First layer below the 25.00\u{2009}dB threshold: <strong>conv2</strong>"));
        assert!(html.contains("class=\"thr\""), "dashed threshold line");
        assert!(
            html.contains("class=\"bar warn\""),
            "conv2 bar in warning colour"
        );
        assert!(html.contains(">∞<"), "identical layer shown as infinity");
        for id in [
            "compare",
            "outputs",
            "checks",
            "gates",
            "confusion",
            "per-layer",
            "latency",
            "quant",
            "memory",
            "provenance",
        ] {
            assert!(
                html.contains(&format!("<section id=\"{id}\">")),
                "section {id}"
            );
        }
        // Summary strip figures.
        assert!(html.contains("98.60%"));
        assert!(html.contains("-0.29\u{2009}pp"));
        assert!(html.contains("649\u{2009}850"));
        assert!(html.contains("32\u{2009}632\u{2009}B"));
        assert!(html.contains("688 / 16\u{2009}384\u{2009}B"));
        // Quantization, provenance, confusion details.
        assert!(html.contains("no int8 kernel for Softmax"));
        assert!(html.contains("thumbv7em-none-eabihf"));
        assert!(html.contains(&"cd".repeat(32)));
        assert!(html.contains(">true</text>") && html.contains(">predicted</text>"));
        assert!(html.contains("Most frequent confusion: true 4 → predicted 9"));
        assert!(html.contains("<time datetime=\"2026-11-27T01:02:03Z\">"));
        assert!(html.contains("SKIPPED"));
        assert!(html.contains("<th class=\"n\">#</th><th>Node</th>"));
    }

    #[test]
    fn output_name_heads_its_first_present_comparison() {
        let mut r = full_report();
        r["outputs"][0]["device_vs_host"] = Value::Null;
        let html = render(&r);
        assert!(html.contains("<tr><td>logits<div class=\"sub\">LSB 0.1656"));
        assert!(html.contains("<td>Device vs float model</td>"));
    }

    #[test]
    fn failing_report_shows_fail() {
        let mut r = full_report();
        r["passed"] = json!(false);
        r["checks"][0]["passed"] = json!(false);
        let html = render(&r);
        assert_page(&html);
        assert!(html.contains("badge verdict fail\">FAIL"));
        assert!(html.contains("<tr class=\"bad\">"));
    }

    #[test]
    fn escape_covers_html_specials() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;&#47;script&gt;"
        );
        assert_eq!(escape("https://example.org"), "https:&#47;&#47;example.org");
        assert_eq!(escape("plain-text_1.0"), "plain-text_1.0");
    }

    #[test]
    fn report_strings_are_escaped_everywhere() {
        let evil = "<script>alert(1)</script>";
        let mut r = full_report();
        r["model"] = json!(evil);
        r["board"] = json!("<b>board</b>");
        r["notices"] = json!([evil, "see https://example.org"]);
        r["checks"][0]["detail"] = json!(evil);
        r["per_layer"]["first_below"] = json!(evil);
        r["per_layer"]["layers"][0]["node"] = json!(evil);
        r["quantization"]["layers"][0]["reason"] = json!(evil);
        r["provenance"]["producer"] = json!("http://evil.example");
        let html = render(&r);
        assert_page(&html);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#47;script&gt;"));
        assert!(!html.contains("<b>board"));
    }

    #[test]
    fn empty_null_and_non_object_reports_render() {
        for r in [
            json!({}),
            json!(null),
            json!([]),
            json!([1, 2, 3]),
            json!("report"),
            json!(42),
            json!(true),
        ] {
            let html = render(&r);
            assert_page(&html);
            assert!(html.contains("NO VERDICT"));
            assert!(!html.contains("<section id=\"compare\">"));
        }
    }

    #[test]
    fn wrong_types_render() {
        let r = json!({
            "model": 7, "board": ["a"], "precision": {"x": 1}, "samples": "x", "data": false,
            "created_at": 5, "accuracy": {"device": "high", "float": -3, "host": []},
            "rows": "x", "confusion": {"classes": "ten", "counts": [["a", null, -1, 2.5], 3, []]},
            "outputs": [1, {"name": null, "lsb": "x", "device_vs_host": 3}],
            "instructions_per_inference": {"mean": "fast", "min": null},
            "stack": {"stack_used": "a", "stack_reserve": 0},
            "firmware": {"sizes": {"flash_bytes": "big", "flash_weights_bytes": -5,
                "ram_bytes": 1e300, "ram_arena_bytes": 1e300}, "toolchain": "stable"},
            "quantization": {"layers": [null, 1, {"kernel": 3}]},
            "provenance": "p",
            "per_layer": {"threshold_db": "x", "first_below": 1,
                "layers": [1, "x", {"snr_db": "x", "instructions": "y"}, {"snr_db": -1e308}]},
            "notices": "n", "checks": [null, {"passed": "yes"}], "passed": "yes",
            "gates": [{}, {"unit": 3, "regression": "x"}], "stored": 1
        });
        let html = render(&r);
        assert_page(&html);
        assert!(html.contains("<section id=\"confusion\">"));
        assert!(html.contains("<section id=\"per-layer\">"));

        let mut r = full_report();
        r["samples"] = json!("x");
        assert_page(&render(&r));
    }

    #[test]
    fn f32_build_on_host_board_omits_device_sections() {
        let mut r = full_report();
        r["board"] = json!("host");
        r["precision"] = json!("f32");
        for k in [
            "quantization",
            "per_layer",
            "confusion",
            "instructions_per_inference",
            "stack",
            "firmware",
            "accuracy",
            "stored",
        ] {
            r[k] = Value::Null;
        }
        r["gates"] = json!([]);
        r["outputs"][0]["lsb"] = Value::Null;
        let html = render(&r);
        assert_page(&html);
        for id in [
            "quant",
            "per-layer",
            "latency",
            "memory",
            "confusion",
            "gates",
        ] {
            assert!(!html.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        // Accuracy falls back to the comparison rows.
        assert!(html.contains("98.60%"));
    }

    #[test]
    fn large_confusion_matrix_is_bounded() {
        let n = 400;
        let counts: Vec<Vec<u32>> = (0..n)
            .map(|i| (0..n).map(|j| u32::from(i == j)).collect())
            .collect();
        let html = render(&json!({"confusion": {"classes": n, "counts": counts}}));
        assert_page(&html);
        assert_eq!(html.matches("<rect").count(), MAX_CLASSES * MAX_CLASSES);
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(32632), "32\u{2009}632");
        assert_eq!(fmt_int(-1234567), "-1\u{2009}234\u{2009}567");
        assert_eq!(fmt_float(0.16561), "0.1656");
        assert_eq!(fmt_float(2.6), "2.600");
        assert_eq!(fmt_float(38.25), "38.25");
        assert_eq!(fmt_float(9.99996), "10.00");
        assert_eq!(fmt_float(-0.5), "-0.5000");
        assert_eq!(fmt_float(649850.4), "649\u{2009}850");
        assert_eq!(fmt_float(1.5e-5), "1.500e-5");
        assert_eq!(fmt_float(f64::INFINITY), "∞");
        assert_eq!(pct(&json!(0.986)), "98.60%");
        assert_eq!(pct(&json!(1)), "100.00%");
        assert_eq!(pct(&json!(1.5)), "1.500");
        assert_eq!(pct(&Value::Null), DASH);
        assert_eq!(show(&Value::Null), DASH);
        assert_eq!(show(&json!(16384)), "16\u{2009}384");
        assert_eq!(show(&json!(0.99991)), "0.9999");
        assert_eq!(show(&json!("a<b")), "a&lt;b");
        assert_eq!(humanise("device_vs_float"), "Device vs float model");
        assert_eq!(humanise("some_new_row"), "Some new row");
        assert_eq!(humanise(""), "");
        assert_eq!(nice_step(44.0), 10.0);
        assert_eq!(fmt_tick(20.0), "20");
        assert_eq!(fmt_tick(2.5), "2.5");
        assert_eq!(fmt_tick(200_000.0), "200k");
        assert_eq!(fmt_tick(1.5e6), "1.5M");
        assert_eq!(fmt_tick(2e9), "2000M");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    /// Leaves of any type and small nested values, to drop into the report.
    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    const PATHS: &[&str] = &[
        "/model",
        "/samples",
        "/accuracy",
        "/accuracy/device",
        "/rows",
        "/rows/2",
        "/rows/2/top1",
        "/confusion",
        "/confusion/counts",
        "/confusion/counts/3",
        "/outputs/0",
        "/outputs/0/device_vs_host",
        "/instructions_per_inference",
        "/stack",
        "/firmware/sizes",
        "/firmware/sizes/ram_bytes",
        "/firmware/toolchain",
        "/quantization/layers",
        "/quantization/layers/1",
        "/provenance",
        "/per_layer",
        "/per_layer/threshold_db",
        "/per_layer/layers",
        "/per_layer/layers/1",
        "/per_layer/layers/1/snr_db",
        "/checks/0",
        "/gates/0",
        "/notices",
        "/passed",
    ];

    proptest! {
        #[test]
        fn never_panics_and_stays_self_contained(
            path in prop::sample::select(PATHS),
            v in any_value(),
            text in ".{0,40}",
        ) {
            let mut r = full_report();
            if let Some(slot) = r.pointer_mut(path) {
                *slot = v;
            }
            r["board"] = Value::from(text.clone());
            let html = render(&r);
            assert_page(&html);
            prop_assert!(html.contains(&escape(&text)));
        }

        #[test]
        fn arbitrary_json_renders(v in any_value()) {
            assert_page(&render(&v));
        }
    }
}

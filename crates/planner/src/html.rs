//! The plan as one self-contained HTML page: the caveats, the table, and per channel its
//! response curve with the weeks it was fitted on and current and proposed spend marked,
//! drawn as inline SVG (no script, no font, no request leaves the page).

use std::fmt::Write;

use crate::answer::percent_change;
use crate::plan::{ChannelPlan, Plan};

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 78.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 16.0;
const RIGHT: f64 = 16.0;
const CURVE_POINTS: usize = 80;

/// Text for HTML: `<`, `>`, `&` and quotes escaped (channel and campaign names come from
/// ad platforms and CRMs).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1 234 567.89`: thousands apart, for reading rather than parsing.
fn money(value: f64) -> String {
    let text = format!("{:.2}", value.abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && value.abs() >= 0.005 {
        "−"
    } else {
        ""
    };
    format!("{sign}{grouped}.{cents}")
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

/// The page. `title` names the tenant and period (escaped here).
pub fn render_html(plan: &Plan, title: &str) -> String {
    let mut page = String::new();
    let currency = escape(plan.currency.as_deref().unwrap_or(""));
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n",
        title = escape(title)
    );
    let _ = writeln!(
        page,
        "<p class=\"lead\">Budget {} {currency} over {} days: {}.</p>",
        money(plan.budget),
        plan.period_days,
        escape(&plan.uplift_text())
    );
    page.push_str("<h2>Read this first</h2>\n<ul class=\"caveats\">\n");
    for caveat in plan.caveats() {
        let _ = writeln!(page, "<li>{}</li>", escape(&caveat));
    }
    page.push_str("</ul>\n");
    table(&mut page, plan, &currency);
    page.push_str("<h2>Response curves</h2>\n<div class=\"charts\">\n");
    for row in &plan.channels {
        chart(&mut page, row, &currency);
    }
    page.push_str("</div>\n</main>\n</body>\n</html>\n");
    page
}

fn table(page: &mut String, plan: &Plan, currency: &str) {
    let _ = write!(
        page,
        "<h2>Proposal</h2>\n<table>\n<caption>Spend and predicted margin for the period, {currency}</caption>\n\
         <thead><tr><th scope=\"col\">Channel</th><th scope=\"col\">Current spend</th>\
         <th scope=\"col\">Proposed spend</th><th scope=\"col\">Change</th>\
         <th scope=\"col\">Margin now</th><th scope=\"col\">Margin proposed</th>\
         <th scope=\"col\">Marginal ROI now</th><th scope=\"col\">Marginal ROI proposed</th>\
         <th scope=\"col\">Average ROI</th><th scope=\"col\">R²</th><th scope=\"col\">Notes</th></tr></thead>\n<tbody>\n"
    );
    for row in &plan.channels {
        let _ = writeln!(
            page,
            "<tr{held}><th scope=\"row\">{name}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            money(row.current_spend),
            money(row.proposed_spend),
            percent_change(row.current_spend, row.proposed_spend),
            money(row.margin_current),
            money(row.margin_proposed),
            ratio(row.mroi_current),
            ratio(row.mroi_proposed),
            ratio(row.roi_average),
            ratio(row.r2),
            escape(&row.reason),
            held = if row.held { " class=\"held\"" } else { "" },
            name = escape(&row.channel),
        );
    }
    let total = plan.totals();
    let _ = write!(
        page,
        "</tbody>\n<tfoot><tr><th scope=\"row\">Total</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td colspan=\"5\"></td></tr></tfoot>\n</table>\n",
        money(total.current_spend),
        money(total.proposed_spend),
        percent_change(total.current_spend, total.proposed_spend),
        money(total.margin_current),
        money(total.margin_proposed),
    );
}

/// One channel's curve: x the period's spend, y the period's margin.
fn chart(page: &mut String, row: &ChannelPlan, currency: &str) {
    let curve_at = |spend: f64| row.steps * row.curve.steady_margin(spend / row.steps);
    let x_max = row
        .weeks
        .iter()
        .map(|(s, _)| *s)
        .chain([row.upper, row.current_spend, row.proposed_spend])
        .fold(0.0, f64::max)
        * 1.1;
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let y_max = row
        .weeks
        .iter()
        .map(|(_, m)| *m)
        .chain([curve_at(x_max), row.margin_proposed, row.margin_current])
        .fold(0.0, f64::max)
        * 1.1;
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let y_min = row.weeks.iter().map(|(_, m)| *m).fold(0.0, f64::min);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + v / x_max * plot_w;
    let y = |v: f64| TOP + (y_max - v) / (y_max - y_min) * plot_h;
    let name = escape(&row.channel);
    let description = format!(
        "{name}: predicted margin against spend for the period. Current spend {} {currency}, proposed {} {currency}. \
         Each dot is one week of data scaled to the period.",
        money(row.current_spend),
        money(row.proposed_spend)
    );
    let _ = write!(
        page,
        "<figure>\n<svg class=\"curve\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"t-{id} d-{id}\" \
         data-channel=\"{name}\" data-weeks=\"{weeks}\">\n<title id=\"t-{id}\">{name}</title>\n<desc id=\"d-{id}\">{description}</desc>\n",
        id = slug(&row.channel),
        weeks = row.weeks.len(),
    );
    // The bounds the split could move within.
    if !row.held && row.upper > row.lower {
        let _ = writeln!(
            page,
            "<rect class=\"bounds\" x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{plot_h}\"/>",
            x(row.lower),
            x(row.upper) - x(row.lower)
        );
    }
    // Axes with three ticks each.
    let _ = writeln!(
        page,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\"/>",
        b = TOP + plot_h,
        r = LEFT + plot_w
    );
    for (i, anchor) in ["start", "middle", "end"].into_iter().enumerate() {
        let vx = x_max * i as f64 / 2.0;
        let vy = y_min + (y_max - y_min) * i as f64 / 2.0;
        let _ = writeln!(
            page,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x(vx),
            TOP + plot_h + 16.0,
            money(vx),
            LEFT - 6.0,
            y(vy) + 4.0,
            money(vy)
        );
    }
    let _ = writeln!(
        page,
        "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">spend for the period, {currency}</text>",
        LEFT + plot_w / 2.0,
        HEIGHT - 4.0
    );
    for (spend, margin) in &row.weeks {
        let _ = writeln!(
            page,
            "<circle class=\"week\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>",
            x(*spend),
            y(*margin)
        );
    }
    let points: Vec<String> = (0..=CURVE_POINTS)
        .map(|i| {
            let spend = x_max * i as f64 / CURVE_POINTS as f64;
            format!("{:.1},{:.1}", x(spend), y(curve_at(spend)))
        })
        .collect();
    let _ = writeln!(
        page,
        "<polyline class=\"fit\" points=\"{}\"/>",
        points.join(" ")
    );
    for (class, spend) in [
        ("current", row.current_spend),
        ("proposed", row.proposed_spend),
    ] {
        let _ = writeln!(
            page,
            "<line class=\"{class}\" x1=\"{v:.1}\" y1=\"{TOP}\" x2=\"{v:.1}\" y2=\"{b}\"/>",
            v = x(spend),
            b = TOP + plot_h
        );
    }
    // The range the curve was fitted on: a proposal far outside it is an extrapolation.
    let seen = row.weeks.iter().map(|(s, _)| *s).filter(|s| *s > 0.0);
    let (low, high) = seen.fold((f64::MAX, 0.0f64), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let range = if high > 0.0 {
        format!(
            " Spend seen: {} to {} a period (by week).",
            money(low),
            money(high)
        )
    } else {
        String::new()
    };
    let _ = write!(
        page,
        "</svg>\n<figcaption>{name}: current {} → proposed {} ({}).{range} {}</figcaption>\n</figure>\n",
        money(row.current_spend),
        money(row.proposed_spend),
        percent_change(row.current_spend, row.proposed_spend),
        escape(&row.reason)
    );
}

/// An id for SVG labels: letters and digits of the name, and a hash so two names that
/// differ only in other characters stay apart.
fn slug(name: &str) -> String {
    let letters: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{letters}-{:08x}", hash as u32)
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;background:#fff;margin:0}\
main{max-width:1180px;margin:0 auto;padding:24px}\
h1{font-size:1.6rem;margin:0 0 8px}h2{font-size:1.15rem;margin:28px 0 8px}\
.lead{font-size:1.05rem}\
.caveats li{margin:4px 0;color:#3b4048}\
table{border-collapse:collapse;width:100%;font-size:.9rem}\
caption{text-align:left;color:#3b4048;padding:4px 0}\
th,td{border-bottom:1px solid #d0d4d9;padding:6px 8px;text-align:right;vertical-align:top}\
th[scope=row],td:last-child{text-align:left}thead th{background:#f2f4f6}\
tr.held{color:#4a4f57;background:#fafafa}\
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:16px}\
figure{margin:0;border:1px solid #d0d4d9;border-radius:6px;padding:8px}\
figcaption{font-size:.85rem;color:#3b4048}\
svg.curve{width:100%;height:auto}\
.axis{stroke:#6b7280;stroke-width:1}.tick,.label{font-size:11px;fill:#3b4048}\
.bounds{fill:#e8f0fb}.week{fill:#6b7280;fill-opacity:.55}\
.fit{fill:none;stroke:#0b5cad;stroke-width:2.5}\
.current{stroke:#4a4f57;stroke-width:2;stroke-dasharray:5 4}.proposed{stroke:#b42318;stroke-width:2.5}\
@media print{.charts{grid-template-columns:1fr 1fr}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_platforms_stay_text_and_money_reads_grouped() {
        assert_eq!(
            escape("<script>\"a\"&'b'"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;"
        );
        assert_eq!(money(1234567.891), "1\u{202f}234\u{202f}567.89");
        assert_eq!(money(-50.0), "−50.00");
        assert_eq!(money(999.999), "1\u{202f}000.00");
        assert_ne!(slug("a<b"), slug("a>b"));
    }
}

//! `GET /console/`: the signed-in user's organization at a glance, read in one snapshot: the
//! collections of the last 30 local days per channel as a bar chart drawn here (SVG, one panel
//! per currency: amounts of different currencies are never added together), today's totals,
//! bills by status, unapplied money waiting and failed notifications.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use billhub_core::Currency;
use billhub_core::bill::BillStatus;
use billhub_core::locale::console::DashboardLabels;
use billhub_core::locale::{self, Locale};
use billhub_store::console::{CHART_DAYS, DayTotal};
use time::{Date, Duration};

use super::layout::{Chrome, Section, signed_in};
use super::{html, unavailable};
use crate::state::AppState;

/// One line of a totals table.
struct Line {
    label: String,
    count: i64,
    amount: String,
}

/// The chart's geometry (SVG user units): a slot per day, a panel per currency.
const SLOT: i64 = 20;
const BAR: i64 = 14;
const LEFT: i64 = 10;
const BAR_AREA: i64 = 120;
const PANEL_TOP: i64 = 24;
const PANEL: i64 = PANEL_TOP + BAR_AREA + 22;
const WIDTH: i64 = LEFT * 2 + SLOT * CHART_DAYS;

/// The colours of the channels, in the order of their stored names (then again).
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#555555",
];

/// One bar segment: one channel's payments in one currency on one day.
pub(crate) struct Bar {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    colour: &'static str,
    day: Date,
    channel: String,
    currency: String,
    /// Minor units.
    minor: i64,
    /// `21 November 2026 · bill24 · Payments: 2 · $1,123.45`.
    title: String,
}

/// A day-of-month label under the bars.
pub(crate) struct Tick {
    x: i64,
    y: i64,
    text: String,
}

/// The bars of one currency.
pub(crate) struct Panel {
    /// Top of the panel.
    y: i64,
    /// The base line's height.
    base: i64,
    /// `USD (max $1,123.45 a day)`.
    heading: String,
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
}

/// An entry of the legend.
pub(crate) struct Legend {
    channel: String,
    colour: &'static str,
}

/// One row of the figures table under the chart.
pub(crate) struct Figure {
    day: String,
    channel: String,
    currency: String,
    count: i64,
    amount: String,
}

/// The 30-day chart, drawn.
pub(crate) struct Chart {
    /// The accessible name and `<title>`.
    label: String,
    width: i64,
    height: i64,
    panels: Vec<Panel>,
    legend: Vec<Legend>,
    figures: Vec<Figure>,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    d: &'static DashboardLabels,
    today: String,
    today_rows: Vec<Line>,
    statuses: Vec<(String, i64)>,
    unapplied: Vec<Line>,
    failed_notifications: i64,
    chart: Chart,
}

/// An amount in its currency's local form; a currency the store should not hold is shown as
/// minor units with its code.
pub(crate) fn amount(minor: i64, currency: &str, locale: Locale) -> String {
    match Currency::from_code(currency) {
        Ok(c) => locale::format_amount(minor, c, locale),
        Err(_) => format!("{minor} {currency} (minor units)"),
    }
}

/// How a stored bill status reads (the payer pages' words); an unknown one as stored.
fn status_word(status: &str, locale: Locale) -> String {
    match status.parse::<BillStatus>() {
        Ok(s) => locale::status_label(s, locale).to_string(),
        Err(_) => status.to_string(),
    }
}

/// The colour of `channel` among `channels` (sorted, all of the chart's).
fn colour(channels: &[String], channel: &str) -> &'static str {
    let i = channels.iter().position(|c| c == channel).unwrap_or(0);
    COLOURS.get(i % COLOURS.len()).copied().unwrap_or("#555555")
}

/// The panel of `currency`, the `index`-th, scaled to its largest day.
fn panel(
    days: &[DayTotal],
    first: Date,
    currency: &str,
    index: i64,
    channels: &[String],
    locale: Locale,
) -> Panel {
    let d = locale.console_dashboard();
    let top = index * PANEL;
    let base = top + PANEL_TOP + BAR_AREA;
    let on = |day: Date| {
        days.iter()
            .filter(move |t| t.day == day && t.currency == currency)
    };
    let dates: Vec<(i64, Date)> = (0..CHART_DAYS)
        .filter_map(|i| Some((i, first.checked_add(Duration::days(i))?)))
        .collect();
    let largest: i128 = dates
        .iter()
        .map(|(_, day)| on(*day).map(|t| i128::from(t.amount.max(0))).sum::<i128>())
        .max()
        .unwrap_or(0);
    let height_of = |sum: i128| {
        if largest == 0 {
            0
        } else {
            i64::try_from(sum * i128::from(BAR_AREA) / largest).unwrap_or(0)
        }
    };
    let mut bars = Vec::new();
    for (i, day) in &dates {
        let mut below: i128 = 0;
        for t in on(*day) {
            let from = height_of(below);
            below += i128::from(t.amount.max(0));
            let to = height_of(below);
            bars.push(Bar {
                x: LEFT + i * SLOT + (SLOT - BAR) / 2,
                y: base - to,
                width: BAR,
                height: to - from,
                colour: colour(channels, &t.channel),
                day: *day,
                channel: t.channel.clone(),
                currency: t.currency.clone(),
                minor: t.amount,
                title: format!(
                    "{} · {} · {}: {} · {}",
                    locale::format_date(*day, locale),
                    t.channel,
                    d.payments_count,
                    t.count,
                    amount(t.amount, &t.currency, locale)
                ),
            });
        }
    }
    let ticks = dates
        .iter()
        .filter(|(i, _)| i % 7 == 0 || *i == CHART_DAYS - 1)
        .map(|(i, day)| Tick {
            x: LEFT + i * SLOT + SLOT / 2,
            y: base + 16,
            text: day.day().to_string(),
        })
        .collect();
    let most = i64::try_from(largest).unwrap_or(i64::MAX);
    Panel {
        y: top + 16,
        base,
        heading: format!("{currency} ({})", amount(most, currency, locale)),
        bars,
        ticks,
    }
}

/// Draws the chart of `days` (the days from `first` on, [`CHART_DAYS`] of them): per currency a
/// panel scaled to its largest day, each day's bar stacked by channel. Heights are whole units
/// from integer arithmetic on the minor units (the cumulative tops, so segments add up).
pub(crate) fn chart(days: &[DayTotal], first: Date, locale: Locale) -> Chart {
    let d = locale.console_dashboard();
    let last = first
        .checked_add(Duration::days(CHART_DAYS - 1))
        .unwrap_or(first);
    let channels: Vec<String> = days
        .iter()
        .map(|t| t.channel.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let currencies: BTreeSet<&str> = days.iter().map(|t| t.currency.as_str()).collect();
    let panels: Vec<Panel> = currencies
        .iter()
        .zip(0..)
        .map(|(currency, i)| panel(days, first, currency, i, &channels, locale))
        .collect();
    let height = PANEL * i64::try_from(panels.len().max(1)).unwrap_or(1);
    Chart {
        label: format!(
            "{} ({} – {})",
            d.chart_label,
            locale::format_date(first, locale),
            locale::format_date(last, locale)
        ),
        width: WIDTH,
        height,
        panels,
        legend: channels
            .iter()
            .map(|c| Legend {
                channel: c.clone(),
                colour: colour(&channels, c),
            })
            .collect(),
        figures: days
            .iter()
            .map(|t| Figure {
                day: locale::format_date(t.day, locale),
                channel: t.channel.clone(),
                currency: t.currency.clone(),
                count: t.count,
                amount: amount(t.amount, &t.currency, locale),
            })
            .collect(),
    }
}

/// `GET /console/`.
pub async fn dashboard(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, chrome) = match signed_in(&req, &state, Section::Dashboard).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let now = state.now();
    let org_id = session.organization_id;
    let d = match state.run(move |s| s.console_dashboard(org_id, now)).await {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    let locale = chrome.locale;
    let page = DashboardPage {
        d: locale.console_dashboard(),
        today: locale::format_date(d.today, locale),
        today_rows: d
            .today_by_channel
            .into_iter()
            .map(|t| Line {
                amount: amount(t.amount, &t.currency, locale),
                label: t.channel,
                count: t.count,
            })
            .collect(),
        statuses: d
            .bills_by_status
            .into_iter()
            .map(|(s, n)| (status_word(&s, locale), n))
            .collect(),
        unapplied: d
            .unapplied_open
            .into_iter()
            .map(|t| Line {
                amount: amount(t.amount, &t.currency, locale),
                label: t.currency,
                count: t.count,
            })
            .collect(),
        failed_notifications: d.failed_notifications,
        chart: chart(&d.by_day, d.first_day, locale),
        chrome,
    };
    match page.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => unavailable(e),
    }
}

//! `support` and `cost`: weekly support load with the top customer pains, and monthly cost,
//! margin and the Rule of 40.

use std::process::ExitCode;

use clap::Args;

use super::table::{OutputFormat, Table};
use crate::app::App;

/// `support` and `cost` options.
#[derive(Debug, Args)]
pub struct BusinessArgs {
    /// Weeks (support) or months (cost) to show, ending with the latest.
    #[arg(long, default_value_t = 12)]
    pub last: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.digits$}"))
}

fn hours(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.1} h"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// Weekly support load and the top customer pains.
pub(super) fn support(app: &App, args: BusinessArgs) -> anyhow::Result<ExitCode> {
    let Some(mut report) =
        crate::query::business::support_report(&app.store, &app.settings, crate::clock::now_ms())?
    else {
        eprintln!("no tickets imported (barometer import tickets FILE...)");
        return Ok(ExitCode::SUCCESS);
    };
    let skip = report.weeks.len().saturating_sub(args.last.max(1));
    report.weeks.drain(..skip);
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let cal = app.calendar();
    let table = Table::new("")
        .left(10)
        .right(7)
        .right(7)
        .right(8)
        .right(10)
        .right(10)
        .right(10)
        .right(10);
    table.print(&[
        "week", "opened", "solved", "backlog", "1st resp", "resolve", "per 100", "weighted",
    ]);
    for w in &report.weeks {
        table.print(&[
            super::day(cal, w.week_start),
            w.opened.to_string(),
            w.solved.to_string(),
            w.backlog.to_string(),
            hours(w.first_response_median_h),
            hours(w.resolution_median_h),
            opt(w.per_100_customers, 1),
            opt(w.revenue_weighted, 1),
        ]);
    }
    println!(
        "\ntop customer pains, last {} weeks ({}):",
        report.pain_window_weeks, app.settings.currency
    );
    let pains = Table::new("  ")
        .left(24)
        .right(8)
        .right(10)
        .right(14)
        .right(9);
    pains.print(&["topic", "tickets", "customers", "ARR at stake", "before"]);
    for p in report.pains.iter().take(10) {
        pains.print(&[
            p.topic.clone(),
            p.tickets.to_string(),
            p.customers.to_string(),
            format!("{:.0}", p.arr_at_stake),
            p.previous_tickets.to_string(),
        ]);
    }
    if !report.revenue_known {
        println!("no per-customer revenue imported: tickets are not weighted by revenue");
    }
    if !report.unknown_customers.is_empty() {
        let shown: Vec<String> = report
            .unknown_customers
            .iter()
            .take(5)
            .map(|u| format!("{} ({})", u.customer, u.tickets))
            .collect();
        println!(
            "{} customer ids not in the revenue data: {}{}",
            report.unknown_customers.len(),
            shown.join(", "),
            if report.unknown_customers.len() > 5 {
                ", …"
            } else {
                ""
            }
        );
    }
    if report.tickets_without_customer > 0 {
        println!(
            "{} tickets without a customer id",
            report.tickets_without_customer
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Monthly cost, margin and the Rule of 40, and the stored metrics.
pub(super) fn cost(app: &App, args: BusinessArgs) -> anyhow::Result<ExitCode> {
    let Some(mut report) = crate::query::business::cost_report(&app.store, &app.settings)? else {
        eprintln!("no metrics imported (barometer import metrics FILE...)");
        return Ok(ExitCode::SUCCESS);
    };
    let skip = report.months.len().saturating_sub(args.last.max(1));
    report.months.drain(..skip);
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let table = Table::new("")
        .left(8)
        .right(12)
        .right(12)
        .right(8)
        .right(9)
        .right(9)
        .right(12)
        .right(8)
        .right(8)
        .right(22);
    table.print(&[
        "month",
        "cloud cost",
        "MRR",
        "share",
        "cost 3m",
        "rev 3m",
        "ARR/eng",
        "gross",
        "oper.",
        "Rule of 40",
    ]);
    for m in &report.months {
        let rule = m.rule_of_40.as_ref().map_or("-".to_owned(), |r| {
            format!("{:.0} = {:.0} + {:.0}", r.score, r.growth_pct, r.margin_pct)
        });
        table.print(&[
            m.month.to_string(),
            opt(m.cloud_cost, 0),
            opt(m.mrr, 0),
            pct(m.cost_share),
            pct(m.cost_growth_3m),
            pct(m.revenue_growth_3m),
            opt(m.revenue_per_engineer, 0),
            pct(m.gross_margin),
            pct(m.operating_margin),
            rule,
        ]);
    }
    if let Some(r) = report
        .months
        .iter()
        .rev()
        .find_map(|m| m.rule_of_40.as_ref())
    {
        println!(
            "Rule of 40: ARR growth {:.1}% ({}) + {} margin {:.1}% = {:.1} ({})",
            r.growth_pct,
            r.growth_basis,
            r.margin.metric(),
            r.margin_pct,
            r.score,
            if r.passes {
                "at or above 40"
            } else {
                "below 40"
            }
        );
    }
    println!("\nmetrics stored:");
    let list = Table::new("  ").left(28).right(6).left(10).left(10).left(6);
    list.print(&["metric", "rows", "first", "last", "known"]);
    for s in &report.metrics {
        list.print(&[
            s.metric.clone(),
            s.rows.to_string(),
            s.first.to_string(),
            s.last.to_string(),
            if s.known { "yes" } else { "no" }.to_owned(),
        ]);
    }
    Ok(ExitCode::SUCCESS)
}

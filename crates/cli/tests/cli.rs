//! End-to-end tests of the `throughline` binary, run the way a user runs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use rust_decimal::Decimal;

const MODELS: [&str; 6] = [
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
];
const TABLES: [&str; 5] = ["touchpoints", "leads", "deal_events", "orders", "ad_costs"];

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samplesdata")
}

fn throughline(lake: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_throughline"))
        .arg("--lake")
        .arg(lake)
        .args(args)
        .env_remove("THROUGHLINE_TENANT")
        .env_remove("THROUGHLINE_CHANNELS")
        .output()
        .expect("the binary runs")
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "command failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `throughline import` of one file into a tenant's table.
fn import(lake: &Path, tenant: &str, table: &str, file: &Path) -> Output {
    throughline(
        lake,
        &[
            "import",
            "--tenant",
            tenant,
            "--table",
            table,
            file.to_str().unwrap(),
        ],
    )
}

/// `throughline sql` answering in CSV (header first).
fn sql_csv(lake: &Path, tenant: &str, query: &str) -> String {
    ok(throughline(
        lake,
        &["sql", "--tenant", tenant, "--format", "csv", query],
    ))
}

fn import_samples(lake: &Path, tenant: &str) {
    for table in TABLES {
        let file = samples().join(format!("{table}.csv"));
        ok(throughline(
            lake,
            &[
                "import",
                "--tenant",
                tenant,
                "--table",
                table,
                "--phone-country",
                "380",
                file.to_str().unwrap(),
            ],
        ));
    }
}

fn json_rows(stdout: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(stdout.trim()).expect("JSON output");
    rows.into_iter()
        .map(|r| r.as_object().expect("row objects").clone())
        .collect()
}

fn decimal(row: &serde_json::Map<String, serde_json::Value>, column: &str) -> Decimal {
    match row.get(column) {
        Some(serde_json::Value::String(s)) => Decimal::from_str(s).unwrap(),
        Some(serde_json::Value::Number(n)) => Decimal::from_str(&n.to_string()).unwrap(),
        other => panic!("{column}: {other:?}"),
    }
}

fn count(lake: &Path, tenant: &str, query: &str) -> i64 {
    let out = ok(throughline(
        lake,
        &["sql", "--tenant", tenant, "--format", "json", query],
    ));
    json_rows(&out)[0]
        .values()
        .next()
        .and_then(|v| v.as_i64())
        .expect("a count")
}

/// Won revenue computed from the CSV without the engine: each deal's first won event, with
/// its own amount or else the latest amount before it.
fn expected_won_revenue() -> Decimal {
    let mut reader = csv::Reader::from_path(samples().join("deal_events.csv")).unwrap();
    let mut events: Vec<BTreeMap<String, String>> =
        reader.deserialize().map(|r| r.unwrap()).collect();
    events.sort_by(|a, b| (&a["ts"], &a["event_id"]).cmp(&(&b["ts"], &b["event_id"])));
    let mut latest_amount: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut won: BTreeMap<String, Decimal> = BTreeMap::new();
    for e in &events {
        if !e["amount"].is_empty() {
            latest_amount.insert(
                e["deal_id"].clone(),
                Decimal::from_str(&e["amount"]).unwrap(),
            );
        }
        if e["type"] == "won" && !won.contains_key(&e["deal_id"]) {
            won.insert(
                e["deal_id"].clone(),
                latest_amount
                    .get(&e["deal_id"])
                    .copied()
                    .unwrap_or_default(),
            );
        }
    }
    won.values().sum()
}

fn expected_cost() -> Decimal {
    let mut reader = csv::Reader::from_path(samples().join("ad_costs.csv")).unwrap();
    reader
        .deserialize::<BTreeMap<String, String>>()
        .map(|r| Decimal::from_str(&r.unwrap()["cost"]).unwrap())
        .sum()
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_throughline"))
        .args(["demo", "--keep"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = ok(out);
    for heading in [
        "Channel ROI",
        "Campaign ROI",
        "Funnel by stage",
        "Lost deals by reason",
        "(total)",
        "Paid Search",
        "Budget plan",
        "note: attribution is not incrementality",
    ] {
        assert!(
            stdout.contains(heading),
            "demo output lacks {heading:?}:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains(" rejected\n") || stdout.contains(", 0 rejected"),
        "{stdout}"
    );
}

#[test]
fn kpi_totals_reconcile_for_every_model_and_grouping() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    import_samples(lake, "acme");
    ok(throughline(lake, &["attribute", "--tenant", "acme"]));
    let (cost, revenue) = (expected_cost(), expected_won_revenue());
    assert!(cost > Decimal::ZERO && revenue > Decimal::ZERO);
    for model in MODELS {
        for group_by in [
            "channel",
            "source-medium",
            "campaign",
            "ad-group",
            "platform",
        ] {
            let out = ok(throughline(
                lake,
                &[
                    "kpi",
                    "--tenant",
                    "acme",
                    "--model",
                    model,
                    "--group-by",
                    group_by,
                    "--format",
                    "json",
                ],
            ));
            let rows = json_rows(&out);
            let (groups, total) = rows.split_at(rows.len() - 1);
            let total = &total[0];
            assert_eq!(total["group"], "(total)");
            assert_eq!(
                decimal(total, "cost"),
                cost,
                "{model} by {group_by}: total cost = ad_costs total"
            );
            assert_eq!(
                decimal(total, "revenue"),
                revenue,
                "{model} by {group_by}: total revenue = won deals"
            );
            let group_cost: Decimal = groups.iter().map(|r| decimal(r, "cost")).sum();
            let group_revenue: Decimal = groups.iter().map(|r| decimal(r, "revenue")).sum();
            assert_eq!(
                group_cost, cost,
                "{model} by {group_by}: groups add up to the total cost"
            );
            assert_eq!(
                group_revenue, revenue,
                "{model} by {group_by}: groups add up to the total revenue"
            );
        }
    }
    // Every order is counted once in the LTV report, whoever it could be linked to.
    let ltv = json_rows(&ok(throughline(
        lake,
        &["ltv", "--tenant", "acme", "--format", "json"],
    )));
    let orders: i64 = ltv.iter().map(|r| r["orders"].as_i64().unwrap()).sum();
    let order_revenue: Decimal = ltv.iter().map(|r| decimal(r, "revenue")).sum();
    let mut reader = csv::Reader::from_path(samples().join("orders.csv")).unwrap();
    let expected: Vec<Decimal> = reader
        .deserialize::<BTreeMap<String, String>>()
        .map(|r| Decimal::from_str(&r.unwrap()["amount"]).unwrap())
        .collect();
    assert_eq!(orders, expected.len() as i64);
    assert_eq!(order_revenue, expected.iter().sum::<Decimal>());
    let repeat = count(
        lake,
        "acme",
        "SELECT count(*) FROM customer_orders WHERE is_repeat",
    );
    assert!(
        repeat > 20,
        "repeat orders linked by hashed contact: {repeat}"
    );

    // Credits of every conversion sum to 1 in every model.
    let unbalanced = count(
        lake,
        "acme",
        "SELECT count(*) FROM (SELECT conversion_id, model, sum(credit) AS s FROM attribution \
         GROUP BY conversion_id, model HAVING abs(sum(credit) - 1) > 1e-9)",
    );
    assert_eq!(unbalanced, 0);
}

#[test]
fn reimporting_adds_nothing_and_tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    let file = samples().join("touchpoints.csv");
    let file = file.to_str().unwrap();
    ok(throughline(
        lake,
        &["import", "--tenant", "a", "--table", "touchpoints", file],
    ));
    let again = ok(throughline(
        lake,
        &["import", "--tenant", "a", "--table", "touchpoints", file],
    ));
    assert!(
        again.contains("0 rows stored in touchpoints, 11178 already in the lake"),
        "{again}"
    );
    assert_eq!(count(lake, "a", "SELECT count(*) FROM touchpoints"), 11178);
    assert_eq!(
        count(lake, "b", "SELECT count(*) FROM touchpoints"),
        0,
        "tenant b sees nothing of a"
    );
}

#[test]
fn bad_rows_are_reported_with_file_and_line_kept_and_good_rows_stored() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let file = dir.path().join("deals.csv");
    std::fs::write(
        &file,
        "event_id,deal_id,lead_id,ts,type,stage,amount,currency,margin\n\
         e1,d1,l1,2026-08-01T10:00:00+03:00,created,new,,,\n\
         e2,d1,l1,01/08/2026 12:00,stage_changed,qualified,,,\n\
         e3,d1,l1,2026-08-02T10:00:00+03:00,won,qualified,12 500,UAH,\n\
         e4,d1,l1,2026-08-02T10:00:00+03:00,won,qualified,12500.00,XYZ,\n\
         e1,d1,l1,2026-08-01T10:00:00+03:00,created,new,,,\n\
         e5,d1,l1,2026-08-02T10:00:00+03:00,won,qualified,12500.00,UAH,4000\n\
         e6,d2,l2,2026-08-02T10:00:00+03:00,closed,,,,\n",
    )
    .unwrap();
    let out = throughline(
        &lake,
        &[
            "import",
            "--tenant",
            "t",
            "--table",
            "deal_events",
            file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success(), "rejected rows make the command fail");
    let err = stderr(&out);
    let name = file.display().to_string();
    for expected in [
        format!("{name}:3: ts: \"01/08/2026 12:00\" is not an ISO 8601 timestamp"),
        format!("{name}:4: amount: \"12 500\" is not a decimal amount"),
        format!("{name}:5: currency: unknown currency \"XYZ\""),
        format!("{name}:6: duplicate event_id: the same key is at line 2"),
        format!("{name}:8: type: \"closed\" is not one of: created, stage_changed, won, lost"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 rows stored in deal_events"));
    assert_eq!(
        count(&lake, "t", "SELECT count(*) FROM deal_events"),
        2,
        "valid rows are stored"
    );
    let quarantined = std::fs::read_dir(lake.join("quarantine/deal_events/tenant=t"))
        .unwrap()
        .count();
    assert_eq!(quarantined, 1, "rejected rows are kept for replay");
}

#[test]
fn unreadable_files_name_the_file_and_stop_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let missing = dir.path().join("no_ts.csv");
    std::fs::write(&missing, "lead_id,email\nl1,a@b.ua\n").unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let wrong = dir.path().join("leads.xlsx");
    std::fs::write(&wrong, "x").unwrap();
    let good = dir.path().join("good.ndjson");
    std::fs::write(
        &good,
        "{\"lead_id\":\"l1\",\"ts\":\"2026-08-01T10:00:00Z\",\"email\":\" A@B.ua \"}\n{broken\n",
    )
    .unwrap();
    let out = throughline(
        &lake,
        &[
            "import",
            "--tenant",
            "t",
            "--table",
            "leads",
            missing.to_str().unwrap(),
            empty.to_str().unwrap(),
            wrong.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}: missing required column(s) ts for table leads",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}: the file is empty", empty.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}: unsupported file type", wrong.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:2: malformed JSON", good.display())),
        "{err}"
    );
    assert_eq!(count(&lake, "t", "SELECT count(*) FROM leads"), 1);
    // Raw contact data never reaches the tables.
    let stored = ok(throughline(
        &lake,
        &[
            "sql",
            "--tenant",
            "t",
            "--format",
            "csv",
            "SELECT * FROM leads",
        ],
    ));
    assert!(!stored.to_lowercase().contains("a@b.ua"), "{stored}");
}

/// Costs answer before any attribution job (rollups or `--live`): the cost side is the
/// tables', the conversion side 0, and a note says why (#14, item 5).
#[test]
fn kpi_answers_costs_before_the_first_job_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    let costs = dir.path().join("costs.csv");
    std::fs::write(
        &costs,
        "date,platform,account_id,campaign_id,campaign_name,impressions,clicks,cost,currency\n\
         2026-11-02,google_ads,123,c1,Brand,1000,40,120.50,UAH\n\
         2026-11-03,meta,act_9,m1,Retargeting,500,10,79.50,UAH\n",
    )
    .unwrap();
    ok(import(lake, "t", "ad_costs", &costs));
    for live in [&[][..], &["--live"][..]] {
        let args = [&["kpi", "--tenant", "t", "--format", "csv"][..], live].concat();
        let out = throughline(lake, &args);
        let csv = ok(out.clone());
        let total = csv
            .lines()
            .find(|l| l.starts_with("(total),"))
            .unwrap_or_else(|| panic!("a total row: {csv}"));
        assert!(total.starts_with("(total),200.00,1500,50,"), "{total}");
        assert!(
            stderr(&out).contains("note: no attribution job has run for tenant t"),
            "{live:?}: {}",
            stderr(&out)
        );
    }
}

/// The largest amount import accepts, to the currency's minor unit, goes through the job
/// and the KPIs exactly; one past it is refused naming the line (#14, item 12: a larger
/// one stored with exit 0 broke every later job).
#[test]
fn the_largest_amount_is_credited_exactly_and_a_larger_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    import_samples(lake, "big");
    let deals = dir.path().join("big.csv");
    let header = "event_id,deal_id,lead_id,ts,type,stage,amount,currency,margin\n";
    std::fs::write(
        &deals,
        format!(
            "{header}de-big,deal-big,lead-00002,2026-08-20T10:00:00+03:00,won,negotiation,\
             99999999999.99,UAH,99999999999.99\n\
             de-bigger,deal-bigger,lead-00004,2026-08-20T10:00:00+03:00,won,negotiation,\
             100000000000,UAH,\n"
        ),
    )
    .unwrap();
    let out = import(lake, "big", "deal_events", &deals);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(":3: amount:") && stderr(&out).contains("at most 99999999999.9999"),
        "{}",
        stderr(&out)
    );
    ok(throughline(lake, &["attribute", "--tenant", "big"]));
    let credited = sql_csv(
        lake,
        "big",
        "SELECT model, sum(revenue_credit) AS revenue FROM attribution \
         WHERE deal_id = 'deal-big' GROUP BY model ORDER BY model",
    );
    let models: Vec<&str> = credited.lines().skip(1).collect();
    assert!(!models.is_empty(), "{credited}");
    for line in models {
        // Credits are split in the currency's minor units (kopiyky): to the cent.
        assert!(
            line.ends_with(",99999999999.9900"),
            "every model credits it all: {line}"
        );
    }
    ok(throughline(
        lake,
        &["kpi", "--tenant", "big", "--format", "csv"],
    ));

    // The operator's correction: delete the row by its key, import the fixed one.
    let out = throughline(
        lake,
        &[
            "lake",
            "delete",
            "--tenant",
            "big",
            "--table",
            "deal_events",
            "de-big",
            "de-none",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a key not found fails the command"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deleted de-big (of 2026-08-20)")
            && stderr(&out).contains("\"de-none\""),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let fixed = dir.path().join("fixed.csv");
    std::fs::write(
        &fixed,
        format!(
            "{header}de-big,deal-big,lead-00002,2026-08-20T10:00:00+03:00,won,negotiation,\
             99999.99,UAH,30000\n"
        ),
    )
    .unwrap();
    let imported = ok(import(lake, "big", "deal_events", &fixed));
    assert!(imported.contains("1 rows stored"), "{imported}");
    ok(throughline(lake, &["attribute", "--tenant", "big"]));
    let credited = sql_csv(
        lake,
        "big",
        "SELECT count(*) AS events, sum(amount) AS amount FROM deal_events \
         WHERE event_id = 'de-big'",
    );
    assert!(
        credited
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("1,99999.99")),
        "{credited}"
    );
}

/// Long SQL answers or is refused with a message, never aborts the process; a query that
/// would run forever is stopped at the time limit (#14, item 16).
#[test]
fn sql_survives_long_statements_and_stops_at_its_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    ok(throughline(lake, &["attribute", "--tenant", "t"]));
    let terms = vec!["1"; 10_000].join("+");
    let ors = (0..5_000)
        .map(|n| format!("visitor_id = 'v{n}'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let unions = vec!["SELECT 1 AS n"; 2_000].join(" UNION ALL ");
    for (what, query) in [
        ("10,000 terms", format!("SELECT {terms} AS n")),
        (
            "5,000 OR predicates",
            format!("SELECT count(*) AS n FROM touchpoints WHERE {ors}"),
        ),
        (
            "2,000 UNION ALLs",
            format!("SELECT count(*) AS n FROM ({unions})"),
        ),
    ] {
        let out = throughline(lake, &["sql", "--tenant", "t", "--format", "csv", &query]);
        // Killed by a signal (a stack overflow's abort) has no exit code.
        assert!(out.status.code().is_some(), "{what}: {:?}", out.status);
        if !out.status.success() {
            assert!(
                !stderr(&out).trim().is_empty(),
                "{what}: a refusal says why"
            );
        }
    }
    let endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) \
                   SELECT count(*) FROM r";
    let out = Command::new(env!("CARGO_BIN_EXE_throughline"))
        .arg("--lake")
        .arg(lake)
        .args(["sql", "--tenant", "t", endless])
        .env("THROUGHLINE_SQL_TIMEOUT", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ran longer than 2 s")
            && stderr(&out).contains("THROUGHLINE_SQL_TIMEOUT"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sql_is_read_only_and_unknown_models_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    for statement in [
        "DROP TABLE leads",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO leads SELECT * FROM leads",
    ] {
        let out = throughline(lake, &["sql", "--tenant", "t", statement]);
        assert!(!out.status.success(), "{statement} must be refused");
    }
    // Before the first job KPIs answer the cost side, with a note saying why the rest is 0.
    let out = ok(throughline(lake, &["kpi", "--tenant", "t"]));
    assert!(
        out.contains("note: no attribution job has run for tenant t")
            && out.contains("until `throughline attribute --tenant t` runs"),
        "{out}"
    );
    ok(throughline(lake, &["attribute", "--tenant", "t"]));
    let out = throughline(lake, &["kpi", "--tenant", "t", "--model", "shapley"]);
    assert!(
        stderr(&out).contains("unknown model \"shapley\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_windowed_job_replaces_only_its_dates() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    import_samples(lake, "w");
    ok(throughline(lake, &["attribute", "--tenant", "w"]));
    let total = "SELECT count(*) FROM attribution";
    let before = count(lake, "w", total);
    let in_window = "SELECT count(*) FROM attribution WHERE CAST(conversion_ts AS DATE) BETWEEN DATE '2026-09-01' AND DATE '2026-09-07'";
    let window_rows = count(lake, "w", in_window);
    assert!(window_rows > 0);
    // A 1-day lookback shortens journeys inside the window only.
    let out = ok(throughline(
        lake,
        &[
            "attribute",
            "--tenant",
            "w",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-07",
            "--lookback-days",
            "1",
        ],
    ));
    assert!(out.contains("attribution version 2"), "{out}");
    let outside = "SELECT count(*) FROM attribution WHERE CAST(conversion_ts AS DATE) NOT BETWEEN DATE '2026-09-01' AND DATE '2026-09-07'";
    assert_eq!(
        count(lake, "w", outside),
        before - window_rows,
        "dates outside the window are kept as they were"
    );
    assert!(
        count(lake, "w", in_window) < window_rows,
        "the window was recomputed"
    );
    let max_age = count(
        lake,
        "w",
        "SELECT CAST(max(days_to_conversion) * 100 AS BIGINT) FROM attribution WHERE CAST(conversion_ts AS DATE) BETWEEN DATE '2026-09-01' AND DATE '2026-09-07'",
    );
    assert!(
        max_age <= 100,
        "no touch older than the 1-day lookback: {max_age}"
    );
}

#[test]
fn kpi_reports_one_currency_and_flags_costs_without_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let costs = dir.path().join("costs.csv");
    std::fs::write(
        &costs,
        "date,platform,account_id,campaign_id,cost,currency\n\
         2026-11-25,google_ads,G1,111,100.00,USD\n\
         2026-11-25,meta,M1,222,50.00,UAH\n\
         2026-11-26,google_ads,G1,111,10.00,USD\n",
    )
    .unwrap();
    let import = |table: &str, file: &Path| {
        throughline(
            &lake,
            &[
                "import",
                "--tenant",
                "fx",
                "--table",
                table,
                file.to_str().unwrap(),
            ],
        )
    };
    ok(import("ad_costs", &costs));
    ok(throughline(&lake, &["attribute", "--tenant", "fx"]));
    let kpi = |extra: &[&str]| {
        let mut args = vec![
            "kpi",
            "--tenant",
            "fx",
            "--group-by",
            "platform",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        throughline(&lake, &args)
    };

    // Two currencies and no rates: nothing is summed at a made-up rate of 1.
    let out = kpi(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "reporting currency: none can be chosen: costs and conversions are in UAH, USD, \
             and fx_rates has no rates; pass currency= (CLI: --currency)"
        ),
        "{}",
        stderr(&out)
    );
    let out = kpi(&["--currency", "XYZ"]);
    assert!(
        stderr(&out).contains("reporting currency: unknown currency \"XYZ\""),
        "{}",
        stderr(&out)
    );

    // The NBU's rates for 25.11 (base UAH) make UAH the reporting currency; 26.11 has none.
    let nbu = dir.path().join("nbu.json");
    std::fs::write(
        &nbu,
        r#"[{"r030":840,"txt":"Долар США","rate":41.4123,"cc":"USD","exchangedate":"25.11.2026"},
{"r030":978,"txt":"Євро","rate":-47.85,"cc":"EUR","exchangedate":"25.11.2026"}]"#,
    )
    .unwrap();
    let out = import("fx_rates", &nbu);
    assert!(!out.status.success(), "a rejected rate fails the import");
    assert!(
        stderr(&out).contains(&format!(
            "{}:2: rate: \"-47.85\" must be greater than 0",
            nbu.display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rows stored in fx_rates"));

    let rows = json_rows(&ok(kpi(&[])));
    let total = rows.last().unwrap();
    assert_eq!(total["group"], "(total)");
    assert_eq!(total["currency"], "UAH");
    // 100.00 USD x 41.4123 + 50.00 UAH; the 10.00 USD of 26.11 has no rate.
    assert_eq!(
        decimal(total, "cost"),
        Decimal::from_str("4191.23").unwrap()
    );
    assert_eq!(total["costs_without_rate"], 1);
    let google = rows.iter().find(|r| r["group"] == "google_ads").unwrap();
    assert_eq!(
        decimal(google, "cost"),
        Decimal::from_str("4141.23").unwrap()
    );
    assert_eq!(google["costs_without_rate"], 1);

    // In USD the 26.11 cost needs no rate and the hryvnias convert at 1 / 41.4123:
    // 100.00 + 10.00 + 50.00 / 41.4123 (1.2074).
    let rows = json_rows(&ok(kpi(&["--currency", "usd"])));
    let total = rows.last().unwrap();
    assert_eq!(total["currency"], "USD");
    assert_eq!(decimal(total, "cost"), Decimal::from_str("111.21").unwrap());
    assert_eq!(total["costs_without_rate"], 0);
}

/// The names of the tenant's current KPI rollup files (`rollup-<inputs>-<uuid>.parquet`),
/// one per rollup table, read through the tables' Delta logs.
fn rollup_files(lake: &Path, tenant: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let lake = throughline_lake::Lake::open(lake.to_str().unwrap()).unwrap();
        let tenant = throughline_model::TenantId::parse(tenant).unwrap();
        let mut names = Vec::new();
        for table in ["kpi_cost_days", "kpi_conversion_days", "kpi_fx_rates"] {
            let files = lake
                .table_files(table, &tenant, &throughline_lake::AsOf::Latest)
                .await
                .unwrap();
            names.extend(
                files
                    .files
                    .iter()
                    .map(|f| f.key.filename().unwrap().to_owned()),
            );
        }
        names
    })
}

/// The inputs digest the rollup files name (`None` unless all three name the same).
fn rollup_inputs(files: &[String]) -> Option<String> {
    let digests: std::collections::BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.strip_prefix("rollup-")?.split('-').next())
        .collect();
    (files.len() == 3 && digests.len() == 1).then(|| digests.into_iter().next().unwrap().to_owned())
}

fn kpi_csv(lake: &Path, args: &[&str]) -> String {
    let mut all = vec!["kpi", "--tenant", "acme", "--format", "csv"];
    all.extend_from_slice(args);
    ok(throughline(lake, &all))
}

#[test]
fn kpis_read_the_jobs_rollups_which_a_cost_import_drops_until_the_next_job() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    import_samples(lake, "acme");
    assert!(
        rollup_files(lake, "acme").is_empty(),
        "no job yet, so no rollups (imports do not create them)"
    );
    let out = ok(throughline(lake, &["attribute", "--tenant", "acme"]));
    assert!(out.contains("kpi rollups written"), "{out}");
    let first =
        rollup_inputs(&rollup_files(lake, "acme")).expect("three rollups of one set of inputs");

    // From the rollups and from the tables: the same report, for every model and grouping.
    let groupings = [
        "channel",
        "source-medium",
        "campaign",
        "ad-group",
        "platform",
    ];
    let cases = groupings
        .iter()
        .map(|g| ("last_non_direct", *g))
        .chain(MODELS.iter().map(|m| (*m, "ad-group")));
    for (model, group_by) in cases {
        let args = ["--model", model, "--group-by", group_by];
        let rolled_up = kpi_csv(lake, &args);
        let live = kpi_csv(lake, &[&args[..], &["--live"]].concat());
        assert_eq!(rolled_up, live, "{model} by {group_by}");
    }

    // A cost imported after the job: the rollups are dropped, so the answer has it at once.
    let before = kpi_csv(lake, &["--group-by", "platform"]);
    let extra = dir.path().join("late-cost.csv");
    std::fs::write(
        &extra,
        "date,platform,account_id,campaign_id,campaign_name,ad_group_id,ad_group_name,ad_id,ad_name,impressions,clicks,cost,currency\n\
         2026-08-02,tiktok,7000000001,1700000000001,Late campaign,,,,,10,1,123.45,UAH\n",
    )
    .unwrap();
    ok(throughline(
        lake,
        &[
            "import",
            "--tenant",
            "acme",
            "--table",
            "ad_costs",
            extra.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        rollup_inputs(&rollup_files(lake, "acme")).as_deref(),
        Some(first.as_str()),
        "the import leaves the rollups; they no longer match the tenant's costs"
    );
    let after = kpi_csv(lake, &["--group-by", "platform"]);
    assert_ne!(before, after);
    assert_eq!(after, kpi_csv(lake, &["--group-by", "platform", "--live"]));
    let total_cost = |report: &str| -> Decimal {
        let mut reader = csv::Reader::from_reader(report.as_bytes());
        let rows: Vec<BTreeMap<String, String>> =
            reader.deserialize().map(|r| r.unwrap()).collect();
        let total = rows.iter().find(|r| r["group"] == "(total)").unwrap();
        Decimal::from_str(&total["cost"]).unwrap()
    };
    assert_eq!(
        total_cost(&after) - total_cost(&before),
        Decimal::from_str("123.45").unwrap()
    );

    // The next job writes them again, with the new cost; `--no-rollups` writes none.
    ok(throughline(lake, &["attribute", "--tenant", "acme"]));
    let second = rollup_inputs(&rollup_files(lake, "acme")).expect("rewritten");
    assert_ne!(second, first, "computed from the new costs");
    assert_eq!(kpi_csv(lake, &["--group-by", "platform"]), after);
    let out = ok(throughline(
        lake,
        &["attribute", "--tenant", "acme", "--no-rollups"],
    ));
    assert!(!out.contains("kpi rollups"), "{out}");
    assert_eq!(
        rollup_inputs(&rollup_files(lake, "acme")),
        Some(second),
        "--no-rollups writes none"
    );
    assert_eq!(
        kpi_csv(lake, &["--group-by", "platform"]),
        after,
        "rollups older than the attribution: computed from the tables"
    );
}

/// `throughline plan` on the demo business: each channel's current spend is its ad costs
/// of the last 28 days of data, the proposal spends exactly the budget within 0.7–1.3 ×
/// current, the caveats go to stderr for machine formats, and the HTML page has a chart
/// per channel and loads nothing from elsewhere. A user's own CSV plans the same way; a
/// bad line of it is named.
#[test]
fn plan_splits_the_budget_within_bounds_and_says_its_caveats() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    import_samples(&lake, "acme");
    ok(throughline(&lake, &["attribute", "--tenant", "acme"]));
    let out = throughline(
        &lake,
        &[
            "plan",
            "--tenant",
            "acme",
            "--budget",
            "120000",
            "--format",
            "json",
            "--bootstrap",
            "20",
        ],
    );
    let notes = stderr(&out);
    let rows = json_rows(&ok(out));
    let (channels, total) = rows.split_at(rows.len() - 1);
    assert_eq!(total[0]["channel"], "(total)");
    let proposed: f64 = channels
        .iter()
        .map(|r| r["proposed_spend"].as_f64().unwrap())
        .sum();
    assert!((proposed - 120000.0).abs() < 0.005, "{rows:?}");
    let current: f64 = channels
        .iter()
        .map(|r| r["current_spend"].as_f64().unwrap())
        .sum();
    let from_sql = sql_csv(
        &lake,
        "acme",
        "SELECT CAST(sum(cost) AS DOUBLE) FROM ad_costs \
         WHERE \"date\" > (SELECT max(\"date\") FROM ad_costs) - INTERVAL '28' DAY",
    );
    let from_sql: f64 = from_sql.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        (current - from_sql).abs() < 0.01,
        "{current} against {from_sql}"
    );
    for row in channels {
        let (now, then) = (
            row["current_spend"].as_f64().unwrap(),
            row["proposed_spend"].as_f64().unwrap(),
        );
        assert!(
            then >= 0.7 * now - 0.01 && then <= 1.3 * now + 0.01,
            "{row:?}"
        );
    }
    for caveat in [
        "attribution is not incrementality",
        "under the linear model",
        "predicted uplift",
    ] {
        assert!(notes.contains(caveat), "{caveat}: {notes}");
    }

    let page = dir.path().join("plan.html");
    ok(throughline(
        &lake,
        &[
            "plan",
            "--tenant",
            "acme",
            "--budget",
            "120000",
            "--bootstrap",
            "0",
            "--format",
            "html",
            "--out",
            page.to_str().unwrap(),
        ],
    ));
    let page = std::fs::read_to_string(page).unwrap();
    assert_eq!(page.matches("<svg").count(), channels.len());
    assert!(!page.contains("src=") && !page.contains("href=") && !page.contains("url("));

    let series = dir.path().join("series.csv");
    let mut csv = String::from("date,channel,spend,revenue\n");
    for day in 0..84 {
        let date =
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(day);
        for (channel, base) in [("Search", 100.0), ("Social", 60.0)] {
            let spend = base * (1.0 + 0.5 * ((day as f64) * 0.4).sin());
            csv.push_str(&format!(
                "{date},{channel},{spend:.2},{:.2}\n",
                3.0 * spend.sqrt() * 10.0
            ));
        }
    }
    std::fs::write(&series, &csv).unwrap();
    let rows = json_rows(&ok(throughline(
        &lake,
        &[
            "plan",
            "--input",
            series.to_str().unwrap(),
            "--budget",
            "4500",
            "--format",
            "json",
            "--bootstrap",
            "0",
        ],
    )));
    assert_eq!(rows.len(), 3, "{rows:?}");
    csv.push_str("2026-03-26,Search,lots,5\n");
    std::fs::write(&series, &csv).unwrap();
    let out = throughline(
        &lake,
        &[
            "plan",
            "--input",
            series.to_str().unwrap(),
            "--budget",
            "4500",
        ],
    );
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("series.csv:170: spend: \"lots\" is not a number"),
        "{e}"
    );
}

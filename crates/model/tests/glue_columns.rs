//! The Glue tables in `infra/template.yaml` must describe the Delta tables the lake writes:
//! same columns, same order, same types as the stored schemas in `crates/model/src/table.rs`
//! (the data files' columns), with the Delta partition columns `tenant` (string) and `date`
//! (date) only as partition keys. Athena reads a Delta table's schema from its log, but Lake
//! Formation, views and row/column filters need the Glue schema to match the log's, and tools
//! that list columns from the catalog show the Glue schema. A drifted catalog shows up in
//! production, never in a local run.
//!
//! The template uses CloudFormation tags (`!Ref`, `!Sub`), which a plain YAML parser rejects,
//! so the Glue tables are read line by line; columns are written as `- {Name: x, Type: y}`.

use arrow_schema::DataType;
use throughline_model::Table;

const TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../infra/template.yaml"
));

/// Glue tables in the template whose files crates/model does not describe.
const OWNED_ELSEWHERE: &[(&str, &str)] = &[(
    "attribution",
    "written by the engine from sql/attribution.sql; not checked here",
)];

/// The Delta partition columns of every table in the catalog, in the log's order.
const PARTITION_KEYS: [(&str, &str); 2] = [("tenant", "string"), ("date", "date")];

#[derive(Debug, Default)]
struct GlueTable {
    /// 1-based line of its `Type: AWS::Glue::Table`.
    line: usize,
    name: Option<String>,
    partition_keys: Vec<(String, String)>,
    columns: Vec<(String, String)>,
}

/// The Glue tables of a template, in order.
fn glue_tables(template: &str) -> Vec<GlueTable> {
    #[derive(Clone, Copy)]
    enum List {
        PartitionKeys,
        Columns,
    }
    let mut tables = Vec::new();
    let mut current: Option<GlueTable> = None;
    let mut list = None;
    for (i, line) in template.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // A resource name (or a top-level section) ends the previous resource.
        if line.len() - trimmed.len() <= 2 {
            tables.extend(current.take());
            list = None;
            continue;
        }
        if trimmed.trim_end() == "Type: AWS::Glue::Table" {
            current = Some(GlueTable {
                line: i + 1,
                ..GlueTable::default()
            });
            continue;
        }
        let Some(table) = current.as_mut() else {
            continue;
        };
        if let Some(item) = trimmed.strip_prefix("- ") {
            let Some(list) = list else { continue };
            let entry = flow_entry(item).unwrap_or_else(|| {
                panic!(
                    "infra/template.yaml:{}: write Glue columns as `- {{Name: x, Type: y}}`, got {trimmed:?}",
                    i + 1
                )
            });
            match list {
                List::PartitionKeys => table.partition_keys.push(entry),
                List::Columns => table.columns.push(entry),
            }
            continue;
        }
        list = match trimmed.trim_end() {
            "PartitionKeys:" => Some(List::PartitionKeys),
            "Columns:" => Some(List::Columns),
            _ => None,
        };
        // `TableInput.Name`: the only plain `Name:` key of a Glue table resource.
        if let Some(name) = trimmed.strip_prefix("Name:")
            && table.name.is_none()
        {
            table.name = Some(unquote(name).to_owned());
        }
    }
    tables.extend(current);
    tables
}

/// `{Name: amount, Type: "decimal(18,4)", Comment: ...}` → `("amount", "decimal(18,4)")`.
fn flow_entry(item: &str) -> Option<(String, String)> {
    let body = item.trim().strip_prefix('{')?.strip_suffix('}')?;
    let (mut name, mut kind) = (None, None);
    let (mut depth, mut quoted, mut start) = (0, false, 0);
    let mut pairs = Vec::new();
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                pairs.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pairs.push(&body[start..]);
    for pair in pairs {
        match pair.split_once(':')? {
            (key, value) if key.trim() == "Name" => name = Some(unquote(value).to_owned()),
            (key, value) if key.trim() == "Type" => kind = Some(unquote(value).to_owned()),
            _ => {}
        }
    }
    Some((name?, kind?))
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The Glue (Hive) type Athena must declare for a stored Arrow type.
fn glue_type(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Utf8 => "string".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(precision, scale) => format!("decimal({precision},{scale})"),
        DataType::Int64 => "bigint".into(),
        DataType::Int32 => "int".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 => "date".into(),
        _ => return None,
    })
}

fn same_type(a: &str, b: &str) -> bool {
    let normal = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    normal(a) == normal(b)
}

/// Every disagreement between the template's Glue tables and crates/model's stored schemas.
fn disagreements(template: &str) -> Vec<String> {
    const FIX: &str = "fix infra/template.yaml to match crates/model/src/table.rs";
    let mut problems = Vec::new();
    let tables = glue_tables(template);
    if tables.is_empty() {
        problems.push("infra/template.yaml: no AWS::Glue::Table resource found".to_owned());
    }
    let mut seen = Vec::new();
    for glue in &tables {
        let Some(name) = glue.name.as_deref() else {
            problems.push(format!(
                "infra/template.yaml:{}: Glue table without `TableInput.Name`",
                glue.line
            ));
            continue;
        };
        if seen.contains(&name) {
            problems.push(format!(
                "infra/template.yaml:{}: Glue table `{name}` is declared twice",
                glue.line
            ));
        }
        seen.push(name);
        let expected_keys: Vec<(String, String)> = PARTITION_KEYS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        if glue.partition_keys != expected_keys {
            problems.push(format!(
                "infra/template.yaml: Glue table `{name}` has partition keys {:?}, expected {expected_keys:?} (tenant, date: the Delta partition columns of every lake table)",
                glue.partition_keys
            ));
        }
        if OWNED_ELSEWHERE.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let Ok(table) = Table::from_name(name) else {
            problems.push(format!(
                "infra/template.yaml: Glue table `{name}` is not a table of crates/model/src/table.rs; remove it from infra/template.yaml, add it to Table, or list it in OWNED_ELSEWHERE in crates/model/tests/glue_columns.rs"
            ));
            continue;
        };
        let schema = table.schema();
        let expected: Vec<(&str, Result<String, &DataType>)> = schema
            .fields()
            .iter()
            .map(|f| {
                let t = f.data_type();
                (f.name().as_str(), glue_type(t).ok_or(t))
            })
            .collect();
        for (position, pair) in (1..).zip(expected.iter().zip(&glue.columns)) {
            let ((want_name, want_type), (got_name, got_type)) = pair;
            if want_name != got_name {
                problems.push(format!(
                    "Glue table `{name}` column {position} is `{got_name}` in infra/template.yaml but `{want_name}` in crates/model/src/table.rs; {FIX}"
                ));
                continue;
            }
            match want_type {
                Err(arrow) => problems.push(format!(
                    "Glue table `{name}` column `{want_name}`: no Glue type known for Arrow {arrow:?}; add it to glue_type in crates/model/tests/glue_columns.rs"
                )),
                Ok(want) if !same_type(want, got_type) => problems.push(format!(
                    "Glue table `{name}` column `{want_name}` is `{got_type}` in infra/template.yaml but `{want}` in crates/model/src/table.rs; {FIX}"
                )),
                Ok(_) => {}
            }
        }
        for (want_name, want_type) in expected.iter().skip(glue.columns.len()) {
            let want = want_type
                .as_ref()
                .map_or_else(|t| format!("{t:?}"), String::clone);
            problems.push(format!(
                "Glue table `{name}` is missing column `{want_name}` ({want}) that crates/model/src/table.rs stores; {FIX}"
            ));
        }
        for (got_name, _) in glue.columns.iter().skip(expected.len()) {
            problems.push(format!(
                "Glue table `{name}` has column `{got_name}` in infra/template.yaml that crates/model/src/table.rs does not store{}; {FIX}",
                if PARTITION_KEYS.iter().any(|(k, _)| k == got_name) {
                    " (it is a partition key: list it only under PartitionKeys)"
                } else {
                    ""
                }
            ));
        }
    }
    problems
}

#[test]
fn glue_tables_match_stored_schemas() {
    let problems = disagreements(TEMPLATE);
    assert!(
        problems.is_empty(),
        "infra/template.yaml disagrees with crates/model/src/table.rs:\n  {}",
        problems.join("\n  ")
    );
    // Not vacuous: the reader found the model's tables in the template.
    let checked = glue_tables(TEMPLATE)
        .iter()
        .filter(|g| {
            g.name
                .as_deref()
                .is_some_and(|n| Table::from_name(n).is_ok())
        })
        .count();
    assert!(
        checked > 0,
        "no Glue table of crates/model found in infra/template.yaml"
    );
}

#[test]
fn the_check_reports_a_drifted_template() {
    let right = r#"{Name: rate, Type: "decimal(18,8)"}"#;
    assert!(TEMPLATE.contains(right));
    let drifted = TEMPLATE.replacen(right, r#"{Name: rate, Type: "decimal(18,4)"}"#, 1);
    assert_eq!(
        disagreements(&drifted),
        [
            "Glue table `fx_rates` column `rate` is `decimal(18,4)` in infra/template.yaml but `decimal(18,8)` in crates/model/src/table.rs; fix infra/template.yaml to match crates/model/src/table.rs"
        ]
    );

    let snippet = r#"
Resources:
  OrdersTable:
    Type: AWS::Glue::Table
    Properties:
      DatabaseName: !Ref LakeDatabase
      TableInput:
        Name: orders
        PartitionKeys:
          - {Name: tenant, Type: string, Comment: tenant id (a-z 0-9 - _)}
        StorageDescriptor:
          Location: !Sub s3://${LakeBucket}/lake/tables/orders/
          Columns:
            - {Name: order_id, Type: string}
            - {Name: ts, Type: string}
            - {Name: email_sha256, Type: string}
  ClicksTable:
    Type: AWS::Glue::Table
    Properties:
      TableInput:
        Name: clicks
"#;
    let problems = disagreements(snippet);
    let expect = [
        "`orders` has partition keys",
        "`orders` column `ts` is `string` in infra/template.yaml but `timestamp`",
        "`orders` column 3 is `email_sha256` in infra/template.yaml but `lead_id`",
        "`orders` is missing column `phone_sha256`",
        "`orders` is missing column `amount` (decimal(18,4))",
        "`clicks` has partition keys",
        "`clicks` is not a table of crates/model/src/table.rs",
    ];
    assert_eq!(problems.len(), 10, "{problems:#?}");
    for part in expect {
        assert!(
            problems.iter().any(|p| p.contains(part)),
            "{part:?} not in {problems:#?}"
        );
    }
}

//! Functions whose output size a number argument sets (`repeat('x', 2147483647)`,
//! `lpad`, `array_repeat`, `range`) are checked before they run: one call may build at most
//! [`MAX_BUILT_BYTES`]. The memory pool (`THROUGHLINE_MEMORY_LIMIT`) sees sorts, joins and
//! aggregates, not what a function allocates, so without this one expression of a
//! read-only query could take gigabytes (docs/RELIABILITY.md).

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::{cast, kernels::length::length};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use datafusion::prelude::SessionContext;

/// The most one call of a checked function may build (all rows of its batch together).
pub const MAX_BUILT_BYTES: u64 = 256 << 20;

/// How a checked function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Size {
    /// `repeat(text, n)`: the text's bytes, n times.
    Repeat,
    /// `lpad` / `rpad(text, n [, fill])`: n characters of up to 4 bytes.
    Pad,
    /// `array_repeat(element, n)`: n elements, counted at 16 bytes.
    ArrayRepeat,
    /// `range` / `generate_series([start,] stop [, step])` over whole numbers: 8 bytes an
    /// element (date and time ranges are not estimated).
    Series,
}

const CHECKED: [(&str, Size); 6] = [
    ("repeat", Size::Repeat),
    ("lpad", Size::Pad),
    ("rpad", Size::Pad),
    ("array_repeat", Size::ArrayRepeat),
    ("range", Size::Series),
    ("generate_series", Size::Series),
];

/// Replaces the session's built-in functions of [`CHECKED`] with checked ones.
pub fn register_size_checks(ctx: &SessionContext) {
    for (name, size) in CHECKED {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(SizeChecked {
                inner: inner.as_ref().clone(),
                size,
            }));
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SizeChecked {
    inner: ScalarUDF,
    size: Size,
}

/// A whole-number argument per row (`None` for a null or an argument that is not one).
fn whole_numbers(arg: Option<&ColumnarValue>, rows: usize) -> Option<Vec<Option<i64>>> {
    let array = arg?.to_array(rows).ok()?;
    if !(array.data_type().is_integer() || array.data_type().is_floating()) {
        return None;
    }
    let numbers = cast(&array, &DataType::Int64).ok()?;
    Some(numbers.as_primitive::<Int64Type>().iter().collect())
}

/// A text argument's byte length per row; a constant is measured once, not copied per row.
fn text_lengths(arg: Option<&ColumnarValue>, rows: usize) -> Vec<u64> {
    match arg {
        Some(ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(text))
            | ScalarValue::LargeUtf8(Some(text))
            | ScalarValue::Utf8View(Some(text)),
        )) => vec![text.len() as u64; rows],
        Some(ColumnarValue::Array(array)) => length(array)
            .ok()
            .and_then(|lengths| cast(&lengths, &DataType::Int64).ok())
            .map(|lengths| {
                lengths
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|l| l.unwrap_or(0).max(0) as u64)
                    .collect()
            })
            .unwrap_or_else(|| vec![0; rows]),
        _ => vec![0; rows],
    }
}

fn positive(n: Option<i64>) -> u64 {
    n.unwrap_or(0).max(0) as u64
}

impl Size {
    /// What one call over these arguments would build, in bytes (saturating).
    fn estimate(self, args: &[ColumnarValue], rows: usize) -> u64 {
        let per_row: Vec<u64> = match self {
            Size::Repeat => {
                let Some(counts) = whole_numbers(args.get(1), rows) else {
                    return 0;
                };
                text_lengths(args.first(), rows)
                    .into_iter()
                    .zip(counts)
                    .map(|(len, n)| len.saturating_mul(positive(n)))
                    .collect()
            }
            Size::Pad => whole_numbers(args.get(1), rows)
                .unwrap_or_default()
                .into_iter()
                .map(|n| positive(n).saturating_mul(4))
                .collect(),
            Size::ArrayRepeat => whole_numbers(args.get(1), rows)
                .unwrap_or_default()
                .into_iter()
                .map(|n| positive(n).saturating_mul(16))
                .collect(),
            Size::Series => {
                let numbers: Option<Vec<Vec<Option<i64>>>> = args
                    .iter()
                    .map(|arg| whole_numbers(Some(arg), rows))
                    .collect();
                let Some(numbers) = numbers else { return 0 };
                (0..rows)
                    .map(|row| {
                        let at = |i: usize| numbers.get(i).and_then(|column| column[row]);
                        let (start, stop, step) = match numbers.len() {
                            1 => (Some(0), at(0), Some(1)),
                            2 => (at(0), at(1), Some(1)),
                            _ => (at(0), at(1), at(2)),
                        };
                        match (start, stop, step) {
                            (Some(start), Some(stop), Some(step)) if step != 0 => {
                                let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
                                let elements = span / i128::from(step).unsigned_abs() + 1;
                                u64::try_from(elements)
                                    .unwrap_or(u64::MAX)
                                    .saturating_mul(8)
                            }
                            _ => 0,
                        }
                    })
                    .collect()
            }
        };
        per_row.into_iter().fold(0, u64::saturating_add)
    }
}

impl ScalarUDFImpl for SizeChecked {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let built = self.size.estimate(&args.args, args.number_rows);
        if built > MAX_BUILT_BYTES {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}(…) would build {} MiB in one call; a function may build at most {} MiB: \
                 ask for shorter values or fewer rows at once",
                self.name(),
                built >> 20,
                MAX_BUILT_BYTES >> 20
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

/// Kept for the engine's tests: the checked functions, by name.
#[cfg(test)]
pub(crate) fn checked_names() -> impl Iterator<Item = &'static str> {
    CHECKED.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(ctx: &SessionContext, sql: &str) -> Result<String> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    #[tokio::test]
    async fn functions_that_would_build_gigabytes_are_refused_before_they_run() {
        let ctx = SessionContext::new();
        register_size_checks(&ctx);
        for name in checked_names() {
            assert!(
                ctx.udf(name).unwrap().inner().is::<SizeChecked>(),
                "{name} is checked"
            );
        }
        for sql in [
            "SELECT repeat('x', 2147483647)",
            "SELECT lpad('x', 2147483647, 'y')",
            "SELECT rpad('x', 2147483647)",
            "SELECT array_repeat(1, 2147483647)",
            "SELECT range(0, 9000000000)",
            "SELECT generate_series(1, 9000000000, 2)",
            "SELECT repeat(t, 100000000) FROM (VALUES ('abc'), ('d')) AS v(t)",
        ] {
            let refused = answer(&ctx, sql).await.unwrap_err().to_string();
            assert!(
                refused.contains("a function may build at most 256 MiB"),
                "{sql}: {refused}"
            );
        }
        // Ordinary calls answer as before.
        let ordinary = answer(
            &ctx,
            "SELECT repeat('ab', 3) AS r, lpad('7', 3, '0') AS l, rpad('7', 2) AS p, \
             array_repeat(1, 2) AS a, range(1, 4) AS s, generate_series(1, 3) AS g, \
             repeat(t, 2) AS c FROM (VALUES ('x')) AS v(t)",
        )
        .await
        .unwrap();
        for expected in [
            "ababab",
            "007",
            "7 ",
            "[1, 1]",
            "[1, 2, 3]",
            "[1, 2, 3]",
            "xx",
        ] {
            assert!(ordinary.contains(expected), "{expected} in\n{ordinary}");
        }
    }
}

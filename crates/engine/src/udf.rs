//! The channel rules as SQL functions, so the SQL decides where they apply and the rules
//! stay data (channels.toml) rather than a CASE expression per deployment.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, StringArray, StringBuilder, StructArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use throughline_model::channel::{ChannelRules, Traffic};
use throughline_model::tracking::host_of;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    /// classify_touchpoint(url, referrer, utm_source, utm_medium, utm_campaign,
    /// click_id_type): `{channel, platform, source, medium}`, classified once per row
    /// ([`ChannelRules::touchpoint_facts`]).
    TouchpointFacts,
    /// platform_channel(platform): the channel of cost that matched no touchpoint
    PlatformChannel,
    /// url_host(url): lower-case host without `www.`
    UrlHost,
}

#[derive(Debug)]
struct RulesFunction {
    output: Output,
    rules: Arc<ChannelRules>,
    signature: Signature,
}

// Two functions are the same when they compute the same output with the same rules.
impl PartialEq for RulesFunction {
    fn eq(&self, other: &Self) -> bool {
        self.output == other.output && Arc::ptr_eq(&self.rules, &other.rules)
    }
}
impl Eq for RulesFunction {}
impl Hash for RulesFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.output.hash(state);
        Arc::as_ptr(&self.rules).hash(state);
    }
}

impl RulesFunction {
    fn new(output: Output, rules: Arc<ChannelRules>) -> Self {
        let arity = match output {
            Output::TouchpointFacts => 6,
            Output::PlatformChannel | Output::UrlHost => 1,
        };
        Self {
            output,
            rules,
            signature: Signature::uniform(arity, vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RulesFunction {
    fn name(&self) -> &str {
        match self.output {
            Output::TouchpointFacts => "classify_touchpoint",
            Output::PlatformChannel => "platform_channel",
            Output::UrlHost => "url_host",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.output {
            Output::TouchpointFacts => DataType::Struct(touchpoint_facts_fields()),
            Output::PlatformChannel | Output::UrlHost => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let columns: Vec<ArrayRef> = arrays
            .iter()
            .map(|a| cast(a, &DataType::Utf8))
            .collect::<Result<_, _>>()?;
        let columns: Vec<&StringArray> = columns
            .iter()
            .map(|a| {
                a.as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8")
            })
            .collect();
        let value = |column: usize, row: usize| -> Option<&str> {
            let c = columns[column];
            (!c.is_null(row)).then(|| c.value(row))
        };
        if self.output == Output::TouchpointFacts {
            return Ok(ColumnarValue::Array(Arc::new(
                self.touchpoint_facts(args.number_rows, value),
            )));
        }
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 12);
        for row in 0..args.number_rows {
            match self.output {
                Output::PlatformChannel => match value(0, row) {
                    Some(platform) => out.append_value(self.rules.platform_channel_ref(platform)),
                    None => out.append_null(),
                },
                Output::UrlHost => out.append_option(value(0, row).and_then(host_of)),
                Output::TouchpointFacts => unreachable!("answered above"),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl RulesFunction {
    /// The facts of every row, as the four columns of a struct.
    fn touchpoint_facts<'a>(
        &self,
        rows: usize,
        value: impl Fn(usize, usize) -> Option<&'a str>,
    ) -> StructArray {
        let mut columns: [StringBuilder; 4] =
            std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 12));
        for row in 0..rows {
            let traffic = Traffic {
                url: value(0, row),
                referrer: value(1, row),
                utm_source: value(2, row),
                utm_medium: value(3, row),
                utm_campaign: value(4, row),
                click_id_type: value(5, row),
            };
            let facts = self.rules.touchpoint_facts(&traffic);
            columns[0].append_value(facts.channel);
            columns[1].append_option(facts.platform);
            columns[2].append_value(facts.source);
            columns[3].append_value(facts.medium);
        }
        let arrays: Vec<ArrayRef> = columns
            .iter_mut()
            .map(|c| Arc::new(c.finish()) as ArrayRef)
            .collect();
        StructArray::new(touchpoint_facts_fields(), arrays, None)
    }
}

/// The fields of `classify_touchpoint`'s struct.
fn touchpoint_facts_fields() -> Fields {
    ["channel", "platform", "source", "medium"]
        .into_iter()
        .map(|name| Field::new(name, DataType::Utf8, true))
        .collect()
}

/// minor_unit_factor(currency): 10^(ISO 4217 minor digits), e.g. 100 for UAH, 1 for JPY;
/// 100 for an unknown or missing currency. Money is split in these units.
fn minor_unit_factor(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let codes = cast(&arrays[0], &DataType::Utf8)?;
    let codes = codes
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    let factors: Int64Array = (0..codes.len())
        .map(|i| {
            let exponent = (!codes.is_null(i))
                .then(|| iso_currency::Currency::from_code(&codes.value(i).to_ascii_uppercase()))
                .flatten()
                .and_then(|c| c.exponent())
                .unwrap_or(2);
            Some(10_i64.pow(u32::from(exponent)))
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(factors)))
}

/// Registers classify_touchpoint, platform_channel, url_host and minor_unit_factor.
pub fn register_channel_functions(ctx: &SessionContext, rules: Arc<ChannelRules>) {
    for output in [
        Output::TouchpointFacts,
        Output::PlatformChannel,
        Output::UrlHost,
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(RulesFunction::new(
            output,
            rules.clone(),
        )));
    }
    ctx.register_udf(create_udf(
        "minor_unit_factor",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(minor_unit_factor),
    ));
}

//! Revenue months in their coded byte form (see [`crate::model::revenue_codes`]).
//!
//! A month is an event of kind `revenue` under `import_id/YYYY-MM` like before, but its record
//! is [`CODEC_RAW`], a version byte (1) and a protobuf message (`Month`): customers as the
//! difference between their code and the previous row's (files list a month's customers in the
//! same order every month, so mostly 1, one byte), MRR as indexes into the month's distinct
//! amounts (or as packed doubles when most are distinct), plans and segments as before. The import's customer list is one record of kind `revenue_customers` under the
//! import id (`Customers`: the ids one after the other, and their lengths).
//!
//! Stores written before hold months as [`RevenueMonthRows`] (postcard, or JSON from schema 1):
//! they are read as they are ([`StoredMonth::Named`]), so existing data needs no conversion, and
//! a re-import of the same file finds its months current and writes nothing; the next import of
//! a changed file writes the coded form.

use rustc_hash::FxHashMap;

use super::encoding::{decode_event, EncodedEvent, SameAsJson, CODEC_RAW};
use super::{Store, StoreError, WriteBatch};
use crate::model::{CodedMonthRows, Event, ImportCustomers, Month, RevenueMonthRows};

/// The first byte of a month or customer list in this form.
const VERSION: u8 = 1;

/// The kind of an import's customer list.
pub const CUSTOMERS_KIND: &str = "revenue_customers";

/// A month's message. Packed repeated fields throughout (prost's default for scalars).
#[derive(Clone, PartialEq, prost::Message)]
struct MonthMessage {
    #[prost(string, tag = "1")]
    import_id: String,
    #[prost(string, tag = "2")]
    source: String,
    /// `YYYY-MM`.
    #[prost(string, tag = "3")]
    month: String,
    #[prost(string, tag = "4")]
    currency: String,
    /// Each row's customer code minus the previous row's (the first: minus -1).
    #[prost(sint64, repeated, tag = "5")]
    customer_steps: Vec<i64>,
    /// Each row's MRR, unless `mrr_codes` holds them.
    #[prost(double, repeated, tag = "6")]
    mrr: Vec<f64>,
    /// The month's distinct MRR values, when `mrr_codes` is used.
    #[prost(double, repeated, tag = "11")]
    mrr_values: Vec<f64>,
    /// Each row's MRR as an index into `mrr_values`: customers pay plan prices, so a month has
    /// few distinct amounts, and an index is a byte or two where a double is eight (a month of
    /// 20 000 customers then stays under the 128 KiB past which sled writes a separate file).
    #[prost(uint32, repeated, tag = "12")]
    mrr_codes: Vec<u32>,
    #[prost(string, repeated, tag = "7")]
    plans: Vec<String>,
    #[prost(uint32, repeated, tag = "8")]
    plan: Vec<u32>,
    #[prost(string, repeated, tag = "9")]
    segments: Vec<String>,
    #[prost(uint32, repeated, tag = "10")]
    segment: Vec<u32>,
}

/// An import's customer list's message.
#[derive(Clone, PartialEq, prost::Message)]
struct CustomersMessage {
    #[prost(string, tag = "1")]
    source: String,
    /// Every id, one after the other.
    #[prost(string, tag = "2")]
    ids: String,
    #[prost(uint32, repeated, tag = "3")]
    lengths: Vec<u32>,
}

/// A month of customer rows as stored: by name (the demo's, and imports of earlier versions) or
/// coded against its import's [`ImportCustomers`].
#[derive(Debug, Clone, PartialEq)]
pub enum StoredMonth {
    /// Customer ids in the month itself.
    Named(RevenueMonthRows),
    /// Customers as codes into the import's list ([`Store::revenue_customers`]).
    Coded(CodedMonthRows),
}

impl StoredMonth {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            StoredMonth::Named(m) => m.len(),
            StoredMonth::Coded(m) => m.len(),
        }
    }

    /// Whether the month has no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The import that wrote it.
    pub fn import_id(&self) -> &str {
        match self {
            StoredMonth::Named(m) => &m.import_id,
            StoredMonth::Coded(m) => &m.import_id,
        }
    }
}

fn raw_record(message: &impl prost::Message) -> EncodedEvent {
    let mut record = Vec::with_capacity(2 + message.encoded_len());
    record.push(CODEC_RAW);
    record.push(VERSION);
    message.encode_raw(&mut record);
    EncodedEvent {
        record,
        same: SameAsJson::Never,
    }
}

fn encode_month(m: &CodedMonthRows) -> EncodedEvent {
    let mut prev = -1i64;
    let customer_steps = m
        .customers
        .iter()
        .map(|c| {
            let step = i64::from(*c) - prev;
            prev = i64::from(*c);
            step
        })
        .collect();
    let (mrr, mrr_values, mrr_codes) = match mrr_dictionary(&m.mrr) {
        Some((values, codes)) => (Vec::new(), values, codes),
        None => (m.mrr.clone(), Vec::new(), Vec::new()),
    };
    raw_record(&MonthMessage {
        import_id: m.import_id.clone(),
        source: m.source.clone(),
        month: m.month.to_string(),
        currency: m.currency.clone(),
        customer_steps,
        mrr,
        mrr_values,
        mrr_codes,
        plans: m.plans.clone(),
        plan: m.plan.clone(),
        segments: m.segments.clone(),
        segment: m.segment.clone(),
    })
}

/// The distinct values of `mrr` (compared bit for bit) and each one's index, when there are
/// few enough of them (at most half as many as rows) for indexes to be shorter.
fn mrr_dictionary(mrr: &[f64]) -> Option<(Vec<f64>, Vec<u32>)> {
    let most = mrr.len() / 2;
    let mut index: FxHashMap<u64, u32> = FxHashMap::default();
    let mut values = Vec::new();
    let mut codes = Vec::with_capacity(mrr.len());
    for v in mrr {
        let code = *index.entry(v.to_bits()).or_insert_with(|| {
            values.push(*v);
            u32::try_from(values.len() - 1).unwrap_or(u32::MAX)
        });
        if values.len() > most {
            return None;
        }
        codes.push(code);
    }
    Some((values, codes))
}

fn decode_month(bytes: &[u8]) -> Result<CodedMonthRows, String> {
    use prost::Message as _;
    let mut m = MonthMessage::decode(bytes).map_err(|e| e.to_string())?;
    let n = m.customer_steps.len();
    if !m.mrr_codes.is_empty() {
        m.mrr = m
            .mrr_codes
            .iter()
            .map(|c| m.mrr_values.get(*c as usize).copied())
            .collect::<Option<_>>()
            .ok_or("an MRR index past the month's values")?;
    }
    if m.mrr.len() != n || m.plan.len() != n || m.segment.len() != n {
        return Err("columns of unequal lengths".into());
    }
    let mut prev = -1i64;
    let customers = m
        .customer_steps
        .iter()
        .map(|step| {
            prev = prev.wrapping_add(*step);
            u32::try_from(prev).map_err(|_| "a customer code out of range".to_owned())
        })
        .collect::<Result<_, _>>()?;
    Ok(CodedMonthRows {
        import_id: m.import_id,
        source: m.source,
        month: m
            .month
            .parse()
            .map_err(|_| format!("bad month {:?}", m.month))?,
        currency: m.currency,
        customers,
        mrr: m.mrr,
        plans: m.plans,
        plan: m.plan,
        segments: m.segments,
        segment: m.segment,
    })
}

/// The version byte and the message after it, from a [`CODEC_RAW`] record's body.
fn versioned(raw: &[u8]) -> Result<&[u8], String> {
    match raw.split_first() {
        Some((&VERSION, body)) => Ok(body),
        _ => Err("unknown version".into()),
    }
}

impl WriteBatch {
    /// Stores a month of an import's rows (replacing one stored before), in the coded form.
    pub fn put_revenue_month(&mut self, month: &CodedMonthRows) {
        self.events.push((
            RevenueMonthRows::KIND,
            format!("{}/{}", month.import_id, month.month),
            Some(Ok(encode_month(month))),
        ));
    }

    /// Stores the customer list of `import_id` (of `source`).
    pub fn put_revenue_customers(
        &mut self,
        import_id: &str,
        source: &str,
        customers: &ImportCustomers,
    ) {
        let (ids, lengths) = customers.to_parts();
        self.events.push((
            CUSTOMERS_KIND,
            import_id.to_owned(),
            Some(Ok(raw_record(&CustomersMessage {
                source: source.to_owned(),
                ids: ids.to_owned(),
                lengths,
            }))),
        ));
    }

    /// Deletes the customer list of `import_id` (nothing happens if there is none).
    pub fn delete_revenue_customers(&mut self, import_id: &str) {
        self.events
            .push((CUSTOMERS_KIND, import_id.to_owned(), None));
    }
}

impl Store {
    /// The rows of `month` written by `import_id`, in either stored form.
    pub fn revenue_month(
        &self,
        import_id: &str,
        month: Month,
    ) -> Result<Option<StoredMonth>, StoreError> {
        let key = format!("{import_id}/{month}");
        let Some(record) = self.event_record(RevenueMonthRows::KIND, &key)? else {
            return Ok(None);
        };
        let undecodable = |reason: String| StoreError::Undecodable {
            kind: RevenueMonthRows::KIND.into(),
            key: key.clone(),
            reason,
        };
        match record.split_first() {
            Some((&CODEC_RAW, raw)) => versioned(raw)
                .and_then(decode_month)
                .map(|m| Some(StoredMonth::Coded(m)))
                .map_err(undecodable),
            _ => decode_event::<RevenueMonthRows>(&record)
                .map(|m| Some(StoredMonth::Named(m)))
                .map_err(undecodable),
        }
    }

    /// The customer list of `import_id`, if it wrote one.
    pub fn revenue_customers(
        &self,
        import_id: &str,
    ) -> Result<Option<ImportCustomers>, StoreError> {
        use prost::Message as _;
        let Some(record) = self.event_record(CUSTOMERS_KIND, import_id)? else {
            return Ok(None);
        };
        let decoded = match record.split_first() {
            Some((&CODEC_RAW, raw)) => versioned(raw).and_then(|body| {
                let m = CustomersMessage::decode(body).map_err(|e| e.to_string())?;
                ImportCustomers::from_parts(m.ids, &m.lengths)
            }),
            _ => Err("not a customer list".into()),
        };
        decoded.map(Some).map_err(|reason| StoreError::Undecodable {
            kind: CUSTOMERS_KIND.into(),
            key: import_id.into(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coded() -> (ImportCustomers, CodedMonthRows) {
        let mut customers = ImportCustomers::new();
        for id in ["cus_1", "", "ünï", "cus_4"] {
            customers.push(id);
        }
        let month = CodedMonthRows {
            import_id: "imp".into(),
            source: "billing".into(),
            month: "2025-03".parse().expect("a month"),
            currency: "EUR".into(),
            customers: vec![0, 1, 3, 2],
            mrr: vec![10.5, 0.0, 1e12, 0.1 + 0.2],
            plans: vec!["pro".into()],
            plan: vec![1, 0, 1, 1],
            segments: vec![],
            segment: vec![0; 4],
        };
        (customers, month)
    }

    #[test]
    fn coded_months_and_customer_lists_round_trip_and_stay_small() {
        let (customers, month) = coded();
        let encoded = encode_month(&month);
        assert_eq!(encoded.record[..2], [CODEC_RAW, VERSION]);
        assert_eq!(decode_month(&encoded.record[2..]), Ok(month.clone()));
        assert!(decode_month(&encoded.record[2..encoded.record.len() - 3]).is_err());
        let (ids, lengths) = customers.to_parts();
        let back = ImportCustomers::from_parts(ids.to_owned(), &lengths).expect("decodes");
        assert_eq!(back, customers);
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            ["cus_1", "", "ünï", "cus_4"]
        );
        assert!(ImportCustomers::from_parts(ids.to_owned(), &[5, 0, 2]).is_err());
        assert!(ImportCustomers::from_parts(ids.to_owned(), &[5, 0, 3]).is_err());

        // Customers in list order take a byte each.
        let n = 10_000u32;
        let big = CodedMonthRows {
            customers: (0..n).collect(),
            mrr: vec![99.0; n as usize],
            plan: vec![1; n as usize],
            segment: vec![0; n as usize],
            ..month
        };
        let bytes = encode_month(&big).record.len();
        assert!(bytes < 5 * n as usize, "{bytes} bytes");
        let back = decode_month(&encode_month(&big).record[2..]).expect("decodes");
        assert_eq!(back, big);
        // Amounts mostly distinct are kept as doubles, bit for bit.
        let distinct = CodedMonthRows {
            mrr: (0..n).map(|i| f64::from(i) / 3.0 - 0.0).collect(),
            ..big.clone()
        };
        let encoded = encode_month(&distinct).record;
        assert!(encoded.len() > 8 * n as usize);
        assert_eq!(decode_month(&encoded[2..]), Ok(distinct));
        let signed = CodedMonthRows {
            mrr: (0..n)
                .map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })
                .collect(),
            ..big
        };
        let back = decode_month(&encode_month(&signed).record[2..]).expect("decodes");
        assert!(back
            .mrr
            .iter()
            .zip(&signed.mrr)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn months_stored_by_name_before_are_read() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(dir.path()).expect("the store opens");
        let (customers, coded) = coded();
        let mut named = RevenueMonthRows::new("old", "billing", coded.month, "EUR");
        named.push("cus_1", 10.5, Some("pro"), None);
        let mut batch = WriteBatch::new();
        batch.upsert_event(&named);
        batch.put_revenue_month(&coded);
        batch.put_revenue_customers("imp", "billing", &customers);
        store.commit(batch).expect("commits");
        assert_eq!(
            store.revenue_month("old", coded.month).expect("reads"),
            Some(StoredMonth::Named(named))
        );
        assert_eq!(
            store.revenue_month("imp", coded.month).expect("reads"),
            Some(StoredMonth::Coded(coded.clone()))
        );
        assert_eq!(
            store.revenue_customers("imp").expect("reads"),
            Some(customers)
        );
        assert_eq!(store.revenue_customers("old").expect("reads"), None);
        let mut batch = WriteBatch::new();
        batch.delete_revenue_customers("imp");
        store.commit(batch).expect("commits");
        assert_eq!(store.revenue_customers("imp").expect("reads"), None);
    }
}

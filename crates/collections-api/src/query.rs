//! The query string: `page`, `per_page`, `include` and `filter[...]`, read as Laravel and
//! spatie/laravel-query-builder read them (an unknown include or filter is a 400 naming the
//! allowed ones).

use std::collections::BTreeMap;

use billhub_store::collections::{BillFilter, CustomerFilter, ProductFilter};
use rust_decimal::Decimal;
use time::Date;
use time::macros::format_description;

use crate::codes::{ApiError, status_from_filter};

/// Laravel's default page size.
pub const DEFAULT_PER_PAGE: i64 = 15;
/// The largest page.
pub const MAX_PER_PAGE: i64 = 100;

/// What a bill read or write may include.
pub const BILL_INCLUDES: [&str; 7] = [
    "account",
    "collection",
    "collection.organization",
    "product-collections",
    "product-collections.product",
    "payments",
    "payments.transaction",
];

/// What `GET .../transactions` may include.
pub const TRANSACTION_INCLUDES: [&str; 2] = ["bill", "bill.collection"];

/// What collection reads may include.
pub const COLLECTION_INCLUDES: [&str; 1] = ["organization"];

/// What product reads and writes may include (rpclient asks for
/// `organization,product-collections.bill` by default).
pub const PRODUCT_INCLUDES: [&str; 3] = [
    "organization",
    "product-collections",
    "product-collections.bill",
];

/// What customer reads and writes may include (rpclient asks for
/// `organization,account-groups.group` by default; billhub has no customer groups, so the
/// groups are always empty).
pub const CUSTOMER_INCLUDES: [&str; 3] = ["organization", "account-groups", "account-groups.group"];

/// The most bill lines `product-collections` shows per product (the newest).
pub const MAX_PRODUCT_LINES: i64 = 100;

/// The filters of each list.
pub const BILL_FILTERS: [&str; 6] = ["status", "ref1", "ref2", "acc_no", "due_from", "due_to"];
pub const PRODUCT_FILTERS: [&str; 4] = ["title", "code", "description", "price"];
pub const CUSTOMER_FILTERS: [&str; 6] = [
    "acc_no",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address",
];

#[derive(Debug, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
    /// 1 when absent or not a positive whole number (as Laravel does).
    pub page: i64,
    /// `per_page` capped at [`MAX_PER_PAGE`].
    pub per_page: i64,
    per_page_error: bool,
}

/// The includes of a bill response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillIncludes {
    pub account: bool,
    pub collection: bool,
    pub organization: bool,
    pub transaction: bool,
}

/// The includes of a collection, product or customer answer (and of a bill, in `bill`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Includes {
    pub bill: BillIncludes,
    /// `organization`: the caller's organization.
    pub organization: bool,
    /// `product-collections`: a product's bill lines.
    pub product_lines: bool,
    /// `product-collections.bill`: each with its bill.
    pub line_bills: bool,
    /// `account-groups` (and `.group`): a customer's groups (none).
    pub account_groups: bool,
}

impl Includes {
    pub fn from_names(names: &[String]) -> Includes {
        let has = |n: &str| names.iter().any(|x| x == n);
        Includes {
            bill: BillIncludes::from_names(names),
            organization: has("organization"),
            product_lines: has("product-collections") || has("product-collections.bill"),
            line_bills: has("product-collections.bill"),
            account_groups: has("account-groups") || has("account-groups.group"),
        }
    }

    pub fn bill(bill: BillIncludes) -> Includes {
        Includes {
            bill,
            ..Includes::default()
        }
    }
}

impl BillIncludes {
    pub fn from_names(names: &[String]) -> BillIncludes {
        let has = |n: &str| names.iter().any(|x| x == n);
        BillIncludes {
            account: has("account"),
            collection: has("collection") || has("collection.organization"),
            organization: has("collection.organization"),
            transaction: has("payments.transaction"),
        }
    }
}

impl Query {
    pub fn parse(query_string: &str) -> Result<Query, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
            .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?;
        let get = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.trim().to_string())
        };
        let page = get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| *p >= 1 && *p <= 1_000_000_000)
            .unwrap_or(1);
        let (per_page, per_page_error) = match get("per_page") {
            None => (DEFAULT_PER_PAGE, false),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => (n.min(MAX_PER_PAGE), false),
                _ => (DEFAULT_PER_PAGE, true),
            },
        };
        Ok(Query {
            pairs,
            page,
            per_page,
            per_page_error,
        })
    }

    /// This query with the `include` and filters a POST or PATCH body carries (rpclient puts
    /// its query into the JSON body): `include` as a string or a list of strings, `filter` as
    /// an object or `filter[name]` keys; they count as if sent in the query string.
    pub fn with_body(mut self, body: &serde_json::Map<String, serde_json::Value>) -> Query {
        use serde_json::Value;
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        for (k, v) in body {
            match (k.as_str(), v) {
                ("include", Value::Array(items)) => self
                    .pairs
                    .extend(items.iter().filter_map(text).map(|t| ("include".into(), t))),
                ("include", v) => self.pairs.extend(text(v).map(|t| ("include".into(), t))),
                ("filter", Value::Object(m)) => self.pairs.extend(
                    m.iter()
                        .filter_map(|(name, v)| text(v).map(|t| (format!("filter[{name}]"), t))),
                ),
                (k, v) if k.starts_with("filter[") => {
                    self.pairs.extend(text(v).map(|t| (k.to_string(), t)));
                }
                _ => {}
            }
        }
        self
    }

    /// For list routes: a `per_page` that is not a whole number of at least 1 is a 422.
    pub fn check_paging(&self) -> Result<(), ApiError> {
        if self.per_page_error {
            return Err(ApiError::validation_one(
                "per_page",
                "The per page must be an integer of at least 1.",
            ));
        }
        Ok(())
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The requested includes, each one allowed.
    pub fn includes(&self, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
        let names: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == "include")
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let unknown: Vec<&str> = names
            .iter()
            .filter(|n| !allowed.contains(&n.as_str()))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Requested include(s) `{}` are not allowed. Allowed include(s) are `{}`.",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        Ok(names)
    }

    /// `filter[name]=value` pairs, each name allowed (empty values are dropped).
    pub fn filters(&self, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
        let mut out = BTreeMap::new();
        let mut unknown = Vec::new();
        for (k, v) in &self.pairs {
            let Some(name) = k.strip_prefix("filter[").and_then(|r| r.strip_suffix(']')) else {
                continue;
            };
            if !allowed.contains(&name) {
                unknown.push(name.to_string());
                continue;
            }
            if !v.trim().is_empty() {
                out.insert(name.to_string(), v.trim().to_string());
            }
        }
        if !unknown.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Requested filter(s) `{}` are not allowed. Allowed filter(s) are `{}`.",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        Ok(out)
    }

    /// The query string of page `n`: the other parameters as sent, then `page`.
    pub fn with_page(&self, n: i64) -> String {
        let page = n.to_string();
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("page", &page));
        serde_urlencoded::to_string(pairs).unwrap_or_else(|_| format!("page={n}"))
    }
}

impl Query {
    /// The includes of a bill response.
    pub fn bill_includes(&self) -> Result<BillIncludes, ApiError> {
        Ok(BillIncludes::from_names(&self.includes(&BILL_INCLUDES)?))
    }

    /// The includes of a response, each one of `allowed`.
    pub fn includes_of(&self, allowed: &[&str]) -> Result<Includes, ApiError> {
        Ok(Includes::from_names(&self.includes(allowed)?))
    }

    /// `filter[...]` of a bill list; a bad status or date is a 422 naming every bad filter.
    pub fn bill_filter(&self) -> Result<BillFilter, ApiError> {
        let mut e = billhub_http::FieldErrors::new();
        let mut f = BillFilter::default();
        for (name, value) in &self.filters(&BILL_FILTERS)? {
            match name.as_str() {
                "status" => {
                    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        match status_from_filter(part) {
                            Some(s) => f.statuses.push(s),
                            None => {
                                e.add("filter.status", "The selected filter.status is invalid.")
                            }
                        }
                    }
                }
                "ref1" => f.ref1 = Some(value.clone()),
                "ref2" => f.ref2 = Some(value.clone()),
                "acc_no" => f.acc_no = Some(value.clone()),
                "due_from" | "due_to" => match parse_date(value) {
                    Some(d) if name == "due_from" => f.due_from = Some(d),
                    Some(d) => f.due_to = Some(d),
                    None => e.add(
                        format!("filter.{name}"),
                        format!("The filter.{name} does not match the format Y-m-d."),
                    ),
                },
                _ => {}
            }
        }
        if e.is_empty() {
            Ok(f)
        } else {
            Err(ApiError::Validation(e))
        }
    }

    /// `filter[...]` of the product list.
    pub fn product_filter(&self) -> Result<ProductFilter, ApiError> {
        let filters = self.filters(&PRODUCT_FILTERS)?;
        Ok(ProductFilter {
            title: filters.get("title").cloned(),
            code: filters.get("code").cloned(),
            description: filters.get("description").cloned(),
            prices: match filters.get("price") {
                Some(p) => price_spellings(p)?,
                None => Vec::new(),
            },
        })
    }

    /// `filter[...]` of the customer list.
    pub fn customer_filter(&self) -> Result<CustomerFilter, ApiError> {
        let f = self.filters(&CUSTOMER_FILTERS)?;
        Ok(CustomerFilter {
            acc_no: f.get("acc_no").cloned(),
            first_name: f.get("first_name").cloned(),
            last_name: f.get("last_name").cloned(),
            email: f.get("email").cloned(),
            mobile: f.get("mobile").cloned(),
            address: f.get("address").cloned(),
        })
    }
}

fn parse_date(value: &str) -> Option<Date> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).ok()
}

/// The stored spellings a `filter[price]` matches: `10` finds `10.00` and `10`.
fn price_spellings(text: &str) -> Result<Vec<String>, ApiError> {
    let d = Decimal::from_str_exact(text.trim()).map_err(|_| {
        ApiError::validation_one("filter.price", "The filter.price must be a number.")
    })?;
    let mut out = vec![text.trim().to_string(), d.normalize().to_string()];
    for scale in 2..=4 {
        let mut s = d.normalize();
        if s.scale() <= scale {
            s.rescale(scale);
            out.push(s.to_string());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn paging_and_links() {
        let q = Query::parse("per_page=500&page=3&filter%5Bref1%5D=a%20b").unwrap();
        assert_eq!((q.page, q.per_page), (3, 100));
        assert_eq!(q.with_page(4), "per_page=500&filter%5Bref1%5D=a+b&page=4");
        assert_eq!(q.offset(), 200);
        let q = Query::parse("page=x&per_page=0").unwrap();
        assert_eq!(q.page, 1);
        assert!(q.check_paging().is_err());
        assert!(Query::parse("").unwrap().check_paging().is_ok());
    }

    #[test]
    fn includes_and_filters() {
        let q = Query::parse("include=account,%20payments.transaction&filter[ref1]=x").unwrap();
        let inc = q.includes(&BILL_INCLUDES).unwrap();
        assert_eq!(inc, vec!["account", "payments.transaction"]);
        let b = BillIncludes::from_names(&inc);
        assert!(b.account && b.transaction && !b.collection);
        assert_eq!(q.filters(&["ref1"]).unwrap()["ref1"], "x");
        assert!(q.filters(&["ref2"]).is_err());
        let q = Query::parse("include=bogus").unwrap();
        match q.includes(&BILL_INCLUDES) {
            Err(ApiError::BadRequest(m)) => assert!(m.contains("bogus") && m.contains("account")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn price_filter_spellings() {
        let s = price_spellings("10").unwrap();
        assert!(s.contains(&"10".to_string()) && s.contains(&"10.00".to_string()));
        assert!(price_spellings("x").is_err());
    }
}

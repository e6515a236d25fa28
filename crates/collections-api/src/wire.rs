//! Response bodies spelled as the collections partner spells them (the seed's v1 shapes):
//! amounts as decimal strings with the currency's decimals (`"134.00"`), dates `Y-m-d`,
//! timestamps `Y-m-d H:i:s` in the organization's UTC offset, Laravel's paginator for lists.

use billhub_core::money::Money;
use billhub_core::org::Organization;
use billhub_core::{Account, Bill, Payment};
use billhub_http::json::plain_number;
use billhub_store::collections::{BillPayment, Collection, CollectionBillView, Created, Product};
use rust_decimal::Decimal;
use serde::Serialize;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::codes::{ApiError, status_code, type_code};
use crate::query::{BillIncludes, Includes, Query};

const TIMESTAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// What every rendering needs: where links point, the organization's offset and the time.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub public_url: String,
    pub offset: UtcOffset,
    pub now: OffsetDateTime,
    /// The caller's organization (`?include=organization`).
    pub organization: OrganizationOut,
}

impl Ctx {
    pub fn timestamp(&self, t: OffsetDateTime) -> String {
        billhub_store::local(t, self.offset)
            .format(TIMESTAMP)
            .unwrap_or_default()
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.public_url, path)
    }
}

pub fn date(d: Date) -> String {
    d.format(DATE).unwrap_or_default()
}

/// A quantity as the seed writes it: a JSON number with at least one decimal (`10.0`, `1.5`).
pub fn quantity_number(q: Decimal) -> serde_json::Number {
    let n = q.normalize();
    let text = if n.scale() == 0 {
        format!("{n}.0")
    } else {
        n.to_string()
    };
    plain_number(&text)
}

fn fixed(minor: i64, currency: billhub_core::Currency) -> String {
    Money::from_minor(minor, currency).to_fixed_string()
}

/// `success` or `reversed`.
pub fn payment_status(p: &Payment) -> &'static str {
    if p.reversed.is_some() {
        "reversed"
    } else {
        "success"
    }
}

/// What the payer used: the payment's method, or its channel when it names none.
pub fn payment_method(p: &Payment) -> String {
    if p.method.trim().is_empty() {
        p.channel.clone()
    } else {
        p.method.clone()
    }
}

const STAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day][hour][minute][second]");

/// The partner's transaction reference of `payment` on `bill`, as callbacks carry it:
/// `{bill_no}__{YmdHis}`, the time the payment was made in the organization's local time; a
/// second payment of the bill in the same second gets `-2`, a third `-3`, ... (by payment
/// time, then payment id). `payments` are the bill's payments.
pub fn callback_ref_id(
    bill: &billhub_core::Bill,
    payment: &Payment,
    payments: &[Payment],
    offset: UtcOffset,
) -> String {
    let stamp = |p: &Payment| {
        billhub_store::local(p.paid_at, offset)
            .format(STAMP)
            .unwrap_or_default()
    };
    let own = stamp(payment);
    let earlier = payments
        .iter()
        .filter(|p| p.id != payment.id && stamp(p) == own)
        .filter(|p| (p.paid_at, p.id) < (payment.paid_at, payment.id))
        .count();
    let base = format!("{}__{own}", bill.public_no);
    if earlier == 0 {
        base
    } else {
        format!("{base}-{}", earlier.saturating_add(1))
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Collection)]
pub struct CollectionOut {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub organization_id: i64,
    #[schema(required = true, format = "uri")]
    pub webhook_url: Option<String>,
    #[schema(required = true, format = "uri")]
    pub redirect_url: Option<String>,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization: Option<OrganizationOut>,
}

impl CollectionOut {
    pub fn new(ctx: &Ctx, c: &Collection) -> CollectionOut {
        CollectionOut {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            organization_id: c.organization_id,
            webhook_url: c.webhook_url.clone(),
            redirect_url: c.redirect_url.clone(),
            created_at: ctx.timestamp(c.created_at),
            updated_at: ctx.timestamp(c.updated_at),
            organization: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Organization)]
pub struct OrganizationOut {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// `?include=collection` on a bill.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionBrief {
    pub id: i64,
    pub code: String,
    pub name: String,
    #[schema(required = true, format = "uri")]
    pub webhook_url: Option<String>,
    #[schema(required = true, format = "uri")]
    pub redirect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization: Option<OrganizationOut>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Product)]
pub struct ProductOut {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub code: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub price: String,
    /// The product this one was copied from (always null here).
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub product_id: Option<i64>,
    #[schema(required = true)]
    pub currency: Option<String>,
    pub organization_id: i64,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    /// `?include=organization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization: Option<OrganizationOut>,
    /// `?include=product-collections` (`.bill`): the product's bill lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub product_collections: Option<Vec<ProductLineOut>>,
}

/// The bill lines of products, by product id (what `product-collections` shows).
pub type ProductLines = billhub_store::collections::ProductBillLines;

/// A bill line of a product (`?include=product-collections`), with its bill when asked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductLine)]
pub struct ProductLineOut {
    pub id: i64,
    pub bill_id: i64,
    #[schema(required = true)]
    pub product_id: Option<i64>,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    #[schema(schema_with = crate::openapi::quantity)]
    pub quantity: serde_json::Number,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bill: Option<BillBrief>,
}

/// A bill without its lines, payments or includes (`product-collections.bill`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillBrief {
    pub id: i64,
    pub bill_no: String,
    #[schema(required = true, schema_with = crate::openapi::due)]
    pub due: Option<String>,
    #[schema(schema_with = crate::openapi::bill_status)]
    pub status: i32,
    #[schema(required = true)]
    pub collection_id: Option<i64>,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::bill_type)]
    pub kind: i32,
    pub account_id: i64,
    pub ref1: String,
    pub ref2: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    #[schema(format = "uri")]
    pub bill_url: String,
    #[schema(format = "uri")]
    pub payment_url: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub total_amount: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub total_paid: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub balance: String,
    pub paid: bool,
}

impl BillBrief {
    pub fn new(ctx: &Ctx, b: &Bill) -> BillBrief {
        let status = b.status_at(ctx.now);
        let page = ctx.link(&format!("/b/{}", b.public_no));
        BillBrief {
            id: b.id,
            bill_no: b.public_no.clone(),
            due: b.due_date.map(date),
            status: status_code(status),
            collection_id: b.collection_id,
            kind: type_code(b.rule),
            account_id: b.account_id,
            ref1: b.ref1.clone(),
            ref2: b.ref2.clone(),
            created_at: ctx.timestamp(b.created_at),
            updated_at: ctx.timestamp(b.updated_at),
            currency: b.currency.code().to_string(),
            bill_url: page.clone(),
            payment_url: page,
            total_amount: fixed(b.billed, b.currency),
            total_paid: fixed(b.paid, b.currency),
            balance: fixed(b.outstanding(), b.currency),
            paid: status == billhub_core::BillStatus::Paid,
        }
    }
}

impl ProductOut {
    /// A product with what `inc` asks for; `lines` are the bill lines read for it.
    pub fn with(ctx: &Ctx, p: &Product, inc: &Includes, lines: &ProductLines) -> ProductOut {
        let mut out = ProductOut::new(ctx, p);
        if inc.organization {
            out.organization = Some(ctx.organization.clone());
        }
        if inc.product_lines {
            let mine = lines
                .iter()
                .find(|(id, _)| *id == p.id)
                .map(|(_, l)| l.as_slice())
                .unwrap_or_default();
            out.product_collections = Some(
                mine.iter()
                    .map(|(item, bill)| ProductLineOut {
                        id: item.id,
                        bill_id: item.bill_id,
                        product_id: item.product_id,
                        created_at: ctx.timestamp(item.created_at),
                        updated_at: ctx.timestamp(item.updated_at),
                        quantity: quantity_number(item.quantity),
                        bill: inc.line_bills.then(|| BillBrief::new(ctx, bill)),
                    })
                    .collect(),
            );
        }
        out
    }

    pub fn new(ctx: &Ctx, p: &Product) -> ProductOut {
        ProductOut {
            id: p.id,
            title: p.title.clone(),
            description: p.description.clone(),
            code: p.code.clone(),
            price: p.price.clone(),
            product_id: None,
            currency: p.currency.clone(),
            organization_id: p.organization_id,
            created_at: ctx.timestamp(p.created_at),
            updated_at: ctx.timestamp(p.updated_at),
            organization: None,
            product_collections: None,
        }
    }
}

/// A customer (a billhub account; `acc_no` is the code a payer gives at any channel).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Customer)]
pub struct CustomerOut {
    pub id: i64,
    pub acc_no: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: String,
    pub address: String,
    pub organization_id: i64,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    /// `?include=organization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub organization: Option<OrganizationOut>,
    /// `?include=account-groups` (`.group`): billhub has no customer groups, so always `[]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::openapi::no_groups)]
    pub account_groups: Option<Vec<serde_json::Value>>,
}

impl CustomerOut {
    /// A customer with what `inc` asks for.
    pub fn with(ctx: &Ctx, a: &Account, inc: &Includes) -> CustomerOut {
        let mut out = CustomerOut::new(ctx, a);
        if inc.organization {
            out.organization = Some(ctx.organization.clone());
        }
        if inc.account_groups {
            out.account_groups = Some(Vec::new());
        }
        out
    }

    /// An account made elsewhere (Bill24, VA, the CLI) may have only a name: it is shown as
    /// `first_name` (the Latin one when there is one).
    pub fn new(ctx: &Ctx, a: &Account) -> CustomerOut {
        let first_name = if a.first_name.is_empty() && a.last_name.is_empty() {
            if a.name_latin.is_empty() {
                a.name.clone()
            } else {
                a.name_latin.clone()
            }
        } else {
            a.first_name.clone()
        };
        CustomerOut {
            id: a.id,
            acc_no: a.code.clone(),
            first_name,
            last_name: a.last_name.clone(),
            email: a.email.clone(),
            mobile: a.phone.clone(),
            address: a.address.clone(),
            organization_id: a.organization_id,
            created_at: ctx.timestamp(a.created_at),
            updated_at: ctx.timestamp(a.updated_at),
            organization: None,
            account_groups: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductCollection)]
pub struct ProductCollectionOut {
    pub id: i64,
    pub bill_id: i64,
    #[schema(required = true)]
    pub product_id: Option<i64>,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    #[schema(schema_with = crate::openapi::quantity)]
    pub quantity: serde_json::Number,
    #[schema(required = true)]
    pub product: Option<ProductOut>,
}

/// The channel transaction behind a payment (`?include=payments.transaction`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Transaction)]
pub struct TransactionOut {
    pub id: String,
    pub ref_id: String,
    pub channel: String,
    pub method: String,
    /// The whole amount the payer paid (it may cover other bills too).
    #[schema(schema_with = crate::openapi::amount)]
    pub amount: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    #[schema(value_type = crate::openapi::PaymentStatus)]
    pub status: &'static str,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub paid_at: String,
}

impl TransactionOut {
    pub fn new(ctx: &Ctx, p: &Payment) -> TransactionOut {
        TransactionOut {
            id: p.uid.clone(),
            ref_id: p.channel_ref.clone(),
            channel: p.channel.clone(),
            method: payment_method(p),
            amount: fixed(p.amount, p.currency),
            currency: p.currency.code().to_string(),
            status: payment_status(p),
            paid_at: ctx.timestamp(p.paid_at),
        }
    }
}

/// A payment of a bill: the part of a channel payment applied to this bill.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Payment)]
pub struct PaymentOut {
    pub id: i64,
    pub bill_id: i64,
    #[schema(schema_with = crate::openapi::amount)]
    pub amount: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    #[schema(value_type = crate::openapi::PaymentStatus)]
    pub status: &'static str,
    pub payment_method: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub paid_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub transaction: Option<TransactionOut>,
}

impl PaymentOut {
    pub fn new(ctx: &Ctx, bill_id: i64, bp: &BillPayment, with_transaction: bool) -> PaymentOut {
        let p = &bp.payment;
        let updated = p
            .reversed
            .as_ref()
            .map(|r| r.created_at)
            .unwrap_or(p.created_at);
        PaymentOut {
            id: p.id,
            bill_id,
            amount: fixed(bp.amount, p.currency),
            currency: p.currency.code().to_string(),
            status: payment_status(p),
            payment_method: payment_method(p),
            paid_at: ctx.timestamp(p.paid_at),
            created_at: ctx.timestamp(p.created_at),
            updated_at: ctx.timestamp(updated),
            transaction: with_transaction.then(|| TransactionOut::new(ctx, p)),
        }
    }
}

/// A bill, field for field as the seed, plus what `include` asked for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Bill)]
pub struct BillOut {
    pub id: i64,
    pub bill_no: String,
    #[schema(required = true, schema_with = crate::openapi::due)]
    pub due: Option<String>,
    #[schema(schema_with = crate::openapi::bill_status)]
    pub status: i32,
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub recurring: Option<()>,
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub recurring_end_date: Option<()>,
    #[schema(required = true)]
    pub collection_id: Option<i64>,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::bill_type)]
    pub kind: i32,
    pub account_id: i64,
    pub ref1: String,
    pub ref2: String,
    #[schema(schema_with = crate::openapi::one)]
    pub api_redirect: i32,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub created_by: Option<()>,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub updated_at: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub quantity_label: Option<()>,
    #[schema(schema_with = crate::openapi::zero)]
    pub is_metric: i32,
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub master_bill: Option<()>,
    #[schema(schema_with = crate::openapi::null, required = true)]
    pub rbill_date: Option<()>,
    #[schema(format = "uri")]
    pub bill_url: String,
    #[schema(format = "uri")]
    pub payment_url: String,
    #[schema(format = "uri")]
    pub forward_payment_url: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub total_amount: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub total_paid: String,
    #[schema(schema_with = crate::openapi::amount)]
    pub balance: String,
    pub paid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub account: Option<CustomerOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub collection: Option<CollectionBrief>,
    pub product_collections: Vec<ProductCollectionOut>,
    pub payments: Vec<PaymentOut>,
}

impl BillOut {
    pub fn new(ctx: &Ctx, v: &CollectionBillView, inc: &BillIncludes) -> BillOut {
        let b = &v.bill;
        let status = b.status_at(ctx.now);
        let page = ctx.link(&format!("/b/{}", b.public_no));
        let stamp = billhub_store::local(b.created_at, ctx.offset)
            .format(format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .unwrap_or_default();
        BillOut {
            id: b.id,
            bill_no: b.public_no.clone(),
            due: b.due_date.map(date),
            status: status_code(status),
            recurring: None,
            recurring_end_date: None,
            collection_id: b.collection_id,
            kind: type_code(b.rule),
            account_id: b.account_id,
            ref1: b.ref1.clone(),
            ref2: b.ref2.clone(),
            api_redirect: 1,
            created_at: ctx.timestamp(b.created_at),
            created_by: None,
            updated_at: ctx.timestamp(b.updated_at),
            currency: b.currency.code().to_string(),
            quantity_label: None,
            is_metric: 0,
            master_bill: None,
            rbill_date: None,
            bill_url: page.clone(),
            payment_url: page.clone(),
            forward_payment_url: format!("{page}?transactionRefId=CD__{}__{stamp}", b.public_no),
            total_amount: fixed(b.billed, b.currency),
            total_paid: fixed(b.paid, b.currency),
            balance: fixed(b.outstanding(), b.currency),
            paid: status == billhub_core::BillStatus::Paid,
            account: inc.account.then(|| CustomerOut::new(ctx, &v.account)),
            collection: inc.collection.then(|| CollectionBrief {
                id: v.collection.id,
                code: v.collection.code.clone(),
                name: v.collection.name.clone(),
                webhook_url: v.collection.webhook_url.clone(),
                redirect_url: v.collection.redirect_url.clone(),
                organization: inc.organization.then(|| OrganizationOut {
                    id: v.organization.id,
                    code: v.organization.code.clone(),
                    name: v.organization.name.clone(),
                }),
            }),
            product_collections: v
                .lines
                .iter()
                .map(|(item, product)| ProductCollectionOut {
                    id: item.id,
                    bill_id: item.bill_id,
                    product_id: item.product_id,
                    created_at: ctx.timestamp(item.created_at),
                    updated_at: ctx.timestamp(item.updated_at),
                    quantity: quantity_number(item.quantity),
                    product: product.as_ref().map(|p| ProductOut::new(ctx, p)),
                })
                .collect(),
            payments: v
                .payments
                .iter()
                .map(|p| PaymentOut::new(ctx, b.id, p, inc.transaction))
                .collect(),
        }
    }
}

/// An item of `GET .../bills/{BILL_NO}/transactions`: a channel payment and the part of it
/// applied to this bill.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BillTransaction)]
pub struct BillTransactionOut {
    pub id: i64,
    pub ref_id: String,
    pub bill_id: i64,
    pub bill_no: String,
    pub channel: String,
    pub payment_method: String,
    /// Applied to this bill.
    #[schema(schema_with = crate::openapi::amount)]
    pub amount: String,
    /// The whole payment.
    #[schema(schema_with = crate::openapi::amount)]
    pub transaction_amount: String,
    #[schema(schema_with = crate::openapi::currency)]
    pub currency: String,
    #[schema(value_type = crate::openapi::PaymentStatus)]
    pub status: &'static str,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub paid_at: String,
    #[schema(schema_with = crate::openapi::timestamp)]
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BillOut>, nullable = false)]
    pub bill: Option<Box<BillOut>>,
}

impl BillTransactionOut {
    pub fn new(ctx: &Ctx, v: &CollectionBillView, bp: &BillPayment) -> BillTransactionOut {
        let p = &bp.payment;
        BillTransactionOut {
            id: p.id,
            ref_id: p.channel_ref.clone(),
            bill_id: v.bill.id,
            bill_no: v.bill.public_no.clone(),
            channel: p.channel.clone(),
            payment_method: payment_method(p),
            amount: fixed(bp.amount, p.currency),
            transaction_amount: fixed(p.amount, p.currency),
            currency: p.currency.code().to_string(),
            status: payment_status(p),
            paid_at: ctx.timestamp(p.paid_at),
            created_at: ctx.timestamp(p.created_at),
            bill: None,
        }
    }
}

impl CollectionOut {
    /// A collection, with `organization` when `?include=organization` asked for it.
    pub fn with_org(ctx: &Ctx, org: &Organization, c: &Collection, with_org: bool) -> Self {
        let mut out = CollectionOut::new(ctx, c);
        if with_org {
            out.organization = Some(OrganizationOut {
                id: org.id,
                code: org.code.clone(),
                name: org.name.clone(),
            });
        }
        out
    }
}

impl BillTransactionOut {
    /// `?include=bill` / `bill.collection` on a transaction (`names` are the includes asked).
    pub fn bill_include(
        ctx: &Ctx,
        view: &CollectionBillView,
        names: &[String],
    ) -> Option<Box<BillOut>> {
        if names.is_empty() {
            return None;
        }
        let inc = BillIncludes {
            collection: names.iter().any(|n| n == "bill.collection"),
            ..BillIncludes::default()
        };
        Some(Box::new(BillOut::new(ctx, view, &inc)))
    }
}

/// The status and body of a successful create (also what an `Idempotency-Key` replays).
pub fn created_body(ctx: &Ctx, inc: &Includes, created: &Created) -> (u16, String) {
    let body = match created {
        Created::Collection(c) => {
            let mut out = CollectionOut::new(ctx, c);
            if inc.organization {
                out.organization = Some(ctx.organization.clone());
            }
            serde_json::to_string(&out)
        }
        Created::Bill(v) => serde_json::to_string(&BillOut::new(ctx, v, &inc.bill)),
        // A new product is on no bill yet.
        Created::Product(p) => serde_json::to_string(&ProductOut::with(ctx, p, inc, &Vec::new())),
        Created::Customer(a) => serde_json::to_string(&CustomerOut::with(ctx, a, inc)),
        Created::Invalid(problems) => {
            serde_json::to_string(&ApiError::from_problems(problems, "").body())
        }
    };
    let status = match created {
        Created::Invalid(_) => 422,
        _ => 200,
    };
    (status, body.unwrap_or_else(|_| "{}".into()))
}

/// Laravel's LengthAwarePaginator as JSON.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Paginator<T: Serialize> {
    #[schema(minimum = 1)]
    pub current_page: i64,
    pub data: Vec<T>,
    #[schema(format = "uri")]
    pub first_page_url: String,
    #[schema(required = true, minimum = 1)]
    pub from: Option<i64>,
    #[schema(minimum = 1)]
    pub last_page: i64,
    #[schema(format = "uri")]
    pub last_page_url: String,
    #[schema(required = true, format = "uri")]
    pub next_page_url: Option<String>,
    #[schema(format = "uri")]
    pub path: String,
    #[schema(minimum = 1, maximum = 100)]
    pub per_page: i64,
    #[schema(required = true, format = "uri")]
    pub prev_page_url: Option<String>,
    #[schema(required = true, minimum = 1)]
    pub to: Option<i64>,
    #[schema(minimum = 0)]
    pub total: i64,
}

impl<T: Serialize> Paginator<T> {
    /// `path` is the route's absolute URL without query; the query's other parameters are kept
    /// in the page links (Laravel's `withQueryString`).
    pub fn new(path: String, query: &Query, data: Vec<T>, total: i64) -> Paginator<T> {
        let page = query.page;
        let per_page = query.per_page;
        let last_page = ((total + per_page - 1) / per_page).max(1);
        let count = data.len() as i64;
        let first = (page - 1) * per_page + 1;
        let (from, to) = if count == 0 {
            (None, None)
        } else {
            (Some(first), Some(first + count - 1))
        };
        let url = |n: i64| format!("{path}?{}", query.with_page(n));
        Paginator {
            current_page: page,
            first_page_url: url(1),
            from,
            last_page,
            last_page_url: url(last_page),
            next_page_url: (page < last_page).then(|| url(page + 1)),
            prev_page_url: (page > 1).then(|| url(page - 1)),
            path,
            per_page,
            to,
            total,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_keep_a_decimal() {
        assert_eq!(quantity_number(Decimal::from(10)).to_string(), "10.0");
        assert_eq!(quantity_number(Decimal::new(150, 2)).to_string(), "1.5");
        assert_eq!(
            serde_json::json!({ "q": quantity_number(Decimal::new(100, 1)) }).to_string(),
            r#"{"q":10.0}"#
        );
    }
}

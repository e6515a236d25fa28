//! Row structs and their conversion into core types.

use billhub_core::{Bill, BillStatus, Currency, PaymentRule};
use diesel::prelude::*;
use time::{Date, PrimitiveDateTime};

use crate::schema::*;
use crate::time_conv::from_db;
use crate::{StoreError, StoreResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bills)]
pub struct BillRow {
    pub id: i64,
    pub organization_id: i64,
    pub account_id: i64,
    pub collection_id: Option<i64>,
    pub public_no: String,
    pub invoice_number: String,
    pub ref1: String,
    pub ref2: String,
    pub name: String,
    pub description: String,
    pub currency: String,
    pub billed: i64,
    pub paid: i64,
    pub bill_date: Date,
    pub due_date: Option<Date>,
    pub valid_until: Option<PrimitiveDateTime>,
    pub rule: String,
    pub rule_minimum: Option<i64>,
    pub status: String,
    pub version: i64,
    pub source: String,
    pub extra: String,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

pub(crate) fn currency(code: &str) -> StoreResult<Currency> {
    Currency::from_code(code).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl BillRow {
    pub fn into_bill(self) -> StoreResult<Bill> {
        Ok(Bill {
            id: self.id,
            organization_id: self.organization_id,
            account_id: self.account_id,
            collection_id: self.collection_id,
            public_no: self.public_no,
            invoice_number: self.invoice_number,
            ref1: self.ref1,
            ref2: self.ref2,
            name: self.name,
            description: self.description,
            currency: currency(&self.currency)?,
            billed: self.billed,
            paid: self.paid,
            bill_date: self.bill_date,
            due_date: self.due_date,
            valid_until: self.valid_until.map(from_db),
            rule: PaymentRule::from_parts(&self.rule, self.rule_minimum)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            status: self
                .status
                .parse::<BillStatus>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            version: self.version,
            created_at: from_db(self.created_at),
            updated_at: from_db(self.updated_at),
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: i64,
    pub organization_id: i64,
    pub code: String,
    pub name: String,
    pub name_latin: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

impl From<AccountRow> for billhub_core::Account {
    fn from(r: AccountRow) -> Self {
        billhub_core::Account {
            id: r.id,
            organization_id: r.organization_id,
            code: r.code,
            name: r.name,
            name_latin: r.name_latin,
            phone: r.phone,
            email: r.email,
            address: r.address,
            first_name: r.first_name,
            last_name: r.last_name,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct OrganizationRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub utc_offset: String,
    pub locale: String,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

impl OrganizationRow {
    pub fn into_org(self) -> StoreResult<billhub_core::org::Organization> {
        Ok(billhub_core::org::Organization {
            id: self.id,
            code: self.code,
            name: self.name,
            utc_offset: billhub_core::org::parse_offset(&self.utc_offset)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            locale: self.locale,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: i64,
    pub uid: String,
    pub organization_id: i64,
    pub account_id: Option<i64>,
    pub channel: String,
    pub channel_ref: String,
    pub request_hash: String,
    pub method: String,
    pub currency: String,
    pub amount: i64,
    pub fee: i64,
    pub credit: i64,
    pub payer_name: String,
    pub details: String,
    pub paid_at: PrimitiveDateTime,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reversals)]
pub struct ReversalRow {
    pub id: i64,
    pub payment_id: i64,
    pub channel: String,
    pub channel_ref: String,
    pub request_hash: String,
    pub reason: String,
    pub created_at: PrimitiveDateTime,
}

impl From<ReversalRow> for billhub_core::Reversal {
    fn from(r: ReversalRow) -> Self {
        billhub_core::Reversal {
            id: r.id,
            payment_id: r.payment_id,
            channel_ref: r.channel_ref,
            reason: r.reason,
            created_at: from_db(r.created_at),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = unapplied_payments)]
pub struct UnappliedRow {
    pub id: i64,
    pub organization_id: Option<i64>,
    pub channel: String,
    pub channel_ref: String,
    pub request_hash: String,
    pub account_code: String,
    pub currency: String,
    pub amount: i64,
    pub reason: String,
    pub details: String,
    pub status: String,
    pub created_at: PrimitiveDateTime,
    pub resolved_at: Option<PrimitiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = collections)]
pub struct CollectionRow {
    pub id: i64,
    pub organization_id: i64,
    pub code: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub redirect_url: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bill_items)]
pub struct BillItemRow {
    pub id: i64,
    pub bill_id: i64,
    pub uid: String,
    pub position: i32,
    pub name: String,
    pub quantity: String,
    pub unit_price: i64,
    pub total: i64,
    pub product_id: Option<i64>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bill_events)]
pub struct BillEventRow {
    pub id: i64,
    pub bill_id: i64,
    pub kind: String,
    pub payment_id: Option<i64>,
    pub amount: Option<i64>,
    pub status_after: String,
    pub paid_after: i64,
    pub details: String,
    pub created_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: i64,
    pub organization_id: i64,
    pub title: String,
    pub code: String,
    pub description: String,
    pub price: String,
    pub currency: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    pub deleted_at: Option<PrimitiveDateTime>,
}

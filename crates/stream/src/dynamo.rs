//! [`CounterStore`] over DynamoDB: one table, `pk` (S) and `sk` (S), on-demand, TTL on `ttl`.
//! Recording is one `TransactWriteItems` of three items (the conditional puts of the event's id
//! item and event item and its bucket's ADD; DynamoDB authorises them as `PutItem` and
//! `UpdateItem`); a proven event replacing an unproven copy is a `GetItem` of the id item and one
//! `TransactWriteItems` conditional on it (`PutItem`, `DeleteItem`, `UpdateItem`); a horizon is one `Query`
//! (paged); the claim is a conditional `PutItem`, its state a strongly consistent `GetItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use launchguard_aws::{CallError, classify};
use launchguard_core::stream::{Bucket, Counts};

use crate::store::{
    BucketChange, CLAIM_SK, CLAIM_SKEW_MS, ClaimState, Claimed, CounterStore, EventItem, KeptId, Recorded, StoredEvent, bucket_sk,
    event_sk, id_sk, replacement,
};

/// The store over a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    /// The client.
    pub client: aws_sdk_dynamodb::Client,
    /// The table.
    pub table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_n<T: std::str::FromStr + Default>(item: &Item, name: &str) -> T {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or_default()
}

fn get_s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, CallError> {
    r.map_err(|e| CallError::new(format!("dynamodb: request not built: {e}"), false))
}

impl DynamoStore {
    /// Every item of `series` with a sort key in `[from, to]`, paged, at most `limit`.
    /// The items of `series` with `from <= sk <= to`, at most `limit`: the first ones in key order,
    /// or with `newest_first` the last ones (in descending key order).
    async fn query(&self, series: &str, from: String, to: String, limit: usize, newest_first: bool) -> Result<Vec<Item>, CallError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :a AND :b")
                .expression_attribute_values(":pk", s(series))
                .expression_attribute_values(":a", s(from.clone()))
                .expression_attribute_values(":b", s(to.clone()))
                .consistent_read(true)
                .scan_index_forward(!newest_first)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("dynamodb:Query", e))?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }
}

/// What a failed transaction says: `Ok` when it was cancelled by a failed condition (the event
/// is kept), otherwise the error to retry (a conflict with another writer, throttling) or not
/// (invalid).
fn cancelled(e: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>) -> Result<(), CallError> {
    if let Some(TransactWriteItemsError::TransactionCanceledException(tc)) = e.as_service_error() {
        let codes: Vec<&str> = tc.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
        if codes.contains(&"ConditionalCheckFailed") {
            return Ok(());
        }
        // a conflict with another writer of the same bucket, or throttling: retry
        let retryable = !codes.contains(&"ValidationError");
        return Err(CallError {
            message: format!("dynamodb:TransactWriteItems: cancelled ({})", codes.join(", ")),
            code: Some("TransactionCanceledException".into()),
            retryable,
        });
    }
    Err(classify("dynamodb:TransactWriteItems", e))
}

/// Every attribute of an event's id item.
fn id_item(table: &str, item: &EventItem) -> aws_sdk_dynamodb::types::builders::PutBuilder {
    let c = item.counts;
    Put::builder()
        .table_name(table)
        .item("pk", s(&item.series))
        .item("sk", s(id_sk(&item.event_id)))
        .item("t_ms", n(item.t_ms))
        .item("bucket_ms", n(item.bucket_ms))
        .item("launched", n(c.launched))
        .item("requested", n(c.requested))
        .item("calls", n(c.calls))
        .item("failed", n(c.failed))
        .item("proven", AttributeValue::Bool(item.proven))
        .item("ttl", n(item.ttl))
}

/// Every attribute of an event item.
fn event_item(table: &str, item: &EventItem) -> aws_sdk_dynamodb::types::builders::PutBuilder {
    Put::builder()
        .table_name(table)
        .item("pk", s(&item.series))
        .item("sk", s(event_sk(item.t_ms, &item.event_id)))
        .item("t_ms", n(item.t_ms))
        .item("detail", s(&item.detail))
        .item("proven", AttributeValue::Bool(item.proven))
        .item("ttl", n(item.ttl))
}

/// The ADD of a change into a bucket.
fn bucket_add(table: &str, series: &str, change: BucketChange, ttl: i64) -> Result<TransactWriteItem, CallError> {
    let [l, r, c, f] = change.delta;
    let update = built(
        Update::builder()
            .table_name(table)
            .key("pk", s(series))
            .key("sk", s(bucket_sk(change.start_ms)))
            .update_expression("ADD launched :l, requested :r, calls :c, failed :f SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":l", n(l))
            .expression_attribute_values(":r", n(r))
            .expression_attribute_values(":c", n(c))
            .expression_attribute_values(":f", n(f))
            .expression_attribute_values(":ttl", n(ttl))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn added(c: launchguard_core::stream::Counts) -> [i128; 4] {
    [c.launched, c.requested, c.calls, c.failed].map(i128::from)
}

impl DynamoStore {
    /// A proven event whose id is kept: replace the kept copy when it is unproven (see
    /// [`CounterStore::record`]).
    async fn replace(&self, item: &EventItem) -> Result<Recorded, CallError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&item.series))
            .key("sk", s(id_sk(&item.event_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("dynamodb:GetItem", e))?;
        // no id item: an event kept before id items were, at this very time: a redelivery
        let Some(i) = out.item() else { return Ok(Recorded::Duplicate) };
        if !matches!(i.get("proven"), Some(AttributeValue::Bool(false))) {
            return Ok(Recorded::Duplicate);
        }
        let kept = KeptId {
            t_ms: get_n(i, "t_ms"),
            bucket_ms: get_n(i, "bucket_ms"),
            counts: launchguard_core::stream::Counts {
                launched: get_n(i, "launched"),
                requested: get_n(i, "requested"),
                calls: get_n(i, "calls"),
                failed: get_n(i, "failed"),
            },
            proven: false,
        };
        let k = kept.counts;
        // the id item, still the unproven copy read
        let id = built(
            id_item(&self.table, item)
                .condition_expression(
                    "proven = :no AND t_ms = :t AND bucket_ms = :b AND launched = :l AND requested = :r AND calls = :c AND failed = :f",
                )
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .expression_attribute_values(":t", n(kept.t_ms))
                .expression_attribute_values(":b", n(kept.bucket_ms))
                .expression_attribute_values(":l", n(k.launched))
                .expression_attribute_values(":r", n(k.requested))
                .expression_attribute_values(":c", n(k.calls))
                .expression_attribute_values(":f", n(k.failed))
                .build(),
        )?;
        let mut writes = vec![TransactWriteItem::builder().put(id).build()];
        let old_sk = event_sk(kept.t_ms, &item.event_id);
        if old_sk != event_sk(item.t_ms, &item.event_id) {
            let delete = built(
                Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(&item.series))
                    .key("sk", s(old_sk))
                    .condition_expression("attribute_not_exists(pk) OR proven = :no")
                    .expression_attribute_values(":no", AttributeValue::Bool(false))
                    .build(),
            )?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        let event = built(
            event_item(&self.table, item)
                .condition_expression("attribute_not_exists(pk) OR proven = :no")
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .build(),
        )?;
        writes.push(TransactWriteItem::builder().put(event).build());
        for change in replacement(&kept, item) {
            writes.push(bucket_add(&self.table, &item.series, change, item.ttl)?);
        }
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(Recorded::Replaced),
            Err(e) => {
                cancelled(e)?;
                // another writer changed the copy since it was read: deliver the message again
                Err(CallError {
                    message: "dynamodb:TransactWriteItems: cancelled (ConditionalCheckFailed): the event's unproven copy changed while \
                              the proven event replaced it; the message is delivered again"
                        .into(),
                    code: Some("TransactionCanceledException".into()),
                    retryable: true,
                })
            }
        }
    }
}

impl CounterStore for DynamoStore {
    async fn record(&self, item: &EventItem) -> Result<Recorded, CallError> {
        let id = built(id_item(&self.table, item).condition_expression("attribute_not_exists(pk)").build())?;
        let event = built(event_item(&self.table, item).condition_expression("attribute_not_exists(pk)").build())?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(id).build())
            .transact_items(TransactWriteItem::builder().put(event).build())
            .transact_items(bucket_add(
                &self.table,
                &item.series,
                BucketChange { start_ms: item.bucket_ms, delta: added(item.counts) },
                item.ttl,
            )?)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Recorded::New),
            Err(e) => {
                cancelled(e)?;
                // a condition failed: the event is kept; a proven event may replace an unproven copy
                if item.proven { self.replace(item).await } else { Ok(Recorded::Duplicate) }
            }
        }
    }

    async fn buckets(&self, series: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Bucket>, CallError> {
        let items = self.query(series, bucket_sk(from_ms), bucket_sk(to_ms.saturating_sub(1)), usize::MAX, false).await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                let start_ms = get_s(i, "sk").strip_prefix("b#")?.parse().ok()?;
                let counts = Counts {
                    launched: get_n(i, "launched"),
                    requested: get_n(i, "requested"),
                    calls: get_n(i, "calls"),
                    failed: get_n(i, "failed"),
                };
                Some(Bucket { start_ms, counts })
            })
            .collect())
    }

    async fn events(&self, series: &str, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<StoredEvent>, CallError> {
        let to = format!("{}~", event_sk(to_ms.saturating_sub(1), ""));
        // newest first: what a read past `limit` leaves out is the oldest, never the window that crossed
        let mut items = self.query(series, event_sk(from_ms, ""), to, limit, true).await?;
        items.reverse();
        Ok(items
            .iter()
            .map(|i| StoredEvent {
                t_ms: get_n(i, "t_ms"),
                detail: get_s(i, "detail").to_owned(),
                proven: matches!(i.get("proven"), Some(AttributeValue::Bool(true))),
            })
            .collect())
    }

    async fn claim_state(&self, claim: &str, now_ms: i64, latest_ms: i64) -> Result<Option<ClaimState>, CallError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(claim))
            .key("sk", s(CLAIM_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("dynamodb:GetItem", e))?;
        Ok(out
            .item()
            .map(|i| ClaimState {
                finding_id: get_s(i, "finding_id").to_owned(),
                until_ms: get_n(i, "until_ms"),
                sent: i.get("sent").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
                // a claim written before claims said whether they were proven: not proven
                proven: i.get("proven").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
            })
            .filter(|c| c.until_ms > now_ms && c.until_ms <= latest_ms))
    }

    async fn claim(&self, claim: &str, finding_id: &str, until_ms: i64, now_ms: i64, proven: bool) -> Result<Claimed, CallError> {
        let latest = until_ms.saturating_add(CLAIM_SKEW_MS);
        // a proven finding also takes over a claim that is not proven (or predates the flag)
        let condition = if proven {
            "attribute_not_exists(pk) OR until_ms <= :now OR until_ms > :latest OR (finding_id = :fid AND sent = :no) \
             OR attribute_not_exists(proven) OR proven = :no"
        } else {
            "attribute_not_exists(pk) OR until_ms <= :now OR until_ms > :latest OR (finding_id = :fid AND sent = :no)"
        };
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(claim))
            .item("sk", s(CLAIM_SK))
            .item("finding_id", s(finding_id))
            .item("until_ms", n(until_ms))
            .item("sent", AttributeValue::Bool(false))
            .item("proven", AttributeValue::Bool(proven))
            .item("ttl", n(until_ms / 1000 + 3600))
            .condition_expression(condition)
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":latest", n(latest))
            .expression_attribute_values(":fid", s(finding_id))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Claimed::Won),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                let held = self.claim_state(claim, now_ms, latest).await?;
                Ok(Claimed::Held(held.unwrap_or(ClaimState { finding_id: "unknown".into(), until_ms, sent: true, proven: true })))
            }
            Err(e) => Err(classify("dynamodb:PutItem", e)),
        }
    }

    async fn mark_sent(&self, claim: &str, finding_id: &str) -> Result<(), CallError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(claim))
            .key("sk", s(CLAIM_SK))
            .update_expression("SET sent = :yes")
            .condition_expression("finding_id = :fid")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":fid", s(finding_id))
            .send()
            .await
            .map_err(|e| classify("dynamodb:UpdateItem", e))?;
        Ok(())
    }
}

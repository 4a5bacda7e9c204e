//! CloudTrail records as EventBridge delivers them ("AWS API Call via CloudTrail"), for the
//! stream detector's tests, the e2e tests and the benchmarks.

use serde_json::{Value, json};

/// The EventBridge event of one CloudTrail record, in `account` and `region`, as CloudTrail sends
/// it to the default bus: `source` is `aws.<service>` from the record's `eventSource`.
pub fn eventbridge_event(record: &Value, account: &str, region: &str) -> Value {
    let service = record["eventSource"].as_str().unwrap_or("ec2.amazonaws.com").trim_end_matches(".amazonaws.com");
    let id = record["eventID"].as_str().unwrap_or("00000000-0000-0000-0000-000000000000");
    json!({
        "version": "0",
        "id": format!("eb-{id}"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{service}"),
        "account": account,
        "time": record["eventTime"].clone(),
        "region": region,
        "resources": [],
        "detail": record,
    })
}

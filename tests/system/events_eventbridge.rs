//! Events on AWS: the EventBridge sink puts Herald's events on a custom bus, and a rule routes
//! them to an SQS queue (moto cannot deliver to Lambda targets, and a queue is what an
//! integration would read anyway). Runs against the moto server `tests/run` starts.

use aws_sdk_eventbridge::types::Target;
use chrono::{TimeZone, Utc};
use herald_core::domain::TeamId;
use herald_core::events::{Event, EventBridgeSink, EventKind, EventSink};
use serde_json::{Value, json};

fn endpoint() -> String {
    // moto serves every AWS API on one endpoint; the store contract's variable names it.
    std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|_| panic!("HERALD_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `tests/run`, which starts moto"))
}

async fn sdk() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new("test", "test", None, None, "static"))
        .load()
        .await
}

#[tokio::test]
async fn events_reach_a_queue_through_a_rule_on_the_bus() {
    let sdk = sdk().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let bus = format!("herald-test-{suffix}");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue_url = sqs.create_queue().queue_name(format!("herald-events-{suffix}")).send().await.unwrap().queue_url.unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("herald-posts")
        .event_bus_name(&bus)
        .event_pattern(json!({"source": ["herald"], "detail-type": ["Post Published", "Post Failed"]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("herald-posts")
        .event_bus_name(&bus)
        .targets(Target::builder().id("queue").arn(&queue_arn).build().unwrap())
        .send()
        .await
        .unwrap();

    let sink = EventBridgeSink::new(events.clone(), &bus);
    let team = TeamId::parse("team", "cafe").unwrap();
    let at = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().unwrap();
    sink.emit(&Event::new(EventKind::PostPublished, &team, at, json!({"delivery_id": "d-1", "url": "https://x/1"})))
        .await
        .unwrap();
    // Not matched by the rule: it must not arrive.
    sink.emit(&Event::new(EventKind::ChannelNeedsReconnect, &team, at, json!({"channel_id": "c-1"}))).await.unwrap();

    let mut received = vec![];
    for _ in 0..10 {
        let out = sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
        received.extend(out.messages.unwrap_or_default());
        if !received.is_empty() {
            break;
        }
    }
    assert_eq!(received.len(), 1, "exactly the matching event arrives");
    let envelope: Value = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert_eq!(envelope["source"], "herald");
    assert_eq!(envelope["detail-type"], "Post Published");
    assert_eq!(envelope["detail"]["delivery_id"], "d-1");
    assert_eq!(envelope["detail"]["team_id"], "cafe", "every event carries its team");
}

#[tokio::test]
async fn an_unknown_bus_is_an_error_not_a_silent_drop() {
    let sdk = sdk().await;
    let sink = EventBridgeSink::new(aws_sdk_eventbridge::Client::new(&sdk), "no-such-bus-anywhere");
    let team = TeamId::parse("team", "cafe").unwrap();
    let result = sink.emit(&Event::new(EventKind::PostFailed, &team, Utc::now(), json!({}))).await;
    assert!(result.is_err(), "{result:?}");
}

//! Hello, Lambda: answers every event with `{"hello":"world"}`. No AWS SDK, no configuration.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({"hello": "world"})) })).await
}

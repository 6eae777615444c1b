//! Webhook intake on Lambda: the webhook router behind API Gateway.

use herald_core::aws::AwsContext;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    herald_core::logging::init_json();
    let ctx = AwsContext::from_env().await?;
    let router = herald_core::http::webhook_router(ctx.app_state().await?);
    lambda_http::run(router).await
}

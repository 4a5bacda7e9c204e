//! Lambda entry point of launchguard-accesskey-handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    launchguard_responder::lambda::serve(&launchguard_accesskey_handler::FUNCTION).await
}

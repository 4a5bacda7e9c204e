//! Lambda entry point of launchguard-iam-handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    launchguard_responder::lambda::serve(&launchguard_iam_handler::FUNCTION).await
}

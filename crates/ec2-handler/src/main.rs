//! Lambda entry point of launchguard-ec2-handler.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    launchguard_responder::lambda::serve_ec2(&launchguard_ec2_handler::FUNCTION).await
}


#[tokio::test]
async fn status_succeeds() {
    use servicepack::{Commander, Context};

    let service = {{type}}::default();
    let ctx = Context::detached("{{name}}");
    service.command(super::{{type}}Command::Status, ctx).await.unwrap();
}

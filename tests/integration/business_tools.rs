//! Calling a business's tool over HTTP: the signed request as the business receives it, and each way
//! the exchange can end (an answer, a refusal, a failure, silence, a redirect, a body too large or
//! not JSON), told as what the model should hear.

pub(crate) mod receiver;

use serde_json::json;
use sicha::business_tools::{
    BusinessTools, MAX_RESPONSE_BYTES, ToolError, ToolInvoker, ToolRequest, ToolsFileFormat,
    ToolsSecret, idempotency_key,
};

use receiver::ToolServer;

const CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";
const BUSINESS: &str = "+97231234567";
const CALLER: &str = "+972541234567";

/// One tool, `book`, POSTing to `path` on the tool server.
fn tools(server: &ToolServer, path: &str, timeout_ms: u32) -> BusinessTools {
    let text = format!(
        "[[tools]]\nname = \"book\"\ndescription = \"Book a table.\"\nurl = \"{}/{path}\"\n\
         timeout_ms = {timeout_ms}\n\n[tools.parameters]\ntype = \"object\"\nrequired = [\"guests\"]\n\
         properties.guests = {{ type = \"integer\", minimum = 1 }}\n",
        server.base
    );
    BusinessTools::parse(&text, ToolsFileFormat::Toml).unwrap()
}

struct Setup {
    server: ToolServer,
    secret: ToolsSecret,
    invoker: ToolInvoker,
}

async fn setup() -> Setup {
    let secret = ToolsSecret::generate();
    Setup {
        server: ToolServer::start(secret.expose()).await,
        secret,
        invoker: ToolInvoker::new(),
    }
}

impl Setup {
    /// Calls `book` at `path` as the `sequence`th tool call of the call.
    async fn call(
        &self,
        path: &str,
        timeout_ms: u32,
        arguments: serde_json::Value,
        sequence: u32,
    ) -> Result<serde_json::Value, ToolError> {
        let tools = tools(&self.server, path, timeout_ms);
        let key = idempotency_key(CALL_SID, sequence);
        self.invoker
            .invoke(&ToolRequest {
                tool: tools.get("book").unwrap(),
                secret: &self.secret,
                call_sid: CALL_SID,
                business: BUSINESS,
                caller: CALLER,
                arguments: &arguments,
                idempotency_key: &key,
            })
            .await
    }

    /// Calls `book` at `path` with valid arguments, expecting a failure.
    async fn failure(&self, path: &str, timeout_ms: u32, sequence: u32) -> ToolError {
        let result = self
            .call(path, timeout_ms, json!({"guests": 4}), sequence)
            .await;
        result.expect_err("the call fails")
    }
}

#[tokio::test]
async fn a_signed_call_gets_the_business_answer_as_the_result() {
    let setup = setup().await;
    let result = setup
        .call("ok", 5000, json!({"guests": 4}), 1)
        .await
        .unwrap();
    assert_eq!(result, json!({"booked": true, "for": {"guests": 4}}));
    let again = setup
        .call("ok", 5000, json!({"guests": 2}), 2)
        .await
        .unwrap();
    assert_eq!(again["for"]["guests"], 2);

    let received = setup.server.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|request| request.signature_valid));
    let keys: Vec<_> = received.iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(
        keys,
        [
            Some(format!("tool:{CALL_SID}:1")),
            Some(format!("tool:{CALL_SID}:2"))
        ]
    );
    assert_eq!(
        received[0].body,
        json!({"call_sid": CALL_SID, "business": BUSINESS, "caller": CALLER, "tool": "book",
               "arguments": {"guests": 4}, "idempotency_key": format!("tool:{CALL_SID}:1")})
    );
}

#[tokio::test]
async fn a_request_signed_with_another_secret_does_not_verify() {
    let setup = setup().await;
    let other = Setup {
        secret: ToolsSecret::generate(),
        ..setup
    };
    let refused = other.failure("ok", 5000, 1).await;
    assert!(
        matches!(refused, ToolError::Status { status: 401, .. }),
        "{refused}"
    );
    assert!(!other.server.received()[0].signature_valid);
}

#[tokio::test]
async fn arguments_not_matching_the_schema_are_refused_before_anything_is_sent() {
    let setup = setup().await;
    let error = setup
        .call("ok", 5000, json!({"guests": 0, "name": 3}), 1)
        .await
        .unwrap_err();
    let ToolError::InvalidArguments(problems) = &error else {
        panic!("{error}");
    };
    assert!(
        problems.iter().any(|p| p.contains("/guests")),
        "{problems:?}"
    );
    assert_eq!(error.model_result()["error"], "invalid_arguments");
    let missing = setup.call("ok", 5000, json!({}), 2).await.unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("\"guests\" is a required property"),
        "{missing}"
    );
    assert!(
        setup.server.received().is_empty(),
        "nothing reached the business"
    );
}

#[tokio::test]
async fn a_refusal_is_told_with_its_reason_and_a_failure_as_unknown() {
    let setup = setup().await;
    let refused = setup.failure("refuse", 5000, 1).await;
    assert_eq!(
        refused,
        ToolError::Status {
            status: 409,
            body: Some(json!({"reason": "the slot is taken"}))
        }
    );
    let told = refused.model_result();
    assert_eq!(told["error"], "http_status");
    assert_eq!(told["response"], json!({"reason": "the slot is taken"}));
    assert!(
        told["detail"].as_str().unwrap().contains("not carried out"),
        "{told}"
    );

    let failed = setup.failure("fail", 5000, 2).await;
    assert_eq!(
        failed,
        ToolError::Status {
            status: 500,
            body: None
        }
    );
    let told = failed.model_result();
    assert!(
        told["detail"].as_str().unwrap().contains("may or may not"),
        "{told}"
    );
    assert!(told.get("response").is_none());
}

#[tokio::test]
async fn a_tool_that_does_not_answer_in_time_is_a_timeout() {
    let setup = setup().await;
    let error = setup.failure("slow", 300, 1).await;
    assert_eq!(
        error,
        ToolError::Timeout(std::time::Duration::from_millis(300))
    );
    assert_eq!(error.model_result()["error"], "timeout");
    assert_eq!(
        setup.server.received().len(),
        1,
        "the request did reach the business"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let setup = setup().await;
    let error = setup.failure("redirect", 5000, 1).await;
    assert!(
        matches!(error, ToolError::Status { status: 302, .. }),
        "{error}"
    );
    let paths: Vec<String> = setup
        .server
        .received()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["redirect"], "the redirect's target was never asked");
}

#[tokio::test]
async fn an_answer_too_large_is_refused_whether_announced_or_streamed() {
    let setup = setup().await;
    let limit = ToolError::TooLarge {
        limit: MAX_RESPONSE_BYTES,
    };
    assert_eq!(
        setup.call("large", 5000, json!({"guests": 4}), 1).await,
        Err(limit.clone())
    );
    // An answer without end is refused once past the limit, long before the tool's timeout.
    assert_eq!(
        setup.call("endless", 30_000, json!({"guests": 4}), 2).await,
        Err(limit)
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_refused_and_an_empty_one_is_null() {
    let setup = setup().await;
    let error = setup.failure("text", 5000, 1).await;
    assert!(matches!(error, ToolError::NotJson(_)), "{error}");
    assert_eq!(error.model_result()["error"], "response_not_json");
    assert_eq!(
        setup.call("empty", 5000, json!({"guests": 4}), 2).await,
        Ok(serde_json::Value::Null)
    );
}

#[tokio::test]
async fn an_unreachable_tool_is_told_as_such() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let text = format!(
        "[[tools]]\nname = \"book\"\ndescription = \"Book.\"\nurl = \"http://127.0.0.1:{port}/book\"\n"
    );
    let tools = BusinessTools::parse(&text, ToolsFileFormat::Toml).unwrap();
    let error = ToolInvoker::new()
        .invoke(&ToolRequest {
            tool: tools.get("book").unwrap(),
            secret: &ToolsSecret::generate(),
            call_sid: CALL_SID,
            business: BUSINESS,
            caller: CALLER,
            arguments: &json!({}),
            idempotency_key: "tool:x:1",
        })
        .await
        .unwrap_err();
    assert!(matches!(error, ToolError::Transport(_)), "{error}");
    assert!(
        !error.to_string().contains(&port.to_string()),
        "no URL in {error}"
    );
    assert_eq!(error.model_result()["error"], "unreachable");
}
